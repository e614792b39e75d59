/**
 * RDRAND and RDSEED (SDM Vol. 2B): deterministic from the core's seed
 * (DESIGN decision 3). The reference generator here is Marsaglia's
 * xorshift32 (shifts 13, 17, 5) written from its definition; a 64-bit
 * destination takes two draws, low half first.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, runAsm } from '../support/machine.ts';

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

function* xorshift32(seed: number): Generator<bigint> {
  let x = BigInt(seed >>> 0);
  const m = 0xffffffffn;
  for (;;) {
    x ^= (x << 13n) & m;
    x ^= x >> 17n;
    x ^= (x << 5n) & m;
    yield x;
  }
}

const SEED = 0x12345678;

describe('RDRAND / RDSEED', () => {
  it('produce the seeded xorshift32 sequence at 16, 32 and 64 bits', async () => {
    const t = await runAsm(`
      rdrand ax
      rdrand ecx
      rdrand rdx
      rdseed r9
      rdseed bx`, {
      regs: { rax: 0x1111111111111111n, rcx: -1n, rbx: -1n },
      setup: (t) => { t.cpu.rngState = SEED; },
    });
    const g = xorshift32(SEED);
    const next = () => g.next().value as bigint;
    const ax = next(), ecx = next(), rdxLo = next(), rdxHi = next(), r9Lo = next(), r9Hi = next(), bx = next();
    expect(t.reg('rax')).toBe(0x1111111111110000n | (ax & 0xffffn)); // a 16-bit write keeps the rest
    expect(t.reg('rcx')).toBe(ecx); // a 32-bit write zero-extends
    expect(t.reg('rdx')).toBe((rdxHi << 32n) | rdxLo);
    expect(t.reg('r9')).toBe((r9Hi << 32n) | r9Lo);
    expect(t.reg('rbx')).toBe(0xffffffffffff0000n | (bx & 0xffffn));
  });

  it('the same seed gives the same values on two cores; another seed does not', async () => {
    const prog = 'rdrand rax\nrdrand rbx\nrdseed rcx';
    const run = (seed: number) => runAsm(prog, { setup: (t) => { t.cpu.rngState = seed; } });
    const [a, b, c] = await Promise.all([run(7), run(7), run(8)]);
    for (const r of ['rax', 'rbx', 'rcx'] as const) expect(a.reg(r)).toBe(b.reg(r));
    expect(a.reg('rax')).not.toBe(c.reg('rax'));
  });

  it('set CF and clear OF, SF, ZF, AF, PF whatever they were', async () => {
    for (const src of ['rdrand eax', 'rdseed eax']) {
      const t = await runAsm(src, { rflags: ARITH & ~CF });
      expect(t.flags() & ARITH, src).toBe(CF);
    }
  });

  it('take no F2/F3 prefix (#UD); F3 0F C7 /7 is RDPID and 66 selects 16-bit RDRAND', async () => {
    for (const bytes of ['0xf2, 0x0f, 0xc7, 0xf0', '0xf3, 0x0f, 0xc7, 0xf0', '0xf2, 0x0f, 0xc7, 0xf8']) {
      const t = await runAsm(`.byte ${bytes}`);
      expect(t.stop, bytes).toEqual({ kind: 'exception', vector: Vector.UD, errorCode: -1, rip: CODE_BASE });
    }
    const t = await runAsm('nop');
    const d = (b: number[]) => t.cpu.decoder.decode({ bytes: new Uint8Array(b), start: 0, avail: b.length }, 64)?.mnemonic;
    expect(d([0xf3, 0x0f, 0xc7, 0xf8])).toBe('rdpid');
    expect(d([0x66, 0x0f, 0xc7, 0xf0])).toBe('rdrand');
  });
});
