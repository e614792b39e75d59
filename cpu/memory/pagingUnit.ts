/**
 * One core's paging unit (SDM Vol. 3A ch. 4): the paging mode and access
 * context derived from CR0/CR3/CR4/EFER/CPL, the PCID-tagged TLB, the PDPTE
 * registers, and `translate`, which the MMU calls on every access its
 * host-view cache does not serve: TLB lookup, else a walk; then the
 * access-rights check; a page fault throws #PF and sets CR2 (when it is
 * delivered, in VMX non-root operation).
 *
 * The flushes the SDM prescribes are in paging.ts; this file only keeps the
 * state they act on.
 */
import type { Cpu } from '../cpu.ts';
import { CpuException, Vector } from '../exceptions.ts';
import { AC } from '../flags.ts';
import { Access } from './access.ts';
import type { Translate } from './mmu.ts';
import { walk32 } from './paging32.ts';
import { walk4Level } from './paging4Level.ts';
import { setAccessedDirty } from './pagingAccessDirty.ts';
import { walkPae } from './pagingPae.ts';
import { allowed, cacheable, Ctx, errorCode, Pfec } from './pagingRights.ts';
import { Walk, WalkStatus } from './pagingWalk.ts';
import type { PhysicalStage } from './physicalStage.ts';
import { type Tlb, TLB_D, TLB_STAGE_NO_FETCH, TLB_STAGE_NO_READ, TLB_STAGE_NO_WRITE, TLB_U, TLB_W } from './tlb.ts';
import { NO_EPT, TranslationContexts } from './translationContexts.ts';

export const enum PagingMode { Off = 0, Bits32 = 1, Pae = 2, Level4 = 3 }

export const CR0_PE = 0x1, CR0_WP = 0x10000, CR0_NW = 0x20000000, CR0_CD = 0x40000000, CR0_PG = 0x80000000;
export const CR4_PSE = 0x10, CR4_PAE = 0x20, CR4_PGE = 0x80, CR4_PCIDE = 0x20000, CR4_SMEP = 0x100000, CR4_SMAP = 0x200000;
export const EFER_LMA = 0x400, EFER_NXE = 0x800;

const TWO48 = 2 ** 48;
/** The stage right each access needs, by Access. */
const STAGE_DENIAL = [TLB_STAGE_NO_READ, TLB_STAGE_NO_WRITE, TLB_STAGE_NO_FETCH];

/** The paging mode CR0, CR4 and EFER select (§4.1.1, Table 4-1). */
export function pagingMode(cr0: number, cr4: number, efer: number): PagingMode {
  if ((cr0 & CR0_PG) === 0) return PagingMode.Off;
  if ((cr4 & CR4_PAE) === 0) return PagingMode.Bits32;
  return (efer & EFER_LMA) === 0 ? PagingMode.Pae : PagingMode.Level4;
}

export class PagingUnit {
  /** The TLBs of the translation contexts (VPID, EPT root); `tlb` is the current one's. */
  readonly contexts = new TranslationContexts();
  tlb: Tlb = this.contexts.select(0, NO_EPT);
  /** The second translation stage (EPT) in use, or null: paging's addresses are then physical. */
  stage: PhysicalStage | null = null;
  readonly walk: Walk;
  mode: PagingMode = PagingMode.Off;
  /** Access context (pagingRights.ts) without AcOverride, which follows RFLAGS.AC at each access. */
  ctx = 0;
  /** The current PCID (§4.10.1): CR3 bits 11:0 with CR4.PCIDE = 1, else 000H. */
  pcid = 0;
  /** Implicit supervisor-mode accesses in progress (paging.ts: implicitSupervisor). */
  implicit = false;
  /** The I/D error-code bit applies: CR4.SMEP = 1, or CR4.PAE = 1 with EFER.NXE = 1 (§4.7). */
  private idFlag = false;
  /** CR0, CR4 and EFER as last configured: the "before" of the next change. */
  cr0 = 0x60000010;
  cr4 = 0;
  efer = 0;
  /** Translation for the MMU: faults with #PF. */
  readonly translate: Translate;
  /** The same without side effects on failure: -1 instead of a fault. */
  readonly probe: Translate;

  constructor(readonly c: Cpu) {
    this.walk = new Walk(c.mmu);
    this.translate = (la, access) => this.lookup(la, access, true);
    this.probe = (la, access) => this.lookup(la, access, false);
  }

  /** Takes the mode, walk configuration and access context from the core's registers. */
  configure(): void {
    const c = this.c, w = this.walk;
    this.cr0 = c.cr0;
    this.cr4 = c.cr4;
    this.efer = c.efer;
    this.mode = pagingMode(c.cr0, c.cr4, c.efer);
    const nxe = (c.efer & EFER_NXE) !== 0 && this.mode !== PagingMode.Bits32;
    w.setWidths(c.model.physAddrBits, nxe);
    w.pse = (c.cr4 & CR4_PSE) !== 0;
    w.pge = (c.cr4 & CR4_PGE) !== 0;
    w.page1gb = c.model.has('page1gb');
    this.tlb.setLargeShift(this.mode === PagingMode.Bits32 ? 22 : 21);
    this.setRoot();
    this.idFlag = (c.cr4 & CR4_SMEP) !== 0 || nxe;
    let ctx = 0;
    if (this.implicit) ctx |= Ctx.Implicit;
    if (c.cpl === 3) ctx |= Ctx.User;
    if (c.cr0 & CR0_WP) ctx |= Ctx.WP;
    if (c.cr4 & CR4_SMEP) ctx |= Ctx.SMEP;
    if (c.cr4 & CR4_SMAP) ctx |= Ctx.SMAP;
    this.ctx = ctx;
  }

  /** Takes the first paging structure's address and the PCID from CR3 (after MOV to CR3). */
  setRoot(): void {
    const cr3 = this.c.cr3;
    this.pcid = (this.cr4 & CR4_PCIDE) !== 0 ? cr3 & 0xfff : 0;
    // 32-bit paging: bits 31:12; IA-32e: bits MAXPHYADDR-1:12 (reserved bits above are checked at MOV to CR3).
    this.walk.root = this.mode === PagingMode.Bits32 ? (cr3 & 0xfffff000) >>> 0 : cr3 - (cr3 % 4096);
  }

  /** Physical address for `access` at `la`; on a page fault, throws #PF (`fault`) or returns -1. */
  private lookup(la: number, access: Access, fault: boolean): number {
    const c = this.c, tlb = this.tlb;
    // IA-32e linear addresses are kept sign-extended; the TLB and walker index bits 47:0.
    const l = la < 0 ? la + TWO48 : la;
    let ctx = this.ctx;
    if ((ctx & (Ctx.User | Ctx.Implicit)) === 0 && (c.eflags & AC) !== 0) ctx |= Ctx.AcOverride;
    let k = tlb.find(l, this.pcid);
    if (k >= 0) {
      // The cached rights decide, stale or not (a page fault then drops the entry).
      if (!allowed(tlb.flags[k]!, access, ctx)) return this.fail(la, access, ctx, Pfec.P, fault);
      // A write through an entry cached with D = 0 walks again, so that D gets set in memory (§4.8);
      // so does an access the second stage withheld, so that the stage reports it.
      if ((access === Access.Write && (tlb.flags[k]! & TLB_D) === 0) || (tlb.flags[k]! & STAGE_DENIAL[access]!) !== 0) k = -1;
    }
    if (k < 0) {
      let frame = l - (l % 2 ** 30), shift = 30, flags = TLB_W | TLB_U;
      if (this.mode !== PagingMode.Off) {
        // (Paging off reaches here only under a second stage: one 1-GByte guest "page" with every right.)
        const w = this.walk;
        w.linear = la;
        w.fault = fault;
        try {
          const status = this.mode === PagingMode.Level4 ? walk4Level(w, l) : this.mode === PagingMode.Pae ? walkPae(w, l) : walk32(w, l);
          if (w.stageRefused) return -1;
          if (status !== WalkStatus.Ok) return this.fail(la, access, ctx, status === WalkStatus.NotPresent ? 0 : Pfec.P | Pfec.RSVD, fault);
          if (!allowed(w.flags, access, ctx)) return this.fail(la, access, ctx, Pfec.P, fault);
          if (!setAccessedDirty(w, access === Access.Write)) return -1;
        } finally {
          // Outside a walk the walker's reads are PDPTE loads (pagingWalk.ts `linear`), which always fault.
          w.linear = NaN;
          w.fault = true;
        }
        frame = w.frame;
        shift = w.shift;
        flags = w.flags;
      }
      if (this.stage !== null) {
        const stage = this.stage;
        const hpa = stage.translate(frame + (l % 2 ** shift), access, la, false, fault);
        if (hpa < 0) return -1;
        shift = this.combinedShift(shift, stage.shift);
        frame = hpa - (l % 2 ** shift);
        // Without D, a later write walks again and the stage sees it (EPT dirty flags).
        flags = (flags | stage.denied) & ~TLB_D;
      }
      k = tlb.insert(l, shift, this.pcid, frame, access === Access.Write ? flags | TLB_D : flags);
    }
    c.mmu.canCache = cacheable(tlb.flags[k]!, ctx);
    return tlb.frame[k]! + (l & tlb.offsetMask(k));
  }

  /**
   * The page size of a combined translation (§29.4.2): the smaller of the
   * two stages', as one of the TLB's sizes (4K, the mode's large size, 1G).
   */
  private combinedShift(guest: number, stage: number): number {
    const s = Math.min(guest, stage);
    return s === 30 || s === (this.mode === PagingMode.Bits32 ? 22 : 21) ? s : 12;
  }

  /**
   * A page fault (§4.7): it invalidates the TLB entries for the page (§4.10.4.1,
   * "page faults"), so that re-executing the instruction walks the paging
   * structures in memory again; CR2 receives the linear address. In VMX
   * non-root operation the #PF may cause a VM exit instead, which leaves CR2
   * as it was (SDM Vol. 3C §28.1): there its delivery writes CR2
   * (system/doubleFault.ts), from c.faultPayload.
   */
  private fail(la: number, access: Access, ctx: number, cause: number, fault: boolean): number {
    if (!fault) return -1;
    const c = this.c;
    this.tlb.invalidatePage(la < 0 ? la + TWO48 : la, this.pcid, true);
    c.mmu.flushAll();
    c.flushJumpCache();
    c.faultPayload = la;
    if (!c.nonRoot) c.cr2 = la;
    throw new CpuException(Vector.PF, errorCode(cause, access, ctx, this.idFlag));
  }
}
