/**
 * BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT and SETcc (SDM Vol. 2A "BT"
 * ... "POPCNT", Vol. 2B "TZCNT", "SETcc"). The bit-string reference works
 * on single bytes: bit `off` of a string based at `base` is bit off & 7 of
 * the byte at base + (off >> 3), whatever unit size the instruction reads.
 * Undefined flags follow cpu/exec/bits.ts: BTx changes CF only; BSF/BSR/
 * TZCNT/LZCNT clear OF, SF and AF and set PF from the index/count (PF = 1
 * for BSF/BSR of 0).
 */
import { describe, expect, it } from 'vitest';
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from '../../cpu/flags.ts';
import { CODE_BASE, compile, type TestCore } from '../support/machine.ts';
import { check, mask, parity, rng } from '../support/reference.ts';

const DX: Record<number, string> = { 16: 'dx', 32: 'edx', 64: 'rdx' };
const CX: Record<number, string> = { 16: 'cx', 32: 'ecx', 64: 'rcx' };
const PTR: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };
const SIZES = [16, 32, 64] as const;
const BT_OPS = ['bt', 'bts', 'btr', 'btc'] as const;

function applyBit(op: (typeof BT_OPS)[number], v: bigint, k: bigint): bigint {
  const m = 1n << k;
  return op === 'bts' ? v | m : op === 'btr' ? v & ~m : op === 'btc' ? v ^ m : v;
}

describe('BT/BTS/BTR/BTC on registers', () => {
  for (const op of BT_OPS) {
    for (const bits of SIZES) {
      it(`${op} ${DX[bits]}, ${CX[bits]} and ${op} ${DX[bits]}, imm8`, async () => {
        const run = await compile(`${op} ${DX[bits]}, ${CX[bits]}`);
        const next = rng(0xb17n * BigInt(bits) + BigInt(op.length));
        const bad: string[] = [];
        for (let n = 0; n < 40; n++) {
          const d = next(), off = n < 8 ? BigInt(bits * (n - 4) + n) : next(); // includes negative and > width
          const flagsIn = Number(next() & BigInt(ARITH_FLAGS));
          const t = run({ rdx: d, rcx: off & mask(64) }, flagsIn);
          const k = BigInt.asUintN(64, off) % BigInt(bits);
          const cf = Number((d >> k) & 1n);
          const want = (d & ~mask(bits)) | applyBit(op, d & mask(bits), k);
          check(bad, `d=0x${d.toString(16)} off=${off}`, [t.reg('rdx'), t.flags() & ARITH_FLAGS],
            [bits === 32 && op !== 'bt' ? want & mask(32) : want, (flagsIn & ~CF) | cf]);
        }
        // Immediate: taken modulo the width.
        for (const imm of [0, 5, bits - 1, bits + 3, 127]) {
          const t = (await compile(`${op} ${DX[bits]}, ${imm}`))({ rdx: 0x5555_aaaa_0f0f_f0f0n }, ZF | OF);
          const k = BigInt(imm % bits), d = 0x5555_aaaa_0f0f_f0f0n;
          const want = (d & ~mask(bits)) | applyBit(op, d & mask(bits), k);
          check(bad, `imm ${imm}`, [t.reg('rdx'), t.flags() & ARITH_FLAGS],
            [bits === 32 && op !== 'bt' ? want & mask(32) : want, ZF | OF | Number((d >> k) & 1n)]);
        }
        expect(bad).toEqual([]);
      });
    }
  }
});

describe('BT/BTS/BTR/BTC on memory: the bit string (SDM Vol. 2A BT, Range of Bit Positions)', () => {
  const BASE = 0x48000;
  const byteAt = (a: number) => (a * 37 + (a >> 8)) & 0xff;
  const PATTERN = Uint8Array.from({ length: 0x4000 }, (_, j) => byteAt(BASE - 0x2000 + j));
  const fill = (t: TestCore) => t.phys.load(BASE - 0x2000, PATTERN);

  for (const op of BT_OPS) {
    for (const bits of SIZES) {
      it(`${op} ${PTR[bits]} ptr [rsi + 8], ${CX[bits]}: signed offsets reach below and beyond the operand`, async () => {
        const run = await compile(`${op} ${PTR[bits]} ptr [rsi + 8], ${CX[bits]}`);
        const bad: string[] = [];
        const range = bits === 16 ? 0x8000 : 0xf000;
        for (const off of [0, 1, bits - 1, bits, bits + 1, -1, -bits, -bits - 1, 12345, -12345, range - 1, -range, 77, -77]) {
          const t = run({ rsi: BigInt(BASE - 8), rcx: BigInt.asUintN(64, BigInt(off)) }, SF | PF, fill);
          const a = BASE + Math.floor(off / 8), b = ((off % 8) + 8) % 8;
          const before = byteAt(a);
          const after = Number(applyBit(op, BigInt(before), BigInt(b)));
          check(bad, `off=${off}`, [t.stop.kind, t.phys.read8(a), t.flags() & ARITH_FLAGS], ['halt', after, SF | PF | ((before >> b) & 1)]);
          // Nothing else in the string changed.
          if (t.phys.read8(a + 1) !== byteAt(a + 1) || t.phys.read8(a - 1) !== byteAt(a - 1)) bad.push(`off=${off}: neighbour changed`);
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('a 16-bit offset register is signed: bt word ptr [rsi], cx with cx = 0xffff reads bit 15 of [rsi - 2]', async () => {
    const t = (await compile('bt word ptr [rsi], cx'))({ rsi: BigInt(BASE), rcx: 0x1234_ffffn }, 0, (tc) => {
      fill(tc);
      tc.phys.write8(BASE - 1, 0x80);
    });
    expect(t.flags() & CF).toBe(CF);
  });

  it('an immediate offset is taken modulo the width and never moves the address', async () => {
    const t = (await compile('bts word ptr [rsi], 21\nbtc qword ptr [rsi + 8], 0x47'))({ rsi: BigInt(BASE) }, 0, (tc) => {
      for (let j = 0; j < 16; j++) tc.phys.write8(BASE + j, 0);
    });
    expect(t.phys.read8(BASE)).toBe(0x20); // 21 & 15 = 5
    expect(t.phys.read8(BASE + 2)).toBe(0);
    expect(t.phys.read8(BASE + 8)).toBe(0x80); // 0x47 & 63 = 7
  });

  it('an offset that leaves the canonical range raises #GP(0) (#SS(0) through RSP), nothing written', async () => {
    const gp = (await compile('bts qword ptr [rsi], rcx'))({ rsi: BigInt(BASE), rcx: 0x4000000000000000n }, 0);
    expect(gp.stop).toEqual({ kind: 'exception', vector: 13, errorCode: 0, rip: CODE_BASE });
    const neg = (await compile('bt qword ptr [rsi], rcx'))({ rsi: BigInt(BASE), rcx: 0xc000000000000000n }, 0);
    expect(neg.stop).toMatchObject({ kind: 'exception', vector: 13 });
    const ss = (await compile('bt qword ptr [rsp], rcx'))({ rcx: 0x4000000000000000n }, 0);
    expect(ss.stop).toMatchObject({ kind: 'exception', vector: 12, errorCode: 0 });
  });

  it('16-bit code: the offset is added at the address size and wraps at 64K', async () => {
    // ax = -256: unit -16 -> -32 bytes from si = 0x10 wraps to 0xfff0; bit 0.
    const t = (await compile('bts word ptr [si], ax', 16))({ rsi: 0x10n, rax: 0xff00n }, CF, (tc) => {
      tc.phys.write8(0xfff0, 0x00);
      tc.phys.write8(0xfff1, 0x00);
    });
    expect(t.stop.kind).toBe('halt');
    expect(t.phys.read8(0xfff0)).toBe(0x01);
    expect(t.flags() & CF).toBe(0);
  });

  it('32-bit code: negative offsets from a 32-bit base', async () => {
    const t = (await compile('btr dword ptr [ebx], eax', 32))({ rbx: BigInt(BASE), rax: BigInt.asUintN(32, -33n) }, 0, (tc) => {
      for (let j = -8; j < 0; j++) tc.phys.write8(BASE + j, 0xff);
    });
    // bit -33 = byte BASE-5, bit 7.
    expect(t.phys.read8(BASE - 5)).toBe(0x7f);
    expect(t.flags() & CF).toBe(CF);
  });

  it('LOCK is allowed on BTS/BTR/BTC with memory, #UD on BT or a register destination', async () => {
    const ok = (await compile('lock bts dword ptr [rsi], ecx\nlock btr dword ptr [rsi], 1\nlock btc qword ptr [rsi], rcx'))({ rsi: BigInt(BASE), rcx: 4n }, 0, (tc) => tc.phys.write8(BASE, 0x02));
    expect(ok.stop.kind).toBe('halt');
    expect(ok.phys.read8(BASE)).toBe(0x00); // set bit 4, clear bit 1, toggle bit 4
    // F0 0F A3 0E = lock bt [rsi], ecx; F0 0F AB CA = lock bts edx, ecx.
    for (const bytes of ['0xf0, 0x0f, 0xa3, 0x0e', '0xf0, 0x0f, 0xab, 0xca']) {
      const t = (await compile(`.byte ${bytes}`))({ rsi: BigInt(BASE) }, 0);
      expect(t.stop).toMatchObject({ kind: 'exception', vector: 6, rip: CODE_BASE });
    }
  });
});

describe('BSF/BSR, TZCNT/LZCNT, POPCNT', () => {
  const lowest = (v: bigint) => { let k = 0; while (!((v >> BigInt(k)) & 1n)) k++; return k; };
  const highest = (v: bigint) => { let k = 0; while (v >> BigInt(k + 1)) k++; return k; };
  const popcount = (v: bigint) => { let n = 0; for (; v; v >>= 1n) n += Number(v & 1n); return n; };

  function sources(bits: number, next: () => bigint): bigint[] {
    const M = mask(bits);
    const out = [0n, 1n, M, 1n << BigInt(bits - 1), 0x80n, 0x100n];
    for (let k = 0; k < 20; k++) out.push((next() >> BigInt(Number(next() & 63n))) & M);
    return out;
  }

  for (const bits of SIZES) {
    for (const op of ['bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt'] as const) {
      it(`${op} ${DX[bits]}, ${CX[bits]}`, async () => {
        const run = await compile(`${op} ${DX[bits]}, ${CX[bits]}`);
        const next = rng(0x5ca9n + BigInt(bits) * 3n + BigInt(op.length));
        const bad: string[] = [];
        for (const s of sources(bits, next)) {
          const rdxIn = next();
          const flagsIn = ARITH_FLAGS & ~ZF;
          const t = run({ rdx: rdxIn, rcx: (next() & ~mask(bits)) | s }, flagsIn);
          let result: bigint | undefined;
          let flags: number;
          switch (op) {
            case 'bsf': case 'bsr': {
              // ZF per SDM; the rest our documented choice; destination kept for a zero source.
              const k = s === 0n ? undefined : BigInt(op === 'bsf' ? lowest(s) : highest(s));
              result = k;
              flags = k === undefined ? ZF | PF : parity(k);
              break;
            }
            case 'tzcnt': case 'lzcnt': {
              const n = BigInt(s === 0n ? bits : op === 'tzcnt' ? lowest(s) : bits - 1 - highest(s));
              result = n;
              flags = (s === 0n ? CF : 0) | (n === 0n ? ZF : 0) | parity(n);
              break;
            }
            default:
              result = BigInt(popcount(s));
              flags = s === 0n ? ZF : 0; // all others cleared (SDM POPCNT)
          }
          const rdx = result === undefined ? rdxIn : bits === 16 ? (rdxIn & ~0xffffn) | result : result;
          check(bad, `src=0x${s.toString(16)}`, [t.reg('rdx'), t.flags() & ARITH_FLAGS], [rdx, flags]);
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('memory sources', async () => {
    const t = (await compile('bsr eax, dword ptr [rsi]\nlzcnt rbx, qword ptr [rsi]\npopcnt cx, word ptr [rsi]\ntzcnt rdx, qword ptr [rsi]'))({ rsi: 0x20000n }, 0, (tc) => {
      const v = [0x00, 0x10, 0x00, 0x40, 0, 0, 0, 0];
      v.forEach((b, j) => tc.phys.write8(0x20000 + j, b));
    });
    expect(t.reg('rax')).toBe(30n);
    expect(t.reg('rbx')).toBe(33n);
    expect(t.reg('rcx') & 0xffffn).toBe(1n);
    expect(t.reg('rdx')).toBe(12n);
    expect(t.flags() & (CF | ZF)).toBe(0);
  });

  it('F3 0F BC with a 66 prefix is a 16-bit TZCNT; plain 0F BC stays BSF', async () => {
    // 66 F3 0F BC D1 = tzcnt dx, cx; 0F BC C1 = bsf eax, ecx.
    const t = (await compile('.byte 0x66, 0xf3, 0x0f, 0xbc, 0xd1\n.byte 0x0f, 0xbc, 0xc1'))({ rcx: 0x10000n, rdx: 0xaaaa_0000n, rax: 0x1234_5678_9abc_def0n }, 0);
    expect(t.reg('rdx')).toBe(0xaaaa_0010n); // cx = 0 -> 16, CF = 1
    expect(t.reg('rax')).toBe(16n);
    expect(t.flags() & (CF | ZF)).toBe(0);
  });
});

describe('SETcc (0F 90-9F)', () => {
  const NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  /** SDM Vol. 2B SETcc table, evaluated on an RFLAGS image. */
  function holds(cc: number, f: number): boolean {
    const of = !!(f & OF), cf = !!(f & CF), zf = !!(f & ZF), sf = !!(f & SF), pf = !!(f & PF);
    const base = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of][cc >> 1]!;
    return cc & 1 ? !base : base;
  }

  it('every condition on every combination of CF ZF SF OF PF', async () => {
    const src = NAMES.map((n, cc) => `set${n} byte ptr [rsi + ${cc}]`).join('\n');
    const run = await compile(src);
    const bad: string[] = [];
    for (let m = 0; m < 32; m++) {
      const f = (m & 1 ? CF : 0) | (m & 2 ? ZF : 0) | (m & 4 ? SF : 0) | (m & 8 ? OF : 0) | (m & 16 ? PF : 0) | AF;
      const t = run({ rsi: 0x20000n }, f, (tc) => { for (let j = 0; j < 16; j++) tc.phys.write8(0x20000 + j, 0xcc); });
      for (let cc = 0; cc < 16; cc++) check(bad, `set${NAMES[cc]} flags=0x${f.toString(16)}`, [t.phys.read8(0x20000 + cc)], [holds(cc, f) ? 1 : 0]);
      check(bad, 'flags unchanged', [t.flags() & ARITH_FLAGS], [f]);
    }
    expect(bad).toEqual([]);
  });

  it('register forms: AH without REX, SIL and R9B with REX; ModRM.reg is ignored', async () => {
    // 0F 94 F8 = sete al with ModRM.reg = 7 (ignored).
    const t = (await compile('setc ah\nsetz sil\nsetnz r9b\n.byte 0x0f, 0x94, 0xf8'))({ rax: 0xffff_ffff_ffff_0000n, rsi: 0x1111n, r9: 0x2222n }, CF | ZF);
    expect(t.reg('rax')).toBe(0xffff_ffff_ffff_0101n);
    expect(t.reg('rsi')).toBe(0x1101n);
    expect(t.reg('r9')).toBe(0x2200n);
  });
});
