/**
 * XADD, CMPXCHG, CMPXCHG8B/CMPXCHG16B (SDM Vol. 2A "CMPXCHG",
 * "CMPXCHG8B/CMPXCHG16B", Vol. 2B "XADD"), following the SDM pseudocode:
 * XADD writes SRC := DEST then DEST := SUM; CMPXCHG sets the flags of
 * CMP accumulator, DEST and on failure writes accumulator := DEST and
 * DEST := DEST; CMPXCHG8B/16B change ZF only.
 */
import { describe, expect, it } from 'vitest';
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from '../../cpu/flags.ts';
import { CODE_BASE, compile, type TestCore } from '../support/machine.ts';
import { check, mask, parity, rng } from '../support/reference.ts';

/** ADD or SUB flags from the definitions (SDM Vol. 1 Appendix A): carry/borrow out, signed overflow, nibble carry. */
function arithFlags(a: bigint, b: bigint, bits: number, sub: boolean): { r: bigint; flags: number } {
  const M = mask(bits), B = BigInt(bits);
  const full = sub ? a - b : a + b;
  const r = full & M;
  const sa = BigInt.asIntN(bits, a), sb = BigInt.asIntN(bits, b);
  const exact = sub ? sa - sb : sa + sb;
  const flags = (full < 0n || full > M ? CF : 0) | (exact !== BigInt.asIntN(bits, r) ? OF : 0) | (((a ^ b ^ r) & 0x10n) !== 0n ? AF : 0) |
    (r === 0n ? ZF : 0) | ((r >> (B - 1n)) & 1n ? SF : 0) | parity(r);
  return { r, flags };
}

const SIZES = [8, 16, 32, 64] as const;
const DX: Record<number, string> = { 8: 'dl', 16: 'dx', 32: 'edx', 64: 'rdx' };
const BX: Record<number, string> = { 8: 'bl', 16: 'bx', 32: 'ebx', 64: 'rbx' };
const PTR: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };

/** A register after an operand write of `bits` (SDM Vol. 1 §3.4.1.1: 32-bit writes zero-extend). */
function merged(before: bigint, v: bigint, bits: number): bigint {
  return bits === 32 ? v & mask(32) : bits === 64 ? v & mask(64) : (before & ~mask(bits)) | (v & mask(bits));
}

function values(bits: number, next: () => bigint): bigint[] {
  const M = mask(bits);
  return [0n, 1n, M, M >> 1n, (M >> 1n) + 1n, 0xfn, next() & M, next() & M, next() & M];
}

function writeLE(t: TestCore, addr: number, v: bigint, bytes: number): void {
  for (let j = 0; j < bytes; j++) t.phys.write8(addr + j, Number((v >> BigInt(8 * j)) & 0xffn));
}

function readLE(t: TestCore, addr: number, bytes: number): bigint {
  let v = 0n;
  for (let j = bytes - 1; j >= 0; j--) v = (v << 8n) | BigInt(t.phys.read8(addr + j));
  return v;
}

const MEM = 0x30000;

describe('XADD (0F C0/C1)', () => {
  for (const bits of SIZES) {
    it(`xadd ${DX[bits]}, ${BX[bits]} and lock xadd ${PTR[bits]} ptr [rsi], ${BX[bits]}`, async () => {
      const reg = await compile(`xadd ${DX[bits]}, ${BX[bits]}`);
      const mem = await compile(`lock xadd ${PTR[bits]} ptr [rsi], ${BX[bits]}`);
      const next = rng(0xadd0n + BigInt(bits));
      const bad: string[] = [];
      for (const d of values(bits, next)) {
        for (const s of values(bits, next)) {
          const rdx = (next() & ~mask(bits)) | d, rbx = (next() & ~mask(bits)) | s;
          const e = arithFlags(d, s, bits, false);
          const t = reg({ rdx, rbx }, 0);
          check(bad, `reg d=0x${d.toString(16)} s=0x${s.toString(16)}`, [t.reg('rdx'), t.reg('rbx'), t.flags() & ARITH_FLAGS],
            [merged(rdx, e.r, bits), merged(rbx, d, bits), e.flags]);
          const m = mem({ rsi: BigInt(MEM), rbx }, ARITH_FLAGS, (tc) => writeLE(tc, MEM, d, bits / 8));
          check(bad, `mem d=0x${d.toString(16)} s=0x${s.toString(16)}`, [readLE(m, MEM, bits / 8), m.reg('rbx'), m.flags() & ARITH_FLAGS],
            [e.r, merged(rbx, d, bits), e.flags]);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('one register as both operands keeps the sum (SRC is written before DEST)', async () => {
    const t = (await compile('xadd eax, eax\nxadd cl, cl'))({ rax: 0xffff_ffff_4000_0001n, rcx: 0x1234_0081n }, 0);
    expect(t.reg('rax')).toBe(0x80000002n);
    expect(t.reg('rcx')).toBe(0x1234_0002n);
    expect(t.flags() & (CF | OF)).toBe(CF | OF); // 0x81 + 0x81: carry out, and two negatives made a positive
  });

  it('high byte registers: xadd ah, bh', async () => {
    const t = (await compile('xadd ah, bh'))({ rax: 0x1100n, rbx: 0x2200n }, 0);
    expect(t.reg('rax')).toBe(0x3300n);
    expect(t.reg('rbx')).toBe(0x1100n);
  });

  it('LOCK with a register destination raises #UD', async () => {
    // F0 0F C1 C3 = lock xadd ebx, eax.
    const t = (await compile('.byte 0xf0, 0x0f, 0xc1, 0xc3'))({ rax: 1n, rbx: 2n }, 0);
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 6, rip: CODE_BASE });
    expect(t.reg('rbx')).toBe(2n);
  });
});

describe('CMPXCHG (0F B0/B1)', () => {
  for (const bits of SIZES) {
    it(`cmpxchg ${DX[bits]}, ${BX[bits]} and lock cmpxchg ${PTR[bits]} ptr [rsi], ${BX[bits]}: success and failure`, async () => {
      const reg = await compile(`cmpxchg ${DX[bits]}, ${BX[bits]}`);
      const mem = await compile(`lock cmpxchg ${PTR[bits]} ptr [rsi], ${BX[bits]}`);
      const next = rng(0xc3c3n + BigInt(bits));
      const bad: string[] = [];
      for (const d of values(bits, next)) {
        for (const a of [d, ...values(bits, next)]) {
          const rax = (next() & ~mask(bits)) | a, rdx = (next() & ~mask(bits)) | d, rbx = next();
          const equal = a === d;
          const flags = arithFlags(a, d, bits, true).flags; // CMP accumulator, DEST
          // Equal: DEST := SRC. Not equal: accumulator := DEST, and a register DEST is left untouched
          // (hardware does not perform the SDM pseudocode's write-back to a register; see atomic.ts).
          const t = reg({ rax, rdx, rbx }, 0);
          check(bad, `reg a=0x${a.toString(16)} d=0x${d.toString(16)}`, [t.reg('rax'), t.reg('rdx'), t.reg('rbx'), t.flags() & ARITH_FLAGS],
            [equal ? rax : merged(rax, d, bits), equal ? merged(rdx, rbx, bits) : rdx, rbx, flags]);
          const m = mem({ rsi: BigInt(MEM), rax, rbx }, 0, (tc) => writeLE(tc, MEM, d, bits / 8));
          check(bad, `mem a=0x${a.toString(16)} d=0x${d.toString(16)}`, [m.reg('rax'), readLE(m, MEM, bits / 8), m.flags() & ARITH_FLAGS],
            [equal ? rax : merged(rax, d, bits), equal ? rbx & mask(bits) : d, flags]);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('the accumulator as destination always matches: cmpxchg eax, ecx loads ECX', async () => {
    const t = (await compile('cmpxchg eax, ecx'))({ rax: 0xffff_0000_0000_0005n, rcx: 7n }, 0);
    expect(t.reg('rax')).toBe(7n);
    expect(t.flags() & ZF).toBe(ZF);
  });

  it('a byte accumulator compares with AH and BH destinations', async () => {
    const t = (await compile('cmpxchg ah, bh'))({ rax: 0x3344n, rbx: 0x7700n }, 0);
    expect(t.reg('rax')).toBe(0x3333n); // AL != AH: AL := AH
    const t2 = (await compile('cmpxchg ah, bh'))({ rax: 0x4444n, rbx: 0x7700n }, 0);
    expect(t2.reg('rax')).toBe(0x7744n); // AL == AH: AH := BH
  });
});

describe('CMPXCHG8B/CMPXCHG16B (0F C7 /1)', () => {
  const OTHER = CF | SF | PF | AF | OF;

  it('cmpxchg8b: success stores ECX:EBX; failure loads EDX:EAX (zero-extended); only ZF changes', async () => {
    const run = await compile('lock cmpxchg8b qword ptr [rsi]');
    const m = 0x1122334455667788n;
    const ok = run({ rsi: BigInt(MEM), rdx: 0xaaaa_0000_1122_3344n, rax: 0xbbbb_0000_5566_7788n, rcx: 0xdeadbeefn, rbx: 0xcafef00dn }, OTHER,
      (tc) => writeLE(tc, MEM, m, 8));
    expect(readLE(ok, MEM, 8)).toBe(0xdeadbeef_cafef00dn);
    expect([ok.reg('rax'), ok.reg('rdx')]).toEqual([0xbbbb_0000_5566_7788n, 0xaaaa_0000_1122_3344n]);
    expect(ok.flags() & ARITH_FLAGS).toBe(OTHER | ZF);
    const fail = run({ rsi: BigInt(MEM), rdx: 0xaaaa_0000_1122_3344n, rax: 0xbbbb_0000_5566_7789n, rcx: 1n, rbx: 2n }, OTHER | ZF,
      (tc) => writeLE(tc, MEM, m, 8));
    expect(readLE(fail, MEM, 8)).toBe(m);
    expect([fail.reg('rax'), fail.reg('rdx')]).toEqual([0x55667788n, 0x11223344n]);
    expect(fail.flags() & ARITH_FLAGS).toBe(OTHER);
  });

  it('cmpxchg8b in 32-bit code and at an unaligned address', async () => {
    const run = await compile('cmpxchg8b qword ptr [esi]', 32);
    const ok = run({ rsi: BigInt(MEM + 3), rdx: 1n, rax: 2n, rcx: 3n, rbx: 4n }, 0, (tc) => writeLE(tc, MEM + 3, 0x1_00000002n, 8));
    expect(ok.stop.kind).toBe('halt');
    expect(readLE(ok, MEM + 3, 8)).toBe(0x3_00000004n);
    expect(ok.flags() & ZF).toBe(ZF);
  });

  it('cmpxchg16b: success stores RCX:RBX, failure loads RDX:RAX', async () => {
    const run = await compile('lock cmpxchg16b xmmword ptr [rsi]');
    const lo = 0x0123456789abcdefn, hi = 0xfedcba9876543210n;
    const setup = (tc: TestCore) => { writeLE(tc, MEM, lo, 8); writeLE(tc, MEM + 8, hi, 8); };
    const ok = run({ rsi: BigInt(MEM), rax: lo, rdx: hi, rbx: 0x1111n, rcx: 0x2222n }, OTHER, setup);
    expect([readLE(ok, MEM, 8), readLE(ok, MEM + 8, 8)]).toEqual([0x1111n, 0x2222n]);
    expect(ok.flags() & ARITH_FLAGS).toBe(OTHER | ZF);
    // Differs in the high quadword's top bit only.
    const fail = run({ rsi: BigInt(MEM), rax: lo, rdx: hi ^ (1n << 63n), rbx: 0x1111n, rcx: 0x2222n }, ZF, setup);
    expect([readLE(fail, MEM, 8), readLE(fail, MEM + 8, 8)]).toEqual([lo, hi]);
    expect([fail.reg('rax'), fail.reg('rdx')]).toEqual([lo, hi]);
    expect(fail.flags() & ARITH_FLAGS).toBe(0);
    // Differs in the low quadword's high half only.
    const fail2 = run({ rsi: BigInt(MEM), rax: lo ^ (1n << 40n), rdx: hi, rbx: 0n, rcx: 0n }, 0, setup);
    expect(fail2.flags() & ZF).toBe(0);
    expect(fail2.reg('rax')).toBe(lo);
  });

  it('cmpxchg16b on an operand not 16-byte aligned raises #GP(0) before any change', async () => {
    const run = await compile('cmpxchg16b xmmword ptr [rsi]');
    for (const off of [8, 1, 4]) {
      const t = run({ rsi: BigInt(MEM + off), rax: 0n, rdx: 0n, rbx: 5n, rcx: 6n }, CF, (tc) => { writeLE(tc, MEM + off, 0n, 8); writeLE(tc, MEM + off + 8, 0n, 8); });
      expect(t.stop).toEqual({ kind: 'exception', vector: 13, errorCode: 0, rip: CODE_BASE });
      expect([readLE(t, MEM + off, 8), readLE(t, MEM + off + 8, 8)]).toEqual([0n, 0n]);
      expect(t.flags() & ARITH_FLAGS).toBe(CF);
    }
  });

  it('a register operand raises #UD (0F C7 /1 is memory-only)', async () => {
    // 0F C7 C9 and 48 0F C7 C9: ModRM.mod = 3.
    for (const bytes of ['0x0f, 0xc7, 0xc9', '0x48, 0x0f, 0xc7, 0xc9', '0xf0, 0x48, 0x0f, 0xc7, 0xc9']) {
      const t = (await compile(`.byte ${bytes}`))({}, 0);
      expect(t.stop).toMatchObject({ kind: 'exception', vector: 6, rip: CODE_BASE });
    }
  });
});
