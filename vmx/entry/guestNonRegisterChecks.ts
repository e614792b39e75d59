/**
 * SDM Vol. 3C §27.3.1.5 "Checks on Guest Non-Register State" (§26.3.1.5
 * in older editions), in the SDM's order: activity state, interruptibility
 * state, pending debug exceptions, VMCS link pointer.
 *
 * The model is never in SMM, so "blocking by SMI" must be 0, and the rules
 * for "entry to SMM" = 1 are left out (§27.2.1.3 fails that control
 * outside SMM first). With no SGX and no RTM, interruptibility bit 4
 * (enclave interruption) and pending-debug bit 16 (RTM) count as reserved.
 * The SDM lets a processor require "blocking by STI" 0 when injecting an
 * NMI; the model does not.
 */
import { controlMask } from '../model/controls.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { aligned, addressWithinWidth, pinControls, secondaryControls } from './controlFields.ts';
import {
  arDpl, injectedType, injectedVector, INTERRUPTION_EXTERNAL, INTERRUPTION_HARDWARE_EXCEPTION,
  INTERRUPTION_NMI, INTERRUPTION_OTHER, RFLAGS_IF, RFLAGS_TF, rflags, type GuestCheck,
} from './guestCheckSupport.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.3.1.5 Checks on Guest Non-Register State';

/** Activity states (§25.4.2 Table 25-3). */
const ACTIVE = 0, HLT = 1, SHUTDOWN = 2, WAIT_FOR_SIPI = 3;
/** IA32_VMX_MISC bit 5 + n: activity state n (1-3) is supported (Appendix A.6). */
const MISC_ACTIVITY_STATE_BASE = 5;
/** Interruptibility state (§25.4.2 Table 25-3): bits 0-3; bit 4 (enclave interruption) and 31:5 reserved here. */
const BLOCKING_STI = 1, BLOCKING_MOV_SS = 2, BLOCKING_SMI = 4, BLOCKING_NMI = 8;
const INTERRUPTIBILITY_RESERVED = ~0xf;
/** Pending debug exceptions (§25.4.2 Table 25-4): B3-B0 (3:0), enabled breakpoint (12), BS (14); the rest reserved here. */
const PENDING_DEBUG_DEFINED = 0x500f;
const PENDING_DEBUG_BS = 1 << 14;
/** IA32_DEBUGCTL.BTF (bit 1). */
const DEBUGCTL_BTF = 2;
const VIRTUAL_NMIS = controlMask('pin', ['virtualNmis']);
const VMCS_SHADOWING = controlMask('proc2', ['vmcsShadowing']);

const activity = (v: VmcsImage): number => lo(v, SLOT.guestActivityState);
const blocking = (v: VmcsImage, mask: number): boolean => (lo(v, SLOT.guestInterruptibilityState) & mask) !== 0;
const injecting = (v: VmcsImage, type: number): boolean => injectedType(v) === type;

/** The event VM entry injects may be delivered in the activity state the guest enters (none, or active: any). */
function injectionFitsActivityState(v: VmcsImage): boolean {
  const type = injectedType(v), state = activity(v);
  if (type < 0 || state === ACTIVE) return true;
  const vector = injectedVector(v);
  const machineCheck = type === INTERRUPTION_HARDWARE_EXCEPTION && vector === 18;
  if (state === HLT) {
    // External interrupts, NMIs, #DB, #MC, and the pending MTF VM exit (other event, vector 0).
    return type === INTERRUPTION_EXTERNAL || type === INTERRUPTION_NMI || machineCheck ||
      (type === INTERRUPTION_HARDWARE_EXCEPTION && vector === 1) || (type === INTERRUPTION_OTHER && vector === 0);
  }
  if (state === SHUTDOWN) return type === INTERRUPTION_NMI || machineCheck;
  return false; // wait-for-SIPI: no event may be injected
}

/** Pending BS flag rules apply with blocking by STI or MOV SS, or in the HLT state. */
const bsRuleApplies = (v: VmcsImage): boolean => blocking(v, BLOCKING_STI | BLOCKING_MOV_SS) || activity(v) === HLT;
/** TF = 1 and IA32_DEBUGCTL.BTF = 0: a single-step trap is pending. */
const singleStepping = (v: VmcsImage): boolean => rflags(v, RFLAGS_TF) && (lo(v, SLOT.guestIa32Debugctl) & DEBUGCTL_BTF) === 0;
const pendingBs = (v: VmcsImage): boolean => (lo(v, SLOT.guestPendingDebugExceptions) & PENDING_DEBUG_BS) !== 0;

/** The VMCS link pointer is in use: not FFFFFFFF_FFFFFFFFH. */
const linkInUse = (v: VmcsImage): boolean => (lo(v, SLOT.vmcsLinkPointer) & hi(v, SLOT.vmcsLinkPointer)) !== -1;

export const GUEST_NON_REGISTER_CHECKS: readonly GuestCheck[] = [
  // Activity state.
  { name: 'guestActivityStateDefined', section: SECTION, holds: (v) => activity(v) <= WAIT_FOR_SIPI },
  {
    name: 'guestActivityStateSupported', section: SECTION,
    holds: (v, m) => activity(v) === ACTIVE || (((m.read(VMX_MSR.MISC)?.lo ?? 0) >>> (MISC_ACTIVITY_STATE_BASE + activity(v))) & 1) !== 0,
  },
  { name: 'guestHltRequiresSsDplZero', section: SECTION, holds: (v) => activity(v) !== HLT || arDpl(lo(v, SLOT.guestSsAccessRights)) === 0 },
  {
    name: 'guestActiveWhenBlockingByStiOrMovSs', section: SECTION,
    holds: (v) => activity(v) === ACTIVE || !blocking(v, BLOCKING_STI | BLOCKING_MOV_SS),
  },
  { name: 'guestInjectionFitsActivityState', section: SECTION, holds: injectionFitsActivityState },
  // Interruptibility state.
  {
    name: 'guestInterruptibilityReservedBits', section: SECTION,
    holds: (v) => (lo(v, SLOT.guestInterruptibilityState) & INTERRUPTIBILITY_RESERVED) === 0,
  },
  { name: 'guestNotBlockingByStiAndMovSs', section: SECTION, holds: (v) => !blocking(v, BLOCKING_STI) || !blocking(v, BLOCKING_MOV_SS) },
  { name: 'guestBlockingByStiRequiresIf', section: SECTION, holds: (v) => !blocking(v, BLOCKING_STI) || rflags(v, RFLAGS_IF) },
  {
    name: 'guestExternalInterruptInjectionUnblocked', section: SECTION,
    holds: (v) => !injecting(v, INTERRUPTION_EXTERNAL) || !blocking(v, BLOCKING_STI | BLOCKING_MOV_SS),
  },
  { name: 'guestNmiInjectionNoBlockingByMovSs', section: SECTION, holds: (v) => !injecting(v, INTERRUPTION_NMI) || !blocking(v, BLOCKING_MOV_SS) },
  { name: 'guestNoBlockingBySmiOutsideSmm', section: SECTION, holds: (v) => !blocking(v, BLOCKING_SMI) },
  {
    name: 'guestVirtualNmiInjectionNoBlockingByNmi', section: SECTION,
    holds: (v) => (pinControls(v) & VIRTUAL_NMIS) === 0 || !injecting(v, INTERRUPTION_NMI) || !blocking(v, BLOCKING_NMI),
  },
  // Pending debug exceptions.
  {
    name: 'guestPendingDebugReservedBits', section: SECTION,
    holds: (v) => (lo(v, SLOT.guestPendingDebugExceptions) & ~PENDING_DEBUG_DEFINED) === 0 && hi(v, SLOT.guestPendingDebugExceptions) === 0,
  },
  { name: 'guestPendingBsSetWhenSingleStepping', section: SECTION, holds: (v) => !bsRuleApplies(v) || !singleStepping(v) || pendingBs(v) },
  { name: 'guestPendingBsClearWhenNotSingleStepping', section: SECTION, holds: (v) => !bsRuleApplies(v) || singleStepping(v) || !pendingBs(v) },
  // VMCS link pointer.
  { name: 'vmcsLinkPointerAligned', section: SECTION, holds: (v) => !linkInUse(v) || aligned(v, SLOT.vmcsLinkPointer, 4096) },
  {
    name: 'vmcsLinkPointerWithinWidth', section: SECTION,
    holds: (v, _m, ctx) => !linkInUse(v) || addressWithinWidth(v, SLOT.vmcsLinkPointer, ctx),
  },
  {
    name: 'vmcsLinkPointerRevisionId', section: SECTION,
    holds: (v, m, ctx) => !linkInUse(v) ||
      (ctx.readLinkRevision(lo(v, SLOT.vmcsLinkPointer), hi(v, SLOT.vmcsLinkPointer)) & 0x7fffffff) === m.features.vmcsRevisionId,
  },
  {
    // Bit 31 of the linked VMCS (shadow-VMCS indicator) must equal "VMCS shadowing".
    name: 'vmcsLinkPointerShadowIndicator', section: SECTION,
    holds: (v, _m, ctx) => !linkInUse(v) ||
      (ctx.readLinkRevision(lo(v, SLOT.vmcsLinkPointer), hi(v, SLOT.vmcsLinkPointer)) >>> 31 === 1) ===
      ((secondaryControls(v) & VMCS_SHADOWING) !== 0),
  },
  {
    // "If the processor is not in SMM ..., the field must not contain the current VMCS pointer" (never in SMM here).
    name: 'vmcsLinkPointerNotCurrentVmcs', section: SECTION,
    holds: (v, _m, ctx) => !linkInUse(v) || hi(v, SLOT.vmcsLinkPointer) * 2 ** 32 + lo(v, SLOT.vmcsLinkPointer) !== ctx.currentVmcs,
  },
];
