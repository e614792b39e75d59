/**
 * NOP forms, hints, fences and flushes (SDM Vol. 2B NOP and Table 4-12
 * "Recommended Multi-Byte Sequence of NOP Instruction", PREFETCHh,
 * PREFETCHW, PAUSE, LFENCE, MFENCE, SFENCE, Vol. 2A CLFLUSH, CLFLUSHOPT;
 * Vol. 2D ENDBR32/ENDBR64). Each must retire as exactly one instruction of
 * the right length and change nothing else.
 */
import { describe, expect, it } from 'vitest';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, runAsm, type TestCore } from '../support/machine.ts';

const REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r15'] as const;
const INIT = { rax: 0x0123456789abcdefn, rcx: 5n, rdx: 0x8000000000000000n, rbx: 1n, rsi: 0x2000n, rdi: 0x3000n, r8: 8n, r15: 15n };
const ALL_FLAGS = 0x8d5; // CF PF AF ZF SF OF

/** Runs `bytes` as one instruction followed by HLT and checks it retired alone, changing nothing. */
async function runsAsNop(bytes: number[], bits: 16 | 32 | 64 = 64): Promise<TestCore> {
  const t = await runAsm(`.byte ${bytes.map((b) => `0x${b.toString(16)}`).join(', ')}`, {
    bits, regs: bits === 64 ? INIT : {}, rflags: ALL_FLAGS,
  });
  expect(t.stop.kind).toBe('halt');
  expect(t.cpu.icount).toBe(2);
  expect(t.cpu.rip).toBe(CODE_BASE + bytes.length + 1); // the appended HLT is 1 byte
  expect(t.flags() & 0xfff).toBe(ALL_FLAGS | 2);
  if (bits === 64) for (const r of REGS) expect(t.reg(r), r).toBe(r === 'rsp' ? 0x80000n : BigInt(INIT[r as keyof typeof INIT] ?? 0n));
  return t;
}

const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');

describe('multi-byte NOP (SDM Vol. 2B Table 4-12) and compiler padding', () => {
  const forms = [
    [0x90],
    [0x66, 0x90],
    [0x0f, 0x1f, 0x00],
    [0x0f, 0x1f, 0x40, 0x00],
    [0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    // GCC/LLVM longer padding: data16 cs nopw, then more 66 prefixes, up to 15 bytes.
    [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    [0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    // REX.W form and a register form.
    [0x48, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x0f, 0x1f, 0xc0],
  ];
  for (const f of forms) it(`${f.length} bytes: ${hex(f)}`, async () => { await runsAsNop(f); });

  it('a run of all the forms executes to HLT with one retirement each', async () => {
    const t = await runAsm(forms.map((f) => `.byte ${f.join(', ')}`).join('\n'));
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.icount).toBe(forms.length + 1);
  });

  it('the same NOPs in 32- and 16-bit code', async () => {
    await runsAsNop([0x0f, 0x1f, 0x44, 0x00, 0x00], 32);
    await runsAsNop([0x0f, 0x1f, 0x00], 16);
    await runsAsNop([0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00], 16); // 32-bit operand, 16-bit addressing: [si+disp16]
  });

  it('NOP with a non-canonical memory operand does not fault: it accesses nothing', async () => {
    await runsAsNop([0x0f, 0x1f, 0x02]); // nop [rdx], RDX = 2^63
  });
});

describe('reserved-NOP hint space 0F 18-0F 1F and prefetches', () => {
  for (const f of [
    [0x0f, 0x18, 0x02], [0x0f, 0x18, 0x0a], [0x0f, 0x18, 0x12], [0x0f, 0x18, 0x1a], // prefetchnta/t0/t1/t2 [rdx]
    [0x0f, 0x18, 0x22], [0x0f, 0x18, 0xc0], // 0F 18 /4 and a register form: reserved NOPs
    [0x0f, 0x0d, 0x0a], [0x0f, 0x0d, 0x02], [0x0f, 0x0d, 0xc0], // prefetchw [rdx]; 0F 0D /0 and a register form
    [0x0f, 0x19, 0x00], [0x0f, 0x1a, 0x00], [0x0f, 0x1b, 0xc1], [0x0f, 0x1c, 0x00], [0x0f, 0x1d, 0x40, 0x10], [0x0f, 0x1e, 0x00],
    [0xf3, 0x0f, 0x1e, 0xc8], // F3 0F 1E /1 (RDSSP without CET): a NOP
  ]) it(hex(f), async () => { await runsAsNop(f); });

  it('prefetches do not fault on a non-canonical address (RDX = 2^63)', async () => {
    await runsAsNop([0x0f, 0x18, 0x0a]);
    await runsAsNop([0x0f, 0x0d, 0x0a]);
  });
});

describe('ENDBR, PAUSE and fences', () => {
  it('ENDBR64 and ENDBR32 are NOPs with their own mnemonic', async () => {
    const t = await runsAsNop([0xf3, 0x0f, 0x1e, 0xfa]);
    await runsAsNop([0xf3, 0x0f, 0x1e, 0xfb]);
    await runsAsNop([0xf3, 0x0f, 0x1e, 0xfb], 32);
    const d = (b: number[]) => t.cpu.decoder.decode({ bytes: new Uint8Array(b), start: 0, avail: b.length }, 64)?.mnemonic;
    expect(d([0xf3, 0x0f, 0x1e, 0xfa])).toBe('endbr64');
    expect(d([0xf3, 0x0f, 0x1e, 0xfb])).toBe('endbr32');
    expect(d([0xf3, 0x90])).toBe('pause');
    expect(d([0x0f, 0x1e, 0xfa])).toBe('nop'); // without F3 it is not ENDBR
  });

  it('PAUSE (F3 90) is a NOP that does not swap EAX', async () => {
    await runsAsNop([0xf3, 0x90]);
  });

  it('LFENCE, MFENCE, SFENCE (any rm value) are NOPs', async () => {
    for (const f of [[0x0f, 0xae, 0xe8], [0x0f, 0xae, 0xef], [0x0f, 0xae, 0xf0], [0x0f, 0xae, 0xf3], [0x0f, 0xae, 0xf8], [0x0f, 0xae, 0xff]]) {
      await runsAsNop(f);
    }
  });
});

describe('CLFLUSH and CLFLUSHOPT translate their address', () => {
  it('flush a mapped line as a NOP', async () => {
    await runsAsNop([0x0f, 0xae, 0x3e]); // clflush [rsi]
    await runsAsNop([0x66, 0x0f, 0xae, 0x3f]); // clflushopt [rdi]
  });

  it('#GP(0) on a non-canonical address', async () => {
    for (const f of ['0x0f, 0xae, 0x3a', '0x66, 0x0f, 0xae, 0x3a']) {
      const t = await runAsm(`.byte ${f}`, { regs: { rdx: 0x8000000000000000n } });
      expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
    }
  });

  it('a page fault on an unmapped address, checked as a read', async () => {
    const seen: number[] = [];
    const t = await runAsm('clflush [rsi]', {
      regs: { rsi: 0x40000n },
      setup: (t) => {
        t.cpu.mmu.translate = (la, access) => {
          if (la >= 0x40000 && la < 0x41000) { seen.push(access); fault(Vector.PF, 0); }
          return la;
        };
        t.cpu.mmu.flushAll();
      },
    });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.PF, errorCode: 0, rip: CODE_BASE });
    expect(seen).toEqual([0]); // Access.Read
  });
});
