/**
 * The counting part of a local APIC timer (SDM Vol. 3A §11.5.4 "APIC
 * Timer"): the initial-count and divide-configuration registers, the
 * current count, and when a one-shot or periodic count reaches zero. A
 * count of N with divide-by-d reaches zero N × d input-clock ticks after
 * the initial count is written.
 *
 * Times are in the timer's input clock, which its owner supplies: the
 * machine's timer (apicTimer.ts) schedules expiries on its core's timer
 * queue; L1's virtual timer (hypervisor/lapic/lapicTimer.ts) polls them
 * against the guest's TSC. TSC-deadline mode does not count: the owners
 * keep its deadline themselves.
 */
import { DIVIDE_WRITABLE, divisorOf, TimerMode } from './registers.ts';

export class TimerCount {
  /** Initial-count register. */
  initial = 0;
  /** Divide configuration register (bits 0, 1, 3). */
  divideConfig = 0;
  private divisor = divisorOf(0);
  /** Counting (one-shot or periodic) since phaseStart, when the count was phaseCount. */
  private counting = false;
  private phaseStart = 0;
  private phaseCount = 0;

  /** Current-count register at `now`: 0 in TSC-deadline mode and once a one-shot count has run out. */
  current(now: number, mode: TimerMode): number {
    if (!this.counting || mode === TimerMode.TscDeadline) return 0;
    const elapsed = Math.floor((now - this.phaseStart) / this.divisor);
    if (elapsed < this.phaseCount) return this.phaseCount - elapsed;
    if (mode === TimerMode.OneShot) return 0;
    return this.initial - ((elapsed - this.phaseCount) % this.initial);
  }

  /** Initial-count write at `now`: (re)starts counting; 0 stops the timer. */
  writeInitial(v: number, now: number): void {
    this.initial = v >>> 0;
    this.counting = this.initial !== 0;
    this.phaseStart = now;
    this.phaseCount = this.initial;
  }

  /**
   * Divide-configuration write at `now`: the count reached so far goes on
   * at the new rate (the SDM leaves a change in mid-count unspecified; a
   * partly elapsed input period is dropped). True when the timer was
   * counting, so that its next expiry moved.
   */
  writeDivide(v: number, now: number, mode: TimerMode): boolean {
    const current = this.current(now, mode);
    this.divideConfig = v & DIVIDE_WRITABLE;
    this.divisor = divisorOf(this.divideConfig);
    if (!this.counting) return false;
    this.counting = current !== 0; // an expired one-shot stays stopped
    this.phaseStart = now;
    this.phaseCount = current;
    return true;
  }

  /** Stops counting and clears the initial count (a change of timer mode, INIT). */
  stop(): void {
    this.initial = 0;
    this.counting = false;
  }

  /** Back to the reset state (INIT, §11.4.7.3): divide by 2, stopped. */
  reset(): void {
    this.divideConfig = 0;
    this.divisor = divisorOf(0);
    this.stop();
  }

  /** When the count reaches zero next, counting expiries not yet taken by `expire`; Infinity when stopped. */
  get due(): number {
    return this.counting ? this.phaseStart + this.phaseCount * this.divisor : Infinity;
  }

  /**
   * The first expiry after `now`, or Infinity: expiries not taken by then
   * are lost (a one-shot count that ran out stays at 0; a periodic one
   * goes on from its period boundaries).
   */
  expiryAfter(now: number, mode: TimerMode): number {
    const due = this.due;
    if (due > now) return due;
    if (mode !== TimerMode.Periodic) return Infinity;
    const period = this.initial * this.divisor;
    return due + (Math.floor((now - due) / period) + 1) * period;
  }

  /**
   * Takes the expiries due by `now`: a one-shot count stops; a periodic
   * one reloads at its last expiry, so that periods never drift.
   */
  expire(now: number, mode: TimerMode): void {
    if (mode !== TimerMode.Periodic) {
      this.counting = false;
      return;
    }
    const due = this.due;
    const period = this.initial * this.divisor;
    this.phaseStart = due + Math.floor((now - due) / period) * period;
    this.phaseCount = this.initial;
  }
}
