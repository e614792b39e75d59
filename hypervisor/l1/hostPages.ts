/**
 * L1's own host-physical memory (DESIGN decision 1: L1 touches its own
 * physical memory directly): 4-KByte pages handed out in order from a
 * range, never freed, so the same sequence of requests always gets the
 * same pages and every run lays memory out identically. RAM starts zeroed
 * and no page is handed out twice, so each comes zeroed.
 */
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { HypervisorError } from '../hypervisorError.ts';

export const PAGE = 4096;

export class HostPages {
  private next: number;

  constructor(readonly phys: PhysicalMemory, readonly base: number, readonly end: number, readonly what: string) {
    this.next = base;
  }

  /** `count` contiguous zeroed pages (aligned to `align` bytes); their host-physical address. */
  allocate(count = 1, align = PAGE): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + count * PAGE > this.end) {
      throw new HypervisorError(`${this.what}: out of memory asking for ${count} page(s) (${((this.end - this.base) >> 20)} MiB in all)`);
    }
    this.next = at + count * PAGE;
    return at;
  }

  /** Bytes handed out so far. */
  get used(): number {
    return this.next - this.base;
  }
}
