/**
 * Translation contexts (SDM Vol. 3C §29.4 "Caching Translation Information"):
 * with VMX, cached linear and combined mappings are tagged by VPID and, for
 * combined ones, by the EPT root (EPTP bits 51:12) besides the PCID. Each
 * (VPID, EPT root) pair has its own TLB here, PCID-tagged within; the paging
 * unit translates through the current one. Root operation, and guests
 * without VPID or EPT, use VPID 0000H and "no EPT".
 *
 * At most MAX_CONTEXTS are kept. Making another replaces them in
 * round-robin order, which (like a real TLB's replacement) only ever loses
 * cached translations, and the same sequence of contexts always loses the
 * same ones. Iteration is in slot order: deterministic.
 */
import { Tlb } from './tlb.ts';

/** The EPT root of a context without EPT. */
export const NO_EPT = -1;
const MAX_CONTEXTS = 8;

export class TranslationContexts {
  private readonly vpids: number[] = [];
  private readonly roots: number[] = [];
  private readonly tlbs: Tlb[] = [];
  private next = 0;

  /** The TLB of context (vpid, eptRoot), made (empty) if there is none. */
  select(vpid: number, eptRoot: number): Tlb {
    for (let k = 0; k < this.tlbs.length; k++) {
      if (this.vpids[k] === vpid && this.roots[k] === eptRoot) return this.tlbs[k]!;
    }
    const tlb = new Tlb();
    const k = this.tlbs.length < MAX_CONTEXTS ? this.tlbs.length : this.next;
    this.next = (k + 1) % MAX_CONTEXTS;
    this.vpids[k] = vpid;
    this.roots[k] = eptRoot;
    this.tlbs[k] = tlb;
    return tlb;
  }

  /** Calls `drop` with the TLB of every context whose VPID and EPT root `match` accepts. */
  each(match: (vpid: number, eptRoot: number) => boolean, drop: (tlb: Tlb) => void): void {
    for (let k = 0; k < this.tlbs.length; k++) if (match(this.vpids[k]!, this.roots[k]!)) drop(this.tlbs[k]!);
  }
}
