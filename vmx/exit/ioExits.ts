/**
 * I/O instructions in VMX non-root operation (SDM Vol. 3C §26.1.3: IN,
 * INS, OUT, OUTS): with "use I/O bitmaps" the bitmaps decide and
 * "unconditional I/O exiting" is ignored; else "unconditional I/O exiting"
 * makes every one exit; with both 0 none does. Basic reason 30, with the
 * qualification of §28.2.1 Table 28-5 "Exit Qualification for I/O
 * Instructions":
 *   2:0 size of access (0 1-byte, 1 2-byte, 3 4-byte); 3 direction
 *   (0 OUT, 1 IN); 4 string instruction; 5 REP prefixed; 6 operand
 *   encoding (0 DX, 1 immediate); 31:16 the port; the other bits 0.
 * Bit 5 is set only for INS/OUTS: a REP prefix means nothing to IN/OUT.
 *
 * INS/OUTS also report the linear address of their memory operand, ES:rDI
 * or seg:rSI at the address size (§28.2.1 "guest-linear address"; bits
 * 63:32 clear outside 64-bit mode), and, when IA32_VMX_BASIC bit 54 is 1,
 * the instruction information of §28.2.5 Table 28-8: 9:7 address size
 * (0 16-bit, 1 32-bit, 2 64-bit), 17:15 the segment register (reported as
 * ES for INS, where the SDM leaves it undefined); the other bits 0.
 *
 * The I/O-permission #GP of CPL > IOPL has priority (§26.1.1); the exit
 * has priority over the segment, limit, canonical and alignment checks and
 * page faults of INS/OUTS, so the exec asks before it forms the address.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { joinSigned, Reg, Seg } from '../../cpu/registers.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import { SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import { natural } from '../transition/guestState.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const UNCONDITIONAL_IO_EXITING = bit('proc', 'unconditionalIoExiting');
const USE_IO_BITMAPS = bit('proc', 'useIoBitmaps');

/**
 * The I/O bitmaps (§25.6.4): A for ports 0000H-7FFFH, B for 8000H-FFFFH,
 * one bit a port. An access exits if the bit of any port it touches is 1,
 * and always if it wraps past FFFFH to 0000H (§26.1.3).
 */
function bitmapsDeny(s: VmxState, c: Cpu, port: number, size: number): boolean {
  if (port + size > 0x10000) return true;
  const v = s.vmcs;
  for (let p = port; p < port + size; p++) {
    const base = natural(v, p < 0x8000 ? SLOT.ioBitmapAAddress : SLOT.ioBitmapBAddress);
    if (((c.phys.read8(base + ((p & 0x7fff) >>> 3)) >>> (p & 7)) & 1) !== 0) return true;
  }
  return false;
}

/** Offset register `reg` at address size `addrSize` plus the base of segment `seg`: the linear address before any check. */
function operandLinear(c: Cpu, addrSize: number, seg: number, reg: number): number {
  const k = reg << 1, base = c.sys.descBase[seg]!;
  if (addrSize === 8) return base + joinSigned(c.r[k]!, c.r[k + 1]!);
  const offset = addrSize === 2 ? c.r[k]! & 0xffff : c.r[k]! >>> 0;
  return c.codeSize === 64 ? base + offset : (base + offset) >>> 0;
}

/** Table 28-8: the address-size code of bits 9:7 and the segment of bits 17:15. */
function insOutsInformation(i: Insn, seg: number): number {
  const addressSize = i.addrSize === 2 ? 0 : i.addrSize === 4 ? 1 : 2;
  return (addressSize << 7) | (seg << 15);
}

/**
 * Opcodes: E4-E7 IN/OUT imm8, EC-EF IN/OUT DX, 6C-6F INS/OUTS; in each
 * group bit 1 clear is IN, set is OUT.
 */
function io(s: VmxState, c: Cpu, i: Insn): boolean {
  const op = i.opcode, size = i.opSize;
  const immediate = (op & 0xf8) === 0xe0, string = op < 0x70, input = (op & 2) === 0;
  const port = immediate ? i.imm & 0xff : c.r[Reg.RDX << 1]! & 0xffff;
  const controls = primaryControls(s.vmcs);
  const exits = (controls & USE_IO_BITMAPS) !== 0 ? bitmapsDeny(s, c, port, size) : (controls & UNCONDITIONAL_IO_EXITING) !== 0;
  if (!exits) return false;
  let info = -1;
  if (string) {
    const seg = input ? Seg.ES : i.seg;
    s.exitInfo.guestLinearAddress = operandLinear(c, i.addrSize, seg, input ? Reg.RDI : Reg.RSI);
    if (s.model.features.insOutsInformation) info = insOutsInformation(i, seg);
  }
  const qual = (size - 1) | (+input << 3) | (+string << 4) | (+(string && i.rep !== 0) << 5) | (+immediate << 6) | (port << 16);
  instructionExit(s, c, i, ExitReason.IoInstruction, qual, 0, info);
  return true;
}

export const IO_INTERCEPTS: readonly InterceptRow[] = [[Intercept.Io, io]];
