/**
 * State shared by the paging-structure walkers (SDM Vol. 3A §4.3-§4.5):
 * the configuration the paging mode's control bits give them, the entries
 * they read (kept for the accessed/dirty updates of §4.8), and the
 * translation they produce. One per core, reused for every walk, so a walk
 * allocates nothing.
 *
 * A walker (paging32.ts, pagingPae.ts, paging4Level.ts) returns a
 * WalkStatus; on Ok, `frame`, `shift` and `flags` describe the page. It
 * neither sets accessed/dirty flags nor checks access rights: the caller
 * does both once the whole walk succeeded, so a faulting access leaves the
 * paging structures untouched.
 */
import { Access } from './access.ts';
import type { Mmu } from './mmu.ts';
import type { PhysicalStage } from './physicalStage.ts';
import { PAGE_SIZE } from './physical.ts';
import { TLB_D, TLB_G, TLB_U, TLB_W, TLB_XD } from './tlb.ts';

export const enum WalkStatus { Ok = 0, NotPresent = 1, Reserved = 2 }

export const TWO32 = 4294967296;

/** Paging-structure entry bits (§4.3-§4.5, Tables 4-4 to 4-20). */
export const PTE_P = 0x1, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

export class Walk {
  // ---- configuration, set when paging state changes (pagingUnit.ts) ----
  /** Physical address of the first paging structure (CR3's address bits). */
  root = 0;
  /** EFER.NXE: bit 63 is XD rather than reserved (PAE, IA-32e). */
  nxe = false;
  /** CR4.PSE: 4-MByte pages under 32-bit paging. */
  pse = false;
  /** CR4.PGE: the G flag of a leaf entry makes the translation global. */
  pge = false;
  /** 1-GByte pages (CPUID.80000001H:EDX.Page1GB). */
  page1gb = true;
  /** Address bits of an 8-byte entry's high half: bits MAXPHYADDR-1:32. */
  addrHi = 0;
  /** Reserved bits of an 8-byte entry's high half under IA-32e paging: 51:MAXPHYADDR, and 63 without NXE. */
  rsvdHi4 = 0;
  /** The same under PAE paging, where 62:MAXPHYADDR are all reserved. */
  rsvdHiPae = 0;
  /** Reserved bits of a 4-MByte PDE under 32-bit paging: 21, and 20:13 above the PSE-36 width. */
  rsvdPse = 0;
  /** PAE paging's PDPTE registers (§4.4.1): entry i as halves [2i], [2i+1]. */
  readonly pdpte = new Int32Array(8);
  /** A second stage (EPT) the entries' addresses go through, or null: they are then physical. */
  stage: PhysicalStage | null = null;
  /** Whether a refusal of the stage throws (translate) or ends the walk quietly (probe). */
  fault = true;
  /**
   * The linear address being translated, for the stage's reports; NaN
   * outside a walk, i.e. for the PAE PDPTE loads of MOV to CR0/CR3/CR4
   * (pagingPdpte.ts), which have none.
   */
  linear = NaN;
  /** The stage refused an entry in a quiet walk: the walk reports NotPresent and the caller gives up. */
  stageRefused = false;

  // ---- the walk ----
  /** Physical addresses and low halves of the entries used, top level first (with a stage: host-physical). */
  readonly entryPa = new Float64Array(4);
  /** With a stage: the entries' guest-physical addresses, for the stage's check of accessed/dirty writes. */
  readonly entryGpa = new Float64Array(4);
  /** Host-physical address of the entry last read. */
  private readPa = 0;
  readonly entryLo = new Int32Array(4);
  n = 0;
  /** High half of the last 8-byte entry read. */
  hi = 0;

  // ---- the result ----
  /** Physical address of the page. */
  frame = 0;
  /** log2 of the page size: 12, 21, 22 or 30. */
  shift = 12;
  /** TLB flags (tlb.ts): rights, G, and D as the leaf entry had it. */
  flags = 0;

  constructor(readonly mmu: Mmu) {}

  /** Configures the reserved-bit masks for MAXPHYADDR = `physBits` (§4.1.4) and EFER.NXE. */
  setWidths(physBits: number, nxe: boolean): void {
    this.nxe = nxe;
    const addrBitsHi = physBits - 32;
    this.addrHi = (1 << addrBitsHi) - 1;
    const xd = nxe ? 0 : 0x80000000;
    this.rsvdHi4 = (((1 << 20) - 1) & ~this.addrHi) | xd; // bits 51:M
    this.rsvdHiPae = (0x7fffffff & ~this.addrHi) | xd; // bits 62:M
    // PSE-36: bits 20:13 hold address bits 39:32, as many as MAXPHYADDR (limited to 40) allows (Table 4-4).
    const pse36Bits = Math.min(physBits, 40) - 32;
    this.rsvdPse = (1 << 21) | ((0xff & ~((1 << pse36Bits) - 1)) << 13);
  }

  /**
   * Reads the 4-byte entry, or the low half of the 8-byte entry, at `gpa`
   * (high half into `hi`): a physical address, or with a stage a
   * guest-physical one it translates first.
   */
  read(gpa: number, wide: boolean): number {
    let pa = gpa;
    if (this.stage !== null) {
      // A walk's read is an access to a guest paging-structure entry. A PDPTE load is a plain read: with EPT
      // A/D it is not treated as a write (SDM Vol. 3C §29.3.3.2), and its EPT violation has bit 7 = 0 (Table 28-7).
      pa = this.stage.translate(gpa, Access.Read, this.linear, this.linear === this.linear, this.fault);
      if (pa < 0) {
        this.stageRefused = true;
        return 0;
      }
    }
    this.readPa = pa;
    const phys = this.mmu.phys;
    const ppn = Math.floor(pa / PAGE_SIZE);
    const page = phys.ramPage(ppn);
    if (page) {
      const off = pa - ppn * PAGE_SIZE;
      if (wide) this.hi = page.getInt32(off + 4, true);
      return page.getInt32(off, true);
    }
    // Not RAM: MMIO or nothing (all ones, which sets reserved bits).
    if (wide) this.hi = phys.readSized(pa + 4, 4);
    return phys.readSized(pa, 4);
  }

  /**
   * Notes the entry just read at `pa` as used by the walk, and folds its
   * R/W, U/S and (with NXE) XD flags into `flags`.
   */
  use(pa: number, lo: number, hi: number): void {
    this.entryGpa[this.n] = pa;
    this.entryPa[this.n] = this.readPa;
    this.entryLo[this.n++] = lo;
    this.flags &= ~(TLB_W | TLB_U) | ((lo >>> 1) & (TLB_W | TLB_U));
    if (hi < 0 && this.nxe) this.flags |= TLB_XD;
  }

  /** Starts a walk: no entries, every right granted until an entry takes it away. */
  begin(): void {
    this.n = 0;
    this.stageRefused = false;
    this.flags = TLB_W | TLB_U;
  }

  /** Ends a walk at the leaf entry `lo` mapping a page of 2^shift bytes at `frame`. */
  leaf(lo: number, frame: number, shift: number): WalkStatus {
    this.frame = frame;
    this.shift = shift;
    if ((lo & PTE_G) !== 0 && this.pge) this.flags |= TLB_G;
    if ((lo & PTE_D) !== 0) this.flags |= TLB_D;
    return WalkStatus.Ok;
  }
}
