/**
 * MOVS/STOS/LODS/CMPS/SCAS with and without REP/REPE/REPNE (SDM Vol. 2
 * each page; Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"; Vol. 1 §7.3.9). Expected
 * memory and registers come from a sequential reference model written
 * here (one element at a time), never from the core.
 */
import { describe, expect, it } from 'vitest';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { Access } from '../../cpu/memory/access.ts';
import { Seg } from '../../cpu/registers.ts';
import { asm } from '../support/asm.ts';
import { CODE_BASE, makeCore, runAsm, type TestCore } from '../support/machine.ts';

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
const ARITH = CF | PF | AF | ZF | SF | OF;
const SRC = 0x10000, DST = 0x20000;
/** Keystone reads `movsd` as the SSE2 instruction: the string form is spelled out. */
const MOVSD = 'movs dword ptr [rdi], dword ptr [rsi]';

/** Deterministic test bytes (a small LCG), different for each seed. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let k = 0; k < n; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[k] = x >>> 24;
  }
  return out;
}

/** Reference: `count` MOVS iterations of `size` bytes on a byte array, in order, each element read whole then written. */
function refMovs(mem: Uint8Array, src: number, dst: number, count: number, size: number, down = false): void {
  const step = down ? -size : size;
  for (let k = 0; k < count; k++) {
    const e = mem.slice(src + k * step, src + k * step + size);
    mem.set(e, dst + k * step);
  }
}

function parity(v: bigint): number {
  let n = 0;
  for (let b = v & 0xffn; b; b >>= 1n) n += Number(b & 1n);
  return n % 2 === 0 ? PF : 0;
}

/** Reference flags of a - b at `bits` width (SDM Vol. 2A CMP). */
function subFlags(a: bigint, b: bigint, bits: number): number {
  const m = (1n << BigInt(bits)) - 1n, sign = 1n << BigInt(bits - 1);
  a &= m; b &= m;
  const r = (a - b) & m;
  let f = parity(r);
  if (a < b) f |= CF;
  if (r === 0n) f |= ZF;
  if (r & sign) f |= SF;
  if ((a & 0xfn) < (b & 0xfn)) f |= AF;
  if ((a & sign) !== (b & sign) && (r & sign) !== (a & sign)) f |= OF;
  return f;
}

function le(mem: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(mem[at + k]!);
  return v;
}

function state(t: TestCore) {
  const regs = (['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const).map((r) => t.reg(r));
  return { regs, rip: t.cpu.rip, flags: t.flags(), icount: t.cpu.icount };
}

describe('MOVS', () => {
  for (const [size, mn] of [[1, 'movsb'], [2, 'movsw'], [4, MOVSD], [8, 'movsq']] as const) {
    it(`rep ${mn} copies forward and advances rSI/rDI by count × ${size}, one retired instruction per iteration`, async () => {
      const n = 301;
      const data = bytes(n * size, size);
      const t = await runAsm(`rep ${mn}`, {
        regs: { rsi: BigInt(SRC + 3), rdi: BigInt(DST + 1), rcx: BigInt(n) },
        setup: (t) => t.phys.load(SRC + 3, data),
      });
      expect(t.stop.kind).toBe('halt');
      expect(t.phys.readBytes(DST + 1, n * size)).toEqual(data);
      expect(t.reg('rsi')).toBe(BigInt(SRC + 3 + n * size));
      expect(t.reg('rdi')).toBe(BigInt(DST + 1 + n * size));
      expect(t.reg('rcx')).toBe(0n);
      expect(t.cpu.icount).toBe(n + 1); // n iterations + HLT
    });
  }

  it('a single movsq without REP moves one element and leaves rCX alone', async () => {
    const data = bytes(16, 9);
    const t = await runAsm('movsq', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST), rcx: 77n },
      setup: (t) => t.phys.load(SRC, data),
    });
    expect(t.phys.readBytes(DST, 16)).toEqual(new Uint8Array([...data.slice(0, 8), ...new Uint8Array(8)]));
    expect(t.reg('rcx')).toBe(77n);
    expect(t.reg('rsi')).toBe(BigInt(SRC + 8));
  });

  it('copies across page boundaries at different offsets, including elements that straddle pages', async () => {
    for (const [size, mn, src, dst, n] of [
      [1, 'movsb', SRC + 0xff0, DST + 0x7, 10000],
      [8, 'movsq', SRC + 0xffc, DST + 0xffa, 1500],
      [4, MOVSD, SRC + 0x2, DST + 0xffe, 2000],
    ] as const) {
      const data = bytes(n * size, n);
      const t = await runAsm(`rep ${mn}`, {
        regs: { rsi: BigInt(src), rdi: BigInt(dst), rcx: BigInt(n) },
        setup: (t) => t.phys.load(src, data),
      });
      expect(t.phys.readBytes(dst, n * size), mn).toEqual(data);
      expect(t.cpu.icount).toBe(n + 1);
    }
  });

  it('overlapping source and destination behave as the sequential iterations (pattern propagation)', async () => {
    // Destination inside the source range, ahead of it: each element reads what an earlier one wrote.
    for (const [size, mn, delta, n] of [
      [1, 'movsb', 1, 100], [1, 'movsb', 3, 257], [8, 'movsq', 3, 40], [4, MOVSD, 4, 50], [2, 'movsw', 5, 64],
      [1, 'movsb', -5, 200], [8, 'movsq', -3, 40],
    ] as const) {
      const base = 0x30100;
      const src = base, dst = base + delta;
      const init = bytes(0x1000, size * 31 + delta);
      const ref = new Uint8Array(0x2000);
      ref.set(init, 0x100);
      refMovs(ref, src - 0x30000, dst - 0x30000, n, size);
      const t = await runAsm(`rep ${mn}`, {
        regs: { rsi: BigInt(src), rdi: BigInt(dst), rcx: BigInt(n) },
        setup: (t) => t.phys.load(0x30100, init),
      });
      expect(t.phys.readBytes(0x30000, 0x2000), `${mn} delta ${delta}`).toEqual(ref);
    }
  });

  it('DF=1 copies downward and decrements rSI/rDI (also with overlap)', async () => {
    for (const [size, mn, delta] of [[1, 'movsb', 0x1000], [4, MOVSD, 2], [8, 'movsq', -3]] as const) {
      const n = 90;
      const top = 0x30800;
      const init = bytes(0x2000, size + 100);
      const ref = new Uint8Array(0x3000);
      ref.set(init, 0);
      refMovs(ref, top - 0x30000, top + delta - 0x30000, n, size, true);
      const t = await runAsm(`rep ${mn}`, {
        regs: { rsi: BigInt(top), rdi: BigInt(top + delta), rcx: BigInt(n) },
        rflags: DF,
        setup: (t) => t.phys.load(0x30000, init),
      });
      expect(t.phys.readBytes(0x30000, 0x3000), mn).toEqual(ref);
      expect(t.reg('rsi')).toBe(BigInt(top - n * size));
      expect(t.reg('rdi')).toBe(BigInt(top + delta - n * size));
    }
  });

  it('F2 acts as REP for MOVS (SDM Vol. 2B REP: only CMPS/SCAS test ZF)', async () => {
    const data = bytes(8, 5);
    const t = await runAsm('.byte 0xf2, 0xa4', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST), rcx: 5n },
      setup: (t) => t.phys.load(SRC, data),
    });
    expect(t.phys.readBytes(DST, 8)).toEqual(new Uint8Array([...data.slice(0, 5), 0, 0, 0]));
    expect(t.reg('rcx')).toBe(0n);
  });

  it('REP with rCX = 0 does nothing but retire', async () => {
    const t = await runAsm('rep movsb', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST), rcx: 0n },
      setup: (t) => t.phys.load(SRC, new Uint8Array([1, 2, 3])),
    });
    expect(t.phys.readBytes(DST, 3)).toEqual(new Uint8Array(3));
    expect(t.reg('rsi')).toBe(BigInt(SRC));
    expect(t.reg('rdi')).toBe(BigInt(DST));
    expect(t.cpu.icount).toBe(2);
  });
});

describe('STOS and LODS', () => {
  for (const [size, mn, rax] of [
    [1, 'stosb', 0xa5n], [2, 'stosw', 0xbeefn], [4, 'stosd', 0x89abcdefn], [8, 'stosq', 0xfedcba9876543210n],
  ] as const) {
    it(`rep ${mn} fills count elements of rAX (odd counts, unaligned, across a page)`, async () => {
      const n = 1027;
      const dst = DST + 0xffd - size * 3;
      // Bits of RAX above the operand size must not be stored.
      const full = size < 8 ? (0xdeadbeefcafef00dn & ~((1n << BigInt(size * 8)) - 1n)) | rax : rax;
      const ref = new Uint8Array(n * size + 16);
      for (let k = 0; k < n * size; k++) ref[k] = Number((rax >> BigInt(8 * (k % size))) & 0xffn);
      const t = await runAsm(`rep ${mn}`, { regs: { rax: full, rdi: BigInt(dst), rcx: BigInt(n) } });
      expect(t.phys.readBytes(dst, n * size + 16)).toEqual(ref);
      expect(t.reg('rdi')).toBe(BigInt(dst + n * size));
      expect(t.cpu.icount).toBe(n + 1);
    });
  }

  it('stos ignores a segment override: the destination is always ES:rDI (32-bit mode, distinct bases)', async () => {
    const t = await runAsm('.byte 0x64, 0xaa\n.byte 0x64, 0xf3, 0xab', {
      bits: 32,
      regs: { rax: 0x11223344n, rdi: 0x100n, rcx: 2n },
      setup: (t) => {
        t.cpu.segBase[Seg.ES] = 0x30000;
        t.cpu.segBase[Seg.FS] = 0x40000;
      },
    });
    expect(t.phys.readBytes(0x30100, 9)).toEqual(new Uint8Array([0x44, 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11]));
    expect(t.phys.readBytes(0x40100, 9)).toEqual(new Uint8Array(9));
  });

  it('lods loads rAX at the operand size: 8/16-bit keep the upper bits, 32-bit zero-extends', async () => {
    const data = new Uint8Array([0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a]);
    for (const [mn, expected] of [
      ['lodsb', 0xffffffffffffff81n], ['lodsw', 0xffffffffffff8281n], ['lodsd', 0x84838281n], ['lodsq', 0x8887868584838281n],
    ] as const) {
      const t = await runAsm(mn, { regs: { rax: -1n, rsi: BigInt(SRC) }, setup: (t) => t.phys.load(SRC, data) });
      expect(t.reg('rax'), mn).toBe(expected);
    }
    const t = await runAsm('rep lodsb', { regs: { rsi: BigInt(SRC), rcx: 3n }, setup: (t) => t.phys.load(SRC, data) });
    expect(t.reg('rax')).toBe(0x83n);
    expect(t.reg('rsi')).toBe(BigInt(SRC + 3));
    expect(t.cpu.icount).toBe(4);
  });
});

describe('CMPS and SCAS', () => {
  const enc = (s: string) => new Uint8Array([...s].map((ch) => ch.charCodeAt(0)));

  it('repe cmpsb stops after the first mismatch, with the flags of that compare', async () => {
    const a = enc('hello world'), b = enc('hello_world');
    const t = await runAsm('repe cmpsb', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST), rcx: BigInt(a.length) },
      setup: (t) => { t.phys.load(SRC, a); t.phys.load(DST, b); },
    });
    expect(t.reg('rcx')).toBe(BigInt(a.length - 6));
    expect(t.reg('rsi')).toBe(BigInt(SRC + 6));
    expect(t.reg('rdi')).toBe(BigInt(DST + 6));
    expect(t.flags() & ARITH).toBe(subFlags(0x20n, 0x5fn, 8)); // ' ' - '_'
    expect(t.cpu.icount).toBe(6 + 1);
  });

  it('repe cmpsb over equal strings runs to rCX = 0 with ZF = 1', async () => {
    const a = enc('identical');
    const t = await runAsm('repe cmpsb', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST), rcx: BigInt(a.length) },
      setup: (t) => { t.phys.load(SRC, a); t.phys.load(DST, a); },
    });
    expect(t.reg('rcx')).toBe(0n);
    expect(t.flags() & ZF).toBe(ZF);
  });

  it('repne scasb finds a byte (ZF = 1) and stops just past it', async () => {
    const s = enc('hello world');
    const t = await runAsm('repne scasb', {
      regs: { rax: BigInt('w'.charCodeAt(0)), rdi: BigInt(DST), rcx: 100n },
      setup: (t) => t.phys.load(DST, s),
    });
    expect(t.reg('rdi')).toBe(BigInt(DST + 7));
    expect(t.reg('rcx')).toBe(93n);
    expect(t.flags() & ZF).toBe(ZF);
  });

  it('repne scasb that never matches runs out the count with ZF = 0', async () => {
    const t = await runAsm('repne scasb', { regs: { rax: 0x7fn, rdi: BigInt(DST), rcx: 50n } });
    expect(t.reg('rcx')).toBe(0n);
    expect(t.reg('rdi')).toBe(BigInt(DST + 50));
    expect(t.flags() & ZF).toBe(0);
  });

  for (const [size, cm, sc] of [[1, 'cmpsb', 'scasb'], [2, 'cmpsw', 'scasw'], [4, 'cmpsd', 'scasd'], [8, 'cmpsq', 'scasq']] as const) {
    it(`${cm} sets flags of [rSI] - [rDI] and ${sc} of rAX - [rDI], at ${size * 8} bits`, async () => {
      const pairs: [bigint, bigint][] = [[1n, 2n], [0x80n, 1n], [0n, 0n], [0x7fffffffffffffffn, 0xffffffffffffffffn], [0x8000000000000000n, 1n], [0x10n, 0x1n]];
      for (const [x, y] of pairs) {
        const mem = new Uint8Array(16);
        for (let k = 0; k < 8; k++) { mem[k] = Number((x >> BigInt(8 * k)) & 0xffn); mem[8 + k] = Number((y >> BigInt(8 * k)) & 0xffn); }
        const t = await runAsm(cm, { regs: { rsi: BigInt(SRC), rdi: BigInt(SRC + 8) }, setup: (t) => t.phys.load(SRC, mem) });
        expect(t.flags() & ARITH, `${cm} ${x} ${y}`).toBe(subFlags(le(mem, 0, size), le(mem, 8, size), size * 8));
        expect(t.reg('rdi')).toBe(BigInt(SRC + 8 + size));
        const u = await runAsm(sc, { regs: { rax: x, rdi: BigInt(SRC + 8) }, setup: (t) => t.phys.load(SRC, mem) });
        expect(u.flags() & ARITH, `${sc} ${x} ${y}`).toBe(subFlags(x, le(mem, 8, size), size * 8));
        expect(u.reg('rax')).toBe(x);
      }
    });
  }
});

describe('address size', () => {
  it('67 in 64-bit mode uses ESI/EDI/ECX, ignores their upper halves and zero-extends them', async () => {
    const data = bytes(5, 3);
    const t = await runAsm('.byte 0x67, 0xf3, 0xa4', {
      regs: { rsi: 0xffffffff00000000n | BigInt(SRC), rdi: 0xabcd000000000000n | BigInt(DST), rcx: 0x100000005n },
      setup: (t) => t.phys.load(SRC, data),
    });
    expect(t.stop.kind).toBe('halt');
    expect(t.phys.readBytes(DST, 5)).toEqual(data);
    expect(t.reg('rsi')).toBe(BigInt(SRC + 5));
    expect(t.reg('rdi')).toBe(BigInt(DST + 5));
    expect(t.reg('rcx')).toBe(0n);
  });

  it('16-bit: SI/DI/CX wrap at 64 KiB within their segments and keep the upper bits of ESI/EDI/ECX', async () => {
    const data = bytes(6, 11);
    const t = await runAsm('rep movsb', {
      bits: 16,
      regs: { rsi: 0x1234fffen, rdi: 0x5678fffdn, rcx: 0x00090006n },
      setup: (t) => {
        t.cpu.segBase[Seg.DS] = 0x10000;
        t.cpu.segBase[Seg.ES] = 0x30000;
        t.phys.load(0x1fffe, data.slice(0, 2));
        t.phys.load(0x10000, data.slice(2));
      },
    });
    // Destination offsets fffd, fffe, ffff, 0, 1, 2 in ES (base 0x30000).
    expect(t.phys.readBytes(0x3fffd, 3)).toEqual(data.slice(0, 3));
    expect(t.phys.readBytes(0x30000, 3)).toEqual(data.slice(3));
    expect(t.reg('rsi')).toBe(0x12340004n);
    expect(t.reg('rdi')).toBe(0x56780003n);
    expect(t.reg('rcx')).toBe(0x00090000n);
  });

  it('a source segment override applies to DS:rSI only (64-bit mode: FS base added)', async () => {
    const data = bytes(4, 12);
    const t = await runAsm('.byte 0x64, 0xf3, 0xa4', {
      regs: { rsi: 0x100n, rdi: 0x200n, rcx: 4n },
      setup: (t) => {
        t.cpu.segBase[Seg.FS] = 0x40000;
        t.phys.load(0x40100, data);
      },
    });
    expect(t.phys.readBytes(0x200, 4)).toEqual(data);
  });
});

describe('REP and the instruction budget (DESIGN decision 3)', () => {
  const program = `
    mov rcx, 1000
    rep movsb
    mov eax, 1
    mov rcx, 300
    repe cmpsb
    mov ebx, 2`;

  async function core(): Promise<TestCore> {
    const t = makeCore(64);
    t.phys.load(CODE_BASE, await asm(`${program}\nhlt`, 64, CODE_BASE));
    t.phys.load(SRC, bytes(1000, 1));
    t.setReg('rsi', BigInt(SRC));
    t.setReg('rdi', BigInt(DST));
    return t;
  }

  it('a budget that ends mid-REP leaves RIP at the instruction with the completed iterations counted', async () => {
    const t = await core();
    expect(t.run(5).kind).toBe('limit');
    expect(t.cpu.icount).toBe(5);
    expect(t.cpu.rip).toBe(CODE_BASE + 7); // mov rcx, imm32 is 7 bytes
    expect(t.reg('rcx')).toBe(1000n - 4n);
    expect(t.reg('rsi')).toBe(BigInt(SRC + 4));
  });

  it('runs in small slices end in the same state as one uninterrupted run', async () => {
    const whole = await core();
    whole.run();
    expect(whole.stop.kind).toBe('halt');
    // 1 + 1000 + 1 + 1 + (iterations of repe cmpsb: the copy made them equal, so 300) + 1 + hlt.
    expect(whole.cpu.icount).toBe(1 + 1000 + 2 + 300 + 1 + 1);
    for (const slice of [1, 3, 7, 64, 999]) {
      const t = await core();
      let runs = 0;
      while (t.run(slice).kind === 'limit') {
        runs++;
        if (t.cpu.icount !== runs * slice) expect.fail(`slice ${slice}: run ${runs} ended at icount ${t.cpu.icount}`);
      }
      expect(t.stop.kind).toBe('halt');
      expect(runs).toBe(Math.floor(whole.cpu.icount / slice));
      expect(state(t), `slice ${slice}`).toEqual(state(whole));
      expect(t.phys.readBytes(DST, 1000)).toEqual(whole.phys.readBytes(DST, 1000));
    }
  });
});

describe('faults in the middle of REP', () => {
  it('a non-canonical source raises #GP(0) with the iterations before it complete and RIP at the instruction', async () => {
    // The first 16 bytes are canonical (outside RAM: they read as all ones); byte 17 is at 2^47.
    const t = await runAsm('nop\nrep movsb', { regs: { rsi: 0x7ffffffffff0n, rdi: BigInt(DST), rcx: 32n } });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE + 1 });
    expect(t.reg('rcx')).toBe(16n);
    expect(t.reg('rsi')).toBe(0x800000000000n);
    expect(t.reg('rdi')).toBe(BigInt(DST + 16));
    expect(t.phys.readBytes(DST, 17)).toEqual(new Uint8Array([...new Uint8Array(16).fill(0xff), 0]));
    expect(t.cpu.icount).toBe(1 + 16);
  });

  it('a non-canonical source through an SS override raises #SS(0) (SDM Vol. 1 §3.3.7.1)', async () => {
    const t = await runAsm('.byte 0x36, 0xac', { regs: { rsi: 0x800000000000n } });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.SS, errorCode: 0, rip: CODE_BASE });
    const d = await runAsm('.byte 0x36, 0xaa', { regs: { rdi: 0x800000000000n } }); // the destination is ES: #GP
    expect(d.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
  });

  it('a page fault on the destination page stops a bulk copy exactly at the page boundary', async () => {
    const data = bytes(0x1000, 21);
    const t = await runAsm('rep movsb', {
      regs: { rsi: BigInt(SRC), rdi: BigInt(DST + 0xf800), rcx: 0x1000n },
      setup: (t) => {
        t.phys.load(SRC, data);
        // A stand-in for a not-present page: the translation of 0x30000-0x30fff faults.
        t.cpu.mmu.translate = (la, access) => {
          if (la >= 0x30000 && la < 0x31000) fault(Vector.PF, access === Access.Write ? 2 : 0);
          return la;
        };
        t.cpu.mmu.flushAll();
      },
    });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.PF, errorCode: 2, rip: CODE_BASE });
    expect(t.reg('rcx')).toBe(0x800n);
    expect(t.reg('rsi')).toBe(BigInt(SRC + 0x800));
    expect(t.reg('rdi')).toBe(0x30000n);
    expect(t.phys.readBytes(DST + 0xf800, 0x800)).toEqual(data.slice(0, 0x800));
    expect(t.cpu.icount).toBe(0x800);
  });
});

describe('REP writes to code (DESIGN decision 6)', () => {
  it('rep stosb over the next instruction of the same block executes the new bytes', async () => {
    const t = await runAsm(`
      lea rdi, [rip + patch]
      mov al, 0x90
      mov ecx, 5
      rep stosb
    patch:
      mov eax, 0x12345678`);
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rax')).toBe(0x90n);
  });

  it('rep stosb over an already decoded and cached block invalidates it', async () => {
    // The block at `patch` runs once, is overwritten with NOPs, and runs again: the second
    // pass must execute the NOPs, leaving EAX = 0x12345690 from MOV AL.
    const t = await runAsm(`
      xor ebx, ebx
      jmp patch
    back:
      lea rdi, [rip + patch]
      mov al, 0x90
      mov ecx, 5
      rep stosb
      jmp patch
    patch:
      mov eax, 0x12345678
      inc ebx
      cmp ebx, 2
      jne back`);
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(2n);
    expect(t.reg('rax')).toBe(0x12345690n);
  });

  it('rep movsb copying code over the next instruction executes the copy', async () => {
    // B8 EF BE AD DE is mov eax, 0xdeadbeef: five bytes over the five of mov eax, 1.
    const t = await runAsm(`
      lea rdi, [rip + patch]
      mov ecx, 5
      rep movsb
    patch:
      mov eax, 1`, {
      regs: { rsi: BigInt(SRC) },
      setup: (t) => t.phys.load(SRC, new Uint8Array([0xb8, 0xef, 0xbe, 0xad, 0xde])),
    });
    expect(t.reg('rax')).toBe(0xdeadbeefn);
  });
});
