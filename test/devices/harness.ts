/**
 * A small multi-core machine for the interrupt-controller tests: bare
 * 64-bit flat cores on one PhysicalMemory sharing one BlockCache, the
 * interrupt controllers attached, and a round-robin run loop that runs each
 * core's due timers, bounds its runs by them and skips idle time when every
 * core is halted (what the Machine does, in miniature).
 *
 * Event servicing is a stand-in for the system part's serviceEvents: with
 * no IDT it records what would be delivered (interrupt vectors with the
 * core's clock, NMIs, INITs, SIPIs) and wakes a halted core; a SIPI starts
 * the core at vector << 12 in the same flat 64-bit mode. An interrupt held
 * off by IF = 0 keeps eventsPending set, so it is taken once STI has run.
 */
import { Activity, Cpu } from '../../cpu/cpu.ts';
import { BlockCache } from '../../cpu/blockCache.ts';
import { attachInterruptControllers, type InterruptControllers } from '../../cpu/devices/interruptControllers.ts';
import type { LocalApic } from '../../cpu/devices/apic/localApic.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { IF } from '../../cpu/flags.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import type { CpuModel } from '../../cpu/model/cpuidModel.ts';
import { PortBus } from '../../cpu/portIo.ts';
import { TimerQueue } from '../../cpu/time/timerQueue.ts';
import { asm } from '../support/asm.ts';

export type Event =
  | { core: number; kind: 'interrupt'; vector: number; clock: number }
  | { core: number; kind: 'nmi' | 'init'; clock: number }
  | { core: number; kind: 'sipi'; vector: number; clock: number };

export interface TestMachine {
  phys: PhysicalMemory;
  io: PortBus;
  cpus: Cpu[];
  lapics: LocalApic[];
  ctl: InterruptControllers;
  /** The machine's timer queue (PIT, RTC), at machine time. */
  timers: TimerQueue;
  /** Machine time: the BSP's clock, unless a test sets `manual` to drive it by hand. */
  time: { manual: number | null };
  now(): number;
  events: Event[];
  /** Assembles `source` (64-bit) at `addr`. */
  load(addr: number, source: string): Promise<void>;
  /** Round-robin run until every core is halted with no timer pending, or `maxRounds` rounds. */
  run(maxRounds?: number, quantum?: number): void;
}

const STACK_TOP = 0x80000;

function serviceEvents(m: TestMachine, k: number): (c: Cpu) => void {
  return (c) => {
    c.eventsPending = false;
    const log = (e: Event) => m.events.push(e);
    if (c.initPending) {
      c.initPending = false;
      c.activity = Activity.WaitForSipi;
      log({ core: k, kind: 'init', clock: c.clock });
    }
    if (c.sipiVector >= 0) {
      const v = c.sipiVector;
      c.sipiVector = -1;
      if (c.activity === Activity.WaitForSipi) {
        log({ core: k, kind: 'sipi', vector: v, clock: c.clock });
        c.rip = v << 12;
        c.activity = Activity.Active;
      }
    }
    if (c.nmiPending) {
      c.nmiPending = false;
      log({ core: k, kind: 'nmi', clock: c.clock });
      if (c.activity === Activity.Hlt) c.activity = Activity.Active;
    }
    if (c.activity === Activity.WaitForSipi || !c.interruptSource?.hasInterrupt()) return;
    if ((c.eflags & IF) === 0) {
      c.eventsPending = true; // still pending: looked at again once IF is set
      return;
    }
    log({ core: k, kind: 'interrupt', vector: c.interruptSource.acknowledge(), clock: c.clock });
    if (c.activity === Activity.Hlt) c.activity = Activity.Active;
  };
}

export function makeMachine(n = 1, opts: { model?: CpuModel } = {}): TestMachine {
  const phys = new PhysicalMemory(1 << 20);
  const blocks = new BlockCache(phys, 256);
  const io = new PortBus();
  const timers = new TimerQueue();
  const time: { manual: number | null } = { manual: null };
  const cpus = Array.from({ length: n }, (_, id) => {
    const c = new Cpu({ phys, io, blocks, id });
    if (opts.model) c.model = opts.model;
    enterFlatMode(c, 64);
    c.r[4 * 2] = STACK_TOP - id * 0x1000; // rsp
    return c;
  });
  const now = () => time.manual ?? cpus[0]!.clock;
  const ctl = attachInterruptControllers({ cpus, phys, io, timers, now });
  const m: TestMachine = {
    phys, io, cpus, lapics: ctl.lapics, ctl, timers, time, now, events: [],
    load: async (addr, source) => phys.load(addr, await asm(source, 64, addr)),
    run: (maxRounds = 10_000, quantum = 1000) => runMachine(m, maxRounds, quantum),
  };
  cpus.forEach((c, k) => { c.serviceEvents = serviceEvents(m, k); });
  return m;
}

function runMachine(m: TestMachine, maxRounds: number, quantum: number): void {
  for (let round = 0; round < maxRounds; round++) {
    let ran = false;
    m.cpus.forEach((c, k) => {
      m.phys.activeCore = k;
      c.timers.runDue(c.clock);
      m.timers.runDue(m.now());
      // The BSP's clock is machine time: its runs also end at the machine's next timer.
      let budget = Math.min(quantum, c.timers.nextDue() - c.clock);
      if (k === 0) budget = Math.min(budget, m.timers.nextDue() - m.now());
      const before = c.icount;
      const stop = c.run(Math.max(1, budget));
      if (stop.kind === 'exception') throw new Error(`core ${k}: exception ${stop.vector} at ${stop.rip.toString(16)}`);
      if (c.icount !== before) ran = true;
      m.timers.runDue(m.now());
    });
    if (ran || m.cpus.some((c) => c.eventsPending)) continue;
    // Every core is halted: skip to the earliest timer of any core or of the machine.
    let skip = m.timers.nextDue() - m.now();
    for (const c of m.cpus) skip = Math.min(skip, c.timers.nextDue() - c.clock);
    if (skip === Infinity) return;
    for (const c of m.cpus) c.idleTicks += Math.max(1, skip);
  }
}
