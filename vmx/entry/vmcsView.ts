/**
 * Reading the cached VMCS by field name, for the VM-entry checks and (later)
 * the state loads: `SLOT.guestRip` is the slot of the field, and `lo/hi`
 * read its halves from a VmcsImage without BigInt (VM entry is on the hot
 * path of every round trip).
 */
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { fieldSlot } from '../unit/vmcsRegion.ts';
import { vmcs } from '../vmcs/fields.ts';

type FieldName = keyof typeof vmcs;

/** Slot of every field, by name (computed once from the field table). */
export const SLOT = Object.fromEntries(
  Object.entries(vmcs).map(([name, f]) => [name, fieldSlot(f.encoding)]),
) as Record<FieldName, number>;

/** Bits 31:0 of a field (a 16-bit field zero-extended; as an unsigned number). */
export function lo(v: VmcsImage, slot: number): number {
  return v.lo[slot]! >>> 0;
}

/** Bits 63:32 of a 64-bit or natural-width field (unsigned). */
export function hi(v: VmcsImage, slot: number): number {
  return v.hi[slot]! >>> 0;
}

/** Writes a field's halves (tests and, later, VM exits). */
export function set(v: VmcsImage, slot: number, low: number, high = 0): void {
  v.lo[slot] = low | 0;
  v.hi[slot] = high | 0;
}
