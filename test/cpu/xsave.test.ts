/**
 * FXSAVE/FXRSTOR (SDM Vol. 2A; Vol. 1 §10.5.1 Table 10-2), XSAVE/XRSTOR
 * standard form (Vol. 1 §13.4 Table 13-1, §13.6-§13.8), XGETBV/XSETBV
 * (Vol. 2C) and the x87 control instructions FNINIT/FNSTCW/FLDCW/FNSTSW.
 * Expected memory images are built here from the SDM tables, byte by byte.
 */
import { describe, expect, it } from 'vitest';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { Access } from '../../cpu/memory/access.ts';
import { CODE_BASE, runAsm, type RunOptions, type TestCore } from '../support/machine.ts';

const CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR4_OSFXSR = 1 << 9, CR4_OSXSAVE = 1 << 18;
const UD = 6, NM = 7, GP = 13, PF = 14;
const AREA = 0x20000; // 4 KiB aligned
const FILL = 0xcc;

/** Architectural x87/SSE state as the test sets and expects it. */
interface State {
  fcw: number; fsw: number; ftw: number; fop: number;
  fip: bigint; fdp: bigint;
  fpr: number[]; // 80 bytes: ST0-7, 10 bytes each
  mxcsr: number;
  xmm: bigint[]; // 16 values of 128 bits
}

const S: State = {
  fcw: 0x027f, fsw: 0x3821, ftw: 0xa5, fop: 0x5ab,
  fip: 0x00007fff12345678n, fdp: 0x000013579abcdef0n,
  fpr: Array.from({ length: 80 }, (_, k) => (k * 7 + 1) & 0xff),
  mxcsr: 0x7f95,
  xmm: Array.from({ length: 16 }, (_, k) => (0x0102030405060708090a0b0c0d0e0f10n * BigInt(k + 1)) & ((1n << 128n) - 1n)),
};

/** The state of a core just after reset (x87 and SSE in their initial configuration, SDM Vol. 1 §13.6). */
const INIT: State = {
  fcw: 0x37f, fsw: 0, ftw: 0, fop: 0, fip: 0n, fdp: 0n, fpr: new Array(80).fill(0), mxcsr: 0x1f80, xmm: new Array(16).fill(0n),
};

function setState(t: TestCore, s: State): void {
  const c = t.cpu;
  c.fcw = s.fcw; c.fsw = s.fsw; c.ftw = s.ftw;
  c.fpuLast.set([s.fop, lo(s.fip), hi(s.fip), lo(s.fdp), hi(s.fdp)]);
  c.fpr.set(s.fpr);
  c.mxcsr = s.mxcsr;
  s.xmm.forEach((v, n) => { for (let k = 0; k < 4; k++) c.xmm[n * 4 + k] = Number((v >> BigInt(32 * k)) & 0xffffffffn) | 0; });
}

function getState(t: TestCore): State {
  const c = t.cpu;
  const xmm: bigint[] = [];
  for (let n = 0; n < 16; n++) {
    let v = 0n;
    for (let k = 3; k >= 0; k--) v = (v << 32n) | BigInt(c.xmm[n * 4 + k]! >>> 0);
    xmm.push(v);
  }
  const p = c.fpuLast;
  return {
    fcw: c.fcw, fsw: c.fsw, ftw: c.ftw, fop: p[0]!,
    fip: (BigInt(p[2]! >>> 0) << 32n) | BigInt(p[1]! >>> 0),
    fdp: (BigInt(p[4]! >>> 0) << 32n) | BigInt(p[3]! >>> 0),
    fpr: Array.from(c.fpr), mxcsr: c.mxcsr, xmm,
  };
}

const lo = (v: bigint) => Number(v & 0xffffffffn) | 0;
const hi = (v: bigint) => Number(v >> 32n) | 0;

/** Which parts of the legacy region an instruction writes. */
interface Parts { x87: boolean; sse: boolean; wide: boolean; nXmm: number }

/**
 * The legacy region per SDM Vol. 1 Table 10-2 / Table 13-1, over `base`:
 * x87 = bytes 0-23 and 32-159, SSE = bytes 24-31 (MXCSR, MXCSR_MASK) and 160 + 16i.
 */
function legacyImage(s: State, p: Parts, base: Uint8Array): Uint8Array {
  const b = base.slice();
  const dv = new DataView(b.buffer);
  if (p.x87) {
    dv.setUint16(0, s.fcw, true);
    dv.setUint16(2, s.fsw, true);
    b[4] = s.ftw;
    b[5] = 0;
    dv.setUint16(6, s.fop, true);
    if (p.wide) {
      dv.setBigUint64(8, s.fip, true);
      dv.setBigUint64(16, s.fdp, true);
    } else {
      dv.setUint32(8, Number(s.fip & 0xffffffffn), true);
      dv.setUint32(12, 0, true); // FCS (deprecated, 0) and reserved
      dv.setUint32(16, Number(s.fdp & 0xffffffffn), true);
      dv.setUint32(20, 0, true); // FDS (deprecated, 0) and reserved
    }
    for (let r = 0; r < 8; r++) {
      b.set(s.fpr.slice(10 * r, 10 * r + 10), 32 + 16 * r);
      b.fill(0, 32 + 16 * r + 10, 32 + 16 * r + 16);
    }
  }
  if (p.sse) {
    dv.setUint32(24, s.mxcsr, true);
    dv.setUint32(28, 0xffff, true); // MXCSR_MASK: bits 15:0 supported (DAZ included)
    for (let n = 0; n < p.nXmm; n++) {
      for (let k = 0; k < 16; k++) b[160 + 16 * n + k] = Number((s.xmm[n]! >> BigInt(8 * k)) & 0xffn);
    }
  }
  return b;
}

interface Opts extends RunOptions { state?: State; image?: Uint8Array; xcr0?: number; osxsave?: boolean }

/** Runs with SSE and (by default) XSAVE enabled, state preset and the area filled with `image` or 0xCC. */
function run(src: string, o: Opts = {}): Promise<TestCore> {
  return runAsm(src, {
    ...o,
    regs: { rsi: BigInt(AREA), ...o.regs },
    setup: (t) => {
      t.cpu.cr4 |= CR4_OSFXSR | (o.osxsave === false ? 0 : CR4_OSXSAVE);
      t.cpu.xcr0 = o.xcr0 ?? 3;
      if (o.state) setState(t, o.state);
      t.phys.load(AREA, o.image ?? new Uint8Array(1024).fill(FILL));
      o.setup?.(t);
    },
  });
}

const area = (t: TestCore, n = 1024) => t.phys.readBytes(AREA, n);
const filled = (n = 1024) => new Uint8Array(n).fill(FILL);

function expectFault(t: TestCore, vector: number, errorCode?: number): void {
  expect(t.stop).toMatchObject({ kind: 'exception', vector, rip: CODE_BASE });
  if (errorCode !== undefined) expect(t.stop).toMatchObject({ errorCode });
}

/** Header image: XSTATE_BV, XCOMP_BV and the rest, at offset 512. */
function withHeader(img: Uint8Array, xstateBv: bigint, xcompBv = 0n, rest: [number, number][] = []): Uint8Array {
  const b = img.slice();
  const dv = new DataView(b.buffer);
  dv.setBigUint64(512, xstateBv, true);
  dv.setBigUint64(520, xcompBv, true);
  for (let k = 528; k < 576; k++) b[k] = 0;
  for (const [off, v] of rest) b[512 + off] = v;
  return b;
}

/** A legacy image of S with every reserved byte 0, as software builds it. */
const imageOf = (s: State, wide = true) => legacyImage(s, { x87: true, sse: true, wide, nXmm: 16 }, new Uint8Array(1024));

describe('FXSAVE (SDM Vol. 2A FXSAVE; Vol. 1 Table 10-2)', () => {
  it('FXSAVE64: every byte of 0-415 at its SDM offset; bytes 416-511 are not written', async () => {
    const t = await run('fxsave64 [rsi]', { state: S });
    expect(t.stop.kind).toBe('halt');
    expect(area(t)).toEqual(legacyImage(S, { x87: true, sse: true, wide: true, nXmm: 16 }, filled()));
  });

  it('FXSAVE without REX.W in 64-bit mode: 32-bit FIP/FDP with FCS/FDS = 0, all 16 XMM registers', async () => {
    const t = await run('fxsave [rsi]', { state: S });
    expect(area(t)).toEqual(legacyImage(S, { x87: true, sse: true, wide: false, nXmm: 16 }, filled()));
  });

  it('in 32-bit mode: the 32-bit format and XMM0-7 only (bytes 288-511 untouched)', async () => {
    const t = await run('fxsave [esi]', { bits: 32, state: S });
    expect(t.stop.kind).toBe('halt');
    expect(area(t)).toEqual(legacyImage(S, { x87: true, sse: true, wide: false, nXmm: 8 }, filled()));
  });

  it('saves XMM and MXCSR even with CR4.OSFXSR = 0 (implementation-dependent; this core always does)', async () => {
    const t = await run('fxsave64 [rsi]', { state: S, setup: (t) => { t.cpu.cr4 &= ~CR4_OSFXSR; } });
    expect(area(t)).toEqual(legacyImage(S, { x87: true, sse: true, wide: true, nXmm: 16 }, filled()));
  });

  it('a misaligned area raises #GP(0) and nothing is written', async () => {
    const t = await run('fxsave64 [rsi + 8]', { state: S });
    expectFault(t, GP, 0);
    expect(area(t)).toEqual(filled());
  });

  const unavailable: [string, number, number][] = [
    ['CR0.TS = 1: #NM', CR0_TS, NM], ['CR0.EM = 1: #UD', CR0_EM, UD], ['CR0.EM = CR0.TS = 1: #UD (EM wins)', CR0_EM | CR0_TS, UD],
  ];
  for (const [what, cr0, vector] of unavailable) {
    it(`${what} for FXSAVE and FXRSTOR, nothing changed`, async () => {
      for (const p of ['fxsave64 [rsi]', 'fxrstor64 [rsi]']) {
        const t = await run(p, { state: S, setup: (t) => { t.cpu.cr0 |= cr0; } });
        expectFault(t, vector);
        expect(getState(t)).toEqual(S);
        expect(area(t)).toEqual(filled());
      }
    });
  }

  it('an area crossing into a page that faults raises #PF and nothing is written on the first page', async () => {
    const at = AREA + 0x1000 - 256;
    const t = await run('fxsave64 [rsi]', {
      state: S, regs: { rsi: BigInt(at) },
      setup: (t) => failPage(t, AREA + 0x1000),
    });
    expectFault(t, PF);
    expect(t.phys.readBytes(at, 256)).toEqual(new Uint8Array(256)); // still the zeros of fresh RAM
  });

  it('LOCK is #UD', async () => {
    expectFault(await run('.byte 0xf0, 0x0f, 0xae, 0x06', { state: S }), UD);
  });
});

/** Every access to the 4 KiB page at `page` raises #PF. */
function failPage(t: TestCore, page: number): void {
  t.cpu.mmu.translate = (la, access) => {
    if (access !== Access.Fetch && la >= page && la < page + 0x1000) fault(Vector.PF, access === Access.Write ? 2 : 0);
    return la;
  };
  t.cpu.mmu.flushAll();
}

describe('FXRSTOR (SDM Vol. 2A FXRSTOR)', () => {
  it('FXRSTOR64 loads every field from an image built from Table 10-2', async () => {
    const t = await run('fxrstor64 [rsi]', { state: INIT, image: imageOf(S) });
    expect(t.stop.kind).toBe('halt');
    expect(getState(t)).toEqual(S);
  });

  it('FXRSTOR (32-bit format) takes 32-bit FIP/FDP and ignores the FCS/FDS fields', async () => {
    const img = imageOf(S, false);
    img[12] = 0x33; img[20] = 0x44; // FCS, FDS
    const t = await run('fxrstor [rsi]', { state: INIT, image: img });
    expect(getState(t)).toEqual({ ...S, fip: S.fip & 0xffffffffn, fdp: S.fdp & 0xffffffffn });
  });

  it('in 32-bit mode XMM8-15 are not loaded', async () => {
    const t = await run('fxrstor [esi]', { bits: 32, state: INIT, image: imageOf(S, false) });
    const s = getState(t);
    expect(s.xmm).toEqual([...S.xmm.slice(0, 8), ...INIT.xmm.slice(8)]);
  });

  it('FXSAVE64 after FXRSTOR64 reproduces the image (bytes 0-415)', async () => {
    const img = imageOf(S);
    const t = await run('fxrstor64 [rsi]\nfxsave64 [rsi + 512]', { state: INIT, image: img });
    expect(t.phys.readBytes(AREA + 512, 416)).toEqual(img.subarray(0, 416));
  });

  for (const bad of [0x10000, 0x80001f80]) {
    it(`a reserved MXCSR bit (0x${bad.toString(16)}) raises #GP(0) and no state is loaded`, async () => {
      const img = imageOf({ ...S, mxcsr: bad });
      const t = await run('fxrstor64 [rsi]', { state: INIT, image: img });
      expectFault(t, GP, 0);
      expect(getState(t)).toEqual(INIT);
    });
  }

  it('a misaligned area raises #GP(0)', async () => {
    const t = await run('fxrstor64 [rsi + 4]', { state: INIT, image: imageOf(S) });
    expectFault(t, GP, 0);
    expect(getState(t)).toEqual(INIT);
  });
});

describe('XSAVE (SDM Vol. 1 §13.7; Table 13-1)', () => {
  const all = { x87: true, sse: true, wide: true, nXmm: 16 };

  it('XSAVE64 with RFBM = x87|SSE: legacy region as FXSAVE64, XSTATE_BV[1:0] = 11b, other header bits kept', async () => {
    const t = await run('mov eax, -1\nmov edx, -1\nxsave64 [rsi]', { state: S });
    expect(t.stop.kind).toBe('halt');
    const want = legacyImage(S, all, filled());
    want[512] = FILL | 3; // XSTATE_BV bits 0,1 set; bits 2-63 keep the memory's 0xCC pattern
    expect(area(t)).toEqual(want);
  });

  it('RFBM = x87 only (EAX = 1): bytes 0-23 and 32-159 written; MXCSR and XMM untouched; XSTATE_BV[1] kept', async () => {
    const t = await run('mov eax, 1\nxor edx, edx\nxsave64 [rsi]', { state: S });
    const want = legacyImage(S, { ...all, sse: false }, filled());
    want[512] = FILL | 1;
    expect(area(t)).toEqual(want);
  });

  it('RFBM = SSE only (EAX = 2): MXCSR, MXCSR_MASK and XMM written; x87 bytes untouched', async () => {
    const t = await run('mov eax, 2\nxor edx, edx\nxsave64 [rsi]', { state: S, image: withHeader(filled(), 0n) });
    const want = legacyImage(S, { ...all, x87: false }, withHeader(filled(), 0n));
    want[512] = 2;
    expect(area(t)).toEqual(want);
  });

  it('RFBM = XCR0 AND EDX:EAX: with XCR0 = 1 only x87 state is saved', async () => {
    const t = await run('mov eax, -1\nmov edx, -1\nxsave64 [rsi]', { state: S, xcr0: 1, image: withHeader(filled(), 0n) });
    const want = legacyImage(S, { ...all, sse: false }, withHeader(filled(), 0n));
    want[512] = 1;
    expect(area(t)).toEqual(want);
  });

  it('XSTATE_BV[i] = XINUSE[i]: 0 for components in their initial configuration; MXCSR does not count', async () => {
    const cases: [State, number][] = [
      [INIT, 0],
      [{ ...INIT, mxcsr: 0x1f00 }, 0], // XINUSE[1] pertains to the XMM registers only
      [{ ...INIT, xmm: INIT.xmm.map((v, n) => (n === 9 ? 1n << 100n : v)) }, 2],
      [{ ...INIT, fcw: 0x27f }, 1],
      [{ ...INIT, fpr: INIT.fpr.map((v, k) => (k === 79 ? 1 : v)) }, 1],
      [{ ...INIT, fop: 1 }, 1],
      [S, 3],
    ];
    for (const [s, bv] of cases) {
      const t = await run('mov eax, 3\nxor edx, edx\nxsave [rsi]', { state: s, image: withHeader(filled(), 0n) });
      expect(area(t)[512]).toBe(bv);
    }
  });

  it('in 32-bit mode: the 32-bit x87 format and XMM0-7 only', async () => {
    const t = await run('mov eax, 3\nxor edx, edx\nxsave [esi]', { bits: 32, state: S, image: withHeader(filled(), 0n) });
    expect(t.stop.kind).toBe('halt');
    const want = legacyImage(S, { x87: true, sse: true, wide: false, nXmm: 8 }, withHeader(filled(), 0n));
    want[512] = 3;
    expect(area(t)).toEqual(want);
  });

  it('a 16- but not 64-byte aligned area raises #GP(0); nothing written', async () => {
    const t = await run('xsave [rsi + 16]', { state: S, regs: { rax: 3n, rdx: 0n } });
    expectFault(t, GP, 0);
    expect(area(t)).toEqual(filled());
  });

  it('an area whose header lies on a page that faults raises #PF and writes nothing', async () => {
    const at = AREA + 0x1000 - 512; // legacy region on the first page, header on the next
    const t = await run('xsave [rsi]', { state: S, regs: { rsi: BigInt(at), rax: 3n, rdx: 0n }, setup: (t) => failPage(t, AREA + 0x1000) });
    expectFault(t, PF);
    expect(t.phys.readBytes(at, 512)).toEqual(new Uint8Array(512));
  });
});

describe('XRSTOR, standard form (SDM Vol. 1 §13.8)', () => {
  it('round trip: XSAVE64, other state, XRSTOR64 gives the saved state back', async () => {
    const t = await run('mov eax, 3\nxor edx, edx\nxsave64 [rsi]\nmov rcx, rdi\ncall rcx\nxrstor64 [rsi]', {
      state: S, image: withHeader(filled(), 0n), regs: { rdi: BigInt(CODE_BASE + 0x100) },
      setup: (t) => t.phys.load(CODE_BASE + 0x100, new Uint8Array([0xdb, 0xe3, 0x66, 0x0f, 0xef, 0xc0, 0xc3])), // fninit; pxor xmm0, xmm0; ret
    });
    expect(t.stop.kind).toBe('halt');
    expect(getState(t)).toEqual(S);
  });

  it('XSTATE_BV = 0 with RFBM = 11b initialises x87 and XMM state, yet loads MXCSR from memory', async () => {
    const img = withHeader(imageOf({ ...S, mxcsr: 0x1f00 }), 0n);
    const t = await run('mov eax, 3\nxor edx, edx\nxrstor64 [rsi]', { state: S, image: img });
    expect(t.stop.kind).toBe('halt');
    expect(getState(t)).toEqual({ ...INIT, mxcsr: 0x1f00 });
  });

  it('XSTATE_BV = 11b loads both components from memory', async () => {
    const t = await run('mov eax, 3\nxor edx, edx\nxrstor64 [rsi]', { state: INIT, image: withHeader(imageOf(S), 3n) });
    expect(getState(t)).toEqual(S);
  });

  it('RFBM = x87 only leaves XMM and MXCSR alone, even with a reserved MXCSR bit in memory', async () => {
    const img = withHeader(imageOf({ ...S, mxcsr: 0x10000 }), 3n);
    const t = await run('mov eax, 1\nxor edx, edx\nxrstor64 [rsi]', { state: INIT, image: img });
    expect(t.stop.kind).toBe('halt');
    expect(getState(t)).toEqual({ ...S, mxcsr: INIT.mxcsr, xmm: INIT.xmm });
  });

  it('RFBM = SSE only with XSTATE_BV[1] = 0 zeroes XMM and keeps x87 state', async () => {
    const img = withHeader(imageOf({ ...INIT, mxcsr: 0x1fc0 }), 1n);
    const t = await run('mov eax, 2\nxor edx, edx\nxrstor64 [rsi]', { state: S, image: img });
    expect(getState(t)).toEqual({ ...S, mxcsr: 0x1fc0, xmm: INIT.xmm });
  });

  it('in 32-bit mode only XMM0-7 are loaded or initialised', async () => {
    const load = await run('mov eax, 3\nxor edx, edx\nxrstor [esi]', { bits: 32, state: INIT, image: withHeader(imageOf(S, false), 3n) });
    expect(getState(load).xmm).toEqual([...S.xmm.slice(0, 8), ...INIT.xmm.slice(8)]);
    const init = await run('mov eax, 3\nxor edx, edx\nxrstor [esi]', { bits: 32, state: S, image: withHeader(imageOf(S, false), 0n) });
    expect(getState(init).xmm).toEqual([...INIT.xmm.slice(0, 8), ...S.xmm.slice(8)]);
  });

  it('bytes 63:24 of the header are not checked by the standard form', async () => {
    const img = withHeader(imageOf(S), 3n, 0n, [[24, 0xff], [63, 0x80]]);
    const t = await run('mov eax, 3\nxor edx, edx\nxrstor64 [rsi]', { state: INIT, image: img });
    expect(t.stop.kind).toBe('halt');
    expect(getState(t)).toEqual(S);
  });

  const bad: [string, Uint8Array, number?][] = [
    ['XCOMP_BV[63] = 1 (compacted form; XSAVEC not supported)', withHeader(imageOf(S), 3n, 1n << 63n)],
    ['XCOMP_BV[0] = 1 (bytes 15:8 must be 0)', withHeader(imageOf(S), 3n, 1n)],
    ['header bytes 23:16 not 0', withHeader(imageOf(S), 3n, 0n, [[20, 1]])],
    ['XSTATE_BV[2] = 1 but XCR0[2] = 0', withHeader(imageOf(S), 7n)],
    ['XSTATE_BV[32] = 1', withHeader(imageOf(S), (1n << 32n) | 3n)],
    ['XSTATE_BV[1] = 1 with XCR0 = 1', withHeader(imageOf(S), 3n), 1],
    ['a reserved MXCSR bit with RFBM[1] = 1', withHeader(imageOf({ ...S, mxcsr: 0x20000 }), 3n)],
    ['a reserved MXCSR bit with RFBM[1] = 1 and XSTATE_BV[1] = 0', withHeader(imageOf({ ...S, mxcsr: 0x20000 }), 1n)],
  ];
  for (const [what, img, xcr0] of bad) {
    it(`#GP(0) and no state change: ${what}`, async () => {
      const t = await run('xrstor64 [rsi]', { state: INIT, image: img, xcr0, regs: { rax: -1n, rdx: -1n } });
      expectFault(t, GP, 0);
      expect(getState(t)).toEqual(INIT);
    });
  }

  it('a 32-byte aligned area raises #GP(0)', async () => {
    const t = await run('xrstor [rsi + 32]', { state: INIT, image: withHeader(imageOf(S), 3n), regs: { rax: 3n, rdx: 0n } });
    expectFault(t, GP, 0);
  });
});

describe('XSAVE feature-set availability (SDM Vol. 1 §13.7, §13.8; Vol. 2C XGETBV, XSETBV)', () => {
  for (const p of ['xsave [rsi]', 'xrstor [rsi]', 'xgetbv', 'xsetbv']) {
    it(`${p}: #UD while CR4.OSXSAVE = 0`, async () => {
      const t = await run(`xor ecx, ecx\nmov eax, 3\nxor edx, edx\n${p}`, { state: S, osxsave: false, image: withHeader(imageOf(S), 3n) });
      expect(t.stop).toMatchObject({ kind: 'exception', vector: UD });
      expect(getState(t)).toEqual(S);
      expect(t.cpu.xcr0).toBe(3);
    });
  }

  for (const p of ['xsave [rsi]', 'xrstor [rsi]']) {
    it(`${p}: #NM while CR0.TS = 1 (CR0.EM does not matter)`, async () => {
      const ts = await run(`mov eax, 3\nxor edx, edx\n${p}`, { state: S, image: withHeader(imageOf(S), 3n), setup: (t) => { t.cpu.cr0 |= CR0_TS; } });
      expect(ts.stop).toMatchObject({ kind: 'exception', vector: NM });
      const em = await run(`mov eax, 3\nxor edx, edx\n${p}`, { state: S, image: withHeader(imageOf(S), 3n), setup: (t) => { t.cpu.cr0 |= CR0_EM; } });
      expect(em.stop.kind).toBe('halt');
    });
  }

  it('XGETBV and XSETBV ignore CR0.TS', async () => {
    const t = await run('xor ecx, ecx\nmov eax, 3\nxor edx, edx\nxsetbv\nxgetbv', { xcr0: 1, setup: (t) => { t.cpu.cr0 |= CR0_TS; } });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rax')).toBe(3n);
  });
});

describe('XGETBV/XSETBV (SDM Vol. 2C)', () => {
  it('XGETBV(0) returns XCR0 in EDX:EAX, clearing the upper halves of RAX and RDX', async () => {
    const t = await run('mov rax, -1\nmov rdx, -1\nxor ecx, ecx\nxgetbv', { xcr0: 3 });
    expect(t.reg('rax')).toBe(3n);
    expect(t.reg('rdx')).toBe(0n);
  });

  it('XGETBV with ECX = 1 (XINUSE; XGETBV_ECX_1 not reported) or 2 raises #GP(0)', async () => {
    for (const ecx of [1n, 2n, 0x80000000n]) {
      const t = await run('xgetbv', { regs: { rcx: ecx, rax: 7n } });
      expectFault(t, GP, 0);
      expect(t.reg('rax')).toBe(7n);
    }
  });

  it('XGETBV is not privileged: it runs at CPL 3 (the HLT after it faults)', async () => {
    const t = await run('xgetbv', { xcr0: 3, regs: { rcx: 0n }, setup: (t) => { t.cpu.cpl = 3; } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: GP, rip: CODE_BASE + 3 });
    expect(t.reg('rax')).toBe(3n);
  });

  it('XSETBV writes XCR0 (x87|SSE, then x87 only)', async () => {
    const t = await run('xor ecx, ecx\nxor edx, edx\nmov eax, 3\nxsetbv\nxgetbv\nmov r8, rax\nmov eax, 1\nxsetbv', { xcr0: 1 });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('r8')).toBe(3n);
    expect(t.cpu.xcr0).toBe(1);
  });

  const invalid: [string, bigint, bigint, bigint][] = [
    ['ECX = 1', 1n, 3n, 0n],
    ['bit 0 (x87) clear', 0n, 2n, 0n],
    ['XCR0 = 0', 0n, 0n, 0n],
    ['bit 2 (AVX, unsupported)', 0n, 7n, 0n],
    ['bits 2:1 = 10b', 0n, 5n, 0n],
    ['bit 9 (PKRU, unsupported)', 0n, 0x203n, 0n],
    ['EDX != 0', 0n, 3n, 1n],
  ];
  for (const [what, rcx, rax, rdx] of invalid) {
    it(`XSETBV raises #GP(0) for ${what}; XCR0 unchanged`, async () => {
      const t = await run('xsetbv', { xcr0: 1, regs: { rcx, rax, rdx } });
      expectFault(t, GP, 0);
      expect(t.cpu.xcr0).toBe(1);
    });
  }

  it('XSETBV at CPL 3 raises #GP(0)', async () => {
    const t = await run('xsetbv', { xcr0: 1, regs: { rcx: 0n, rax: 3n, rdx: 0n }, setup: (t) => { t.cpu.cpl = 3; } });
    expectFault(t, GP, 0);
    expect(t.cpu.xcr0).toBe(1);
  });
});

describe('x87 control (SDM Vol. 2A FINIT/FNINIT, FLDCW, FSTCW/FNSTCW, FSTSW/FNSTSW)', () => {
  it('FNINIT: FCW = 037FH, FSW = 0, all tags empty, FOP/FIP/FDP = 0; ST0-7 keep their contents', async () => {
    const t = await run('fninit', { state: S });
    expect(getState(t)).toEqual({ ...S, fcw: 0x37f, fsw: 0, ftw: 0, fop: 0, fip: 0n, fdp: 0n });
  });

  it('FLDCW/FNSTCW round trip; FNSTSW m16 and FNSTSW AX store FSW', async () => {
    const t = await run('fldcw word ptr [rsi]\nfnstcw word ptr [rsi + 2]\nfnstsw word ptr [rsi + 4]\nfnstsw ax', {
      state: S, regs: { rax: 0xffffffffffffffffn }, image: new Uint8Array([0x7f, 0x0e]),
    });
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.fcw).toBe(0x0e7f);
    expect(Array.from(t.phys.readBytes(AREA + 2, 4))).toEqual([0x7f, 0x0e, S.fsw & 0xff, S.fsw >> 8]);
    expect(t.reg('rax')).toBe(0xffffffffffff0000n | BigInt(S.fsw));
  });

  for (const [what, cr0] of [['CR0.EM', CR0_EM], ['CR0.TS', CR0_TS]] as const) {
    it(`${what} = 1 raises #NM for each of them`, async () => {
      for (const p of ['fninit', 'fldcw word ptr [rsi]', 'fnstcw word ptr [rsi]', 'fnstsw word ptr [rsi]', 'fnstsw ax']) {
        const t = await run(p, { state: S, regs: { rax: 5n }, setup: (t) => { t.cpu.cr0 |= cr0; } });
        expectFault(t, NM);
        expect(getState(t), p).toEqual(S);
        expect(t.reg('rax')).toBe(5n);
      }
    });
  }

  it('other x87 opcodes are #UD (no x87 arithmetic), e.g. FLD1 and FADD', async () => {
    expectFault(await run('fld1'), UD);
    expectFault(await run('fadd st(0), st(1)'), UD);
  });
});
