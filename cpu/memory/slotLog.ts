/**
 * Which slots of a direct-mapped cache were filled since its last flush,
 * so that flushing a cache that holds a few entries (the usual case at a
 * VM entry or exit, which flush every translation) costs those entries,
 * not the whole array. Past its capacity the log gives up and the caller
 * clears everything: the outcome is the same either way.
 */
export class SlotLog {
  private readonly slots: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.slots = new Int32Array(capacity);
  }

  add(k: number): void {
    if (this.n < this.slots.length) this.slots[this.n] = k;
    this.n++;
  }

  /**
   * Clears the logged slots of `tag` (to NaN, the empty tag) and returns
   * true, or returns false when more were filled than the log holds; the
   * log is empty afterwards either way.
   */
  clearLogged(tag: Float64Array): boolean {
    const n = this.n;
    this.n = 0;
    if (n > this.slots.length) return false;
    for (let j = 0; j < n; j++) tag[this.slots[j]!] = NaN;
    return true;
  }
}
