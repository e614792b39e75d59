/**
 * The project's VMCS region layout (SDM Vol. 3C §25.2 "Format of the VMCS
 * Region": only the first 8 bytes are architectural; the rest is
 * implementation-specific). VMCS revision identifier VMCS_REVISION_ID
 * (vmx/model/presets.ts) names this layout. All values little-endian:
 *
 *   offset 0    bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS indicator
 *   offset 4    VMX-abort indicator
 *   offset 8    launch state: 0 clear, 1 launched (implementation-specific)
 *   offset 12   reserved, 0
 *   offset 16 + 8*k   the value of row k of VMCS_FIELDS (vmx/vmcs/fields.ts),
 *               64 bits (bits 31:0 at +0, 63:32 at +4) whatever the width
 *
 * The table order decides the offsets: a row inserted in the table moves
 * later fields, and so changes the layout (bump the revision identifier).
 * The current VMCS is cached in the core (VmxState); VMCLEAR and VMPTRLD of
 * another VMCS write the cache back here, so software that reads the region
 * after VMCLEAR sees this layout.
 */
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { VMCS_FIELDS } from '../vmcs/fields.ts';

export const REVISION_OFFSET = 0;
export const ABORT_OFFSET = 4;
export const LAUNCH_STATE_OFFSET = 8;
export const FIELDS_OFFSET = 16;
/** Bit 31 of the first 4 bytes: the shadow-VMCS indicator (§25.2). */
export const SHADOW_INDICATOR = 0x80000000;

/** Number of field slots: one per table row. */
export const FIELD_SLOTS = VMCS_FIELDS.length;

const slotByEncoding: ReadonlyMap<number, number> = new Map(VMCS_FIELDS.map((f, k) => [f.encoding, k]));

/** The slot (table row) of a full-access encoding, or -1 when the table has no such field. */
export function fieldSlot(fullEncoding: number): number {
  return slotByEncoding.get(fullEncoding) ?? -1;
}

/** Byte offset of slot k's value in the region. */
export function slotOffset(k: number): number {
  return FIELDS_OFFSET + 8 * k;
}

/** The cached contents of one VMCS: field values as 32-bit halves by slot, and the launch state. */
export interface VmcsImage {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  launched: boolean;
}

/** Writes the cached VMCS back into its region at `pa` (the revision and abort words are left as they are). */
export function storeVmcs(phys: PhysicalMemory, pa: number, v: VmcsImage): void {
  phys.writeSized(pa + LAUNCH_STATE_OFFSET, 4, v.launched ? 1 : 0);
  for (let k = 0; k < FIELD_SLOTS; k++) {
    phys.writeSized(pa + slotOffset(k), 4, v.lo[k]!);
    phys.writeSized(pa + slotOffset(k) + 4, 4, v.hi[k]!);
  }
}

/** Fills the cache from the region at `pa`. */
export function loadVmcs(phys: PhysicalMemory, pa: number, v: VmcsImage): void {
  v.launched = phys.readSized(pa + LAUNCH_STATE_OFFSET, 4) === 1;
  for (let k = 0; k < FIELD_SLOTS; k++) {
    v.lo[k] = phys.readSized(pa + slotOffset(k), 4);
    v.hi[k] = phys.readSized(pa + slotOffset(k) + 4, 4);
  }
}

/** Sets the launch state of the VMCS in the region at `pa` to clear (VMCLEAR). */
export function clearLaunchState(phys: PhysicalMemory, pa: number): void {
  phys.writeSized(pa + LAUNCH_STATE_OFFSET, 4, 0);
}
