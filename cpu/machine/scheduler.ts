/**
 * The SMP scheduler (DESIGN decision 3): cores take turns in a fixed
 * order, round by round, each running up to the round's end in machine
 * time. Machine time is ticks; a core's clock is its retired instructions
 * plus the ticks it spent halted (`c.clock`), and at every round boundary
 * every core's clock equals machine time.
 *
 * A round starts at machine time T: the global timers due at T run first;
 * the round then ends at T + quantum, or earlier at the next global timer,
 * so global timers run at their exact time, between rounds. When every
 * core is halted with nothing pending, the round jumps straight to the
 * earliest timer anywhere (HLT skips time ahead), and when there is none
 * the machine is idle: nothing can ever wake a core.
 *
 * Within its turn a core runs until its clock reaches the round's end,
 * never past its own next timer: at each of its timers' due times the
 * timers run (`c.timers.runDue(c.clock)`), and they may wake the core. A
 * core that is halted (HLT, wait-for-SIPI, shutdown) executes nothing, but
 * its clock keeps up with machine time (idleTicks).
 *
 * The instruction budget counts instructions retired by all cores. When it
 * runs out mid-turn, the scheduler remembers where it was, so running n
 * then m instructions interleaves exactly as running n + m at once.
 */
import { Activity, type Cpu, type StopReason } from '../cpu.ts';
import type { PhysicalMemory } from '../memory/physical.ts';
import type { TimerQueue } from '../time/timerQueue.ts';
import type { MachineStop } from './stop.ts';

export interface SchedulerHost {
  readonly cpus: readonly Cpu[];
  readonly phys: PhysicalMemory;
  /** Global timers, due in machine time. */
  readonly timers: TimerQueue;
  readonly quantum: number;
  /**
   * Called after a core's run (with the core and how its run ended) and after
   * global timers ran (core -1, reason null): a machine stop, or null to go on.
   */
  check(core: number, reason: StopReason | null): MachineStop | null;
}

export class Scheduler {
  /** Machine time at the last round boundary. */
  time = 0;
  /** The core running now, or -1 between turns. */
  running = -1;
  private inRound = false;
  private roundEnd = 0;
  /** Next core to take its turn in the current round. */
  private next = 0;
  /** Instructions retired in the current round, and whether the last whole round retired none. */
  private retiredInRound = 0;
  private quietRound = false;

  constructor(private readonly host: SchedulerHost) {}

  /** Machine time as the running core sees it, or the round boundary between turns. */
  now(): number {
    return this.running >= 0 ? this.host.cpus[this.running]!.clock : this.time;
  }

  /** Runs until `budget` instructions retire in total or the machine stops; returns why. */
  run(budget: number): MachineStop {
    let left = budget;
    const cpus = this.host.cpus;
    for (;;) {
      if (!this.inRound) {
        const s = this.startRound();
        if (s) return s;
      }
      while (this.next < cpus.length) {
        const r = this.turn(this.next, left);
        left -= r.retired;
        this.retiredInRound += r.retired;
        if (r.stop) return r.stop;
        if (cpus[this.next]!.clock < this.roundEnd) return { kind: 'limit' }; // budget used up mid-turn
        this.next++;
      }
      this.time = this.roundEnd;
      this.inRound = false;
      this.quietRound = this.retiredInRound === 0;
      if (left <= 0) return { kind: 'limit' };
    }
  }

  /** Runs the global timers due now and sets the next round's end; a stop if the machine cannot go on. */
  private startRound(): MachineStop | null {
    const { cpus, timers, quantum } = this.host;
    timers.runDue(this.time);
    const s = this.host.check(-1, null);
    if (s) return s;
    let nextTimer = timers.nextDue();
    let allHalted = true, anyPending = false;
    for (const c of cpus) {
      nextTimer = Math.min(nextTimer, c.timers.nextDue());
      if (c.activity === Activity.Active) allHalted = false;
      if (c.eventsPending) anyPending = true;
    }
    // Pending events get a round to be serviced; if a whole round then ran nothing, they cannot wake
    // anyone (an interrupt held off by IF = 0 in HLT, say), and only a timer can change that.
    const stuck = allHalted && (!anyPending || this.quietRound);
    if (stuck && nextTimer === Infinity) return { kind: 'idle' };
    const jump = stuck && nextTimer !== Infinity;
    const end = jump ? nextTimer : Math.min(this.time + quantum, timers.nextDue());
    this.roundEnd = Math.max(end, this.time + 1);
    this.inRound = true;
    this.next = 0;
    this.retiredInRound = 0;
    return null;
  }

  /** Core k's turn, up to the round's end or until `budget` instructions retire. */
  private turn(k: number, budget: number): { retired: number; stop: MachineStop | null } {
    const c = this.host.cpus[k]!;
    this.host.phys.activeCore = k;
    this.running = k;
    let retired = 0;
    try {
      while (c.clock < this.roundEnd) {
        c.timers.runDue(c.clock);
        const fromTimers = this.host.check(k, null);
        if (fromTimers) return { retired, stop: fromTimers };
        const wake = Math.min(this.roundEnd, c.timers.nextDue());
        if (c.activity !== Activity.Active && !c.eventsPending) {
          c.idleTicks += wake - c.clock;
          continue;
        }
        if (retired >= budget) break;
        const before = c.icount;
        const reason = c.run(Math.min(wake - c.clock, budget - retired));
        retired += c.icount - before;
        const stop = this.host.check(k, reason);
        if (stop) return { retired, stop };
        // Still halted after its pending events were serviced: the events could not wake it; it idles.
        if (c.activity !== Activity.Active && c.icount === before) c.idleTicks += wake - c.clock;
      }
      return { retired, stop: null };
    } finally {
      this.running = -1;
    }
  }
}
