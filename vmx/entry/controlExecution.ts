/**
 * VM-entry checks on the VM-execution control fields, in the order of SDM
 * Vol. 3C §27.2.1.1 "VM-Execution Control Fields" (§26.2.1.1 in older
 * editions). Each bullet of the SDM is one named predicate (several when a
 * bullet lists several conditions), so a failed entry can say which rule
 * the VMCS broke; the guest only sees VMfailValid(7).
 *
 * No separate checks for controls the model never reports allowed-1,
 * which the reserved-bit checks therefore reject first: tertiary controls
 * (primary bit 17), "sub-page write permissions for EPT" (secondary bit 23,
 * not listed in controls.ts) and the Intel PT controls. A 5-level EPT walk
 * is accepted only with EPT_VPID_CAP bit 7, which the model never sets.
 */
import { VMX_MSR } from '../model/vmxModel.ts';
import { VM_FUNCTIONS } from '../model/capabilityBits.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import {
  addressChecks, bit, exitControls, pinControls, primaryControls, reservedBitsOk, secondaryControls,
  type ControlCheck,
} from './controlFields.ts';
import { eptpAccessedDirtyOk, eptpMemoryTypeOk, eptpReservedBitsOk, eptpWalkLengthOk } from './eptpRules.ts';
import { SLOT, hi, lo } from './vmcsView.ts';

const SECTION = '§27.2.1.1 VM-Execution Control Fields';

const EXTERNAL_INTERRUPT_EXITING = bit('pin', 'externalInterruptExiting');
const NMI_EXITING = bit('pin', 'nmiExiting');
const VIRTUAL_NMIS = bit('pin', 'virtualNmis');
const PROCESS_POSTED_INTERRUPTS = bit('pin', 'processPostedInterrupts');
const USE_TPR_SHADOW = bit('proc', 'useTprShadow');
const NMI_WINDOW_EXITING = bit('proc', 'nmiWindowExiting');
const USE_IO_BITMAPS = bit('proc', 'useIoBitmaps');
const USE_MSR_BITMAPS = bit('proc', 'useMsrBitmaps');
const VIRTUALIZE_APIC_ACCESSES = bit('proc2', 'virtualizeApicAccesses');
const ENABLE_EPT = bit('proc2', 'enableEpt');
const VIRTUALIZE_X2APIC_MODE = bit('proc2', 'virtualizeX2apicMode');
const ENABLE_VPID = bit('proc2', 'enableVpid');
const UNRESTRICTED_GUEST = bit('proc2', 'unrestrictedGuest');
const APIC_REGISTER_VIRTUALIZATION = bit('proc2', 'apicRegisterVirtualization');
const VIRTUAL_INTERRUPT_DELIVERY = bit('proc2', 'virtualInterruptDelivery');
const ENABLE_VM_FUNCTIONS = bit('proc2', 'enableVmFunctions');
const VMCS_SHADOWING = bit('proc2', 'vmcsShadowing');
const ENABLE_PML = bit('proc2', 'enablePml');
const EPT_VIOLATION_VE = bit('proc2', 'eptViolationVe');
const MODE_BASED_EXECUTE = bit('proc2', 'modeBasedExecuteControl');
const ACKNOWLEDGE_INTERRUPT_ON_EXIT = bit('exit', 'acknowledgeInterruptOnExit');
const EPTP_SWITCHING = 1 << VM_FUNCTIONS.eptpSwitching;

const pinHas = (v: VmcsImage, b: number): boolean => (pinControls(v) & b) !== 0;
const primaryHas = (v: VmcsImage, b: number): boolean => (primaryControls(v) & b) !== 0;
const secondaryHas = (v: VmcsImage, b: number): boolean => (secondaryControls(v) & b) !== 0;
/** "If X is 1, Y must be 1". */
const implies = (x: boolean, y: boolean): boolean => !x || y;

const eptEnabled = (v: VmcsImage): boolean => secondaryHas(v, ENABLE_EPT);
const vmFunctionsEnabled = (v: VmcsImage): boolean => secondaryHas(v, ENABLE_VM_FUNCTIONS);
const eptpSwitching = (v: VmcsImage): boolean =>
  vmFunctionsEnabled(v) && (lo(v, SLOT.vmFunctionControls) & EPTP_SWITCHING) !== 0;
const tprShadowWithoutVid = (v: VmcsImage): boolean =>
  primaryHas(v, USE_TPR_SHADOW) && !secondaryHas(v, VIRTUAL_INTERRUPT_DELIVERY);

export const EXECUTION_CONTROL_CHECKS: readonly ControlCheck[] = [
  // Reserved bits of the three control words (Appendix A.3); the secondary
  // controls only when activated.
  { name: 'pinBasedReservedBits', section: SECTION, holds: (v, m) => reservedBitsOk(pinControls(v), m, 'pin') },
  { name: 'primaryReservedBits', section: SECTION, holds: (v, m) => reservedBitsOk(primaryControls(v), m, 'proc') },
  { name: 'secondaryReservedBits', section: SECTION, holds: (v, m) => reservedBitsOk(secondaryControls(v), m, 'proc2') },
  // "The CR3-target count must not be greater than" the count IA32_VMX_MISC reports (4 on today's processors).
  { name: 'cr3TargetCount', section: SECTION, holds: (v, m) => lo(v, SLOT.cr3TargetCount) <= m.features.cr3TargetCount },
  ...addressChecks('ioBitmapAAddress', SECTION, SLOT.ioBitmapAAddress, (v) => primaryHas(v, USE_IO_BITMAPS)),
  ...addressChecks('ioBitmapBAddress', SECTION, SLOT.ioBitmapBAddress, (v) => primaryHas(v, USE_IO_BITMAPS)),
  ...addressChecks('msrBitmapsAddress', SECTION, SLOT.msrBitmapsAddress, (v) => primaryHas(v, USE_MSR_BITMAPS)),
  ...addressChecks('virtualApicAddress', SECTION, SLOT.virtualApicAddress, (v) => primaryHas(v, USE_TPR_SHADOW)),
  // With virtual-interrupt delivery the threshold is unused and may hold anything.
  {
    name: 'tprThresholdBits31To4', section: SECTION,
    holds: (v) => !tprShadowWithoutVid(v) || lo(v, SLOT.tprThreshold) >>> 4 === 0,
  },
  // "bits 3:0 of the TPR threshold ... should not be greater than bits 7:4 of VTPR", checked only
  // when neither "virtualize APIC accesses" nor "virtual-interrupt delivery" is 1.
  {
    name: 'tprThresholdNotAboveVtpr', section: SECTION,
    holds: (v, _m, ctx) => !tprShadowWithoutVid(v) || secondaryHas(v, VIRTUALIZE_APIC_ACCESSES) ||
      (lo(v, SLOT.tprThreshold) & 0xf) <= ((ctx.readVtpr(lo(v, SLOT.virtualApicAddress), hi(v, SLOT.virtualApicAddress)) >>> 4) & 0xf),
  },
  { name: 'virtualNmisNeedNmiExiting', section: SECTION, holds: (v) => implies(pinHas(v, VIRTUAL_NMIS), pinHas(v, NMI_EXITING)) },
  {
    name: 'nmiWindowExitingNeedsVirtualNmis', section: SECTION,
    holds: (v) => implies(primaryHas(v, NMI_WINDOW_EXITING), pinHas(v, VIRTUAL_NMIS)),
  },
  ...addressChecks('apicAccessAddress', SECTION, SLOT.apicAccessAddress, (v) => secondaryHas(v, VIRTUALIZE_APIC_ACCESSES)),
  // "If the 'use TPR shadow' VM-execution control is 0, the following VM-execution controls must
  // also be 0: 'virtualize x2APIC mode', 'APIC-register virtualization', and 'virtual-interrupt delivery'."
  {
    name: 'apicVirtualizationNeedsTprShadow', section: SECTION,
    holds: (v) => primaryHas(v, USE_TPR_SHADOW) ||
      (secondaryControls(v) & (VIRTUALIZE_X2APIC_MODE | APIC_REGISTER_VIRTUALIZATION | VIRTUAL_INTERRUPT_DELIVERY)) === 0,
  },
  {
    name: 'x2apicModeExcludesApicAccesses', section: SECTION,
    holds: (v) => !(secondaryHas(v, VIRTUALIZE_X2APIC_MODE) && secondaryHas(v, VIRTUALIZE_APIC_ACCESSES)),
  },
  {
    name: 'virtualInterruptDeliveryNeedsExternalInterruptExiting', section: SECTION,
    holds: (v) => implies(secondaryHas(v, VIRTUAL_INTERRUPT_DELIVERY), pinHas(v, EXTERNAL_INTERRUPT_EXITING)),
  },
  // "If the 'process posted interrupts' VM-execution control is 1, the following must be true": five rules.
  {
    name: 'postedInterruptsNeedVirtualInterruptDelivery', section: SECTION,
    holds: (v) => implies(pinHas(v, PROCESS_POSTED_INTERRUPTS), secondaryHas(v, VIRTUAL_INTERRUPT_DELIVERY)),
  },
  {
    name: 'postedInterruptsNeedAcknowledgeInterruptOnExit', section: SECTION,
    holds: (v) => implies(pinHas(v, PROCESS_POSTED_INTERRUPTS), (exitControls(v) & ACKNOWLEDGE_INTERRUPT_ON_EXIT) !== 0),
  },
  {
    name: 'postedInterruptNotificationVectorBits15To8', section: SECTION,
    holds: (v) => !pinHas(v, PROCESS_POSTED_INTERRUPTS) || (lo(v, SLOT.postedInterruptNotificationVector) & 0xff00) === 0,
  },
  ...addressChecks('postedInterruptDescriptorAddress', SECTION, SLOT.postedInterruptDescriptorAddress,
    (v) => pinHas(v, PROCESS_POSTED_INTERRUPTS), 64),
  { name: 'vpidNonZero', section: SECTION, holds: (v) => !secondaryHas(v, ENABLE_VPID) || (lo(v, SLOT.vpid) & 0xffff) !== 0 },
  // "If the 'enable EPT' VM-execution control is 1, the EPTP VM-execution control field must satisfy":
  // The rules of eptpRules.ts, one check each.
  { name: 'eptpMemoryType', section: SECTION, holds: (v, m) => !eptEnabled(v) || eptpMemoryTypeOk(m, lo(v, SLOT.eptp)) },
  { name: 'eptpPageWalkLength', section: SECTION, holds: (v, m) => !eptEnabled(v) || eptpWalkLengthOk(m, lo(v, SLOT.eptp)) },
  { name: 'eptpAccessedDirty', section: SECTION, holds: (v, m) => !eptEnabled(v) || eptpAccessedDirtyOk(m, lo(v, SLOT.eptp)) },
  {
    name: 'eptpReservedBits', section: SECTION,
    holds: (v, _m, ctx) => !eptEnabled(v) || eptpReservedBitsOk(lo(v, SLOT.eptp), hi(v, SLOT.eptp), ctx.physAddrBits),
  },
  { name: 'pmlNeedsEpt', section: SECTION, holds: (v) => implies(secondaryHas(v, ENABLE_PML), eptEnabled(v)) },
  ...addressChecks('pmlAddress', SECTION, SLOT.pmlAddress, (v) => secondaryHas(v, ENABLE_PML)),
  { name: 'unrestrictedGuestNeedsEpt', section: SECTION, holds: (v) => implies(secondaryHas(v, UNRESTRICTED_GUEST), eptEnabled(v)) },
  {
    name: 'modeBasedExecuteControlNeedsEpt', section: SECTION,
    holds: (v) => implies(secondaryHas(v, MODE_BASED_EXECUTE), eptEnabled(v)),
  },
  // "If the 'enable VM functions' processor-based VM-execution control is 1, reserved bits in the
  // VM-function controls must be clear" (reserved: the bits IA32_VMX_VMFUNC reports 0, Appendix A.11).
  {
    name: 'vmFunctionControlsReservedBits', section: SECTION,
    holds: (v, m) => {
      if (!vmFunctionsEnabled(v)) return true;
      const allowed = m.read(VMX_MSR.VMFUNC);
      return (lo(v, SLOT.vmFunctionControls) & ~(allowed?.lo ?? 0)) === 0 &&
        (hi(v, SLOT.vmFunctionControls) & ~(allowed?.hi ?? 0)) === 0;
    },
  },
  { name: 'eptpSwitchingNeedsEpt', section: SECTION, holds: (v) => implies(eptpSwitching(v), eptEnabled(v)) },
  ...addressChecks('eptpListAddress', SECTION, SLOT.eptpListAddress, eptpSwitching),
  ...addressChecks('vmreadBitmapAddress', SECTION, SLOT.vmreadBitmapAddress, (v) => secondaryHas(v, VMCS_SHADOWING)),
  ...addressChecks('vmwriteBitmapAddress', SECTION, SLOT.vmwriteBitmapAddress, (v) => secondaryHas(v, VMCS_SHADOWING)),
  ...addressChecks('virtualizationExceptionInformationAddress', SECTION, SLOT.virtualizationExceptionInformationAddress,
    (v) => secondaryHas(v, EPT_VIOLATION_VE)),
];
