/**
 * L1's VMX instructions: the operations the decoded instructions call
 * (DESIGN decision 1), on the core L1 runs on, with a failed one turned
 * into a HypervisorError naming it. L1 only issues operations that cannot
 * fail on a correct VMCS, so a VMfail here is a bug in L1, never the
 * guest's doing — except VM entry, whose outcome the caller inspects.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { CF, readRflags, ZF } from '../../cpu/flags.ts';
import { hiOf, loOf, toBigInt, TWO32 } from '../../cpu/registers.ts';
import { readField, vmread, vmwrite } from '../../vmx/unit/vmcsAccess.ts';
import { vmclear, vmptrld } from '../../vmx/unit/vmcsPointer.ts';
import type { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { vmxon } from '../../vmx/unit/vmxOperation.ts';
import { vmcs } from '../../vmx/vmcs/fields.ts';
import { HypervisorError } from '../hypervisorError.ts';

export type FieldName = keyof typeof vmcs;

/** One core as L1 drives it: the core and its VMX unit. */
export interface HostCore {
  readonly c: Cpu;
  readonly unit: VmxCore;
}

/** Throws unless the last VMX operation reported VMsucceed (§31.2). */
function succeeded(h: HostCore, what: string): void {
  const f = readRflags(h.c);
  if ((f & CF) !== 0) throw new HypervisorError(`${what}: VMfailInvalid`);
  if ((f & ZF) !== 0) throw new HypervisorError(`${what}: VMfailValid(${vmreadNumber(h, 'vmInstructionError')})`);
}

export function doVmxon(h: HostCore, region: number): void {
  vmxon(h.unit, h.c, region);
  succeeded(h, 'VMXON');
}

export function doVmclear(h: HostCore, region: number): void {
  vmclear(h.unit, h.c, region);
  succeeded(h, `VMCLEAR 0x${region.toString(16)}`);
}

export function doVmptrld(h: HostCore, region: number): void {
  vmptrld(h.unit, h.c, region);
  succeeded(h, `VMPTRLD 0x${region.toString(16)}`);
}

/** VMWRITE of bits 31:0 `lo` and 63:32 `hi`. */
export function vmwriteHalves(h: HostCore, name: FieldName, lo: number, hi: number): void {
  vmwrite(h.unit, h.c, vmcs[name].encoding, lo, hi);
  succeeded(h, `VMWRITE ${name}`);
}

/**
 * VMWRITE of a number (an integer below 2^53 in magnitude: a negative one
 * is a sign-extended address) or a bigint. A number needs no BigInt: its
 * halves are its value modulo 2^32 (ToInt32) and the floor of its quotient
 * by 2^32, which is all ones above a negative value, as two's complement.
 */
export function vmwriteField(h: HostCore, name: FieldName, value: number | bigint): void {
  if (typeof value === 'number') return vmwriteHalves(h, name, value | 0, Math.floor(value / TWO32) | 0);
  const v = BigInt.asUintN(64, value);
  vmwriteHalves(h, name, loOf(v), hiOf(v));
}

/** VMREAD as a bigint. */
export function vmreadField(h: HostCore, name: FieldName): bigint {
  const enc = vmcs[name].encoding;
  if (!vmread(h.unit, h.c, enc)) succeeded(h, `VMREAD ${name}`);
  const lo = readField(h.unit, h.c, enc);
  return toBigInt(lo, h.c.opHi);
}

/** VMREAD of a field that fits in 32 bits (or whose low half is all that matters), as a number; bits 63:32 are left in `h.c.opHi`. */
export function vmreadNumber(h: HostCore, name: FieldName): number {
  const enc = vmcs[name].encoding;
  if (!vmread(h.unit, h.c, enc)) throw new HypervisorError(`VMREAD ${name} failed`);
  return readField(h.unit, h.c, enc) >>> 0;
}
