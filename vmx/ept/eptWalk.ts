/**
 * The EPT page walk (SDM Vol. 3C §29.3.2 "EPT Translation Mechanism"):
 * guest-physical address bits 47:0 are translated through four levels of
 * 8-byte entries indexed by bits 47:39, 38:30, 29:21 and 20:12, rooted at
 * the EPT PML4 table the EPTP names. A PDPTE with bit 7 = 1 maps a 1-GByte
 * page, a PDE with bit 7 = 1 a 2-MByte page, when the processor supports
 * them (IA32_VMX_EPT_VPID_CAP bits 17, 16); without support bit 7 is
 * reserved. The EPTP's page-walk length is 4 (the only length the model
 * reports, bit 6 of the capability MSR; VM entry checks it).
 *
 * Outcomes (§29.3.3): an entry with bits 2:0 = 0 is not present and ends
 * the walk with an EPT violation. A present entry that is write-only or
 * write/execute, execute-only without support (capability bit 0), has a
 * reserved bit set, or maps a page with a reserved memory type (2, 3, 7) is
 * an EPT misconfiguration (§29.3.3.1). An EPT violation "may occur" only
 * when the translation has no misconfiguration (§29.3.3.2): a walk whose
 * rights deny the access goes on to the leaf, and a misconfiguration at a
 * lower level wins.
 *
 * Rights (§29.3.3.2): a read needs bit 0, a write bit 1, a fetch bit 2 in
 * every entry used. With EPT accessed and dirty flags enabled (EPTP bit 6),
 * accesses to guest paging-structure entries are treated as writes (§29.3.5),
 * for the rights, the exit qualification's access bits and the dirty flag.
 * Loads of the PAE PDPTE registers are the exception, treated as reads: the
 * caller passes `pagingStructure = false` for them.
 *
 * Accessed and dirty flags (§29.3.5): A (bit 8) in every entry used, D
 * (bit 9) in the entry that maps the page for a write. They are set once the
 * whole walk has succeeded and the access is allowed, so a walk that ends in
 * a violation or misconfiguration writes nothing (the SDM leaves open
 * whether upper-level A flags are set then; this model sets none,
 * deterministically, as cpu/memory/pagingAccessDirty.ts does for paging).
 *
 * Memory type (§29.3.7): the leaf's EPT memory type (bits 5:3) and its
 * ignore-PAT flag (bit 6) are returned for the caller to combine with PAT.
 *
 * One walker per core, reused: a walk allocates nothing.
 */
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { PAGE_SIZE } from '../../cpu/memory/physical.ts';
import {
  EPT_A, EPT_D, EPT_IPAT, EPT_MT_RESERVED, EPT_MT_SHIFT, EPT_PS, EPT_R, EPT_RSVD_1G, EPT_RSVD_2M, EPT_RSVD_TABLE,
  EPT_W, EPT_X, EPTP_AD,
} from './eptEntry.ts';

/** The kind of access, as bits 2:0 of the EPT-violation exit qualification (Table 28-7). */
export const enum EptAccess { Read = 1, Write = 2, Fetch = 4 }
export const enum EptOutcome { Ok = 0, Violation = 1, Misconfig = 2 }

/** The EPT capabilities of the model (IA32_VMX_EPT_VPID_CAP, Appendix A.10) and MAXPHYADDR. */
export interface EptCaps {
  /** Bit 0: entries with bits 2:0 = 100b (execute-only) are allowed. */
  executeOnly: boolean;
  /** Bit 16: EPT PDEs may map 2-MByte pages. */
  page2M: boolean;
  /** Bit 17: EPT PDPTEs may map 1-GByte pages. */
  page1G: boolean;
  /** Bit 21: accessed and dirty flags for EPT. */
  accessedDirty: boolean;
  /** MAXPHYADDR (CPUID.80000008H:EAX[7:0]), 36..52. */
  physAddrBits: number;
}

const TWO32 = 4294967296;

export class EptWalker {
  /** Address bits MAXPHYADDR-1:32 of an entry's high half. */
  private readonly addrHi: number;
  /** Reserved bits 51:MAXPHYADDR of an entry's high half. */
  private readonly rsvdHi: number;
  /** Physical address of the EPT PML4 table. */
  private root = 0;
  /** EPTP bit 6 with the capability: A/D flags are set, paging-structure accesses are writes. */
  private adEnabled = false;
  /** Physical addresses and low halves of the entries the walk used, PML4E first. */
  private readonly entryPa = new Float64Array(4);
  private readonly entryLo = new Int32Array(4);
  private n = 0;
  /** High half of the last entry read. */
  private hi = 0;

  /** The core the walker serves: told to end its decoded block when an A/D write hits a page holding code. */
  owner: { exitBlock: boolean } = { exitBlock: false };

  // ---- the result of the last walk ----
  /** Ok: the host-physical address of the guest-physical address. */
  hpa = 0;
  /** Ok: log2 of the page size (12, 21 or 30). */
  shift = 12;
  /** Ok and Violation: R=1, W=2, X=4 ANDed over the entries used; 0 after a not-present entry. */
  perms = 0;
  /** Ok: EPT memory type of the page (bits 5:3 of the leaf, §29.3.7). */
  memoryType = 0;
  /** Ok: the leaf's ignore-PAT flag (bit 6, §29.3.7). */
  ignorePat = false;
  /** The access as the exit qualification's bits 2:0 report it (Read|Write for a paging-structure access with A/D). */
  accessBits = 0;

  constructor(private readonly phys: PhysicalMemory, private readonly caps: EptCaps) {
    this.addrHi = (1 << (caps.physAddrBits - 32)) - 1;
    this.rsvdHi = 0xfffff & ~this.addrHi;
  }

  /** The EPTP (halves), as VM entry accepted it: the PML4 table address and bit 6 (A/D enable) are used. */
  setEptp(lo: number, hi: number): void {
    this.root = (hi & this.addrHi) * TWO32 + ((lo & 0xfffff000) >>> 0);
    this.adEnabled = (lo & EPTP_AD) !== 0 && this.caps.accessedDirty;
  }

  /**
   * Translates the guest-physical address `gpa` (< 2^52; bits 47:0 are used) for an access of kind
   * `access`; `pagingStructure`: the access is to a guest paging-structure entry. Sets the result fields.
   */
  walk(gpa: number, access: EptAccess, pagingStructure: boolean): EptOutcome {
    const asWrite = pagingStructure && this.adEnabled;
    const need = asWrite ? EPT_R | EPT_W : access;
    this.accessBits = need;
    this.n = 0;
    let perms = EPT_R | EPT_W | EPT_X;
    let table = this.root;
    for (let level = 4; ; level--) {
      const shift = 3 + 9 * level; // 39, 30, 21, 12
      const pa = table + (Math.floor(gpa / 2 ** shift) & 0x1ff) * 8;
      const lo = this.read(pa);
      const rwx = lo & 7;
      perms &= rwx;
      if (rwx === 0) {
        this.perms = 0;
        return EptOutcome.Violation;
      }
      if ((rwx & 3) === EPT_W || (rwx === EPT_X && !this.caps.executeOnly)) return EptOutcome.Misconfig;
      if ((this.hi & this.rsvdHi) !== 0) return EptOutcome.Misconfig;
      const base = (this.hi & this.addrHi) * TWO32;
      this.entryPa[this.n] = pa;
      this.entryLo[this.n++] = lo;
      if (level === 1 || (lo & EPT_PS) !== 0) {
        if (!this.leafAllowed(level, lo)) return EptOutcome.Misconfig;
        const pageMask = (1 << shift) - 1;
        this.hpa = base + ((lo & ~pageMask & 0xfffff000) >>> 0) + (gpa & pageMask);
        this.shift = shift;
        this.memoryType = (lo >>> EPT_MT_SHIFT) & 7;
        this.ignorePat = (lo & EPT_IPAT) !== 0;
        this.perms = perms;
        if ((perms & need) !== need) return EptOutcome.Violation;
        if (this.adEnabled) this.setAccessedDirty(asWrite || access === EptAccess.Write);
        return EptOutcome.Ok;
      }
      if ((lo & EPT_RSVD_TABLE) !== 0) return EptOutcome.Misconfig;
      table = base + ((lo & 0xfffff000) >>> 0);
    }
  }

  /**
   * Whether an entry that maps a page at `level` is well formed: the page
   * size is supported (bit 7 is reserved in a PML4E, and in a PDPTE/PDE
   * without 1-GByte/2-MByte pages), the bits between 12 and the page size
   * are 0 (Tables 29-2, 29-4), and the memory type is not reserved.
   */
  private leafAllowed(level: number, lo: number): boolean {
    if (level === 4 || (level === 3 && !this.caps.page1G) || (level === 2 && !this.caps.page2M)) return false;
    if ((lo & (level === 3 ? EPT_RSVD_1G : level === 2 ? EPT_RSVD_2M : 0)) !== 0) return false;
    return ((1 << ((lo >>> EPT_MT_SHIFT) & 7)) & EPT_MT_RESERVED) === 0;
  }

  /** Reads the 8-byte entry at `pa`: returns the low half, the high half into `hi`. Non-RAM reads all ones. */
  private read(pa: number): number {
    const ppn = Math.floor(pa / PAGE_SIZE);
    const page = this.phys.ramPage(ppn);
    if (page) {
      const off = pa - ppn * PAGE_SIZE;
      this.hi = page.getInt32(off + 4, true);
      return page.getInt32(off, true);
    }
    this.hi = this.phys.readSized(pa + 4, 4);
    return this.phys.readSized(pa, 4);
  }

  /** Sets A in each entry used, and D in the leaf when `dirty` (§29.3.5); flags already set are not written again. */
  private setAccessedDirty(dirty: boolean): void {
    const last = this.n - 1;
    for (let k = 0; k <= last; k++) {
      const want = k === last && dirty ? EPT_A | EPT_D : EPT_A;
      const lo = this.entryLo[k]!;
      if ((lo & want) !== want) this.writeLow(this.entryPa[k]!, lo | want);
    }
  }

  /** Writes the low half of an entry as any write to physical memory (a page holding code is invalidated). */
  private writeLow(pa: number, v: number): void {
    const ppn = Math.floor(pa / PAGE_SIZE);
    const page = this.phys.ramPage(ppn);
    if (!page) {
      this.phys.writeSized(pa, 4, v);
      return;
    }
    if (this.phys.isCodePage(ppn)) {
      this.owner.exitBlock = true;
      this.phys.noteWrite(ppn);
    }
    page.setInt32(pa - ppn * PAGE_SIZE, v, true);
  }
}
