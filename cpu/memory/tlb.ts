/**
 * The translation lookaside buffer (SDM Vol. 3A §4.10.2): translations of
 * linear page numbers to page frames, tagged by PCID (§4.10.1), with the
 * access rights the walk produced (§4.10.2.2): R/W and U/S as the AND over
 * the paging-structure entries, XD as the OR (when EFER.NXE = 1), the
 * global flag, and whether the dirty flag was 1 (a write through an entry
 * without it walks again, so that D gets set in memory: §4.8).
 *
 * One direct-mapped array per page-size class, as processors keep separate
 * TLBs per page size: 4 KByte pages, the mode's large pages (2 MByte, or
 * 4 MByte under 32-bit paging) and 1 GByte pages. Keeping a large page as
 * one entry is what lets INVLPG of any address in it drop the whole page
 * (§4.10.4.1). The slot mixes the page number with the PCID, so address
 * spaces that use the same linear addresses keep their entries side by
 * side; global entries, which serve every PCID (§4.10.2.4), sit in the
 * PCID 000H slot. Direct mapping makes eviction, and so which stale
 * entries survive a page-table change, a pure function of the access
 * sequence.
 *
 * Linear addresses here are unsigned: 48-bit in IA-32e mode, 32-bit
 * otherwise.
 */
import { SlotLog } from './slotLog.ts';

/** Entry flags. */
export const TLB_W = 1, TLB_U = 2, TLB_XD = 4, TLB_G = 8, TLB_D = 16;
/**
 * Rights a second translation stage (EPT, physicalStage.ts) withholds from a
 * combined translation: an access needing one walks again, so that the
 * stage reports it (an EPT violation, not a page fault).
 */
export const TLB_STAGE_NO_READ = 32, TLB_STAGE_NO_WRITE = 64, TLB_STAGE_NO_FETCH = 128;

/** Page-size classes. */
const SMALL = 0, LARGE = 1, HUGE = 2;
const SLOTS = [4096, 256, 32];
const BASE = [0, 4096, 4096 + 256];
const TOTAL = 4096 + 256 + 32;
const TWO30 = 0x40000000;
/** Spreads PCIDs over the slots (an odd multiplier: a bijection on the slot bits). */
const PCID_SPREAD = 0x9e5;
/** Slots remembered for a cheap flushAll (slotLog.ts). */
const LOGGED = 64;
/** `used` bit beside the class bits (1 << class): some entry is global. */
const HAS_GLOBAL = 8;

export class Tlb {
  /** Page number at the entry's page size; NaN when empty. */
  private readonly tag = new Float64Array(TOTAL).fill(NaN);
  private readonly pcids = new Int32Array(TOTAL);
  readonly flags = new Uint8Array(TOTAL);
  /** Physical address of the page frame. */
  readonly frame = new Float64Array(TOTAL);
  /** Page size of each class: 4 KByte, the mode's large pages, 1 GByte. */
  private readonly sizes = [4096, 1 << 21, TWO30];
  /** Which classes may hold entries beyond the 4-KByte one, and whether any entry is global. */
  private used = 0;
  private readonly filled = new SlotLog(LOGGED);

  /** Sets the large-page size of the paging mode in use (log2: 21 or 22); entries of another size are dropped. */
  setLargeShift(shift: number): void {
    if (this.sizes[LARGE] === 2 ** shift) return;
    this.sizes[LARGE] = 2 ** shift;
    this.tag.fill(NaN, BASE[LARGE], BASE[HUGE]);
  }

  /** The slot translating `la` for `pcid` (its own entries and global ones), or -1. */
  find(la: number, pcid: number): number {
    const tag = this.tag, flags = this.flags;
    for (let cls = SMALL; cls <= HUGE; cls++) {
      if (cls !== SMALL && (this.used & (1 << cls)) === 0) continue;
      const vpn = this.pageNumber(cls, la);
      let k = this.slot(cls, vpn, pcid);
      if (tag[k] === vpn && (this.pcids[k] === pcid || (flags[k]! & TLB_G) !== 0)) return k;
      if (pcid !== 0 && (this.used & HAS_GLOBAL) !== 0) {
        k = this.slot(cls, vpn, 0);
        if (tag[k] === vpn && (flags[k]! & TLB_G) !== 0) return k;
      }
    }
    return -1;
  }

  /** Mask of the page-offset bits of slot k's page. */
  offsetMask(k: number): number {
    return this.sizes[k < BASE[LARGE]! ? SMALL : k < BASE[HUGE]! ? LARGE : HUGE]! - 1;
  }

  /** Caches a translation of the page of 2^shift bytes (12, the large shift, or 30) holding `la`; returns its slot. */
  insert(la: number, shift: number, pcid: number, frame: number, flags: number): number {
    const cls = shift === 12 ? SMALL : shift === 30 ? HUGE : LARGE;
    const vpn = this.pageNumber(cls, la);
    const global = (flags & TLB_G) !== 0;
    const k = this.slot(cls, vpn, global ? 0 : pcid);
    this.used |= (cls === SMALL ? 0 : 1 << cls) | (global ? HAS_GLOBAL : 0);
    this.tag[k] = vpn;
    this.filled.add(k);
    this.pcids[k] = pcid;
    this.frame[k] = frame;
    this.flags[k] = flags;
    return k;
  }

  /**
   * Drops the entries of every size for the page holding `la` that belong
   * to `pcid`, and, when `global`, the global ones whatever their PCID.
   */
  invalidatePage(la: number, pcid: number, global: boolean): void {
    for (let cls = SMALL; cls <= HUGE; cls++) {
      const vpn = this.pageNumber(cls, la);
      this.dropIf(this.slot(cls, vpn, pcid), vpn, pcid, global);
      if (pcid !== 0) this.dropIf(this.slot(cls, vpn, 0), vpn, pcid, global);
    }
  }

  /** Drops every entry of `pcid`, and the global ones (of any PCID) when `global`. */
  invalidatePcid(pcid: number, global: boolean): void {
    for (let k = 0; k < TOTAL; k++) {
      if (this.tag[k] !== this.tag[k]) continue; // NaN: empty
      if ((this.flags[k]! & TLB_G) !== 0 ? global : this.pcids[k] === pcid) this.tag[k] = NaN;
    }
  }

  /** Drops every non-global entry, of every PCID. */
  invalidateNonGlobal(): void {
    for (let k = 0; k < TOTAL; k++) if ((this.flags[k]! & TLB_G) === 0) this.tag[k] = NaN;
  }

  /** Drops everything, global entries included. */
  flushAll(): void {
    if (!this.filled.clearLogged(this.tag)) this.tag.fill(NaN);
    this.used = 0;
  }

  private pageNumber(cls: number, la: number): number {
    return cls === SMALL ? (la - (la & 0xfff)) / 4096 : Math.floor(la / this.sizes[cls]!);
  }

  private slot(cls: number, vpn: number, pcid: number): number {
    return BASE[cls]! + ((vpn ^ Math.imul(pcid, PCID_SPREAD)) & (SLOTS[cls]! - 1));
  }

  private dropIf(k: number, vpn: number, pcid: number, global: boolean): void {
    if (this.tag[k] !== vpn) return;
    if ((this.flags[k]! & TLB_G) !== 0 ? global : this.pcids[k] === pcid) this.tag[k] = NaN;
  }
}
