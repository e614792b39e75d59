/**
 * RDTSC, RDTSCP and RDPID in VMX non-root operation (SDM Vol. 3C §26.1.3,
 * §26.3): "RDTSC exiting" (reasons 16 and 51), "enable RDTSCP", and TSC
 * offsetting and scaling for RDTSC, RDTSCP and RDMSR of IA32_TSC, while
 * WRMSR writes the real counter.
 *
 * The machine is deterministic, so a guest run twice from the same state
 * reads the same raw TSC R at the same instruction: each offsetting or
 * scaling test runs once with the controls clear to learn R, then checks
 * the SDM's formula, computed here with BigInt:
 *   (R + offset) mod 2^64, or (((R × multiplier) >> 48) + offset) mod 2^64.
 */
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../cpu/cpu.ts';
import { TSC_TICKS_PER_INSTRUCTION } from '../../cpu/tsc.ts';
import { mulShift48 } from '../../vmx/exit/guestTsc.ts';
import { controlledExit, CPL3_FIELDS, GUEST_CODE, modelWith, type ControlledRun } from '../support/vmxHarness.ts';

const MODEL = modelWith({
  proc: ['activateSecondaryControls', 'useMsrBitmaps', 'useTscOffsetting', 'rdtscExiting'],
  proc2: ['enableRdtscp', 'useTscScaling'],
});

const MASK64 = (1n << 64n) - 1n;
/** A raw TSC above 2^32 (set through the core's TSC offset before the guest runs), so both halves matter. */
const RAW_BASE = 0x0001_2345_6789_0000;
const TSC_AUX = 0x5a5a_0042;
const GP0 = { kind: 'exception', vector: 13, errorCode: 0 };
const UD = { kind: 'exception', vector: 6 };
const CR4_TSD = 1 << 2;

/** Runs `guest` (then CPUID) to its first exit, from the raw TSC RAW_BASE and TSC_AUX. */
function run(guest: string, r: ControlledRun = {}): ReturnType<typeof controlledExit> {
  return controlledExit(guest, MODEL, r, (h) => {
    h.t.cpu.tscOffset = RAW_BASE;
    h.t.cpu.tscAux = TSC_AUX;
  });
}

/** EDX:EAX as the guest left it at its exit. */
async function edxEax(guest: string, r: ControlledRun = {}): Promise<bigint> {
  const { h, exit } = await run(guest, r);
  expect(exit).toMatchObject({ reason: 10 });
  expect(h.reg('rax') >> 32n).toBe(0n);
  expect(h.reg('rdx') >> 32n).toBe(0n);
  return (h.reg('rdx') << 32n) | h.reg('rax');
}

const at = (offset: number): bigint => BigInt(GUEST_CODE + offset);
const scaled = (raw: bigint, multiplier: bigint, offset: bigint): bigint => (((raw * multiplier) >> 48n) + offset) & MASK64;

describe('§26.1.3 RDTSC exiting', () => {
  it('RDTSC exits with reason 16 and qualification 0', async () => {
    const { exit } = await run('rdtsc', { proc: ['rdtscExiting'] });
    expect(exit).toMatchObject({ reason: 16, qualification: 0n, guestRip: at(0), instructionLength: 2 });
  });

  it('control clear: RDTSC runs normally and reads the TSC', async () => {
    const { exit, h } = await run('rdtsc');
    expect(exit).toMatchObject({ reason: 10, guestRip: at(2) });
    expect((h.reg('rdx') << 32n) | h.reg('rax')).toBeGreaterThanOrEqual(BigInt(RAW_BASE));
  });

  it('RDTSC at CPL 3 with CR4.TSD = 1 raises #GP(0) without exiting (§26.1.1)', async () => {
    const { exit, stop } = await run('rdtsc', { proc: ['rdtscExiting'], fields: CPL3_FIELDS, cr4: CR4_TSD });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });
});

describe('§26.1.3 RDTSCP: "RDTSC exiting" and "enable RDTSCP" (§26.3)', () => {
  it('RDTSCP exits with reason 51 when both controls are 1', async () => {
    const { exit } = await run('rdtscp', { proc: ['rdtscExiting'], proc2: ['enableRdtscp'] });
    expect(exit).toMatchObject({ reason: 51, qualification: 0n, guestRip: at(0), instructionLength: 3 });
  });

  it('"enable RDTSCP" = 0: #UD, ahead of the exit and of the CR4.TSD #GP at CPL 3 (§26.3)', async () => {
    for (const r of [{ proc: ['rdtscExiting'] }, { proc: ['rdtscExiting'], fields: CPL3_FIELDS, cr4: CR4_TSD }] satisfies ControlledRun[]) {
      const { exit, stop } = await run('rdtscp', r);
      expect([exit, stop]).toMatchObject([undefined, UD]);
    }
  });

  it('"RDTSC exiting" clear: RDTSCP runs normally, ECX = IA32_TSC_AUX', async () => {
    const { exit, h } = await run('rdtscp', { proc2: ['enableRdtscp'], regs: { rcx: -1n } });
    expect(exit).toMatchObject({ reason: 10, guestRip: at(3) });
    expect(h.reg('rcx')).toBe(BigInt(TSC_AUX));
  });

  it('RDTSCP at CPL 3 with CR4.TSD = 1 raises #GP(0) without exiting (§26.1.1)', async () => {
    const { exit, stop } = await run('rdtscp', { proc: ['rdtscExiting'], proc2: ['enableRdtscp'], fields: CPL3_FIELDS, cr4: CR4_TSD });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });
});

describe('§26.3 RDPID and "enable RDTSCP"', () => {
  const RDPID_RAX = '.byte 0xf3, 0x0f, 0xc7, 0xf8';

  it('"enable RDTSCP" = 0: RDPID raises #UD in non-root operation', async () => {
    const { exit, stop } = await run(RDPID_RAX);
    expect([exit, stop]).toMatchObject([undefined, UD]);
  });

  it('"enable RDTSCP" = 1: RDPID reads IA32_TSC_AUX and never exits, "RDTSC exiting" or not', async () => {
    const { exit, h } = await run(RDPID_RAX, { proc: ['rdtscExiting'], proc2: ['enableRdtscp'], regs: { rax: -1n } });
    expect(exit).toMatchObject({ reason: 10, guestRip: at(4) });
    expect(h.reg('rax')).toBe(BigInt(TSC_AUX));
  });
});

describe('§26.3 TSC offsetting and TSC scaling', () => {
  const OFFSETS = [0x0000_0010_0000_0000n, 0xffff_ffff_ffff_fc18n /* -1000 */, 0x8000_0000_0000_0001n];
  const MULTIPLIERS = [0x0001_0000_0000_0000n /* 1.0 */, 0x0001_8000_0000_0000n /* 1.5 */, 0x0003_1415_9265_3589n, 0x0000_0000_0000_7fffn];

  it('"use TSC offsetting" = 1: RDTSC returns the TSC plus the TSC offset, modulo 2^64', async () => {
    const raw = await edxEax('rdtsc');
    for (const offset of OFFSETS) {
      expect(await edxEax('rdtsc', { proc: ['useTscOffsetting'], fields: { tscOffset: offset } })).toBe((raw + offset) & MASK64);
    }
  });

  it('"use TSC scaling" = 1 too: RDTSC returns ((TSC × multiplier) >> 48) + offset', async () => {
    const raw = await edxEax('rdtsc');
    for (const multiplier of MULTIPLIERS) {
      for (const offset of [0n, OFFSETS[1]!]) {
        const r: ControlledRun = { proc: ['useTscOffsetting'], proc2: ['useTscScaling'], fields: { tscOffset: offset, tscMultiplier: multiplier } };
        expect(await edxEax('rdtsc', r)).toBe(scaled(raw, multiplier, offset));
      }
    }
  });

  it('"use TSC scaling" without "use TSC offsetting": RDTSC reads the TSC unscaled', async () => {
    const raw = await edxEax('rdtsc');
    const r: ControlledRun = { proc2: ['useTscScaling'], fields: { tscOffset: 5n, tscMultiplier: 0x0002_0000_0000_0000n } };
    expect(await edxEax('rdtsc', r)).toBe(raw);
  });

  it('RDTSCP is offset and scaled the same way, and still loads ECX', async () => {
    const raw = await edxEax('rdtscp', { proc2: ['enableRdtscp'] });
    const multiplier = MULTIPLIERS[2]!, offset = OFFSETS[2]!;
    const r: ControlledRun = { proc: ['useTscOffsetting'], proc2: ['enableRdtscp', 'useTscScaling'], fields: { tscOffset: offset, tscMultiplier: multiplier } };
    expect(await edxEax('rdtscp', r)).toBe(scaled(raw, multiplier, offset));
  });

  it('RDMSR of IA32_TIME_STAMP_COUNTER (10H) is offset and scaled the same way (§26.3 RDMSR)', async () => {
    const regs = { rcx: 0x10n };
    const raw = await edxEax('rdmsr', { regs });
    expect(raw).toBeGreaterThanOrEqual(BigInt(RAW_BASE));
    const offset = OFFSETS[1]!, multiplier = MULTIPLIERS[1]!;
    expect(await edxEax('rdmsr', { regs, proc: ['useTscOffsetting'], fields: { tscOffset: offset } })).toBe((raw + offset) & MASK64);
    const r: ControlledRun = { regs, proc: ['useTscOffsetting'], proc2: ['useTscScaling'], fields: { tscOffset: offset, tscMultiplier: multiplier } };
    expect(await edxEax('rdmsr', r)).toBe(scaled(raw, multiplier, offset));
  });

  it('WRMSR of IA32_TSC writes the real counter "without regard to the TSC offset" (§26.3 WRMSR)', async () => {
    const value = 0x0000_0042_0000_0000n, offset = 0x1000n;
    const regs = { rcx: 0x10n, rax: value & 0xffff_ffffn, rdx: value >> 32n };
    const fields = { tscOffset: offset };
    // RDTSC runs one instruction after WRMSR set the TSC to `value`, and adds the offset.
    const read = await edxEax('wrmsr\nrdtsc', { regs, proc: ['useTscOffsetting'], fields });
    expect(read).toBe(value + BigInt(TSC_TICKS_PER_INSTRUCTION) + offset);
  });
});

describe('64 x 64 → 128-bit multiply, bits 111:48 (TSC scaling, §26.3)', () => {
  it('matches BigInt for edge and pseudo-random operands', () => {
    const c = { opHi: 0 } as Cpu;
    let seed = 0x2545f491n;
    const next = (): bigint => (seed = (seed * 6364136223846793005n + 1442695040888963407n) & MASK64);
    const values = [0n, 1n, MASK64, 1n << 63n, (1n << 48n) - 1n, 1n << 48n];
    for (let k = 0; k < 200; k++) values.push(next());
    for (const x of values) {
      for (const y of [values[(Number(x & 0xffn) % values.length)]!, next(), MASK64]) {
        const lo = mulShift48(c, Number(x & 0xffff_ffffn) | 0, Number(x >> 32n) | 0, Number(y & 0xffff_ffffn) | 0, Number(y >> 32n) | 0);
        const got = (BigInt(c.opHi >>> 0) << 32n) | BigInt(lo >>> 0);
        expect(got).toBe(((x * y) >> 48n) & MASK64);
      }
    }
  });
});
