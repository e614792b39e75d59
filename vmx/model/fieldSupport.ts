/**
 * Which VMCS fields a model has (SDM Vol. 3C Appendix B: "This field
 * exists only on processors that support the 1-setting of ..."), from the
 * `feature` column of vmx/vmcs/fields.ts and the model's switches. VMREAD
 * and VMWRITE of a field the model lacks fail with VMfailValid(12) like an
 * encoding no processor has (their pages: "source operand does not
 * correspond to any VMCS field"), and IA32_VMX_VMCS_ENUM reports the
 * highest index among the fields the model has (Appendix A.9).
 *
 * The rules read VmxFeatures, not a VmxModel, because the model needs the
 * VMCS_ENUM index when it is built (vmcsEnumIndex below).
 */
import type { VmxFeatures } from './vmxModel.ts';
import type { ControlGroup, ControlKey } from './controls.ts';
import { FieldType } from '../vmcs/encoding.ts';
import { VMCS_FIELDS, vmcsEnumHighestIndex, type VmcsFeature, type VmcsField } from '../vmcs/fields.ts';

const has = <G extends ControlGroup>(f: VmxFeatures, group: G, key: ControlKey<G>): boolean =>
  (f.controls[group] as readonly string[]).includes(key);

/**
 * Each feature's condition. The guest IA32_PAT/IA32_EFER fields exist with
 * "load X" on VM entry or "save X" on VM exit, the host ones with "load X"
 * on VM exit; guest IA32_PERF_GLOBAL_CTRL with the VM-entry "load" control,
 * the host one with the VM-exit "load" control (Appendix B.2.3, B.2.4).
 */
const EXISTS: Readonly<Record<VmcsFeature, (f: VmxFeatures, field: VmcsField) => boolean>> = {
  none: () => true,
  vpid: (f) => has(f, 'proc2', 'enableVpid'),
  ept: (f) => has(f, 'proc2', 'enableEpt'),
  eptViolationVe: (f) => has(f, 'proc2', 'eptViolationVe'),
  eptpSwitching: (f) => f.vmFunctions.includes('eptpSwitching'),
  vmfunc: (f) => has(f, 'proc2', 'enableVmFunctions'),
  pml: (f) => has(f, 'proc2', 'enablePml'),
  postedInterrupts: (f) => has(f, 'pin', 'processPostedInterrupts'),
  virtualInterruptDelivery: (f) => has(f, 'proc2', 'virtualInterruptDelivery'),
  apicVirtualization: (f) => has(f, 'proc2', 'virtualizeApicAccesses'),
  tprShadow: (f) => has(f, 'proc', 'useTprShadow'),
  useMsrBitmaps: (f) => has(f, 'proc', 'useMsrBitmaps'),
  secondaryControls: (f) => has(f, 'proc', 'activateSecondaryControls'),
  pauseLoopExiting: (f) => has(f, 'proc2', 'pauseLoopExiting'),
  preemptionTimer: (f) => has(f, 'pin', 'activatePreemptionTimer'),
  vmcsShadowing: (f) => has(f, 'proc2', 'vmcsShadowing'),
  xsaves: (f) => has(f, 'proc2', 'enableXsaves'),
  encls: (f) => has(f, 'proc2', 'enableEnclsExiting'),
  tscScaling: (f) => has(f, 'proc2', 'useTscScaling'),
  loadIa32Pat: (f, field) => field.type === FieldType.GuestState
    ? has(f, 'entry', 'loadPat') || has(f, 'exit', 'savePat') : has(f, 'exit', 'loadPat'),
  loadIa32Efer: (f, field) => field.type === FieldType.GuestState
    ? has(f, 'entry', 'loadEfer') || has(f, 'exit', 'saveEfer') : has(f, 'exit', 'loadEfer'),
  loadIa32PerfGlobalCtrl: (f, field) => field.type === FieldType.GuestState
    ? has(f, 'entry', 'loadPerfGlobalCtrl') : has(f, 'exit', 'loadPerfGlobalCtrl'),
};

/** Whether a processor with `features` has `field`. */
export function fieldExists(features: VmxFeatures, field: VmcsField): boolean {
  return EXISTS[field.feature](features, field);
}

/** The value of IA32_VMX_VMCS_ENUM bits 9:1 for `features`: VmxModel's default for its vmcsHighestIndex input. */
export function vmcsEnumIndex(features: VmxFeatures): number {
  return vmcsEnumHighestIndex(VMCS_FIELDS.filter((field) => fieldExists(features, field)));
}

const bySlot = new WeakMap<VmxFeatures, Uint8Array>();

/**
 * Per slot of the field table (vmcsRegion.ts order), 1 when the model has
 * the field; computed once per feature set, so VMREAD and VMWRITE look it up
 * without allocating.
 */
export function existingSlots(features: VmxFeatures): Uint8Array {
  let t = bySlot.get(features);
  if (!t) {
    t = Uint8Array.from(VMCS_FIELDS, (field) => (fieldExists(features, field) ? 1 : 0));
    bySlot.set(features, t);
  }
  return t;
}
