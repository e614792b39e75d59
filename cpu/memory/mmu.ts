/**
 * A core's view of memory through linear addresses: a direct-mapped software
 * TLB of host page views in front of `translate` (linear → physical).
 *
 * Read and write entries are separate so that a page holding decoded code
 * can be readable on the fast path while every write to it takes the slow
 * path, which invalidates the code (DESIGN decision 6). An access that
 * crosses a page boundary is checked on both pages before any byte is
 * written, so a fault leaves memory untouched.
 *
 * With paging on, `translate` is the core's paging unit (pagingUnit.ts): it
 * checks access rights and says through `canCache` whether the translation
 * may be cached here, where the fast path re-checks nothing. The paging
 * entry points (paging.ts) flush this cache whenever translations or the
 * rights of the current CPL change.
 */
import { Access } from './access.ts';
import type { PagingUnit } from './pagingUnit.ts';
import { PAGE_SIZE, type PageViewCache, type PhysicalMemory } from './physical.ts';
import { SlotLog } from './slotLog.ts';

const TLB_BITS = 8;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;

/** Linear → physical translation for one access; throws CpuException on a fault. */
export type Translate = (linear: number, access: Access) => number;

/** Translation with paging off (SDM Vol. 3A §4.1.1: linear addresses are physical). */
export const IDENTITY: Translate = (la) => la;

export class Mmu implements PageViewCache {
  private readonly rTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly wTag = new Float64Array(TLB_SIZE).fill(NaN);
  private readonly rView: (DataView | null)[] = new Array<DataView | null>(TLB_SIZE).fill(null);
  private readonly wView: (DataView | null)[] = new Array<DataView | null>(TLB_SIZE).fill(null);
  private readonly rFilled = new SlotLog(32);
  private readonly wFilled = new SlotLog(32);
  /** High half of the last 64-bit read. */
  hi = 0;
  /** The core using this MMU: a write to a page holding decoded code ends its current block. */
  owner: { exitBlock: boolean } = { exitBlock: false };
  /** Set by each translation: whether its page may enter the host-view cache. */
  canCache = true;
  /** Like `translate`, but returns -1 instead of faulting, with no side effect of a fault (CR2, invalidations). */
  probe: Translate = IDENTITY;
  /** The core's paging unit, created by the first paging state change (paging.ts). */
  paging: PagingUnit | undefined;

  constructor(
    readonly phys: PhysicalMemory,
    /** Identity until paging is enabled; paging.ts installs the paging unit's translation. */
    public translate: Translate = IDENTITY,
  ) {
    phys.attachCache(this);
  }

  /** Views stay behind a NaN tag until overwritten: a tag that never matches makes them unreachable. */
  flushAll(): void {
    if (!this.rFilled.clearLogged(this.rTag)) this.rTag.fill(NaN);
    this.flushWrites();
  }

  flushWrites(): void {
    if (!this.wFilled.clearLogged(this.wTag)) this.wTag.fill(NaN);
  }

  // ---- reads -------------------------------------------------------------

  read8(la: number): number {
    const off = la & 0xfff;
    const vpn = (la - off) / PAGE_SIZE;
    const k = vpn & TLB_MASK;
    if (this.rTag[k] === vpn) return this.rView[k]!.getUint8(off);
    return this.readSlow(la, 1, Access.Read);
  }

  read16(la: number): number {
    const off = la & 0xfff;
    if (off <= 0xffe) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.rTag[k] === vpn) return this.rView[k]!.getUint16(off, true);
    }
    return this.readSlow(la, 2, Access.Read);
  }

  /** Returns the value as a signed 32-bit integer. */
  read32(la: number): number {
    const off = la & 0xfff;
    if (off <= 0xffc) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.rTag[k] === vpn) return this.rView[k]!.getInt32(off, true);
    }
    return this.readSlow(la, 4, Access.Read);
  }

  /** Returns the low half; the high half is left in `hi`. */
  read64(la: number): number {
    const off = la & 0xfff;
    if (off <= 0xff8) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.rTag[k] === vpn) {
        const v = this.rView[k]!;
        this.hi = v.getInt32(off + 4, true);
        return v.getInt32(off, true);
      }
    }
    const lo = this.read32(la);
    this.hi = this.read32(la + 4);
    return lo;
  }

  /** Read of a read-modify-write operand: translated as a write (SDM Vol. 3A §4.7, W/R bit). */
  rmw8(la: number): number { this.probeWrite(la, 1); return this.read8(la); }
  rmw16(la: number): number { this.probeWrite(la, 2); return this.read16(la); }
  rmw32(la: number): number { this.probeWrite(la, 4); return this.read32(la); }
  rmw64(la: number): number { this.probeWrite(la, 8); return this.read64(la); }

  // ---- writes ------------------------------------------------------------

  write8(la: number, v: number): void {
    const off = la & 0xfff;
    const vpn = (la - off) / PAGE_SIZE;
    const k = vpn & TLB_MASK;
    if (this.wTag[k] === vpn) { this.wView[k]!.setUint8(off, v); return; }
    this.writeSlow(la, 1, v);
  }

  write16(la: number, v: number): void {
    const off = la & 0xfff;
    if (off <= 0xffe) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.wTag[k] === vpn) { this.wView[k]!.setUint16(off, v, true); return; }
    }
    this.writeSlow(la, 2, v);
  }

  write32(la: number, v: number): void {
    const off = la & 0xfff;
    if (off <= 0xffc) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.wTag[k] === vpn) { this.wView[k]!.setInt32(off, v, true); return; }
    }
    this.writeSlow(la, 4, v);
  }

  write64(la: number, lo: number, hi: number): void {
    const off = la & 0xfff;
    if (off <= 0xff8) {
      const vpn = (la - off) / PAGE_SIZE;
      const k = vpn & TLB_MASK;
      if (this.wTag[k] === vpn) {
        const view = this.wView[k]!;
        view.setInt32(off, lo, true);
        view.setInt32(off + 4, hi, true);
        return;
      }
    }
    this.probeWrite(la, 8);
    this.write32(la, lo);
    this.write32(la + 4, hi);
  }

  /** Checks that `size` bytes at `la` can be written, faulting as the write would. */
  probeWrite(la: number, size: number): void {
    const off = la & 0xfff;
    if (off + size <= PAGE_SIZE) {
      const vpn = (la - off) / PAGE_SIZE;
      if (this.wTag[vpn & TLB_MASK] === vpn) return; // cached for writing: the write is allowed
      this.translate(la, Access.Write);
      return;
    }
    this.translate(la, Access.Write);
    this.translate(la - off + PAGE_SIZE, Access.Write);
  }

  /**
   * The RAM page holding `la`, translated for a Read or Write access (faulting
   * as that access would), for a bulk access that stays inside the page (REP
   * MOVS/STOS); undefined when the page is not RAM (MMIO, unbacked), where the
   * caller must go access by access. For a write, code decoded from the page
   * is invalidated first, exactly as on the write slow path, so the caller may
   * then write the returned page directly. Page offsets equal `la & 0xfff`.
   */
  hostPage(la: number, access: Access.Read | Access.Write): DataView | undefined {
    const write = access === Access.Write;
    const tags = write ? this.wTag : this.rTag;
    const views = write ? this.wView : this.rView;
    const vpn = (la - (la & 0xfff)) / PAGE_SIZE;
    const k = vpn & TLB_MASK;
    if (tags[k] === vpn) return views[k]!;
    const pa = this.translate(la, access);
    const ppn = Math.floor(pa / PAGE_SIZE);
    const page = this.phys.ramPage(ppn);
    if (!page) return undefined;
    if (write && this.phys.isCodePage(ppn)) {
      this.owner.exitBlock = true;
      this.phys.noteWrite(ppn);
    } else {
      this.fill(tags, views, la, page);
    }
    return page;
  }

  /** Physical address of an instruction fetch at `la`. */
  translateFetch(la: number): number {
    return this.translate(la, Access.Fetch);
  }

  /** Physical address of a fetch at `la`, or -1 where the fetch would fault (nothing else happens then). */
  probeFetch(la: number): number {
    return this.probe(la, Access.Fetch);
  }

  // ---- slow paths ----------------------------------------------------------

  private readSlow(la: number, size: number, access: Access): number {
    const off = la & 0xfff;
    if (off + size <= PAGE_SIZE) {
      const pa = this.translate(la, access);
      const ppn = Math.floor(pa / PAGE_SIZE);
      const page = this.phys.ramPage(ppn);
      if (page) {
        this.fill(this.rTag, this.rView, la, page);
        const po = pa - ppn * PAGE_SIZE;
        return size === 1 ? page.getUint8(po) : size === 2 ? page.getUint16(po, true) : page.getInt32(po, true);
      }
      return this.phys.readSized(pa, size);
    }
    // Crosses a page: both pages are translated before anything is read (a fault on the second reports its first byte).
    const pa0 = this.translate(la, access);
    const pa1 = this.translate(la - off + PAGE_SIZE, access);
    const first = PAGE_SIZE - off;
    let v = 0;
    for (let b = size - 1; b >= 0; b--) {
      v = v * 256 + this.phys.read8(b < first ? pa0 + b : pa1 + (b - first));
    }
    return size === 4 ? v | 0 : v;
  }

  private writeSlow(la: number, size: number, v: number): void {
    const off = la & 0xfff;
    if (off + size <= PAGE_SIZE) {
      const pa = this.translate(la, Access.Write);
      const ppn = Math.floor(pa / PAGE_SIZE);
      const page = this.phys.ramPage(ppn);
      if (page) {
        const po = pa - ppn * PAGE_SIZE;
        if (this.phys.isCodePage(ppn)) {
          this.owner.exitBlock = true;
          this.phys.noteWrite(ppn);
        } else {
          this.fill(this.wTag, this.wView, la, page);
        }
        if (size === 1) page.setUint8(po, v);
        else if (size === 2) page.setUint16(po, v, true);
        else page.setInt32(po, v, true);
        return;
      }
      this.phys.writeSized(pa, size, v);
      return;
    }
    const pa0 = this.translate(la, Access.Write);
    const pa1 = this.translate(la - off + PAGE_SIZE, Access.Write);
    const first = PAGE_SIZE - off;
    for (let b = 0; b < size; b++) {
      const pa = b < first ? pa0 + b : pa1 + (b - first);
      const ppn = Math.floor(pa / PAGE_SIZE);
      if (this.phys.isCodePage(ppn)) this.owner.exitBlock = true;
      this.phys.write8(pa, (v >>> (8 * b)) & 0xff);
    }
  }

  private fill(tag: Float64Array, views: (DataView | null)[], la: number, page: DataView): void {
    if (!this.canCache) return;
    const vpn = (la - (la & 0xfff)) / PAGE_SIZE;
    const k = vpn & TLB_MASK;
    tag[k] = vpn;
    views[k] = page;
    (tag === this.rTag ? this.rFilled : this.wFilled).add(k);
  }
}
