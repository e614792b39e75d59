/**
 * MUL, IMUL (one-, two-, three-operand), DIV, IDIV at 8/16/32/64 bits (SDM
 * Vol. 2A "MUL", "IMUL", "DIV", "IDIV"), against BigInt arithmetic. The
 * undefined flags follow the choice documented in cpu/exec/muldiv.ts:
 * after a multiply SF/ZF/PF come from the low half and AF = 0; DIV/IDIV
 * leave the flags unchanged.
 */
import { describe, expect, it } from 'vitest';
import { ARITH_FLAGS, CF, OF, PF, SF, ZF } from '../../cpu/flags.ts';
import { CODE_BASE, compile, type RegInputs as Inputs, type RegName } from '../support/machine.ts';
import { check, mask, parity, rng } from '../support/reference.ts';

const sx = (v: bigint, bits: number) => BigInt.asIntN(bits, v);
const zx = (v: bigint, bits: number) => BigInt.asUintN(bits, v);

const SIZES = [8, 16, 32, 64] as const;
const BX: Record<number, string> = { 8: 'bl', 16: 'bx', 32: 'ebx', 64: 'rbx' };
const DX: Record<number, string> = { 16: 'dx', 32: 'edx', 64: 'rdx' };
const PTR: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };

/** Operand values: edges at the width plus random ones. */
function operands(bits: number, next: () => bigint, n = 6): bigint[] {
  const M = mask(bits);
  const edges = [0n, 1n, 2n, M, M - 1n, 1n << BigInt(bits - 1), (1n << BigInt(bits - 1)) - 1n, (1n << BigInt(bits - 1)) + 1n];
  const out = [...edges];
  for (let k = 0; k < n; k++) out.push(next() & M);
  // Small magnitudes too, so that some signed products fit.
  for (let k = 0; k < 3; k++) out.push(zx(sx(next() & 0xffn, 8), bits));
  return out;
}

/** Flags after a multiply whose exact product is p, truncated to `bits` for the low half. */
function mulFlags(p: bigint, bits: number, signed: boolean): number {
  const low = zx(p, bits);
  const fits = signed ? sx(low, bits) === p : p === low;
  return (fits ? 0 : CF | OF) | (low === 0n ? ZF : 0) | ((low >> BigInt(bits - 1)) & 1n ? SF : 0) | parity(low);
}

describe('MUL/IMUL one operand (F6/F7 /4 /5): rDX:rAX := rAX * r/m', () => {
  for (const kind of ['mul', 'imul'] as const) {
    for (const bits of SIZES) {
      it(`${kind} ${BX[bits]}`, async () => {
        const run = await compile(`${kind} ${BX[bits]}`);
        const next = rng(0x1111n * BigInt(bits) + (kind === 'mul' ? 0n : 7n));
        const bad: string[] = [];
        const signed = kind === 'imul';
        for (const a of operands(bits, next)) {
          for (const b of operands(bits, next, 2)) {
            const raxIn = (next() & ~mask(bits)) | a, rdxIn = next(), rbxIn = (next() & ~mask(bits)) | b;
            const t = run({ rax: raxIn, rbx: rbxIn, rdx: rdxIn }, ARITH_FLAGS);
            const p = signed ? sx(a, bits) * sx(b, bits) : a * b;
            const low = zx(p, bits), high = zx(p >> BigInt(bits), bits);
            let rax: bigint, rdx: bigint;
            switch (bits) {
              case 8: rax = (raxIn & ~0xffffn) | zx(p, 16); rdx = rdxIn; break;
              case 16: rax = (raxIn & ~0xffffn) | low; rdx = (rdxIn & ~0xffffn) | high; break;
              default: rax = low; rdx = high; break; // a 32-bit write zero-extends
            }
            check(bad, `${kind}${bits} a=0x${a.toString(16)} b=0x${b.toString(16)}`,
              [t.reg('rax'), t.reg('rdx'), t.flags() & ARITH_FLAGS], [rax, rdx, mulFlags(p, bits, signed)]);
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('memory operands: mul qword ptr [rsi], imul byte ptr [rsi]', async () => {
    const run = await compile('mul qword ptr [rsi]\nmov r8, rax\nmov r9, rdx\nmov al, 0xfe\nimul byte ptr [rsi + 8]');
    const t = run({ rsi: 0x20000n, rax: 0xfedcba9876543210n }, 0, (tc) => {
      for (let j = 0; j < 8; j++) tc.phys.write8(0x20000 + j, 0x11 * (j + 1));
      tc.phys.write8(0x20008, 0x81); // -127
    });
    const m = 0x8877665544332211n, p = 0xfedcba9876543210n * m;
    expect(t.reg('r8')).toBe(zx(p, 64));
    expect(t.reg('r9')).toBe(p >> 64n);
    expect(t.reg('rax') & 0xffffn).toBe(zx(-2n * -127n, 16)); // AX = 254, does not fit in AL as signed
    expect(t.flags() & (CF | OF)).toBe(CF | OF);
  });

  it('hand-worked: MUL sets CF/OF when the upper half is nonzero, IMUL when it is not the sign extension', async () => {
    const mul = (await compile('mul ebx'))({ rax: 0x80000000n, rbx: 2n }, 0);
    expect(mul.reg('rax')).toBe(0n);
    expect(mul.reg('rdx')).toBe(1n);
    expect(mul.flags() & (CF | OF | ZF)).toBe(CF | OF | ZF); // ZF from the low half (our choice)
    const imul = (await compile('imul ebx'))({ rax: 0xffffffffn, rbx: 0x7fffffffn }, CF | OF);
    expect(imul.reg('rax')).toBe(0x80000001n);
    expect(imul.reg('rdx')).toBe(0xffffffffn);
    expect(imul.flags() & (CF | OF | SF)).toBe(SF); // -0x7fffffff fits in 32 bits
  });
});

describe('IMUL two and three operands (0F AF, 69, 6B): the truncated product', () => {
  for (const bits of [16, 32, 64] as const) {
    it(`imul ${DX[bits]}, ${BX[bits]}`, async () => {
      const run = await compile(`imul ${DX[bits]}, ${BX[bits]}`);
      const next = rng(0x2222n + BigInt(bits));
      const bad: string[] = [];
      for (const a of operands(bits, next)) {
        for (const b of operands(bits, next, 2)) {
          const rdxIn = (next() & ~mask(bits)) | a;
          const t = run({ rdx: rdxIn, rbx: b }, 0);
          const p = sx(a, bits) * sx(b, bits);
          const want = bits === 16 ? (rdxIn & ~0xffffn) | zx(p, 16) : zx(p, bits);
          check(bad, `imul${bits} a=0x${a.toString(16)} b=0x${b.toString(16)}`,
            [t.reg('rdx'), t.reg('rbx'), t.flags() & ARITH_FLAGS], [want, b, mulFlags(p, bits, true)]);
        }
      }
      expect(bad).toEqual([]);
    });

    for (const imm of [-3n, 100n, 0x1234n, -0x7000n, ...(bits > 16 ? [0x12345678n, -0x40000000n] : [])]) {
      it(`imul ${DX[bits]}, ${PTR[bits]} ptr [rsi], ${imm}`, async () => {
        const run = await compile(`imul ${DX[bits]}, ${PTR[bits]} ptr [rsi], ${imm}`);
        const next = rng(0x3333n + BigInt(bits) + imm);
        const bad: string[] = [];
        for (const a of operands(bits, next)) {
          const rdxIn = next();
          const t = run({ rdx: rdxIn, rsi: 0x20000n }, 0, (tc) => {
            for (let j = 0; j < bits / 8; j++) tc.phys.write8(0x20000 + j, Number((a >> BigInt(8 * j)) & 0xffn));
          });
          const p = sx(a, bits) * sx(zx(imm, bits), bits);
          const want = bits === 16 ? (rdxIn & ~0xffffn) | zx(p, 16) : zx(p, bits);
          check(bad, `a=0x${a.toString(16)}`, [t.reg('rdx'), t.flags() & ARITH_FLAGS], [want, mulFlags(p, bits, true)]);
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('uses the 6B (imm8) and 69 (imm32) encodings', async () => {
    // 48 6B D3 FD = imul rdx, rbx, -3; 48 69 C3 00 00 00 80 = imul rax, rbx, 0xffffffff80000000.
    const t = (await compile('.byte 0x48, 0x6b, 0xd3, 0xfd\n.byte 0x48, 0x69, 0xc3, 0x00, 0x00, 0x00, 0x80'))({ rbx: 5n }, 0);
    expect(t.reg('rdx')).toBe(zx(-15n, 64));
    expect(t.reg('rax')).toBe(zx(5n * -0x80000000n, 64));
    expect(t.flags() & (CF | OF)).toBe(0);
  });
});

/** Expected DIV/IDIV outcome: the written registers or a #DE. */
function refDiv(signed: boolean, bits: number, raxIn: bigint, rdxIn: bigint, d: bigint): { rax: bigint; rdx: bigint } | 'DE' {
  const B = BigInt(bits);
  const dividend = bits === 8 ? raxIn & 0xffffn : ((rdxIn & mask(bits)) << B) | (raxIn & mask(bits));
  const n = signed ? sx(dividend, 2 * bits) : dividend;
  const dv = signed ? sx(d, bits) : d;
  if (dv === 0n) return 'DE';
  const q = n / dv, r = n % dv; // BigInt division truncates toward zero; the remainder takes n's sign
  if (signed ? q !== sx(q, bits) : q > mask(bits)) return 'DE';
  switch (bits) {
    case 8: return { rax: (raxIn & ~0xffffn) | (zx(r, 8) << 8n) | zx(q, 8), rdx: rdxIn };
    case 16: return { rax: (raxIn & ~0xffffn) | zx(q, 16), rdx: (rdxIn & ~0xffffn) | zx(r, 16) };
    default: return { rax: zx(q, bits), rdx: zx(r, bits) };
  }
}

describe('DIV/IDIV (F6/F7 /6 /7)', () => {
  for (const kind of ['div', 'idiv'] as const) {
    for (const bits of SIZES) {
      it(`${kind} ${BX[bits]}: quotient, remainder, #DE`, async () => {
        const signed = kind === 'idiv';
        const run = await compile(`${kind} ${BX[bits]}`);
        const next = rng(0x4444n * BigInt(bits) + (signed ? 3n : 0n));
        const bad: string[] = [];
        const B = BigInt(bits);
        const cases: [bigint, bigint, bigint][] = []; // rax, rdx, divisor
        for (const d of operands(bits, next, 6)) {
          // Dividends built as q*d + r so that most cases complete, plus raw random ones.
          for (let k = 0; k < 6; k++) {
            const dv = signed ? sx(d, bits) : d;
            if (dv === 0n) { cases.push([next(), next(), d]); continue; }
            let q = signed ? sx(next() & mask(bits), bits) : next() & mask(bits);
            if (k === 0) q = signed ? -(1n << (B - 1n)) : mask(bits);
            if (k === 1) q = signed ? (1n << (B - 1n)) - 1n : 0n;
            const mag = dv < 0n ? -dv : dv;
            let r = (next() % mag);
            const n0 = q * dv;
            if (signed && n0 < 0n) r = -r; // keep the remainder's sign with the dividend
            const n = n0 + r;
            const N = zx(n, 2 * bits);
            const raxIn = bits === 8 ? (next() & ~0xffffn) | N : (next() & ~mask(bits)) | (N & mask(bits));
            const rdxIn = bits === 8 ? next() : (next() & ~mask(bits)) | (N >> B);
            cases.push([raxIn, rdxIn, d]);
          }
          cases.push([next(), next(), d]);
        }
        for (const [raxIn, rdxIn, d] of cases) {
          const rbxIn = (next() & ~mask(bits)) | d;
          const t = run({ rax: raxIn, rdx: rdxIn, rbx: rbxIn }, CF | ZF | PF);
          const e = refDiv(signed, bits, raxIn, rdxIn, d);
          const ctx = `${kind}${bits} rdx:rax=0x${rdxIn.toString(16)}:${raxIn.toString(16)} d=0x${d.toString(16)}`;
          if (e === 'DE') {
            const s = t.stop;
            check(bad, ctx, [s.kind === 'exception' ? `#${s.vector}@${s.rip.toString(16)}` : s.kind, t.reg('rax'), t.reg('rdx')],
              [`#0@${CODE_BASE.toString(16)}`, raxIn, rdxIn]);
          } else {
            check(bad, ctx, [t.stop.kind, t.reg('rax'), t.reg('rdx'), t.flags() & ARITH_FLAGS], ['halt', e.rax, e.rdx, CF | ZF | PF]);
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }

  const DE_CASES: [string, Inputs][] = [
    ['div bl', { rax: 5n, rbx: 0n }],
    ['div rbx', { rax: 5n, rdx: 0n, rbx: 0n }],
    ['div bl', { rax: 0x100n, rbx: 1n }], // quotient 256 does not fit AL
    ['div ebx', { rax: 0n, rdx: 7n, rbx: 7n }], // EDX >= divisor
    ['div rbx', { rax: 0n, rdx: 1n, rbx: 1n }],
    ['idiv bl', { rax: 0xff80n, rbx: 0xffn }], // -128 / -1 = 128
    ['idiv bx', { rax: 0x8000n, rdx: 0xffffn, rbx: 0xffffn }], // -32768 / -1
    ['idiv ebx', { rax: 0x80000000n, rdx: 0xffffffffn, rbx: 0xffffffffn }],
    ['idiv rbx', { rax: 0x8000000000000000n, rdx: 0xffffffffffffffffn, rbx: 0xffffffffffffffffn }],
    ['idiv bl', { rax: 0x100n, rbx: 2n }], // +128 does not fit
    ['idiv rbx', { rax: 0n, rdx: 0xc000000000000000n, rbx: 0x8000000000000000n }], // -2^126 / -2^63 = 2^63
  ];
  for (const [src, regs] of DE_CASES) {
    it(`#DE before any write: ${src} with ${JSON.stringify(regs, (_, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))}`, async () => {
      const t = (await compile(src))(regs, SF);
      expect(t.stop).toEqual({ kind: 'exception', vector: 0, errorCode: -1, rip: CODE_BASE });
      for (const [k, v] of Object.entries(regs)) expect(t.reg(k as RegName)).toBe(v);
      expect(t.flags() & ARITH_FLAGS).toBe(SF);
    });
  }

  it('the most negative quotient fits: -128 in AL, -2^63 in RAX; one beyond raises #DE', async () => {
    const t = (await compile('idiv bl'))({ rax: 0xff00n, rbx: 2n }, 0); // -256 / 2
    expect(t.reg('rax')).toBe(0x0080n);
    const run = await compile('idiv rbx');
    const expectQuotient = (regs: Inputs, q: bigint, r: bigint) => {
      const tt = run(regs, 0);
      expect(tt.stop.kind).toBe('halt');
      expect([tt.reg('rax'), tt.reg('rdx')]).toEqual([q, r]);
    };
    expectQuotient({ rax: 0n, rdx: 0xffffffffffffffffn, rbx: 2n }, 0x8000000000000000n, 0n); // -2^64 / 2
    expectQuotient({ rax: 0x8000000000000000n, rdx: 0n, rbx: 0xffffffffffffffffn }, 0x8000000000000000n, 0n); // 2^63 / -1
    expectQuotient({ rax: 5n, rdx: 0x4000000000000000n, rbx: 0x8000000000000000n }, 0x8000000000000000n, 5n); // (2^126+5) / -2^63
    expect(run({ rax: 0n, rdx: 0xc000000000000000n, rbx: 0x7fffffffffffffffn }, 0).stop.kind).toBe('exception'); // -2^126 / (2^63-1)
  });

  it('memory divisor and a remainder with the dividend sign (-7 / 2 = -3 rem -1)', async () => {
    const t = (await compile('idiv dword ptr [rsi]'))({ rax: 0xfffffff9n, rdx: 0xffffffffn, rsi: 0x20000n }, 0, (tc) => {
      tc.phys.write8(0x20000, 2);
      for (let j = 1; j < 4; j++) tc.phys.write8(0x20000 + j, 0);
    });
    expect(t.reg('rax')).toBe(0xfffffffdn);
    expect(t.reg('rdx')).toBe(0xffffffffn);
  });
});
