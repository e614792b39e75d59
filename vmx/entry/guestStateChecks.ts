/**
 * The checks on the guest-state area at VM entry, SDM Vol. 3C §27.3.1.1-
 * §27.3.1.5 (§26.3.1.x in older editions), in the SDM's order. They run
 * after the checks on controls and host state (§27.2) and the loads of
 * §27.3.1.6 (PDPTEs) and §27.3.2+ come after them. The first that fails
 * is a VM-entry failure: a VM exit with basic reason 33 "VM-entry failure
 * due to invalid guest state" and exit qualification 0; the failure names
 * the predicate for traces and logs.
 */
import { checkRunner } from './checkResult.ts';
import { GUEST_DESCRIPTOR_TABLE_CHECKS } from './guestDescriptorTableChecks.ts';
import { GUEST_NON_REGISTER_CHECKS } from './guestNonRegisterChecks.ts';
import { GUEST_REGISTER_CHECKS } from './guestRegisterChecks.ts';
import { GUEST_RIP_RFLAGS_CHECKS } from './guestRipRflagsChecks.ts';
import { GUEST_SEGMENT_CHECKS } from './guestSegmentChecks.ts';
import type { GuestCheck } from './guestCheckSupport.ts';

export { GUEST_STATE_EXIT_REASON, type GuestCheck, type GuestCheckContext } from './guestCheckSupport.ts';

export const GUEST_STATE_CHECKS: readonly GuestCheck[] = [
  ...GUEST_REGISTER_CHECKS,
  ...GUEST_SEGMENT_CHECKS,
  ...GUEST_DESCRIPTOR_TABLE_CHECKS,
  ...GUEST_RIP_RFLAGS_CHECKS,
  ...GUEST_NON_REGISTER_CHECKS,
];

/** The first guest-state check the VMCS fails, or null when all hold. */
export const checkGuestState = checkRunner(GUEST_STATE_CHECKS);
