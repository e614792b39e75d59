/**
 * Guest-physical mappings (SDM Vol. 3C §29.4.1 "Information That May Be
 * Cached"): translations of guest-physical pages to host-physical frames
 * that a walk of the EPT paging structures produced, with the rights
 * (bits 2:0 ANDed over the entries used) and the leaf's EPT memory type and
 * ignore-PAT flag, tagged by the EPT root they were derived from (EPTP bits
 * 51:12, the "EP4TA" of §29.4.2). The EPT stage (vmx/transition/eptStage.ts)
 * looks here before it walks.
 *
 * Only INVEPT invalidates them (§29.4.3.1): single-context those of one
 * EPT root, all-context those of every root. VM entries and exits (VPID
 * 0000H or not), INVVPID, MOV to CR3, INVLPG and INVPCID invalidate linear
 * and combined mappings only, and need not touch these (§29.4.3.2). So an
 * EPT entry changed without INVEPT may be used stale (§29.4.3.4), by the
 * combined mappings rebuilt from these too. An EPT violation invalidates
 * the mappings that would translate its guest-physical address (§29.4.3.1):
 * the stage drops them.
 *
 * Each root's mappings are one direct-mapped array of 4-KByte guest pages:
 * a large EPT page is cached one 4-KByte part at a time, as processors may
 * cache a larger page's translation as smaller pages (Vol. 3A §4.10.2.3);
 * each entry keeps the size of the EPT page, for the combined mappings
 * built on it (§29.4.2). A core keeps the mappings of at most MAX_ROOTS
 * roots; another root takes the place of the oldest, in round-robin order.
 * Direct mapping and round-robin make which mappings survive a pure
 * function of the sequence of accesses, as for the TLB (cpu/memory/tlb.ts):
 * deterministic, and bounded.
 */
import type { Cpu } from '../../cpu/cpu.ts';

// Entry flags: bits 2:0 are R/W/X (EPT_R/W/X of eptEntry.ts) ANDed over the EPT entries used.
/** The walk that filled the entry had EPT accessed and dirty flags enabled: it set A in every entry it used. */
export const GP_ACCESSED = 8;
/** ... and D in the leaf (a write, or a guest paging-structure access treated as one, §29.3.5). */
export const GP_DIRTY = 16;
/** The leaf's ignore-PAT flag (§29.3.7). */
export const GP_IGNORE_PAT = 32;

/** Slots of one root's array: a power of 2. */
export const GP_SLOTS = 1024;
/** Roots whose mappings a core keeps. */
export const MAX_ROOTS = 8;
/** The `root` of invalidate() that names every root (INVEPT all-context). */
export const ALL_ROOTS = -1;

export class GuestPhysicalTlb {
  /** Guest-physical 4-KByte page number; NaN when empty. */
  private readonly tag = new Float64Array(GP_SLOTS).fill(NaN);
  /** Host-physical address of the 4-KByte page. */
  readonly frame = new Float64Array(GP_SLOTS);
  readonly flags = new Uint8Array(GP_SLOTS);
  /** log2 of the size of the EPT page the 4-KByte page is part of: 12, 21 or 30. */
  readonly shift = new Uint8Array(GP_SLOTS);
  /** EPT memory type of that page (bits 5:3 of its leaf, §29.3.7). */
  readonly memoryType = new Uint8Array(GP_SLOTS);

  /** The slot caching the page of `gpa`, or -1. */
  find(gpa: number): number {
    const page = (gpa - (gpa & 0xfff)) / 4096;
    const k = page & (GP_SLOTS - 1);
    return this.tag[k] === page ? k : -1;
  }

  /** Caches the translation of the page of `gpa` to host frame `frame` (4-KByte aligned), replacing what its slot held; returns the slot. */
  insert(gpa: number, frame: number, shift: number, flags: number, memoryType: number): number {
    const page = (gpa - (gpa & 0xfff)) / 4096;
    const k = page & (GP_SLOTS - 1);
    this.tag[k] = page;
    this.frame[k] = frame;
    this.shift[k] = shift;
    this.flags[k] = flags;
    this.memoryType[k] = memoryType;
    return k;
  }

  /** Drops the mapping of the page of `gpa`, if cached. */
  drop(gpa: number): void {
    const k = this.find(gpa);
    if (k >= 0) this.tag[k] = NaN;
  }

  flush(): void {
    this.tag.fill(NaN);
  }
}

/** One core's guest-physical mappings, by EPT root. */
export class GuestPhysicalMappings {
  private readonly roots: number[] = [];
  private readonly tlbs: GuestPhysicalTlb[] = [];
  private next = 0;

  /** The mappings of `root` (EPTP bits 51:12), made (empty) if there are none. */
  select(root: number): GuestPhysicalTlb {
    for (let k = 0; k < this.tlbs.length; k++) if (this.roots[k] === root) return this.tlbs[k]!;
    if (this.tlbs.length < MAX_ROOTS) {
      this.roots.push(root);
      this.tlbs.push(new GuestPhysicalTlb());
      return this.tlbs[this.tlbs.length - 1]!;
    }
    const k = this.next;
    this.next = (k + 1) % MAX_ROOTS;
    this.roots[k] = root;
    this.tlbs[k]!.flush();
    return this.tlbs[k]!;
  }

  /** Drops the mappings of `root`, or of every root with ALL_ROOTS. */
  invalidate(root: number): void {
    for (let k = 0; k < this.tlbs.length; k++) if (root === ALL_ROOTS || this.roots[k] === root) this.tlbs[k]!.flush();
  }
}

/** Each core's mappings (cached by a logical processor), made on first use. */
const perCore = new WeakMap<Cpu, GuestPhysicalMappings>();

export function guestPhysicalMappings(c: Cpu): GuestPhysicalMappings {
  let m = perCore.get(c);
  if (!m) perCore.set(c, (m = new GuestPhysicalMappings()));
  return m;
}

/** INVEPT's invalidation of guest-physical mappings (§29.4.3.1): those of EPT root `root`, or ALL_ROOTS. */
export function invalidateGuestPhysicalMappings(c: Cpu, root: number): void {
  guestPhysicalMappings(c).invalidate(root);
}
