/**
 * The rules an EPTP must satisfy for a VM entry with "enable EPT" = 1 (SDM
 * Vol. 3C §27.2.1.1 "VM-Execution Control Fields"; format §25.6.11), as
 * one predicate on a value: INVEPT single-context fails "IF VM entry with
 * the 'enable EPT' VM execution control set to 1 would fail due to the
 * EPTP value" (INVEPT page).
 *
 *   bits 2:0   memory type UC (0) if IA32_VMX_EPT_VPID_CAP bit 8, WB (6) if bit 14;
 *   bits 5:3   page-walk length - 1: 3 if bit 6 (4 levels), 4 if bit 7 (5 levels);
 *   bit 6      accessed and dirty flags: 0 unless bit 21;
 *   bits 11:7  reserved (bit 7, supervisor shadow stacks, needs a feature the model lacks);
 *   bits 63:N  reserved, N = MAXPHYADDR.
 *
 * vmx/entry/controlExecution.ts checks the same rules one by one, with
 * the predicates below, so that a failed entry names the one broken.
 */
import { withinWidth } from './controlFields.ts';
import { EPT_CAPS } from '../model/capabilityBits.ts';
import { VMX_MSR, type VmxModel } from '../model/vmxModel.ts';

const MEMORY_TYPE_UC = 0, MEMORY_TYPE_WB = 6;
/** EPT_VPID_CAP bit 7: 5-level EPT walks (never set by the model: no name in capabilityBits.ts). */
const PAGE_WALK_LENGTH_5 = 7;
const EPTP_AD = 0x40, EPTP_RESERVED_LOW = 0xf80;

/** IA32_VMX_EPT_VPID_CAP bit `b` (0 when the model has no such MSR, so no EPTP passes). */
const has = (m: VmxModel, b: number): boolean => (((m.read(VMX_MSR.EPT_VPID_CAP)?.lo ?? 0) >>> b) & 1) !== 0;

/** Bits 2:0, the memory type: UC (0) or WB (6), each when the capability says so. */
export function eptpMemoryTypeOk(m: VmxModel, lo: number): boolean {
  const type = lo & 7;
  return (type === MEMORY_TYPE_UC && has(m, EPT_CAPS.memoryTypeUc)) || (type === MEMORY_TYPE_WB && has(m, EPT_CAPS.memoryTypeWb));
}

/** Bits 5:3, the page-walk length - 1: 3 (4 levels) or 4 (5 levels), each when the capability says so. */
export function eptpWalkLengthOk(m: VmxModel, lo: number): boolean {
  const lengthMinus1 = (lo >>> 3) & 7;
  return (lengthMinus1 === 3 && has(m, EPT_CAPS.pageWalkLength4)) || (lengthMinus1 === 4 && has(m, PAGE_WALK_LENGTH_5));
}

/** Bit 6, accessed and dirty flags: "must be 0 if bit 21 of IA32_VMX_EPT_VPID_CAP is read as 0". */
export function eptpAccessedDirtyOk(m: VmxModel, lo: number): boolean {
  return (lo & EPTP_AD) === 0 || has(m, EPT_CAPS.accessedDirty);
}

/** Reserved bits 11:7 and 63:N (N the physical-address width) are 0. */
export function eptpReservedBitsOk(lo: number, hi: number, physAddrBits: number): boolean {
  return (lo & EPTP_RESERVED_LOW) === 0 && withinWidth(lo, hi, physAddrBits);
}

/** The EPTP hi:lo passes every EPTP check of VM entry on model `m` with MAXPHYADDR `physAddrBits`. */
export function eptpValid(m: VmxModel, physAddrBits: number, lo: number, hi: number): boolean {
  return eptpMemoryTypeOk(m, lo) && eptpWalkLengthOk(m, lo) && eptpAccessedDirtyOk(m, lo) && eptpReservedBitsOk(lo, hi, physAddrBits);
}
