/**
 * A bare core on flat memory for unit tests: load a program, set registers,
 * run until HLT/limit/exception, read registers back as BigInts.
 */
import { Activity } from '../../cpu/cpu.ts';
import { BlockCache } from '../../cpu/blockCache.ts';
import { Cpu, type StopReason } from '../../cpu/cpu.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { ARITH_FLAGS, readRflags, writeRflags } from '../../cpu/flags.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { hiOf, loOf, REG64_NAMES, toBigInt } from '../../cpu/registers.ts';
import { asm } from './asm.ts';

export type RegName = (typeof REG64_NAMES)[number];

export interface TestCore {
  cpu: Cpu;
  phys: PhysicalMemory;
  stop: StopReason;
  reg(name: RegName): bigint;
  setReg(name: RegName, v: bigint): void;
  flags(): number;
  run(max?: number): StopReason;
}

export const CODE_BASE = 0x1000;
export const STACK_TOP = 0x80000;

export function makeCore(bits: 16 | 32 | 64 = 64, memBytes = 1 << 20): TestCore {
  const phys = new PhysicalMemory(memBytes);
  // A small block cache: test programs are short, and a large LRU costs milliseconds to allocate.
  const cpu = new Cpu({ phys, blocks: new BlockCache(phys, 256) });
  enterFlatMode(cpu, bits);
  cpu.rip = CODE_BASE;
  const t: TestCore = {
    cpu,
    phys,
    stop: { kind: 'limit' },
    reg: (name) => {
      const n = REG64_NAMES.indexOf(name);
      return toBigInt(cpu.r[n * 2]!, cpu.r[n * 2 + 1]!);
    },
    setReg: (name, v) => {
      const n = REG64_NAMES.indexOf(name);
      const u = BigInt.asUintN(64, v);
      cpu.r[n * 2] = loOf(u);
      cpu.r[n * 2 + 1] = hiOf(u);
    },
    flags: () => readRflags(cpu),
    run: (max = 1_000_000) => (t.stop = cpu.run(max)),
  };
  t.setReg('rsp', BigInt(bits === 16 ? 0xfff0 : STACK_TOP));
  return t;
}

export interface RunOptions {
  bits?: 16 | 32 | 64;
  regs?: Partial<Record<RegName, bigint>>;
  rflags?: number;
  max?: number;
  setup?: (t: TestCore) => void;
}

/** Assembles `source` at CODE_BASE, appends HLT, runs it and returns the core. */
export async function runAsm(source: string, opts: RunOptions = {}): Promise<TestCore> {
  const bits = opts.bits ?? 64;
  const code = await asm(`${source}\nhlt`, bits, CODE_BASE);
  const t = makeCore(bits);
  t.phys.load(CODE_BASE, code);
  for (const [k, v] of Object.entries(opts.regs ?? {})) t.setReg(k as RegName, v as bigint);
  if (opts.rflags !== undefined) writeRflags(t.cpu, opts.rflags, 0xffffffff);
  opts.setup?.(t);
  t.run(opts.max);
  return t;
}

export type RegInputs = Partial<Record<RegName, bigint>>;
export type Rerun = (regs: RegInputs, flags?: number, setup?: (t: TestCore) => void) => TestCore;

/**
 * Assembles `source` once (plus HLT); each call of the result reruns it on
 * the same core from CODE_BASE with the given registers and arithmetic
 * flags. A rerun costs microseconds where a fresh core costs a millisecond.
 */
export async function compile(source: string, bits: 16 | 32 | 64 = 64): Promise<Rerun> {
  const t = makeCore(bits);
  t.phys.load(CODE_BASE, await asm(`${source}\nhlt`, bits, CODE_BASE));
  return (regs, flags = 0, setup) => {
    for (const [k, v] of Object.entries(regs)) t.setReg(k as RegName, v as bigint);
    writeRflags(t.cpu, flags, ARITH_FLAGS);
    t.cpu.rip = CODE_BASE;
    t.cpu.activity = Activity.Active;
    setup?.(t);
    t.run(100);
    return t;
  };
}
