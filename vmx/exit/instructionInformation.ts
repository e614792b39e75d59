/**
 * The VM-exit instruction-information field (SDM Vol. 3C §28.2.5, the
 * tables "Format of the VM-Exit Instruction-Information Field as Used
 * for ..."), built from the decoded instruction. One encoder for every
 * exit that reports it: the descriptor-table instructions, INVPCID and
 * RDRAND/RDSEED (instructionExits.ts and its neighbours) and the VMX
 * instructions (VMCLEAR, VMPTRLD, VMPTRST, VMXON, VMREAD, VMWRITE, INVEPT,
 * INVVPID).
 *
 * A format is the OR of the pieces below: memoryOperand(i) for the
 * operand's addressing (scaling, address size, segment, index and base
 * registers), plus reg1/reg2/registerOperand/operandSize/identity as the
 * instruction's table asks. Bits a table leaves undefined are 0 here. The
 * result is unsigned (bit 31 may be set), as instructionExit expects.
 */
import type { Insn } from '../../cpu/decode/insn.ts';

/** Bits 9:7: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit address size. */
const addressSize = (i: Insn): number => (i.addrSize === 2 ? 0 : i.addrSize === 4 ? 1 : 2) << 7;

/** Bits 1:0: log2 of the index scale. */
const scaling = (scale: number): number => (scale === 8 ? 3 : scale === 4 ? 2 : scale === 2 ? 1 : 0);

/** Bit 22 / bit 27: the index / base register field is invalid (no such register, as with RIP-relative addressing). */
const INDEX_INVALID = 1 << 22, BASE_INVALID = 1 << 27;

/**
 * The memory-operand bits shared by every format with a memory operand:
 * scaling (1:0, only with an index), address size (9:7), segment register
 * (17:15: ES, CS, SS, DS, FS, GS = 0-5), index register (21:18, invalid
 * bit 22) and base register (26:23, invalid bit 27), registers numbered
 * RAX = 0 ... R15 = 15.
 */
export function memoryOperand(i: Insn): number {
  let info = addressSize(i) | (i.seg << 15);
  info |= i.index >= 0 ? scaling(i.scale) | (i.index << 18) : INDEX_INVALID;
  info |= i.base >= 0 ? i.base << 23 : BASE_INVALID;
  return info >>> 0;
}

/** Bits 6:3, "Reg1" / "Destination register": a register number. */
export const reg1 = (n: number): number => n << 3;

/** Bits 31:28, "Reg2": a register number. */
export const reg2 = (n: number): number => (n << 28) >>> 0;

/** Bit 10, "Mem/Reg": 1 for a register operand (VMREAD/VMWRITE, LLDT/LTR/SLDT/STR). */
export const REGISTER_OPERAND = 1 << 10;

/** Bits 12:11, the operand size of RDRAND/RDSEED: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit. */
export const operandSize = (i: Insn): number => (i.opSize === 2 ? 0 : i.opSize === 4 ? 1 : 2) << 11;

/** Bits 29:28, "Instruction identity" of the descriptor-table formats. */
export const identity = (n: number): number => n << 28;

/**
 * Memory operand or register operand (bits 6:3 and bit 10), for the
 * formats whose operand may be either: LLDT, LTR, SLDT, STR (and VMREAD,
 * VMWRITE). The memory bits are undefined for a register operand.
 */
export function registerOrMemory(i: Insn): number {
  return i.isMem ? memoryOperand(i) : reg1(i.rm) | REGISTER_OPERAND;
}
