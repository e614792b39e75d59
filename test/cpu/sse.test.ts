/**
 * SSE state instructions (SDM Vol. 2 MOVAPS, MOVUPS, MOVAPD, MOVUPD, MOVDQA,
 * MOVDQU, MOVD/MOVQ, MOVQ, MOVNTDQ, MOVNTPS, MOVNTPD, PAND, PANDN, POR,
 * PXOR, ANDPS, ANDNPS, ORPS, XORPS and PD forms, LDMXCSR, STMXCSR) and the
 * availability rules of SDM Vol. 3A Table 13-1. Expected values are
 * computed here with BigInt from the bytes put in memory.
 */
import { describe, expect, it } from 'vitest';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { Access } from '../../cpu/memory/access.ts';
import { CODE_BASE, runAsm, type RunOptions, type TestCore } from '../support/machine.ts';

const CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR4_OSFXSR = 1 << 9;
const UD = 6, NM = 7, GP = 13, PF = 14;
const DATA = 0x20000;
const M128 = (1n << 128n) - 1n;

function getXmm(t: TestCore, n: number): bigint {
  let v = 0n;
  for (let k = 3; k >= 0; k--) v = (v << 32n) | BigInt(t.cpu.xmm[n * 4 + k]! >>> 0);
  return v;
}

function setXmm(t: TestCore, n: number, v: bigint): void {
  for (let k = 0; k < 4; k++) t.cpu.xmm[n * 4 + k] = Number((v >> BigInt(32 * k)) & 0xffffffffn) | 0;
}

function bytesOf(v: bigint, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = Number((v >> BigInt(8 * k)) & 0xffn);
  return b;
}

function valueOf(b: Uint8Array): bigint {
  let v = 0n;
  for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]!);
  return v;
}

const A = 0x0f1e2d3c4b5a69788796a5b4c3d2e1f0n;
const B = 0x123456789abcdef0fedcba9876543210n;

interface Opts extends RunOptions { xmm?: Record<number, bigint>; mem?: [number, bigint, number][] }

/** Runs with SSE enabled (CR4.OSFXSR), XMM registers and memory preset. */
function run(src: string, o: Opts = {}): Promise<TestCore> {
  return runAsm(src, {
    ...o,
    setup: (t) => {
      t.cpu.cr4 |= CR4_OSFXSR;
      for (const [n, v] of Object.entries(o.xmm ?? {})) setXmm(t, Number(n), v);
      for (const [addr, v, n] of o.mem ?? []) t.phys.load(addr, bytesOf(v, n));
      o.setup?.(t);
    },
  });
}

function expectFault(t: TestCore, vector: number, errorCode?: number): void {
  expect(t.stop).toMatchObject({ kind: 'exception', vector, rip: CODE_BASE });
  if (errorCode !== undefined) expect(t.stop).toMatchObject({ errorCode });
}

describe('128-bit moves (SDM Vol. 2A MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU)', () => {
  const aligned = ['movaps', 'movapd', 'movdqa'];
  const unaligned = ['movups', 'movupd', 'movdqu'];

  for (const m of [...aligned, ...unaligned]) {
    it(`${m}: load from and store to a 16-byte aligned operand, and register to register`, async () => {
      const t = await run(`${m} xmm3, [rsi]\n${m} [rsi + 16], xmm12\n${m} xmm9, xmm3`, {
        regs: { rsi: BigInt(DATA) }, xmm: { 12: B }, mem: [[DATA, A, 16]],
      });
      expect(t.stop.kind).toBe('halt');
      expect(getXmm(t, 3)).toBe(A);
      expect(getXmm(t, 9)).toBe(A);
      expect(valueOf(t.phys.readBytes(DATA + 16, 16))).toBe(B);
    });
  }

  for (const m of aligned) {
    it(`${m}: a misaligned operand raises #GP(0) and changes nothing (load and store)`, async () => {
      const load = await run(`${m} xmm1, [rsi]`, { regs: { rsi: BigInt(DATA + 8) }, xmm: { 1: B }, mem: [[DATA + 8, A, 16]] });
      expectFault(load, GP, 0);
      expect(getXmm(load, 1)).toBe(B);
      const store = await run(`${m} [rsi], xmm1`, { regs: { rsi: BigInt(DATA + 4) }, xmm: { 1: B } });
      expectFault(store, GP, 0);
      expect(valueOf(store.phys.readBytes(DATA + 4, 16))).toBe(0n);
    });
  }

  for (const m of unaligned) {
    it(`${m}: any alignment works`, async () => {
      const t = await run(`${m} xmm1, [rsi + 3]\n${m} [rsi + 37], xmm1`, { regs: { rsi: BigInt(DATA) }, mem: [[DATA + 3, A, 16]] });
      expect(t.stop.kind).toBe('halt');
      expect(getXmm(t, 1)).toBe(A);
      expect(valueOf(t.phys.readBytes(DATA + 37, 16))).toBe(A);
    });
  }

  it('works in 32-bit mode on XMM0-7', async () => {
    const t = await run('movdqu xmm7, [esi]\nmovdqa xmm0, xmm7', { bits: 32, regs: { rsi: BigInt(DATA + 1) }, mem: [[DATA + 1, B, 16]] });
    expect(t.stop.kind).toBe('halt');
    expect(getXmm(t, 0)).toBe(B);
  });

  it('an unaligned load crossing into a page that faults leaves the destination unchanged (#PF)', async () => {
    const page = DATA + 0x1000;
    const t = await run('movdqu xmm2, [rsi]', {
      regs: { rsi: BigInt(page - 8) }, xmm: { 2: B },
      setup: (t) => failPage(t, page),
    });
    expectFault(t, PF);
    expect(getXmm(t, 2)).toBe(B);
  });

  it('an unaligned store crossing into a page that faults writes nothing (#PF)', async () => {
    const page = DATA + 0x1000;
    const t = await run('movups [rsi], xmm2', {
      regs: { rsi: BigInt(page - 8) }, xmm: { 2: B },
      setup: (t) => failPage(t, page),
    });
    expectFault(t, PF);
    expect(valueOf(t.phys.readBytes(page - 8, 8))).toBe(0n);
  });
});

/** Makes every write or read access to the 4 KiB page at `page` raise #PF. */
function failPage(t: TestCore, page: number): void {
  t.cpu.mmu.translate = (la, access) => {
    if (access !== Access.Fetch && la >= page && la < page + 0x1000) fault(Vector.PF, 2);
    return la;
  };
  t.cpu.mmu.flushAll();
}

describe('non-temporal stores (SDM Vol. 2B MOVNTDQ, MOVNTPS, MOVNTPD)', () => {
  for (const m of ['movntdq', 'movntps', 'movntpd']) {
    it(`${m}: stores 16 bytes to an aligned operand; misaligned raises #GP(0)`, async () => {
      const t = await run(`${m} [rsi], xmm5`, { regs: { rsi: BigInt(DATA + 32) }, xmm: { 5: A } });
      expect(t.stop.kind).toBe('halt');
      expect(valueOf(t.phys.readBytes(DATA + 32, 16))).toBe(A);
      const bad = await run(`${m} [rsi], xmm5`, { regs: { rsi: BigInt(DATA + 40) }, xmm: { 5: A } });
      expectFault(bad, GP, 0);
    });
  }

  it('the register form (66 0F E7 C0) is #UD', async () => {
    const t = await run('.byte 0x66, 0x0f, 0xe7, 0xc1');
    expectFault(t, UD);
  });
});

describe('bitwise logic (SDM Vol. 2B PAND, PANDN, POR, PXOR; Vol. 2A ANDPS, ANDNPS, ORPS, XORPS and PD forms)', () => {
  const ref: Record<string, (a: bigint, b: bigint) => bigint> = {
    and: (a, b) => a & b,
    andn: (a, b) => ~a & b & M128,
    or: (a, b) => a | b,
    xor: (a, b) => a ^ b,
  };
  const forms: [string, keyof typeof ref][] = [
    ['pand', 'and'], ['pandn', 'andn'], ['por', 'or'], ['pxor', 'xor'],
    ['andps', 'and'], ['andnps', 'andn'], ['orps', 'or'], ['xorps', 'xor'],
    ['andpd', 'and'], ['andnpd', 'andn'], ['orpd', 'or'], ['xorpd', 'xor'],
  ];
  for (const [m, op] of forms) {
    it(`${m}: register and aligned memory sources; misaligned memory raises #GP(0)`, async () => {
      const t = await run(`${m} xmm1, xmm10\n${m} xmm11, [rsi]`, {
        regs: { rsi: BigInt(DATA) }, xmm: { 1: A, 10: B, 11: B }, mem: [[DATA, A, 16]],
      });
      expect(t.stop.kind).toBe('halt');
      expect(getXmm(t, 1)).toBe(ref[op]!(A, B));
      expect(getXmm(t, 11)).toBe(ref[op]!(B, A));
      const bad = await run(`${m} xmm1, [rsi]`, { regs: { rsi: BigInt(DATA + 8) }, xmm: { 1: A } });
      expectFault(bad, GP, 0);
      expect(getXmm(bad, 1)).toBe(A);
    });
  }

  it('pxor xmm, xmm with itself zeroes the register', async () => {
    const t = await run('pxor xmm15, xmm15', { xmm: { 15: A } });
    expect(getXmm(t, 15)).toBe(0n);
  });
});

describe('MOVD/MOVQ (SDM Vol. 2B MOVD/MOVQ, MOVQ)', () => {
  it('movd xmm, r32 and movq xmm, r64 zero-extend to 128 bits', async () => {
    const t = await run('movd xmm1, eax\nmovq xmm2, rbx', {
      regs: { rax: 0xffffffff89abcdefn, rbx: 0xfedcba9876543210n }, xmm: { 1: A, 2: A },
    });
    expect(getXmm(t, 1)).toBe(0x89abcdefn);
    expect(getXmm(t, 2)).toBe(0xfedcba9876543210n);
  });

  it('movd r32, xmm zero-extends into the 64-bit register; movq r64, xmm moves the low quadword', async () => {
    const t = await run('movd eax, xmm3\nmovq rbx, xmm3', { regs: { rax: -1n, rbx: 0n }, xmm: { 3: A } });
    expect(t.reg('rax')).toBe(A & 0xffffffffn);
    expect(t.reg('rbx')).toBe(A & 0xffffffffffffffffn);
  });

  it('movd xmm, m32 loads 4 bytes; movd m32, xmm stores only 4 bytes', async () => {
    const t = await run('movd xmm4, dword ptr [rsi]\nmovd dword ptr [rsi + 64], xmm5', {
      regs: { rsi: BigInt(DATA) }, xmm: { 4: A, 5: B }, mem: [[DATA, A, 16], [DATA + 64, M128, 16]],
    });
    expect(getXmm(t, 4)).toBe(A & 0xffffffffn);
    expect(valueOf(t.phys.readBytes(DATA + 64, 16))).toBe((M128 & ~0xffffffffn) | (B & 0xffffffffn));
  });

  it('movq xmm, m64 via 66 REX.W 0F 6E and F3 0F 7E load 8 bytes and clear the upper quadword', async () => {
    const t = await run('movq xmm6, qword ptr [rsi]\n.byte 0x66, 0x48, 0x0f, 0x6e, 0x3e', { // movq xmm7, [rsi]
      regs: { rsi: BigInt(DATA) }, xmm: { 6: B, 7: B }, mem: [[DATA, A, 16]],
    });
    expect(t.stop.kind).toBe('halt');
    expect(getXmm(t, 6)).toBe(A & 0xffffffffffffffffn);
    expect(getXmm(t, 7)).toBe(A & 0xffffffffffffffffn);
  });

  it('movq xmm, xmm (F3 0F 7E) copies the low quadword and clears the upper one', async () => {
    const t = await run('movq xmm8, xmm9', { xmm: { 8: A, 9: B } });
    expect(getXmm(t, 8)).toBe(B & 0xffffffffffffffffn);
  });

  it('movq m64, xmm (66 0F D6) stores 8 bytes; its register form clears the upper quadword', async () => {
    const t = await run('movq qword ptr [rsi], xmm1\n.byte 0x66, 0x0f, 0xd6, 0xca', { // movq xmm2, xmm1 (D6 form)
      regs: { rsi: BigInt(DATA) }, xmm: { 1: A, 2: B }, mem: [[DATA, M128, 16]],
    });
    expect(t.stop.kind).toBe('halt');
    expect(valueOf(t.phys.readBytes(DATA, 16))).toBe((M128 & ~0xffffffffffffffffn) | (A & 0xffffffffffffffffn));
    expect(getXmm(t, 2)).toBe(A & 0xffffffffffffffffn);
  });

  it('MMX forms (no 66 prefix) are #UD: the core has no MMX', async () => {
    expectFault(await run('movd mm0, eax'), UD);
    expectFault(await run('.byte 0x0f, 0x6f, 0xc1'), UD); // movq mm0, mm1
  });
});

describe('LDMXCSR/STMXCSR (SDM Vol. 2A LDMXCSR, Vol. 2B STMXCSR; MXCSR in Vol. 1 §10.2.3)', () => {
  it('round trip; all of bits 15:0 (flags, DAZ, masks, RC, FTZ) are writable', async () => {
    const t = await run('stmxcsr dword ptr [rsi]\nldmxcsr dword ptr [rsi + 4]\nstmxcsr dword ptr [rsi + 8]', {
      regs: { rsi: BigInt(DATA) }, mem: [[DATA + 4, 0xffffn, 4]],
    });
    expect(t.stop.kind).toBe('halt');
    expect(valueOf(t.phys.readBytes(DATA, 4))).toBe(0x1f80n); // reset value
    expect(t.cpu.mxcsr).toBe(0xffff);
    expect(valueOf(t.phys.readBytes(DATA + 8, 4))).toBe(0xffffn);
  });

  for (const bad of [0x10000n, 0x80000000n, 0x00011f80n]) {
    it(`a reserved bit (value 0x${bad.toString(16)}) raises #GP(0) and MXCSR keeps its value`, async () => {
      const t = await run('ldmxcsr dword ptr [rsi]', { regs: { rsi: BigInt(DATA) }, mem: [[DATA, bad, 4]] });
      expectFault(t, GP, 0);
      expect(t.cpu.mxcsr).toBe(0x1f80);
    });
  }

  it('the register form (0F AE D0) is #UD', async () => {
    expectFault(await run('.byte 0x0f, 0xae, 0xd0'), UD);
  });
});

describe('availability (SDM Vol. 3A Table 13-1): EM or !OSFXSR -> #UD before TS -> #NM', () => {
  const programs = [
    'movaps xmm0, xmm1', 'movdqu xmm0, [rsi]', 'movups [rsi], xmm0', 'pxor xmm0, xmm1', 'xorps xmm0, xmm1',
    'movd xmm0, eax', 'movq rax, xmm0', 'movq xmm0, xmm1', 'movq qword ptr [rsi], xmm0', 'movntdq [rsi], xmm0',
    'ldmxcsr dword ptr [rsi]', 'stmxcsr dword ptr [rsi]',
  ];
  const conditions: [string, (t: TestCore) => void, number][] = [
    ['CR0.EM = 1', (t) => { t.cpu.cr0 |= CR0_EM; }, UD],
    ['CR4.OSFXSR = 0', (t) => { t.cpu.cr4 &= ~CR4_OSFXSR; }, UD],
    ['CR0.TS = 1', (t) => { t.cpu.cr0 |= CR0_TS; }, NM],
    ['CR0.EM = 1 and CR0.TS = 1', (t) => { t.cpu.cr0 |= CR0_EM | CR0_TS; }, UD],
    ['CR4.OSFXSR = 0 and CR0.TS = 1', (t) => { t.cpu.cr4 &= ~CR4_OSFXSR; t.cpu.cr0 |= CR0_TS; }, UD],
  ];
  for (const [what, setup, vector] of conditions) {
    it(`${what}: #${vector === UD ? 'UD' : 'NM'} for every instruction, before any memory access, nothing changed`, async () => {
      for (const p of programs) {
        // RSI misaligned and non-canonical faults would be #GP: the availability fault must come first.
        const t = await run(p, { regs: { rsi: 0x8000000000000008n, rax: 5n }, xmm: { 0: A, 1: B }, setup });
        expect(t.stop, p).toMatchObject({ kind: 'exception', vector, rip: CODE_BASE });
        expect(getXmm(t, 0), p).toBe(A);
        expect(t.reg('rax'), p).toBe(5n);
        expect(t.cpu.mxcsr, p).toBe(0x1f80);
      }
    });
  }

  it('with CR0.EM = 0, OSFXSR = 1, TS = 0 they run (CR0.MP does not matter)', async () => {
    const t = await run('pxor xmm0, xmm0', { xmm: { 0: A }, setup: (t) => { t.cpu.cr0 |= 2; } });
    expect(t.stop.kind).toBe('halt');
    expect(getXmm(t, 0)).toBe(0n);
  });

  it('LOCK is #UD', async () => {
    expectFault(await run('.byte 0xf0, 0x0f, 0x28, 0x06'), UD); // lock movaps xmm0, [rsi]
  });
});
