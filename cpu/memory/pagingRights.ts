/**
 * Access rights (SDM Vol. 3A §4.6.1) and the page-fault error code (§4.7).
 *
 * A translation's rights are the TLB flags (tlb.ts): W = R/W is 1 in every
 * paging-structure entry, U = U/S is 1 in every entry (a user-mode
 * address), XD = some entry has XD = 1 while EFER.NXE = 1. The context says
 * who accesses: bits of `Ctx` computed from CPL, CR0.WP, CR4.SMEP/SMAP and
 * RFLAGS.AC, plus whether the access is an implicit supervisor-mode access
 * (descriptor tables, IDT, TSS: supervisor-mode whatever the CPL).
 */
import { Access } from './access.ts';
import { TLB_U, TLB_W, TLB_XD } from './tlb.ts';

/** Who is accessing. */
export const enum Ctx {
  /** CPL = 3: a user-mode access unless Implicit. */
  User = 1,
  WP = 2,
  SMEP = 4,
  SMAP = 8,
  /** An explicit supervisor-mode access (CPL < 3) with RFLAGS.AC = 1: SMAP does not apply. */
  AcOverride = 16,
  /** An implicit supervisor-mode access (whatever the CPL). */
  Implicit = 32,
}

/** Whether the context makes user-mode accesses: CPL = 3 and not implicit. */
export function userMode(ctx: number): boolean {
  return (ctx & (Ctx.User | Ctx.Implicit)) === Ctx.User;
}

/** Page-fault error-code bits (§4.7). */
export const enum Pfec { P = 1, W = 2, U = 4, RSVD = 8, ID = 16 }

/** Whether rights `r` allow `access` in context `ctx` (§4.6.1). */
export function allowed(r: number, access: Access, ctx: number): boolean {
  if (userMode(ctx)) {
    // User-mode accesses reach user-mode addresses only; writes need R/W, fetches XD = 0.
    if ((r & TLB_U) === 0) return false;
    if (access === Access.Write) return (r & TLB_W) !== 0;
    return access !== Access.Fetch || (r & TLB_XD) === 0;
  }
  if (access === Access.Fetch) {
    // Supervisor fetches: XD applies; from user-mode addresses only while CR4.SMEP = 0.
    return (r & TLB_XD) === 0 && ((r & TLB_U) === 0 || (ctx & Ctx.SMEP) === 0);
  }
  // Supervisor data: with CR4.SMAP = 1, user-mode addresses only to explicit accesses with AC = 1.
  if ((r & TLB_U) !== 0 && (ctx & (Ctx.SMAP | Ctx.AcOverride)) === Ctx.SMAP) return false;
  // Writes to read-only translations only while CR0.WP = 0.
  return access !== Access.Write || (r & TLB_W) !== 0 || (ctx & Ctx.WP) === 0;
}

/**
 * Whether a translation that `allowed` may sit in the MMU's host-view
 * cache: its fast path re-checks nothing, so only translations whose
 * decision cannot change without a pagingStateChanged call qualify. RFLAGS.AC
 * can change without one (POPF), so a supervisor access to a user-mode page
 * under SMAP is never cached; implicit accesses are never cached either (the
 * cache serves the CPL's own accesses).
 */
export function cacheable(r: number, ctx: number): boolean {
  if (ctx & Ctx.Implicit) return false;
  return userMode(ctx) || (r & TLB_U) === 0 || (ctx & Ctx.SMAP) === 0;
}

/**
 * The error code of a page fault (§4.7) for `access` in context `ctx`;
 * `cause` is 0 for a not-present entry, Pfec.P for an access-rights
 * violation, Pfec.P | Pfec.RSVD for a reserved bit. I/D is set for fetches
 * only when CR4.SMEP = 1 or (CR4.PAE = 1 and EFER.NXE = 1): `idFlag`.
 */
export function errorCode(cause: number, access: Access, ctx: number, idFlag: boolean): number {
  let e = cause;
  if (access === Access.Write) e |= Pfec.W;
  if (userMode(ctx)) e |= Pfec.U;
  if (access === Access.Fetch && idFlag) e |= Pfec.ID;
  return e;
}
