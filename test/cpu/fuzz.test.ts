/**
 * Fuzzing the core (DESIGN decisions 3 and 7): seeded random byte streams
 * run on a flat 16-, 32- and 64-bit core with random registers. Whatever
 * the bytes, nothing but the core's own stop comes out of `run` (no host
 * exception, no InternalError), and running the same bytes twice gives the
 * same final state.
 */
import { Activity } from '../../cpu/cpu.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../cpu/cpu.ts';
import { MAX_INSN_LENGTH } from '../../cpu/decode/decoder.ts';
import type { CpuException } from '../../cpu/exceptions.ts';
import { readRflags } from '../../cpu/flags.ts';
import { REG64_NAMES } from '../../cpu/registers.ts';
import { CODE_BASE, makeCore, type RegName } from '../support/machine.ts';

type Mode = 16 | 32 | 64;

const MAX_INSNS = 1_000;
const RUNS = 80;
const MAX_FAULTS = 200;
const MAX_HALTS = 8;

interface FinalState {
  regs: number[];
  rip: number;
  icount: number;
  rflags: number;
  halts: number;
  faults: string[];
  stop: string;
}

/**
 * The exception hook for fuzzing: record the event, step over the faulting
 * instruction (software interrupts already point past theirs) and go on;
 * stop when the instruction can't even be decoded or after MAX_FAULTS.
 */
function skipFaulting(faults: string[]) {
  return (c: Cpu, e: CpuException): void => {
    faults.push(`${e.vector}:${e.errorCode}@${c.rip}`);
    if (faults.length >= MAX_FAULTS) {
      c.stopReason = { kind: 'stop', why: 'fault budget' };
      return;
    }
    if (e.software) return;
    const la = c.fetchLinear(c.rip);
    const bytes = c.phys.readBytes(la, MAX_INSN_LENGTH);
    const i = c.decoder.decode({ bytes, start: 0, avail: bytes.length }, c.codeSize);
    if (!i) {
      c.stopReason = { kind: 'stop', why: 'undecodable' };
      return;
    }
    const next = c.rip + i.len;
    c.rip = c.codeSize === 64 ? next : c.codeSize === 32 ? next >>> 0 : next & 0xffff;
  };
}

/**
 * Loads `code` at CODE_BASE followed by HLTs (so a run that falls off the end
 * stops there instead of executing the zeroed memory beyond), sets registers,
 * runs up to MAX_INSNS instructions, waking from a few HLTs, and returns the
 * final state.
 */
function runStream(mode: Mode, code: Uint8Array, regs: bigint[]): FinalState {
  const t = makeCore(mode);
  t.phys.load(CODE_BASE, code);
  t.phys.load(CODE_BASE + code.length, new Uint8Array(MAX_HALTS).fill(0xf4));
  REG64_NAMES.forEach((name, n) => { if (name !== 'rsp') t.setReg(name as RegName, regs[n]!); });
  const faults: string[] = [];
  t.cpu.onException = skipFaulting(faults);
  let halts = 0;
  let stop = 'limit';
  for (;;) {
    const left = MAX_INSNS - t.cpu.icount;
    if (left <= 0) break;
    const r = t.cpu.run(left);
    if (r.kind === 'halt' && halts < MAX_HALTS) {
      // RIP already points past HLT: wake the core and carry on.
      halts++;
      t.cpu.activity = Activity.Active;
      continue;
    }
    stop = r.kind === 'stop' ? `stop:${r.why}` : r.kind;
    break;
  }
  return {
    regs: Array.from(t.cpu.r),
    rip: t.cpu.rip,
    icount: t.cpu.icount,
    rflags: readRflags(t.cpu),
    halts,
    faults,
    stop,
  };
}

/** Registers: mostly addresses inside the 1 MiB of RAM, sometimes anything. */
const regValue = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0xfffff }).map(BigInt) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);

const stream = fc.record({
  code: fc.uint8Array({ minLength: 16, maxLength: 512 }),
  regs: fc.array(regValue, { minLength: 16, maxLength: 16 }),
});

describe('fuzzing the core with random byte streams', () => {
  for (const [mode, seed] of [[16, 16], [32, 32], [64, 64]] as [Mode, number][]) {
    it(`${mode}-bit: the host never throws and runs are deterministic`, () => {
      let retired = 0;
      fc.assert(
        fc.property(stream, ({ code, regs }) => {
          const a = runStream(mode, code, regs);
          const b = runStream(mode, code, regs);
          expect(b).toEqual(a);
          retired += a.icount;
        }),
        { seed, numRuns: RUNS },
      );
      // The streams must actually execute something, not fault on the first byte every time.
      expect(retired).toBeGreaterThan(RUNS * 50);
    });
  }
});
