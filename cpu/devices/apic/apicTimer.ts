/**
 * The local APIC timer (SDM Vol. 3A §11.5.4): one-shot, periodic and
 * TSC-deadline modes.
 *
 * Time base (DESIGN decision 3): the timer's input clock runs at the TSC
 * rate, one tick per tick of the core's clock (one per retired instruction,
 * plus idle time), before the divide configuration divides it. So the
 * timer is never faster than the TSC, and a count of N with divide-by-d
 * expires exactly N × d clock ticks after the initial count is written.
 *
 * Expiries are scheduled on the core's timer queue (c.timers), which the
 * machine runs between instructions and uses to skip HLT time ahead. The
 * current count is computed from the clock when read, so a masked timer
 * needs no scheduled events at all: its interrupts would be lost anyway.
 */
import type { Cpu } from '../../cpu.ts';
import type { TimerHandle } from '../../time/timerQueue.ts';
import { TSC_TICKS_PER_INSTRUCTION } from '../../tsc.ts';
import { TWO32 } from '../../registers.ts';
import { LVT_MASKED, LVT_TIMER_MODE_SHIFT, TimerMode } from './registers.ts';
import { TimerCount } from './timerCount.ts';

/** What the timer needs from its local APIC. */
export interface TimerHost {
  readonly cpu: Cpu;
  /** The LVT timer register. */
  readonly lvtTimer: number;
  /** The count reached zero (or the deadline passed): deliver through the LVT timer entry. */
  timerExpired(): void;
}

/** Timer mode of an LVT timer value; the reserved encoding 11b counts as one-shot. */
export function timerModeOf(lvt: number): TimerMode {
  const m = (lvt >>> LVT_TIMER_MODE_SHIFT) & 3;
  return m === 3 ? TimerMode.OneShot : m;
}

export class ApicTimer {
  /** One-shot and periodic counting, in clock ticks. */
  private readonly count = new TimerCount();
  /** IA32_TSC_DEADLINE as written (armed while non-zero in TSC-deadline mode). */
  private deadlineLo = 0;
  private deadlineHi = 0;
  private handle: TimerHandle | null = null;

  constructor(private readonly host: TimerHost) {}

  private get mode(): TimerMode {
    return timerModeOf(this.host.lvtTimer);
  }

  private get masked(): boolean {
    return (this.host.lvtTimer & LVT_MASKED) !== 0;
  }

  /** Initial-count register. */
  get initial(): number {
    return this.count.initial;
  }

  /** Divide configuration register. */
  get divideConfig(): number {
    return this.count.divideConfig;
  }

  /** Current-count register: reads 0 in TSC-deadline mode and once a one-shot count has expired. */
  currentCount(): number {
    return this.count.current(this.host.cpu.clock, this.mode);
  }

  /** A write to the initial-count register (re)starts counting; 0 stops the timer; ignored in TSC-deadline mode. */
  writeInitial(v: number): void {
    if (this.mode === TimerMode.TscDeadline) return;
    this.count.writeInitial(v, this.host.cpu.clock);
    this.schedule();
  }

  /** A new divide configuration applies from now (timerCount.ts). */
  writeDivide(v: number): void {
    if (this.count.writeDivide(v, this.host.cpu.clock, this.mode)) this.schedule();
  }

  /** The LVT timer register changed from `old`: a mode change disarms the timer (§11.5.4.1); a mask change reschedules. */
  lvtChanged(old: number): void {
    if (timerModeOf(old) !== this.mode) {
      this.disarm();
      return;
    }
    if ((old & LVT_MASKED) !== (this.host.lvtTimer & LVT_MASKED)) this.schedule();
  }

  /** IA32_TSC_DEADLINE read: 0 outside TSC-deadline mode, and once the deadline has passed. */
  readDeadline(c: Cpu): number {
    if (this.mode !== TimerMode.TscDeadline) {
      c.opHi = 0;
      return 0;
    }
    if (this.deadlinePassed()) this.deadlineLo = this.deadlineHi = 0;
    c.opHi = this.deadlineHi;
    return this.deadlineLo;
  }

  /** IA32_TSC_DEADLINE write: arms (non-zero) or disarms (zero) in TSC-deadline mode; ignored in other modes (§11.5.4.1). */
  writeDeadline(lo: number, hi: number): void {
    if (this.mode !== TimerMode.TscDeadline) return;
    this.deadlineLo = lo | 0;
    this.deadlineHi = hi | 0;
    this.schedule();
  }

  /** The TSC was written (its offset moved): a deadline falls due at a different clock. */
  tscChanged(): void {
    if (this.mode === TimerMode.TscDeadline) this.schedule();
  }

  /** Back to the reset state (INIT, APIC disable). */
  reset(): void {
    this.count.reset();
    this.disarm();
  }

  private disarm(): void {
    this.count.stop();
    this.deadlineLo = this.deadlineHi = 0;
    this.cancel();
  }

  private cancel(): void {
    if (this.handle) this.host.cpu.timers.cancel(this.handle);
    this.handle = null;
  }

  private deadline(): number {
    return (this.deadlineHi >>> 0) * TWO32 + (this.deadlineLo >>> 0);
  }

  private deadlinePassed(): boolean {
    const c = this.host.cpu;
    const d = this.deadline();
    return d !== 0 && TSC_TICKS_PER_INSTRUCTION * c.clock + c.tscOffset >= d;
  }

  /** Schedules the next expiry after now, if the timer is armed and unmasked. */
  private schedule(): void {
    this.cancel();
    if (this.masked) return;
    const now = this.host.cpu.clock;
    let due: number;
    if (this.mode === TimerMode.TscDeadline) {
      const d = this.deadline();
      if (d === 0) return;
      // The first clock at which TSC = ticks × clock + offset reaches the deadline.
      due = Math.max(now, Math.ceil((d - this.host.cpu.tscOffset) / TSC_TICKS_PER_INSTRUCTION));
      if (due === now) {
        this.expire(now);
        return;
      }
    } else {
      // An expiry while masked is lost: a one-shot count that ran out then has none left.
      due = this.count.expiryAfter(now, this.mode);
      if (due === Infinity) return;
    }
    this.handle = this.host.cpu.timers.schedule(due, () => this.expire(due));
    boundRun(this.host.cpu, due);
  }

  private expire(due: number): void {
    this.handle = null;
    const mode = this.mode;
    if (mode !== TimerMode.TscDeadline) {
      this.count.expire(due, mode); // a one-shot count stops; a periodic one reloads at exactly this expiry
      this.host.timerExpired();
      if (mode === TimerMode.Periodic) this.schedule();
    } else if (this.deadlinePassed()) {
      this.deadlineLo = this.deadlineHi = 0; // it disarms itself and clears the MSR
      this.host.timerExpired();
    } else {
      this.schedule();
    }
  }
}

/**
 * A timer scheduled from inside an instruction may fall due before the
 * core's current run would end: lowering c.stopAt (which the run loop reads
 * live) and ending the block stops the run there, so the machine runs the
 * timer at exactly its due clock.
 */
function boundRun(c: Cpu, due: number): void {
  const at = c.icount + (due - c.clock);
  if (at >= c.stopAt) return;
  c.stopAt = at;
  c.exitBlock = true;
}
