/**
 * The paging unit's entry points, called by the system-architecture code
 * whenever state that affects translation changes (SDM Vol. 3A ch. 4):
 * CR0.PG/WP, CR4 paging bits, EFER.LMA/NXE, CPL, CR3, the invalidation
 * instructions, and implicit supervisor-mode accesses. Each does the TLB
 * invalidations §4.10.4.1 prescribes, no more, and drops what the MMU's
 * host-view cache and the core's jump cache derived from translations.
 *
 * RFLAGS.AC needs no call: the host-view cache never holds a translation
 * whose check depends on it (pagingRights.ts, `cacheable`).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { Access } from './access.ts';
import { IDENTITY } from './mmu.ts';
import { readPdptes } from './pagingPdpte.ts';
import type { PhysicalStage } from './physicalStage.ts';
import { Ctx } from './pagingRights.ts';
import {
  CR0_CD, CR0_NW, CR0_PG, CR0_WP, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_PSE, CR4_SMAP, CR4_SMEP,
  EFER_LMA, EFER_NXE, PagingMode, pagingMode, PagingUnit,
} from './pagingUnit.ts';

const EFER_LME = 0x100;
const TWO32 = 4294967296, TWO48 = 2 ** 48;
/** CR0/CR4/EFER bits on which translations or their rights depend. */
const CR0_PAGING = CR0_PG | CR0_WP | CR0_CD | CR0_NW;
const CR4_PAGING = CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCIDE | CR4_SMEP | CR4_SMAP;
const EFER_PAGING = EFER_LMA | EFER_NXE;
/** A MOV to CR0/CR4 changing these reloads the PDPTEs under PAE paging (§4.4.1). */
const CR0_PDPTE = CR0_PG | CR0_CD | CR0_NW, CR4_PDPTE = CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP;
const scratch = new Int32Array(8);

/** The core's paging unit, created on first use. */
export function pagingUnit(c: Cpu): PagingUnit {
  return (c.mmu.paging ??= new PagingUnit(c));
}

/**
 * After a write to CR0, CR4 or EFER, or a CPL change (the new values are in
 * place). A MOV to CR0/CR4 must call checkPdptes first, before it changes
 * anything, for its #GP.
 */
export function pagingStateChanged(c: Cpu): void {
  const u = pagingUnit(c), tlb = u.tlb;
  const oldCr0 = u.cr0, oldCr4 = u.cr4, oldEfer = u.efer, oldMode = u.mode, oldCtx = u.ctx;
  const cr0 = c.cr0, cr4 = c.cr4;
  // §4.10.4.1 "MOV to CR0", "MOV to CR4".
  if ((oldCr0 & ~cr0 & CR0_PG) !== 0 || ((oldCr4 ^ cr4) & CR4_PGE) !== 0 || (oldCr4 & ~cr4 & CR4_PCIDE) !== 0) {
    tlb.flushAll();
  } else if (((oldCr4 ^ cr4) & CR4_PAE) !== 0 || (cr4 & ~oldCr4 & CR4_SMEP) !== 0) {
    tlb.invalidatePcid(u.pcid, true);
  }
  u.configure();
  if (u.mode === PagingMode.Pae && (((oldCr0 ^ cr0) & CR0_PDPTE) !== 0 || ((oldCr4 ^ cr4) & CR4_PDPTE) !== 0)) {
    readPdptes(u.walk, c.cr3, c.model.physAddrBits, u.walk.pdpte);
  }
  installTranslation(c, u);
  const off = u.mode === PagingMode.Off;
  const crChanged = ((oldCr0 ^ cr0) & CR0_PAGING) !== 0 || ((oldCr4 ^ cr4) & CR4_PAGING) !== 0 ||
    ((oldEfer ^ c.efer) & EFER_PAGING) !== 0;
  if (u.mode !== oldMode || (!off && (crChanged || (u.ctx !== oldCtx && !onlyWidens(oldCtx, u.ctx))))) {
    c.mmu.flushAll();
    c.flushJumpCache();
  }
}

/**
 * Leaving user mode with CR4.SMEP = CR4.SMAP = 0 only widens rights: any
 * access a user-mode access may make, a supervisor-mode one may too
 * (§4.6.1), so what was cached for CPL 3 stays valid.
 */
function onlyWidens(oldCtx: number, ctx: number): boolean {
  return oldCtx === (ctx | Ctx.User) && (ctx & (Ctx.User | Ctx.SMEP | Ctx.SMAP | Ctx.Implicit)) === 0;
}

/**
 * For MOV to CR0/CR4, before the write: if PAE paging would be in use with
 * the new values and the write changes a bit that reloads the PDPTEs
 * (§4.4.1), a present PDPTE with a reserved bit set raises #GP(0). EFER.LMA
 * is taken as it will be: EFER.LME and the new CR0.PG (§9.8.5).
 */
export function checkPdptes(c: Cpu, cr0: number, cr4: number): void {
  const lma = (c.efer & EFER_LME) !== 0 && (cr0 & CR0_PG) !== 0;
  if (pagingMode(cr0, cr4, lma ? c.efer | EFER_LMA : c.efer & ~EFER_LMA) !== PagingMode.Pae) return;
  if (((c.cr0 ^ cr0) & CR0_PDPTE) === 0 && ((c.cr4 ^ cr4) & CR4_PDPTE) === 0) return;
  if (!readPdptes(pagingUnit(c).walk, c.cr3, c.model.physAddrBits, scratch)) fault(Vector.GP, 0);
}

/**
 * MOV to CR3 (SDM Vol. 2B MOV—Move to/from Control Registers; Vol. 3A
 * §4.10.4.1), the source as halves. In IA-32e mode bits 63:MAXPHYADDR are
 * reserved (#GP(0)), except that with CR4.PCIDE = 1 bit 63 says "do not
 * invalidate" and is not written to CR3; outside IA-32e mode CR3 is 32 bits.
 * Under PAE paging the PDPTEs are loaded, #GP(0) if one is invalid. Then
 * the non-global TLB entries of the new PCID (000H without PCIDE) go.
 */
export function writeCr3(c: Cpu, lo: number, hi: number): void {
  const u = pagingUnit(c);
  const noFlush = (c.cr4 & CR4_PCIDE) !== 0 && hi < 0;
  let h = noFlush ? hi & 0x7fffffff : hi;
  if ((c.efer & EFER_LMA) !== 0) {
    if ((h & ~((1 << (c.model.physAddrBits - 32)) - 1)) !== 0) fault(Vector.GP, 0);
  } else {
    h = 0;
  }
  if (pagingMode(c.cr0, c.cr4, c.efer) === PagingMode.Pae) {
    if (!readPdptes(u.walk, lo, c.model.physAddrBits, scratch)) fault(Vector.GP, 0);
    u.walk.pdpte.set(scratch);
  }
  c.cr3 = h * TWO32 + (lo >>> 0);
  u.setRoot();
  if (!noFlush) u.tlb.invalidatePcid(u.pcid, false);
  c.mmu.flushAll();
  c.flushJumpCache();
}

/**
 * INVLPG (§4.10.4.1): the current PCID's entries for the page holding `la`
 * (whatever its size), and global entries for it whatever their PCID.
 */
export function invalidatePage(c: Cpu, la: number): void {
  const u = pagingUnit(c);
  u.tlb.invalidatePage(la < 0 ? la + TWO48 : la, u.pcid, true);
  c.mmu.flushAll();
  c.flushJumpCache();
}

/** INVPCID types (SDM Vol. 2B INVPCID; Vol. 3A §4.10.4.1). */
export const enum InvpcidType { Address = 0, Context = 1, AllGlobal = 2, AllNonGlobal = 3 }

/**
 * INVPCID's invalidation, operands already checked: type 0 the non-global
 * mappings of `pcid` for the page of `la`; type 1 all non-global mappings
 * of `pcid`; type 2 everything, global entries included; type 3 all
 * non-global mappings of every PCID.
 */
export function invalidatePcid(c: Cpu, type: InvpcidType, pcid: number, la: number): void {
  const tlb = pagingUnit(c).tlb;
  switch (type) {
    case InvpcidType.Address: tlb.invalidatePage(la < 0 ? la + TWO48 : la, pcid, false); break;
    case InvpcidType.Context: tlb.invalidatePcid(pcid, false); break;
    case InvpcidType.AllGlobal: tlb.flushAll(); break;
    default: tlb.invalidateNonGlobal(); break;
  }
  c.mmu.flushAll();
  c.flushJumpCache();
}

/**
 * Brackets implicit supervisor-mode accesses (§4.6.1): descriptor-table,
 * IDT and TSS accesses go through the MMU as supervisor-mode accesses
 * whatever the CPL, never exempt from SMAP by RFLAGS.AC. Call with true
 * before them and false after, also when they fault (try/finally); the
 * #PF error code then has U/S = 0. Not nestable.
 */
export function implicitSupervisor(c: Cpu, on: boolean): void {
  const u = pagingUnit(c);
  if (u.implicit === on) return;
  u.implicit = on;
  u.ctx = on ? u.ctx | Ctx.Implicit : u.ctx & ~Ctx.Implicit;
  // At CPL 3 the host-view cache holds user-mode pages, which SMAP forbids to implicit accesses.
  // Leaving needs nothing: implicit accesses fill no host view (pagingRights.ts, `cacheable`).
  if (on && (u.ctx & (Ctx.User | Ctx.SMAP)) === (Ctx.User | Ctx.SMAP) && u.mode !== PagingMode.Off) c.mmu.flushAll();
}

/** Translates `la` for a test or the probe, as an access of `access` would, without faulting: -1 if it would. */
export function probeTranslation(c: Cpu, la: number, access: Access = Access.Read): number {
  return c.mmu.probe(la, access);
}

/**
 * The MMU's translation: the paging unit's, or the identity when paging is
 * off and no second stage (EPT) translates guest-physical addresses.
 */
function installTranslation(c: Cpu, u: PagingUnit): void {
  const identity = u.mode === PagingMode.Off && u.stage === null;
  c.mmu.translate = identity ? IDENTITY : u.translate;
  c.mmu.probe = identity ? IDENTITY : u.probe;
  if (identity) c.mmu.canCache = true;
}

/**
 * A VMX transition's switch of address space (SDM Vol. 3C §27.3.2, §28.5,
 * §29.4): translations now belong to context (vpid, eptRoot), through
 * `stage` (EPT) or none, and CR0, CR3, CR4 and EFER were replaced
 * wholesale; the paging unit takes them all. Which cached translations the
 * transition invalidates is the caller's (invalidateContexts).
 */
export function enterTranslationContext(c: Cpu, vpid: number, eptRoot: number, stage: PhysicalStage | null): void {
  const u = pagingUnit(c);
  u.tlb = u.contexts.select(vpid, eptRoot);
  u.stage = stage;
  u.walk.stage = stage;
  u.configure();
  installTranslation(c, u);
  c.mmu.flushAll();
  c.flushJumpCache();
}

/**
 * Drops the cached translations of every context (VPID, EPT root) `match`
 * accepts (INVVPID, INVEPT, and the VPID-0000H flushes of VM entries and
 * exits, §29.4.3), all of them or, with `keepGlobal`, all but the global
 * ones (INVVPID type 3). INVVPID type 0 may use it too: the SDM lets it
 * invalidate more than the one address.
 */
export function invalidateContexts(c: Cpu, match: (vpid: number, eptRoot: number) => boolean, keepGlobal = false): void {
  pagingUnit(c).contexts.each(match, (tlb) => (keepGlobal ? tlb.invalidateNonGlobal() : tlb.flushAll()));
  c.mmu.flushAll();
  c.flushJumpCache();
}

/**
 * The PDPTE registers of PAE paging (§4.4.1) as four pairs of halves: VM
 * entry loads them from, and VM exit saves them to, the VMCS's guest PDPTE
 * fields when EPT is in use (SDM Vol. 3C §27.3.2.4, §28.3.4).
 */
export function pdpteRegisters(c: Cpu): Int32Array {
  return pagingUnit(c).walk.pdpte;
}

/**
 * Loads the four PDPTEs for `cr3` into the walker as VM entry does under
 * PAE paging without EPT (§27.3.1.6): false, with nothing changed, when a
 * present one sets a reserved bit.
 */
export function loadPdptes(c: Cpu, cr3: number): boolean {
  if (!readPdptes(pagingUnit(c).walk, cr3, c.model.physAddrBits, scratch)) return false;
  pagingUnit(c).walk.pdpte.set(scratch);
  return true;
}
