/**
 * INVEPT—Invalidate Translations Derived from EPT (SDM Vol. 3C ch. 31),
 * after the checks it shares with INVVPID (invalidation.ts). The
 * descriptor holds an EPTP in bits 63:0; bits 127:64 are "Reserved (must
 * be zero)" in the descriptor's figure, but the page's operation never
 * checks them, so they are ignored here.
 *
 *   1 single-context: VMfail(Invalid operand to INVEPT/INVVPID) when a VM
 *     entry with "enable EPT" = 1 would fail due to the EPTP value
 *     (eptpRules.ts); else the mappings associated with EPTP bits 51:12;
 *   2 global: the mappings associated with all EPTPs.
 *
 * Those are the guest-physical and combined mappings of §29.4.1, for all
 * VPIDs and PCIDs (§29.4.3.1): the core's guest-physical mappings of that
 * EPT root (vmx/ept/guestPhysicalTlb.ts) and the translation contexts with
 * it (every EPT root). Linear mappings, cached without EPT, are not derived
 * from EPT and stay.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { invalidateContexts } from '../../cpu/memory/paging.ts';
import { NO_EPT } from '../../cpu/memory/translationContexts.ts';
import { ALL_ROOTS, invalidateGuestPhysicalMappings } from '../ept/guestPhysicalTlb.ts';
import { eptRoot } from '../ept/eptEntry.ts';
import { vmSucceed } from './conventions.ts';
import { eptpValid } from '../entry/eptpRules.ts';
import { invalidOperand } from './invalidation.ts';
import type { VmxState } from './vmxState.ts';

export const enum InveptType { SingleContext = 1, Global = 2 }

/** The EPT root the current invalidation targets (set just before the synchronous invalidateContexts call). */
let target = 0;
const isTarget = (_vpid: number, root: number): boolean => root === target;
const hasEpt = (_vpid: number, root: number): boolean => root !== NO_EPT;

/**
 * INVEPT of a supported `type` (invalidationTypeOk passed) with descriptor
 * `d` (four 32-bit words, bits 31:0 first): the EPTP check, the
 * invalidation, VMsucceed.
 */
export function invept(s: VmxState, c: Cpu, type: InveptType, d: Int32Array): void {
  if (type === InveptType.Global) {
    invalidateContexts(c, hasEpt);
    invalidateGuestPhysicalMappings(c, ALL_ROOTS);
    return vmSucceed(c);
  }
  const lo = d[0]!, hi = d[1]!;
  if (!eptpValid(s.model, c.model.physAddrBits, lo, hi)) return invalidOperand(s, c);
  target = eptRoot(lo, hi);
  invalidateContexts(c, isTarget);
  invalidateGuestPhysicalMappings(c, target);
  vmSucceed(c);
}
