/**
 * Exit qualifications that describe an instruction's memory operand (SDM
 * Vol. 3C §28.2.1 "Exit Qualification"):
 *
 * - the displacement, for INVEPT, INVPCID, INVVPID, LGDT, LIDT, LLDT, LTR,
 *   SGDT, SIDT, SLDT, STR, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE,
 *   VMXON, XRSTORS and XSAVES;
 * - the linear address, for INVLPG.
 *
 * Both are computed from the decoded instruction without the canonical or
 * segment-limit checks of the effective-address functions: the VM exit
 * comes before any such fault (§26.1.1), and INVLPG exits even for an
 * address it would ignore. Values come back as 32-bit halves: bits 31:0
 * returned, bits 63:32 in c.opHi.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { TWO32 } from '../../cpu/registers.ts';

/** ModRM mod = 00, r/m = 101 in 64-bit mode: RIP-relative (SDM Vol. 2A §2.2.1.6). */
function ripRelative(i: Insn): boolean {
  return i.mode === 64 && (i.modrm & 0xc7) === 0x05;
}

/** Bits 63:32 of x, an integer below 2^53 in magnitude (x - high(x) * 2^32 is bits 31:0, unsigned). */
const high = (x: number): number => Math.floor(x / TWO32);

/** Splits x (an integer below 2^53 in magnitude) into c.opHi and the returned low half. */
function split(c: Cpu, x: number): number {
  const hi = high(x);
  c.opHi = hi | 0;
  return (x - hi * TWO32) | 0;
}

/**
 * The displacement qualification: the displacement field sign-extended to
 * 64 bits (a 16-bit one from bit 15), 0 without a memory operand, and for
 * RIP-relative addressing the displacement plus the RIP of the next
 * instruction (where RIP points while the instruction runs). Bits beyond
 * the address size are undefined in the SDM; here they are the sign
 * extension, or the 64-bit sum.
 */
export function displacementQualification(c: Cpu, i: Insn): number {
  if (!i.isMem) {
    c.opHi = 0;
    return 0;
  }
  if (i.addrSize === 2) {
    const d = (i.dispLo << 16) >> 16;
    c.opHi = d >> 31;
    return d;
  }
  if (ripRelative(i)) return split(c, c.rip + (i.dispLo | 0));
  c.opHi = i.dispHi;
  return i.dispLo | 0;
}

const lo32 = (c: Cpu, n: number): number => c.r[n << 1]! >>> 0;

/**
 * INVLPG's qualification: the linear address of its operand, segment base
 * included, wrapped to the address size; bits 63:32 are 0 outside 64-bit
 * mode. An address that is not canonical is reported as computed.
 */
export function linearAddressQualification(c: Cpu, i: Insn): number {
  const scale = i.index >= 0 ? i.scale : 0;
  const base = c.segBase[i.seg]!;
  if (i.addrSize === 8) {
    // Sum the low and high halves apart, so that an address beyond 2^53 (not canonical) stays exact.
    const r = c.r;
    let lo = i.dispLo, hi = i.dispHi;
    if (i.base >= 0) { lo += lo32(c, i.base); hi += r[(i.base << 1) + 1]!; }
    if (scale !== 0) { lo += lo32(c, i.index) * scale; hi += r[(i.index << 1) + 1]! * scale; }
    const rip = ripRelative(i) ? c.rip : 0;
    lo += rip - high(rip) * TWO32 + base - high(base) * TWO32;
    hi += high(rip) + high(base);
    const carry = Math.floor(lo / TWO32);
    c.opHi = (hi + carry) | 0;
    return (lo - carry * TWO32) | 0;
  }
  let off = i.dispLo + (i.base >= 0 ? lo32(c, i.base) : 0) + (scale !== 0 ? lo32(c, i.index) * scale : 0);
  if (ripRelative(i)) off += c.rip;
  off = i.addrSize === 4 ? off >>> 0 : off & 0xffff;
  if (i.mode === 64) return split(c, off + base);
  c.opHi = 0;
  return (base + off) | 0;
}
