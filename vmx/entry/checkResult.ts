/**
 * The shape of the VM-entry checks (STYLE.md: each check a named predicate
 * in SDM order; a failed entry says which one failed) and the one runner
 * every list of them shares.
 */
import type { VmxModel } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';

/** A VM-entry check that failed: which predicate, in which SDM section (for traces and logs). */
export interface EntryCheckFailure { readonly check: string; readonly section: string; }
/** Context a check may need beyond the VMCS and the model. */
export interface EntryCheckContext { readonly physAddrBits: number; readonly hostInIa32eMode: boolean; }

/** One named VM-entry check: `holds` is true when the VMCS passes it. */
export interface EntryCheck<C extends EntryCheckContext = EntryCheckContext> {
  readonly name: string;
  readonly section: string;
  readonly holds: (v: VmcsImage, m: VmxModel, ctx: C) => boolean;
}

export type EntryCheckRunner<C extends EntryCheckContext> = (v: VmcsImage, m: VmxModel, ctx: C) => EntryCheckFailure | null;

/**
 * A runner for `checks`: the first check the VMCS fails, in order, or null.
 * Failure records are made once, so a failed entry allocates nothing.
 */
export function checkRunner<C extends EntryCheckContext>(checks: readonly EntryCheck<C>[]): EntryCheckRunner<C> {
  const failures = checks.map((c) => Object.freeze({ check: c.name, section: c.section }));
  return (v, m, ctx) => {
    for (let k = 0; k < checks.length; k++) {
      if (!checks[k]!.holds(v, m, ctx)) return failures[k]!;
    }
    return null;
  };
}
