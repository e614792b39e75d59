/**
 * One decoded instruction. Every field is initialised in the constructor so
 * all Insn objects share one hidden class (monomorphic access in handlers).
 * `exec` is chosen at decode time for the exact form (operand size, register
 * or memory), so a handler never re-decodes.
 */
import type { Cpu } from '../cpu.ts';

export type ExecFn = (c: Cpu, i: Insn) => void;
/** Computes the linear address of the memory operand (segment base included). */
export type EaFn = (c: Cpu, i: Insn) => number;

export class Insn {
  exec: ExecFn;
  mnemonic = '';
  /** Length in bytes, 1..15. */
  len = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  opSize = 4;
  /** Address size in bytes: 2, 4 or 8. */
  addrSize = 4;
  /** ModRM.reg extended by REX.R, or the register in the opcode's low bits. */
  reg = 0;
  /** For byte registers: 8 when `reg` names AH/CH/DH/BH, else 0. */
  regShift = 0;
  /** ModRM.rm extended by REX.B when it names a register. */
  rm = 0;
  rmShift = 0;
  /** True when ModRM names memory (mod != 3). */
  isMem = false;
  ea: EaFn;
  base = -1;
  index = -1;
  scale = 1;
  /** Displacement as an unsigned low half and a sign-extension high half (0 or -1). */
  dispLo = 0;
  dispHi = 0;
  /** Effective segment register of the memory operand (Seg). */
  seg = 3;
  /** Immediate: low 32 bits (sign- or zero-extended as its operand says) and high half. */
  imm = 0;
  immHi = 0;
  /** Second immediate (ENTER's nesting level, far pointers' selector). */
  imm2 = 0;
  /** 0, 0xf3 (REP/REPE) or 0xf2 (REPNE): the last of the two in the prefixes. */
  rep = 0;
  lock = false;
  /** Condition code for Jcc/SETcc/CMOVcc (low nibble of the opcode). */
  cond = 0;
  /** Operation within a family, set by the row's select (ALU op, shift kind...). */
  sub = 0;
  /** Primary opcode with its map: 0x0XX, 0x0FXX, 0x0F38XX, 0x0F3AXX. */
  opcode = 0;
  /** Raw ModRM byte, or -1. */
  modrm = -1;
  /** Code size the instruction was decoded for (16, 32, 64). */
  mode = 64;
  /** True when a segment-override prefix was given. */
  segOverride = false;
  /** REX prefix present (changes byte-register naming). */
  rex = false;
  /** The decoded block ends after this instruction (control transfer or state change). */
  endsBlock = false;

  constructor(exec: ExecFn, ea: EaFn) {
    this.exec = exec;
    this.ea = ea;
  }
}
