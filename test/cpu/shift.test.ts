/**
 * Shifts and rotates (SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
 * "SHLD", "SHRD"). Expected values come from a BigInt model that runs the
 * SDM's bit-by-bit pseudocode loops, plus hand-worked cases for the flag
 * rules the SDM defines. The undefined ones follow the choices documented
 * in cpu/exec/shift.ts: OF by the count-1 formula at every count (left:
 * MSB(result) XOR CF, right: XOR of the two top result bits), AF = 0.
 */
import { describe, expect, it } from 'vitest';
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from '../../cpu/flags.ts';
import { compile } from '../support/machine.ts';
import { check, parity, rng } from '../support/reference.ts';

type Group2 = 'rol' | 'ror' | 'rcl' | 'rcr' | 'shl' | 'shr' | 'sar';
const SHIFTS: Group2[] = ['shl', 'shr', 'sar'];

/** The SDM's pseudocode, one bit per step, with the documented choices for undefined OF/AF. */
function refGroup2(op: Group2, bits: number, value: bigint, countByte: number, flagsIn: number): { r: bigint; flags: number } {
  const B = BigInt(bits), M = (1n << B) - 1n;
  const bit = (x: bigint, k: number): number => Number((x >> BigInt(k)) & 1n);
  const msb = (x: bigint) => bit(x, bits - 1);
  const n = countByte & (bits === 64 ? 0x3f : 0x1f);
  let r = value & M;
  if (n === 0) return { r, flags: flagsIn };
  let cf = flagsIn & CF;
  let steps = n;
  if (op === 'rol' || op === 'ror') steps = n % bits;
  if (op === 'rcl' || op === 'rcr') steps = bits === 8 ? n % 9 : bits === 16 ? n % 17 : n;
  for (let k = 0; k < steps; k++) {
    switch (op) {
      case 'rol': r = ((r << 1n) | BigInt(msb(r))) & M; break;
      case 'ror': r = (r >> 1n) | (BigInt(bit(r, 0)) << (B - 1n)); break;
      case 'rcl': { const t = msb(r); r = ((r << 1n) | BigInt(cf)) & M; cf = t; break; }
      case 'rcr': { const t = bit(r, 0); r = (r >> 1n) | (BigInt(cf) << (B - 1n)); cf = t; break; }
      case 'shl': cf = msb(r); r = (r << 1n) & M; break;
      case 'shr': cf = bit(r, 0); r >>= 1n; break;
      case 'sar': cf = bit(r, 0); r = (r >> 1n) | (BigInt(msb(r)) << (B - 1n)); break;
    }
  }
  // ROL/ROR set CF from the result whenever the masked count is nonzero.
  if (op === 'rol') cf = bit(r, 0);
  if (op === 'ror') cf = msb(r);
  const left = op === 'rol' || op === 'rcl' || op === 'shl';
  const of = left ? msb(r) ^ cf : msb(r) ^ bit(r, bits - 2);
  if (!SHIFTS.includes(op)) return { r, flags: (flagsIn & ~(CF | OF)) | cf | (of ? OF : 0) };
  const flags = (flagsIn & ~ARITH_FLAGS) | cf | (of ? OF : 0) | (r === 0n ? ZF : 0) | (msb(r) ? SF : 0) | parity(r);
  return { r, flags };
}

/** SHLD/SHRD on dest:src:dest (the documented choice for 16-bit counts above 16). */
function refDouble(left: boolean, bits: number, d: bigint, s: bigint, countByte: number, flagsIn: number): { r: bigint; flags: number } {
  const B = BigInt(bits), M = (1n << B) - 1n;
  const n = countByte & (bits === 64 ? 0x3f : 0x1f);
  d &= M; s &= M;
  if (n === 0) return { r: d, flags: flagsIn };
  const N = BigInt(n);
  const W = (d << (2n * B)) | (s << B) | d;
  let r: bigint, cf: number;
  if (left) {
    r = ((W << N) >> (2n * B)) & M;
    cf = Number((W >> (3n * B - N)) & 1n);
  } else {
    r = (W >> N) & M;
    cf = Number((W >> (N - 1n)) & 1n);
  }
  const msb = Number((r >> (B - 1n)) & 1n), msb1 = Number((r >> (B - 2n)) & 1n);
  const of = left ? msb ^ cf : msb ^ msb1;
  return { r, flags: (flagsIn & ~ARITH_FLAGS) | cf | (of ? OF : 0) | (r === 0n ? ZF : 0) | (msb ? SF : 0) | parity(r) };
}

const SIZES = [8, 16, 32, 64] as const;
const DX: Record<number, string> = { 8: 'dl', 16: 'dx', 32: 'edx', 64: 'rdx' };
const BX: Record<number, string> = { 16: 'bx', 32: 'ebx', 64: 'rbx' };
const PTR: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };
const OPS: Group2[] = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];

function countsFor(bits: number): number[] {
  return [0, 1, 2, bits - 1, bits, bits + 1, 9, 16, 17, 18, 31, 32, 33, 63, 64, 65, 0xe1, 0xff];
}

function valuesFor(bits: number, next: () => bigint): bigint[] {
  const M = (1n << BigInt(bits)) - 1n;
  return [0n, 1n, M, 1n << BigInt(bits - 1), M >> 1n, next(), next(), next()].map((v) => v & M);
}

/** The full 64-bit register after writing an operand of `bits` into `before` (SDM Vol. 1 §3.4.1.1). */
function merged(before: bigint, r: bigint, bits: number): bigint {
  if (bits >= 32) return r;
  const M = (1n << BigInt(bits)) - 1n;
  return (before & ~M) | r;
}

describe('group 2 by CL (D2/D3), every operation and size', () => {
  for (const op of OPS) {
    for (const bits of SIZES) {
      it(`${op} ${DX[bits]}, cl`, async () => {
        const run = await compile(`${op} ${DX[bits]}, cl`);
        const bad: string[] = [];
        const next = rng(0x9e3779b97f4a7c15n ^ BigInt(bits * 131 + op.length));
        for (const count of countsFor(bits)) {
          for (const v of valuesFor(bits, next)) {
            for (const flagsIn of [0, ARITH_FLAGS, CF | SF | PF]) {
              const upper = next();
              const before = merged(upper, v, bits);
              const t = run({ rdx: before, rcx: BigInt(count) | 0xab00n }, flagsIn);
              const e = refGroup2(op, bits, v, count, flagsIn);
              check(bad, `${op}${bits} v=0x${v.toString(16)} count=${count} flags=0x${flagsIn.toString(16)}`,
                [t.reg('rdx'), t.flags() & ARITH_FLAGS], [merged(before, e.r, bits), e.flags]);
            }
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }
});

describe('group 2 by 1 (D0/D1) and by imm8 (C0/C1)', () => {
  for (const op of OPS) {
    for (const bits of SIZES) {
      it(`${op} ${DX[bits]}, 1 and imm8 counts`, async () => {
        const next = rng(0x1234567n + BigInt(bits));
        const bad: string[] = [];
        // keystone encodes "op r, 1" as D0/D1; counts other than 1 use C0/C1 with an imm8.
        for (const count of [1, 0, 3, bits - 1, bits === 64 ? 0x7f : 0x3f]) {
          const run = await compile(`${op} ${DX[bits]}, ${count}`);
          for (const v of valuesFor(bits, next)) {
            for (const flagsIn of [0, CF | OF | ZF]) {
              const before = merged(next(), v, bits);
              const t = run({ rdx: before }, flagsIn);
              const e = refGroup2(op, bits, v, count, flagsIn);
              check(bad, `${op}${bits} v=0x${v.toString(16)} count=${count}`,
                [t.reg('rdx'), t.flags() & ARITH_FLAGS], [merged(before, e.r, bits), e.flags]);
            }
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('C1 /4 with an imm8 of 1 behaves as D1 /4 (OF defined)', async () => {
    // 48 C1 E2 01 = shl rdx, 1 in its imm8 encoding.
    const run = await compile('.byte 0x48, 0xc1, 0xe2, 0x01');
    const t = run({ rdx: 0x4000000000000001n });
    expect(t.reg('rdx')).toBe(0x8000000000000002n);
    expect(t.flags() & (CF | OF | SF)).toBe(OF | SF);
  });

  it('/6 (SAL) is an alias of SHL /4 (SDM Vol. 2B SAL/SAR/SHL/SHR)', async () => {
    // D1 F2 = sal edx, 1 (ModRM.reg 6); C0 F2 03 = sal dl, 3; D3 F2 = sal edx, cl.
    const run = await compile('.byte 0xd1, 0xf2\n.byte 0xc0, 0xf2, 0x03\n.byte 0xd3, 0xf2');
    const t = run({ rdx: 0xffffffff_c0000011n, rcx: 2n });
    // edx: 0xc0000011 << 1 = 0x80000022 (zero-extended); dl: 0x22 << 3 = 0x10 -> 0x80000010;
    // << 2 = 0x00000040 with CF = bit 30 = 0.
    expect(t.reg('rdx')).toBe(0x40n);
    expect(t.flags() & CF).toBe(0);
  });
});

describe('flag rules the SDM defines', () => {
  const cases: [string, bigint, number, bigint, number][] = [
    // [instruction, rdx before, flags before, rdx after, CF|OF after]
    ['shl dl, 1', 0x40n, 0, 0x80n, OF], // OF = MSB(result) XOR CF = 1 XOR 0
    ['shl dl, 1', 0xc0n, 0, 0x80n, CF], // sign kept: OF = 0
    ['shr dl, 1', 0x81n, 0, 0x40n, CF | OF], // SHR by 1: OF = MSB of the original operand
    ['sar dl, 1', 0x81n, OF, 0xc0n, CF], // SAR by 1: OF = 0
    ['rol dl, 1', 0x80n, 0, 0x01n, CF | OF], // CF = LSB(result), OF = MSB(result) XOR CF
    ['ror dl, 1', 0x01n, 0, 0x80n, CF | OF], // CF = MSB(result), OF = XOR of the two top bits
    ['rcl dl, 1', 0x40n, CF, 0x81n, OF], // CF in at bit 0, bit 7 out to CF
    ['rcr dl, 1', 0x01n, CF, 0x80n, CF | OF], // OF = MSB(original) XOR CF(original) = 0 XOR 1
    ['rcr dl, 1', 0x81n, CF, 0xc0n, CF], // 1 XOR 1 = 0
    ['shr rdx, 1', 0x8000000000000000n, 0, 0x4000000000000000n, OF],
    ['sar rdx, 63', 0x8000000000000000n, 0, 0xffffffffffffffffn, 0], // CF = bit 62 = 0, OF = 0 by choice
    ['shl rdx, 63', 3n, 0, 0x8000000000000000n, CF], // CF = bit 1 of the original; OF = 1 XOR 1 by choice
  ];
  for (const [src, before, flagsIn, after, cfof] of cases) {
    it(`${src} on 0x${before.toString(16)}`, async () => {
      const t = (await compile(src))({ rdx: before }, flagsIn);
      expect(t.reg('rdx')).toBe(after);
      expect(t.flags() & (CF | OF)).toBe(cfof);
    });
  }

  it('a masked count of 0 changes no flags but still zero-extends a 32-bit register', async () => {
    const run = await compile('shl edx, cl');
    const t = run({ rdx: 0x12345678_9abcdef0n, rcx: 0x20n }, CF | OF | ZF | SF | AF | PF);
    expect(t.reg('rdx')).toBe(0x9abcdef0n);
    expect(t.flags() & ARITH_FLAGS).toBe(CF | OF | ZF | SF | AF | PF);
    const t2 = (await compile('sar rdx, cl'))({ rdx: 0x8000000000000000n, rcx: 0x40n }, 0);
    expect(t2.reg('rdx')).toBe(0x8000000000000000n);
    expect(t2.flags() & ARITH_FLAGS).toBe(0);
  });

  it('RCL/RCR count is taken mod 9 / mod 17 for 8/16-bit operands after masking', async () => {
    const t = (await compile('rcl dl, 9\nrcr cx, 17'))({ rdx: 0x5an, rcx: 0x1234n }, CF);
    expect(t.reg('rdx')).toBe(0x5an);
    expect(t.reg('rcx')).toBe(0x1234n);
    expect(t.flags() & CF).toBe(CF);
    // rcl dl, 10 == rcl dl, 1 (mod 9): 0x5a -> 0xb5 with CF in, CF out = 0.
    const t2 = (await compile('rcl dl, 10'))({ rdx: 0x5an }, CF);
    expect(t2.reg('rdx')).toBe(0xb5n);
    expect(t2.flags() & CF).toBe(0);
  });

  it('ROL by a multiple of the width leaves the value and sets CF from it', async () => {
    const t = (await compile('rol dl, 8'))({ rdx: 0x81n }, 0);
    expect(t.reg('rdx')).toBe(0x81n);
    expect(t.flags() & CF).toBe(CF);
    const t2 = (await compile('ror dx, 16'))({ rdx: 0x7ffen }, CF);
    expect(t2.reg('rdx')).toBe(0x7ffen);
    expect(t2.flags() & CF).toBe(0); // CF = MSB(result) = 0
  });

  it('SHL/SHR of an 8-bit operand by 8 or more: CF as the bit-by-bit pseudocode leaves it', async () => {
    const run = await compile('shl dl, cl');
    expect(run({ rdx: 0x01n, rcx: 8n }, 0).flags() & (CF | ZF)).toBe(CF | ZF); // bit 0 was the last out
    expect(run({ rdx: 0xffn, rcx: 9n }, CF).flags() & (CF | ZF)).toBe(ZF);
    const shr = await compile('shr dl, cl');
    expect(shr({ rdx: 0x80n, rcx: 8n }, 0).flags() & CF).toBe(CF);
    expect(shr({ rdx: 0xffn, rcx: 31n }, CF).flags() & CF).toBe(0);
    const sar = await compile('sar dl, cl');
    const t = sar({ rdx: 0x80n, rcx: 31n }, 0);
    expect(t.reg('rdx')).toBe(0xffn);
    expect(t.flags() & CF).toBe(CF);
  });

  it('AF is cleared by a shift and kept by a rotate (AF undefined / unaffected)', async () => {
    expect((await compile('shl edx, 2'))({ rdx: 1n }, AF).flags() & AF).toBe(0);
    expect((await compile('rol edx, 2'))({ rdx: 1n }, AF | ZF | SF | PF).flags() & (AF | ZF | SF | PF)).toBe(AF | ZF | SF | PF);
  });
});

describe('high byte registers and memory operands', () => {
  it('shifts and rotates BH/AH without touching the rest of the register', async () => {
    const run = await compile('rcl bh, cl\nsar ah, 3');
    const t = run({ rbx: 0x1111_2222_3333_8044n, rax: 0x5555_6666_7777_9988n, rcx: 2n }, CF);
    expect(t.reg('rbx')).toBe(0x1111_2222_3333_0344n); // 0x80 rcl 2 with CF=1: 0x03, CF=0
    expect(t.reg('rax')).toBe(0x5555_6666_7777_f388n); // 0x99 sar 3 = 0xf3
  });

  for (const bits of SIZES) {
    it(`${PTR[bits]} memory destination: ror/shr by CL and by 1`, async () => {
      const run = await compile(`ror ${PTR[bits]} ptr [rsi], cl\nshr ${PTR[bits]} ptr [rsi + 8], 1`);
      const next = rng(77n + BigInt(bits));
      const bytes = bits / 8;
      for (let k = 0; k < 6; k++) {
        const a = next() & ((1n << BigInt(bits)) - 1n), b = next() & ((1n << BigInt(bits)) - 1n);
        const count = Number(next() & 0xffn);
        const t = run({ rsi: 0x20000n, rcx: BigInt(count) }, 0, (tc) => {
          for (let j = 0; j < bytes; j++) {
            tc.phys.write8(0x20000 + j, Number((a >> BigInt(8 * j)) & 0xffn));
            tc.phys.write8(0x20008 + j, Number((b >> BigInt(8 * j)) & 0xffn));
          }
        });
        const read = (addr: number) => {
          let v = 0n;
          for (let j = bytes - 1; j >= 0; j--) v = (v << 8n) | BigInt(t.phys.read8(addr + j));
          return v;
        };
        expect(read(0x20000)).toBe(refGroup2('ror', bits, a, count, 0).r);
        const e = refGroup2('shr', bits, b, 1, refGroup2('ror', bits, a, count, 0).flags);
        expect(read(0x20008)).toBe(e.r);
        expect(t.flags() & ARITH_FLAGS).toBe(e.flags);
      }
    });
  }
});

describe('SHLD/SHRD (0F A4/A5/AC/AD)', () => {
  for (const kind of ['shld', 'shrd'] as const) {
    for (const bits of [16, 32, 64] as const) {
      it(`${kind} ${DX[bits]}, ${BX[bits]}, cl at every interesting count`, async () => {
        const run = await compile(`${kind} ${DX[bits]}, ${BX[bits]}, cl`);
        const next = rng(0xdeadbeefn + BigInt(bits) + (kind === 'shld' ? 0n : 99n));
        const bad: string[] = [];
        for (const count of countsFor(bits)) {
          for (let k = 0; k < 6; k++) {
            const d = next(), s = next();
            const flagsIn = k & 1 ? ARITH_FLAGS : 0;
            const t = run({ rdx: d, rbx: s, rcx: BigInt(count) }, flagsIn);
            const M = (1n << BigInt(bits)) - 1n;
            const e = refDouble(kind === 'shld', bits, d, s, count, flagsIn);
            check(bad, `${kind}${bits} d=0x${(d & M).toString(16)} s=0x${(s & M).toString(16)} count=${count}`,
              [t.reg('rdx'), t.reg('rbx'), t.flags() & ARITH_FLAGS], [merged(d, e.r, bits), s, e.flags]);
          }
        }
        expect(bad).toEqual([]);
      });

      it(`${kind} ${PTR[bits]} ptr [rsi], ${BX[bits]}, imm8`, async () => {
        const count = bits === 64 ? 37 : bits === 32 ? 1 : 20;
        const run = await compile(`${kind} ${PTR[bits]} ptr [rsi], ${BX[bits]}, ${count}`);
        const next = rng(0x5eedn + BigInt(bits));
        const bytes = bits / 8;
        for (let k = 0; k < 4; k++) {
          const d = next() & ((1n << BigInt(bits)) - 1n), s = next();
          const t = run({ rsi: 0x30000n, rbx: s }, 0, (tc) => {
            for (let j = 0; j < bytes; j++) tc.phys.write8(0x30000 + j, Number((d >> BigInt(8 * j)) & 0xffn));
          });
          let v = 0n;
          for (let j = bytes - 1; j >= 0; j--) v = (v << 8n) | BigInt(t.phys.read8(0x30000 + j));
          const e = refDouble(kind === 'shld', bits, d, s, count, 0);
          expect(v).toBe(e.r);
          expect(t.flags() & ARITH_FLAGS).toBe(e.flags);
        }
      });
    }
  }

  it('count 1 sets OF on a sign change (SDM SHLD/SHRD)', async () => {
    const shld = (await compile('shld edx, ebx, 1'))({ rdx: 0x40000000n, rbx: 0x80000000n }, 0);
    expect(shld.reg('rdx')).toBe(0x80000001n);
    expect(shld.flags() & (CF | OF | SF)).toBe(OF | SF);
    const shrd = (await compile('shrd edx, ebx, 1'))({ rdx: 0x80000001n, rbx: 0n }, 0);
    expect(shrd.reg('rdx')).toBe(0x40000000n);
    expect(shrd.flags() & (CF | OF | SF)).toBe(CF | OF);
  });

  it('16-bit count above 16: bits of the source, then of the destination, flow in (documented choice)', async () => {
    const t = (await compile('shld dx, bx, cl'))({ rdx: 0xabcdn, rbx: 0x1234n, rcx: 20n }, 0);
    // dest:src:dest = abcd 1234 abcd; << 20, top 16 bits: 0x234a.
    expect(t.reg('rdx')).toBe(0x234an);
    const t2 = (await compile('shrd dx, bx, cl'))({ rdx: 0xabcdn, rbx: 0x1234n, rcx: 20n }, 0);
    // abcd 1234 abcd >> 20, low 16 bits: 0xd123.
    expect(t2.reg('rdx')).toBe(0xd123n);
  });

  it('count 0 leaves destination and flags (a 32-bit destination is still zero-extended)', async () => {
    const t = (await compile('shrd edx, ebx, cl'))({ rdx: 0xffff0000_12345678n, rbx: 1n, rcx: 0x60n }, CF | ZF);
    expect(t.reg('rdx')).toBe(0x12345678n);
    expect(t.flags() & ARITH_FLAGS).toBe(CF | ZF);
  });
});

describe('other modes', () => {
  it('32-bit code: 66-prefixed 16-bit shifts and 32-bit rotates', async () => {
    const run = await compile('shl ax, 4\nrcr ebx, cl', 32);
    const t = run({ rax: 0xffff8421n, rbx: 0x00000003n, rcx: 2n }, 0);
    expect(t.reg('rax') & 0xffffffffn).toBe(0xffff4210n);
    // rcr 0x3 by 2 with CF=0 (shl left CF = bit 12 of 0x8421 = 0): 0x00000000 | 1<<31 -> 0x80000000 , CF = bit 1 = 1.
    expect(t.reg('rbx') & 0xffffffffn).toBe(0x80000000n);
    expect(t.flags() & CF).toBe(CF);
  });

  it('16-bit code: 32-bit operand via 66 prefix', async () => {
    const t = (await compile('sar eax, 31', 16))({ rax: 0x80000000n }, 0);
    expect(t.reg('rax') & 0xffffffffn).toBe(0xffffffffn);
  });
});
