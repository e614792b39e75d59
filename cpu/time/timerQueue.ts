/**
 * A deterministic timer queue: callbacks due at a time in ticks, run in
 * order of due time, then of scheduling order. No host time is involved
 * (DESIGN decision 3); the machine asks for the next due time to bound how
 * far it lets a core run.
 */
export interface TimerHandle {
  readonly due: number;
  cancelled: boolean;
}

interface Entry extends TimerHandle {
  readonly seq: number;
  readonly fire: (now: number) => void;
}

export class TimerQueue {
  private entries: Entry[] = [];
  private seq = 0;

  schedule(due: number, fire: (now: number) => void): TimerHandle {
    const e: Entry = { due, seq: this.seq++, fire, cancelled: false };
    // Insert keeping (due, seq) order; queues are short (a few timers per device).
    let k = this.entries.length;
    while (k > 0 && this.entries[k - 1]!.due > due) k--;
    this.entries.splice(k, 0, e);
    return e;
  }

  cancel(h: TimerHandle | null | undefined): void {
    if (h) h.cancelled = true;
  }

  /** Due time of the earliest live timer, or Infinity. */
  nextDue(): number {
    while (this.entries.length && this.entries[0]!.cancelled) this.entries.shift();
    return this.entries.length ? this.entries[0]!.due : Infinity;
  }

  /** Runs every live timer due at or before `now`, including ones they schedule for no later than `now`. */
  runDue(now: number): number {
    let n = 0;
    for (;;) {
      const e = this.entries[0];
      if (!e || e.due > now) return n;
      this.entries.shift();
      if (e.cancelled) continue;
      e.fire(now);
      n++;
    }
  }
}
