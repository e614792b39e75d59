/**
 * Field access: VMREAD and VMWRITE (SDM Vol. 3C ch. 31, their instruction
 * pages; §25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields"). In VMX
 * root operation they access the current VMCS (its cache in VmxState); in
 * VMX non-root operation, when VMCS shadowing lets them run instead of
 * exiting (shadowVmcs.ts), the VMCS the VMCS link pointer names, in its
 * region.
 *
 * The pages' order: #UD/#GP(0); VMfailInvalid when there is no current VMCS
 * (root) or the link pointer is FFFFFFFF_FFFFFFFFH (non-root); VMWRITE's
 * memory source is read here (a fault comes "after determining that the
 * relevant VMCS pointer is valid but before determining if the destination
 * VMCS field is supported"); VMfailValid(12) for an encoding that names no
 * field of the model (fieldSupport.ts: malformed, not in the table, or its
 * feature missing); VMWRITE: VMfailValid(13) for a VM-exit information field
 * unless IA32_VMX_MISC bit 29 allows it. VMREAD stores its destination after
 * all of these, and only then reports VMsucceed. VMfailValid writes the
 * VM-instruction error field of the current VMCS (§31.2: "executed only if
 * there is a current VMCS"): in non-root operation the ordinary VMCS that
 * runs the guest, not the shadow VMCS.
 *
 * Widths (the pages' operation text): a 16- or 32-bit field keeps the low
 * bits of a VMWRITE and reads back zero-extended; a 64-bit field's high
 * access (encoding bit 0 = 1) reads and writes bits 63:32 as if they were
 * a 32-bit field; natural-width fields are 64 bits (the model supports
 * Intel 64). Outside 64-bit mode the decoded instructions carry 32 bits:
 * VMWRITE passes 0 for bits 63:32 (the field's high bits are cleared) and
 * VMREAD stores only bits 31:0.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { AccessType, FieldType, FieldWidth, fieldAccess } from '../vmcs/encoding.ts';
import { fieldByEncoding, type VmcsField } from '../vmcs/fields.ts';
import { VmInstructionError } from '../instructionError.ts';
import { vmFailInvalid, vmFailValid, vmSucceed } from './conventions.ts';
import { requireVmxRootCpl0 } from './checks.ts';
import { existingSlots } from '../model/fieldSupport.ts';
import { shadowVmcsPointer } from './shadowVmcs.ts';
import { fieldSlot, slotOffset } from './vmcsRegion.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

/** The VMCS an access goes to: CURRENT (the cache), a shadow VMCS's physical address, or INVALID_POINTER. */
const CURRENT = -2;

function target(s: VmxState, c: Cpu): number {
  if (c.nonRoot) return shadowVmcsPointer(s);
  return s.currentVmcs === INVALID_POINTER ? INVALID_POINTER : CURRENT;
}

/** Bits 31:0 (`high` false) or 63:32 of slot k of VMCS `t`. */
function loadHalf(s: VmxState, c: Cpu, t: number, k: number, high: boolean): number {
  if (t === CURRENT) return high ? s.vmcs.hi[k]! : s.vmcs.lo[k]!;
  return c.phys.readSized(t + slotOffset(k) + (high ? 4 : 0), 4);
}

function storeSlot(s: VmxState, c: Cpu, t: number, k: number, low: number, high: number): void {
  if (t === CURRENT) {
    s.vmcs.lo[k] = low;
    s.vmcs.hi[k] = high;
  } else {
    c.phys.writeSized(t + slotOffset(k), 4, low);
    c.phys.writeSized(t + slotOffset(k) + 4, 4, high);
  }
}

const isWide = (f: VmcsField): boolean => f.width === FieldWidth.Bits64 || f.width === FieldWidth.Natural;

/**
 * The checks VMREAD and VMWRITE share up to the VMCS pointer: #UD/#GP(0),
 * then VMfailInvalid. Returns false after reporting the failure.
 */
export function vmcsAccessible(s: VmxState, c: Cpu): boolean {
  requireVmxRootCpl0(s, c);
  if (target(s, c) !== INVALID_POINTER) return true;
  vmFailInvalid(c);
  return false;
}

/** The slot of the model's field `encoding`, or -1 after VMfailValid(12). */
function existingSlot(s: VmxState, c: Cpu, encoding: number): number {
  const f = fieldByEncoding(encoding);
  const k = f === undefined ? -1 : fieldSlot(f.encoding);
  if (k >= 0 && existingSlots(s.model.features)[k] === 1) return k;
  vmFailValid(s, c, VmInstructionError.UnsupportedVmcsComponent);
  return -1;
}

/**
 * VMREAD of field `encoding`, up to its store: reports the failure and
 * returns false, or returns true with the value left for readField. The
 * caller stores the value and then reports vmSucceed(c), so that a
 * faulting store leaves RFLAGS alone.
 */
export function vmread(s: VmxState, c: Cpu, encoding: number): boolean {
  return vmcsAccessible(s, c) && existingSlot(s, c, encoding) >= 0;
}

/** The value of field `encoding`, which vmread accepted: bits 31:0 returned, 63:32 in c.opHi. */
export function readField(s: VmxState, c: Cpu, encoding: number): number {
  const t = target(s, c);
  const f = fieldByEncoding(encoding)!;
  const k = fieldSlot(f.encoding);
  if (fieldAccess(encoding) === AccessType.High) {
    c.opHi = 0;
    return loadHalf(s, c, t, k, true);
  }
  c.opHi = isWide(f) ? loadHalf(s, c, t, k, true) : 0;
  const low = loadHalf(s, c, t, k, false);
  return f.width === FieldWidth.Bits16 ? low & 0xffff : low;
}

/**
 * VMWRITE of `lo`/`hi` (bits 31:0 / 63:32) to field `encoding`, after
 * vmcsAccessible: VMfailValid(12) or (13) as above, else the write and
 * VMsucceed.
 */
export function writeField(s: VmxState, c: Cpu, encoding: number, lo: number, hi: number): void {
  const k = existingSlot(s, c, encoding);
  if (k < 0) return;
  const f = fieldByEncoding(encoding)!;
  if (f.type === FieldType.ReadOnlyData && !s.model.features.vmwriteAnyField) {
    vmFailValid(s, c, VmInstructionError.VmwriteReadOnlyComponent);
    return;
  }
  const t = target(s, c);
  if (fieldAccess(encoding) === AccessType.High) {
    storeSlot(s, c, t, k, loadHalf(s, c, t, k, false), lo);
  } else {
    storeSlot(s, c, t, k, f.width === FieldWidth.Bits16 ? lo & 0xffff : lo, isWide(f) ? hi : 0);
  }
  vmSucceed(c);
}

/** VMWRITE with its value in hand (the TypeScript hypervisor's call): vmcsAccessible, then writeField. */
export function vmwrite(s: VmxState, c: Cpu, encoding: number, lo: number, hi: number): void {
  if (vmcsAccessible(s, c)) writeField(s, c, encoding, lo, hi);
}
