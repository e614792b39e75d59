/**
 * RFLAGS with lazily computed arithmetic flags (SDM Vol. 1 §3.4.3).
 *
 * CF, AF and OF are kept exactly in `fAux` at their RFLAGS bit positions;
 * they are cheap to derive from a carry vector when the operation happens.
 * ZF, SF and PF are derived on demand from three numbers every result-
 * producing instruction stores:
 *   ZF = (fZ === 0), SF = (fS < 0), PF = even parity of (fP & 0xff).
 * Any combination of the six flags is representable, so POPF/SAHF need no
 * separate "materialised" mode. The other RFLAGS bits live in `eflags`.
 */
import type { Cpu } from './cpu.ts';

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100,
  IF = 0x200, DF = 0x400, OF = 0x800, IOPL = 0x3000, NT = 0x4000, RF = 0x10000,
  VM = 0x20000, AC = 0x40000, VIF = 0x80000, VIP = 0x100000, ID = 0x200000;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of RFLAGS always reads as 1. */
export const FIXED_ONE = 0x2;

/** PARITY[b] is PF for a result whose low byte is b. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let n = 0;
    for (let x = b; x; x >>= 1) n += x & 1;
    t[b] = n & 1 ? 0 : PF;
  }
  return t;
})();

export function readRflags(c: Cpu): number {
  return (c.eflags & ~ARITH_FLAGS) | FIXED_ONE | (c.fAux & (CF | AF | OF)) |
    (c.fZ === 0 ? ZF : 0) | (c.fS < 0 ? SF : 0) | PARITY[c.fP & 0xff]!;
}

/** Sets the arithmetic flags from an RFLAGS image. */
export function writeArithFlags(c: Cpu, v: number): void {
  c.fAux = v & (CF | AF | OF);
  c.fZ = v & ZF ? 0 : 1;
  c.fS = v & SF ? -1 : 0;
  c.fP = v & PF ? 0 : 1;
}

/**
 * Writes the RFLAGS bits selected by `mask` (POPF, IRET, SAHF, VM entry...).
 * Callers decide the mask from privilege and mode.
 */
export function writeRflags(c: Cpu, v: number, mask: number): void {
  const cur = readRflags(c);
  const next = (cur & ~mask) | (v & mask);
  writeArithFlags(c, next);
  c.eflags = (next & ~ARITH_FLAGS) | FIXED_ONE;
}

/**
 * Condition codes tttn (SDM Vol. 2 Appendix B.1.4.7): 0 O, 1 NO, 2 B, 3 AE,
 * 4 E, 5 NE, 6 BE, 7 A, 8 S, 9 NS, A P, B NP, C L, D GE, E LE, F G.
 */
export function testCondition(c: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = (c.fAux & OF) !== 0; break;
    case 1: r = (c.fAux & CF) !== 0; break;
    case 2: r = c.fZ === 0; break;
    case 3: r = (c.fAux & CF) !== 0 || c.fZ === 0; break;
    case 4: r = c.fS < 0; break;
    case 5: r = PARITY[c.fP & 0xff] !== 0; break;
    case 6: r = (c.fS < 0) !== ((c.fAux & OF) !== 0); break;
    default: r = c.fZ === 0 || ((c.fS < 0) !== ((c.fAux & OF) !== 0)); break;
  }
  return (cc & 1) === 0 ? r : !r;
}

/** ZF/SF/PF from a result of `size` bytes (lo, hi are its 32-bit halves). */
export function setResult(c: Cpu, size: number, lo: number, hi: number): void {
  switch (size) {
    case 1: c.fZ = lo & 0xff; c.fS = lo << 24; break;
    case 2: c.fZ = lo & 0xffff; c.fS = lo << 16; break;
    case 4: c.fZ = lo | 0; c.fS = lo | 0; break;
    default: c.fZ = lo | hi; c.fS = hi | 0; break;
  }
  c.fP = lo;
}

