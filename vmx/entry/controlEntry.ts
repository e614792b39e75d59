/**
 * VM-entry checks on the VM-entry control fields, in the order of SDM Vol.
 * 3C §27.2.1.3 "VM-Entry Control Fields" (§26.2.1.3 in older editions):
 * reserved bits, the event-injection fields (only when the valid bit of
 * the VM-entry interruption-information field is 1), the MSR-load area,
 * and the SMM controls.
 */
import { VMX_MSR, type VmxModel } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { bit, entryControls, msrAreaChecks, reservedBitsOk, secondaryControls, type ControlCheck } from './controlFields.ts';
import { SLOT, lo } from './vmcsView.ts';

const SECTION = '§27.2.1.3 VM-Entry Control Fields';

const UNRESTRICTED_GUEST = bit('proc2', 'unrestrictedGuest');
const ENTRY_TO_SMM = bit('entry', 'entryToSmm');
const DEACTIVATE_DUAL_MONITOR = bit('entry', 'deactivateDualMonitor');
const CR0_PE = 1;
/** IA32_VMX_MISC bit 30: VM entry allows an instruction length of 0 for software interrupts and exceptions (Appendix A.6). */
const MISC_ZERO_LENGTH_INJECTION = 1 << 30;

/** Interruption types, bits 10:8 of the VM-entry interruption-information field (§25.8.3). */
const enum InterruptionType {
  ExternalInterrupt = 0,
  Reserved = 1,
  Nmi = 2,
  HardwareException = 3,
  SoftwareInterrupt = 4,
  PrivilegedSoftwareException = 5,
  SoftwareException = 6,
  OtherEvent = 7,
}

const VALID = 0x80000000;
const DELIVER_ERROR_CODE = 1 << 11;
/** Exceptions that "would normally deliver an error code": #DF, #TS, #NP, #SS, #GP, #PF, #AC. */
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);

const info = (v: VmcsImage): number => lo(v, SLOT.vmEntryInterruptionInformationField);
const injecting = (v: VmcsImage): boolean => (info(v) & VALID) !== 0;
const typeOf = (v: VmcsImage): number => (info(v) >>> 8) & 7;
const vectorOf = (v: VmcsImage): number => info(v) & 0xff;
const delivers = (v: VmcsImage): boolean => (info(v) & DELIVER_ERROR_CODE) !== 0;
/** Every injection rule below applies only "if the valid bit (bit 31) ... is 1". */
const whenInjecting = (rule: (v: VmcsImage, m: VmxModel) => boolean) =>
  (v: VmcsImage, m: VmxModel): boolean => !injecting(v) || rule(v, m);

/** Condition (1) of the deliver-error-code rule: "unrestricted guest" is 0 or guest CR0.PE is 1. */
const guestProtected = (v: VmcsImage): boolean =>
  (secondaryControls(v) & UNRESTRICTED_GUEST) === 0 || (lo(v, SLOT.guestCr0) & CR0_PE) !== 0;

/**
 * Bit 11 is 1 iff (1) guestProtected, (2) the type is hardware exception
 * and (3) the vector is one that delivers an error code. With
 * IA32_VMX_BASIC bit 56 set, (3) is dropped and the rule becomes one-way:
 * bit 11 may be 1 only when (1) and (2) hold (Appendix A.1).
 */
function deliverErrorCodeConsistent(v: VmcsImage, m: VmxModel): boolean {
  const mayDeliver = guestProtected(v) && typeOf(v) === InterruptionType.HardwareException;
  if (m.features.entryErrorCodeAnyVector) return !delivers(v) || mayDeliver;
  return delivers(v) === (mayDeliver && ((ERROR_CODE_VECTORS >>> vectorOf(v)) & 1) !== 0);
}

/** Software interrupts and exceptions need an instruction length of 1-15 (0 too when IA32_VMX_MISC bit 30 is 1). */
function instructionLengthOk(v: VmcsImage, m: VmxModel): boolean {
  const t = typeOf(v);
  if (t !== InterruptionType.SoftwareInterrupt && t !== InterruptionType.PrivilegedSoftwareException &&
    t !== InterruptionType.SoftwareException) return true;
  const length = lo(v, SLOT.vmEntryInstructionLength);
  const minimum = ((m.read(VMX_MSR.MISC)?.lo ?? 0) & MISC_ZERO_LENGTH_INJECTION) !== 0 ? 0 : 1;
  return length >= minimum && length <= 15;
}

export const ENTRY_CONTROL_CHECKS: readonly ControlCheck[] = [
  { name: 'entryReservedBits', section: SECTION, holds: (v, m) => reservedBitsOk(entryControls(v), m, 'entry') },
  // "Value 1 is reserved on all logical processors; value 7 (other event) is reserved on logical
  // processors that do not support the 1-setting of the 'monitor trap flag' VM-execution control."
  {
    name: 'injectionTypeNotReserved', section: SECTION,
    holds: whenInjecting((v, m) => typeOf(v) !== InterruptionType.Reserved &&
      (typeOf(v) !== InterruptionType.OtherEvent || m.supports('proc', 'monitorTrapFlag'))),
  },
  // The vector is consistent with the type: NMI is vector 2, a hardware exception at most 31,
  // an other event (pending MTF VM exit) vector 0.
  {
    name: 'injectionNmiVector', section: SECTION,
    holds: whenInjecting((v) => typeOf(v) !== InterruptionType.Nmi || vectorOf(v) === 2),
  },
  {
    name: 'injectionHardwareExceptionVector', section: SECTION,
    holds: whenInjecting((v) => typeOf(v) !== InterruptionType.HardwareException || vectorOf(v) <= 31),
  },
  {
    name: 'injectionOtherEventVector', section: SECTION,
    holds: whenInjecting((v) => typeOf(v) !== InterruptionType.OtherEvent || vectorOf(v) === 0),
  },
  { name: 'injectionDeliverErrorCode', section: SECTION, holds: whenInjecting(deliverErrorCodeConsistent) },
  { name: 'injectionReservedBits30To12', section: SECTION, holds: whenInjecting((v) => (info(v) & 0x7ffff000) === 0) },
  // Current SDM editions say bits 31:16 (older ones 31:15; bit 15 is the SGX bit of a #PF error code).
  {
    name: 'injectionErrorCodeBits31To16', section: SECTION,
    holds: whenInjecting((v) => !delivers(v) || lo(v, SLOT.vmEntryExceptionErrorCode) >>> 16 === 0),
  },
  { name: 'injectionInstructionLength', section: SECTION, holds: whenInjecting(instructionLengthOk) },
  ...msrAreaChecks('entryMsrLoad', SECTION, SLOT.vmEntryMsrLoadAddress, SLOT.vmEntryMsrLoadCount),
  // "If the processor is not in SMM, the 'entry to SMM' and 'deactivate dual-monitor treatment'
  // VM-entry controls must be 0." The machine has no SMM, so a VM entry is never in SMM.
  { name: 'entryToSmmOutsideSmm', section: SECTION, holds: (v) => (entryControls(v) & ENTRY_TO_SMM) === 0 },
  {
    name: 'deactivateDualMonitorOutsideSmm', section: SECTION,
    holds: (v) => (entryControls(v) & DEACTIVATE_DUAL_MONITOR) === 0,
  },
];
