/**
 * INVVPID—Invalidate Translations Based on VPID (SDM Vol. 3C ch. 31), after
 * the checks it shares with INVEPT (invalidation.ts). The descriptor: VPID
 * in bits 15:0, bits 63:16 reserved (must be 0, for every type), a linear
 * address in bits 127:64. Each failing check is VMfail(Invalid operand to
 * INVEPT/INVVPID):
 *
 *   0 individual-address: VPID 0, or a non-canonical linear address; else
 *     the mappings for that address tagged with the VPID;
 *   1 single-context: VPID 0; else every mapping tagged with the VPID;
 *   2 all-context: every mapping tagged with any VPID but 0000H;
 *   3 single-context retaining globals: VPID 0; else as 1 but for global
 *     translations.
 *
 * "Mappings" are the linear and combined mappings of §29.4.1, for all PCIDs
 * and, for combined ones, all EPT roots (§29.4.3.1): the translation
 * contexts of that VPID. Type 0 drops the whole VPID's contexts, which the
 * SDM allows ("it may invalidate mappings for other linear addresses (or
 * other VPIDs) as well").
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { isCanonical } from '../../cpu/memory/canonical.ts';
import { invalidateContexts } from '../../cpu/memory/paging.ts';
import { vmSucceed } from './conventions.ts';
import { invalidOperand } from './invalidation.ts';
import type { VmxState } from './vmxState.ts';

export const enum InvvpidType { IndividualAddress = 0, SingleContext = 1, AllContext = 2, SingleContextRetainingGlobals = 3 }

const TWO32 = 4294967296;

/** The VPID the current invalidation targets (set just before the synchronous invalidateContexts call). */
let target = 0;
const isTarget = (vpid: number): boolean => vpid === target;
const isNotVpidZero = (vpid: number): boolean => vpid !== 0;

/**
 * INVVPID of a supported `type` (invalidationTypeOk passed) with
 * descriptor `d` (four 32-bit words, bits 31:0 first): the descriptor
 * checks, the invalidation, VMsucceed.
 */
export function invvpid(s: VmxState, c: Cpu, type: InvvpidType, d: Int32Array): void {
  if (d[0]! >>> 16 !== 0 || d[1] !== 0) return invalidOperand(s, c);
  const vpid = d[0]! & 0xffff;
  if (type === InvvpidType.AllContext) {
    invalidateContexts(c, isNotVpidZero);
    return vmSucceed(c);
  }
  if (vpid === 0) return invalidOperand(s, c);
  if (type === InvvpidType.IndividualAddress && !isCanonical(d[3]! * TWO32 + (d[2]! >>> 0))) return invalidOperand(s, c);
  target = vpid;
  invalidateContexts(c, isTarget, type === InvvpidType.SingleContextRetainingGlobals);
  vmSucceed(c);
}
