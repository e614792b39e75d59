/**
 * Field access to the current VMCS: VMREAD and VMWRITE (SDM Vol. 3C
 * ch. 31, their instruction pages; §25.11.2 "VMREAD, VMWRITE, and
 * Encodings of VMCS Fields"), in root operation.
 *
 * Widths (the pages' operation text): a 16- or 32-bit field keeps the low
 * bits of a VMWRITE and reads back zero-extended; a 64-bit field's high
 * access (encoding bit 0 = 1) reads and writes bits 63:32 as if they were
 * a 32-bit field; natural-width fields are 64 bits (the model supports
 * Intel 64). Outside 64-bit mode the decoded instructions carry 32 bits:
 * VMWRITE passes 0 for bits 63:32 (the field's high bits are cleared) and
 * VMREAD stores only bits 31:0.
 *
 * Every field of the table counts as supported for now, whatever the
 * model's features: VMfailValid(12) is for encodings the table lacks
 * (including any with bits 63:32 set). A per-feature check is not built yet.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { AccessType, FieldType, FieldWidth, fieldAccess } from '../vmcs/encoding.ts';
import { fieldByEncoding } from '../vmcs/fields.ts';
import { VmInstructionError } from '../instructionError.ts';
import { vmFailInvalid, vmFailValid, vmSucceed } from './conventions.ts';
import { requireVmxRootCpl0 } from './checks.ts';
import { fieldSlot } from './vmcsRegion.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

/**
 * The checks VMREAD and VMWRITE share after #UD/#GP(0): VMfailInvalid
 * with no current VMCS, VMfailValid(12) for an unsupported encoding.
 * Returns the field's slot, or -1 after reporting the failure.
 */
function accessibleSlot(s: VmxState, c: Cpu, encoding: number): number {
  if (s.currentVmcs === INVALID_POINTER) {
    vmFailInvalid(c);
    return -1;
  }
  const f = fieldByEncoding(encoding);
  if (f === undefined) {
    vmFailValid(s, c, VmInstructionError.UnsupportedVmcsComponent);
    return -1;
  }
  return fieldSlot(f.encoding);
}

/**
 * VMREAD of field `encoding`, up to its store: reports the failure and
 * returns false, or returns true with the value left for readField. The
 * caller stores the value and then reports vmSucceed(c), so that a
 * faulting store leaves RFLAGS alone.
 */
export function vmread(s: VmxState, c: Cpu, encoding: number): boolean {
  requireVmxRootCpl0(s, c);
  return accessibleSlot(s, c, encoding) >= 0;
}

/** The current VMCS's value of supported field `encoding`: bits 31:0 returned, 63:32 in c.opHi. */
export function readField(s: VmxState, c: Cpu, encoding: number): number {
  const f = fieldByEncoding(encoding)!;
  const k = fieldSlot(f.encoding);
  if (fieldAccess(encoding) === AccessType.High) {
    c.opHi = 0;
    return s.vmcs.hi[k]!;
  }
  c.opHi = f.width === FieldWidth.Bits64 || f.width === FieldWidth.Natural ? s.vmcs.hi[k]! : 0;
  return f.width === FieldWidth.Bits16 ? s.vmcs.lo[k]! & 0xffff : s.vmcs.lo[k]!;
}

/**
 * VMWRITE of `lo`/`hi` (bits 31:0 / 63:32) to field `encoding`: after
 * #UD/#GP(0) and the shared checks, VMfailValid(13) for a VM-exit
 * information field unless IA32_VMX_MISC bit 29 allows it; else the write
 * and VMsucceed.
 */
export function vmwrite(s: VmxState, c: Cpu, encoding: number, lo: number, hi: number): void {
  requireVmxRootCpl0(s, c);
  const k = accessibleSlot(s, c, encoding);
  if (k < 0) return;
  const f = fieldByEncoding(encoding)!;
  if (f.type === FieldType.ReadOnlyData && !s.model.features.vmwriteAnyField) {
    vmFailValid(s, c, VmInstructionError.VmwriteReadOnlyComponent);
    return;
  }
  if (fieldAccess(encoding) === AccessType.High) {
    s.vmcs.hi[k] = lo;
  } else {
    const wide = f.width === FieldWidth.Bits64 || f.width === FieldWidth.Natural;
    s.vmcs.lo[k] = f.width === FieldWidth.Bits16 ? lo & 0xffff : lo;
    s.vmcs.hi[k] = wide ? hi : 0;
  }
  vmSucceed(c);
}
