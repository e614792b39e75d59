/**
 * What the checks on VMX controls (SDM Vol. 3C §27.2.1, numbered §26.2.1
 * in older editions) share: the shape of one check, the context they need,
 * the control bits by name, and the address rules the SDM repeats for
 * every physical address in the control fields ("bits 11:0 must be 0";
 * "should not set any bits beyond the processor's physical-address
 * width"). All reads are 32-bit halves of the cached VMCS: no BigInt and
 * no allocation, VM entry runs on every round trip.
 */
import type { VmxModel } from '../model/vmxModel.ts';
import { controlMask, type ControlGroup, type ControlKey } from '../model/controls.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { EntryCheck, EntryCheckContext } from './checkResult.ts';
import { SLOT, hi, lo } from './vmcsView.ts';

/**
 * The checks on controls need one thing from guest memory: VTPR, byte 80H
 * of the virtual-APIC page (§27.2.1.1, the TPR-threshold check). The
 * caller reads it; the checks stay free of memory.
 */
export interface ControlCheckContext extends EntryCheckContext {
  /** Byte 80H of the 4-KByte page at physical address hi:lo (the virtual-APIC address). */
  readonly readVtpr: (virtualApicLo: number, virtualApicHi: number) => number;
}

/** One named check on VMX controls. */
export type ControlCheck = EntryCheck<ControlCheckContext>;

/** The mask of one control, by its key in vmx/model/controls.ts. */
export const bit = <G extends ControlGroup>(group: G, key: ControlKey<G>): number => controlMask(group, [key]);

export const pinControls = (v: VmcsImage): number => lo(v, SLOT.pinBasedVmExecutionControls);
export const primaryControls = (v: VmcsImage): number => lo(v, SLOT.primaryProcessorBasedVmExecutionControls);
export const exitControls = (v: VmcsImage): number => lo(v, SLOT.vmExitControls);
export const entryControls = (v: VmcsImage): number => lo(v, SLOT.vmEntryControls);

const ACTIVATE_SECONDARY = bit('proc', 'activateSecondaryControls');

/**
 * The secondary controls as the processor applies them: when "activate
 * secondary controls" is 0 it "operates as if all the secondary
 * processor-based VM-execution controls were 0" (§27.2.1.1).
 */
export function secondaryControls(v: VmcsImage): number {
  return (primaryControls(v) & ACTIVATE_SECONDARY) !== 0 ? lo(v, SLOT.secondaryProcessorBasedVmExecutionControls) : 0;
}

/** A control value obeys the model's allowed settings (Appendix A.3-A.5): every must-be-1 bit set, no bit outside may-be-1. */
export function reservedBitsOk(value: number, m: VmxModel, group: ControlGroup): boolean {
  const { mustBe1, mayBe1 } = m.allowedSettings(group);
  return (value & mustBe1) >>> 0 === mustBe1 && (value & ~mayBe1) === 0;
}

/** No bit at or above `bits` is set in the 64-bit value hi:lo. */
export function withinWidth(low: number, high: number, bits: number): boolean {
  if (bits >= 64) return true;
  if (bits > 32) return high >>> (bits - 32) === 0;
  return high === 0 && (bits === 32 || low >>> bits === 0);
}

/** The address in field `slot` has bits (log2 alignment - 1):0 clear. */
export function aligned(v: VmcsImage, slot: number, alignment: number): boolean {
  return (lo(v, slot) & (alignment - 1)) === 0;
}

/** The address in field `slot` sets no bit beyond the physical-address width. */
export function addressWithinWidth(v: VmcsImage, slot: number, ctx: EntryCheckContext): boolean {
  return withinWidth(lo(v, slot), hi(v, slot), ctx.physAddrBits);
}

/**
 * The last byte of a `count`-entry MSR area (16 bytes an entry) at the
 * address in `slot` is within the physical-address width. The SDM
 * computes "address + (MSR count * 16) - 1" with more bits than the width:
 * here with doubles, exact up to 2^53 (count * 16 < 2^36).
 */
export function msrAreaWithinWidth(v: VmcsImage, slot: number, count: number, ctx: EntryCheckContext): boolean {
  const sum = lo(v, slot) + count * 16 - 1;
  const carry = Math.floor(sum / 0x100000000);
  const high = hi(v, slot) + carry;
  return high <= 0xffffffff && withinWidth(sum - carry * 0x100000000, high, ctx.physAddrBits);
}

/**
 * The SDM's two rules for a 4-KByte-aligned (or `alignment`-aligned)
 * address field that matters only when `applies`: "bits 11:0 of the
 * address must be 0" and "the address should not set any bits beyond the
 * processor's physical-address width", as two named checks.
 */
export function addressChecks(
  name: string, section: string, slot: number,
  applies: (v: VmcsImage, m: VmxModel) => boolean, alignment = 4096,
): ControlCheck[] {
  return [
    { name: `${name}Aligned`, section, holds: (v, m) => !applies(v, m) || aligned(v, slot, alignment) },
    { name: `${name}WithinWidth`, section, holds: (v, m, ctx) => !applies(v, m) || addressWithinWidth(v, slot, ctx) },
  ];
}

/**
 * The SDM's rules for an MSR-store or MSR-load area "if the ... count
 * field is non-zero": "the lower 4 bits of the ... address must be 0", the
 * address within the physical-address width, and "the address of the last
 * byte in the ... area" within it too. (IA32_VMX_BASIC bit 48 is 0 in the
 * model, so no 32-bit limit applies.)
 */
export function msrAreaChecks(name: string, section: string, addressSlot: number, countSlot: number): ControlCheck[] {
  const count = (v: VmcsImage): number => lo(v, countSlot);
  return [
    { name: `${name}AddressAligned`, section, holds: (v) => count(v) === 0 || aligned(v, addressSlot, 16) },
    { name: `${name}AddressWithinWidth`, section, holds: (v, _m, ctx) => count(v) === 0 || addressWithinWidth(v, addressSlot, ctx) },
    {
      name: `${name}AreaWithinWidth`, section,
      holds: (v, _m, ctx) => count(v) === 0 || msrAreaWithinWidth(v, addressSlot, count(v), ctx),
    },
  ];
}
