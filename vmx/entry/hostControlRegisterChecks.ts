/**
 * SDM Vol. 3C §27.2.2 "Checks on Host Control Registers, MSRs, and SSP"
 * (§26.2.2 in older editions), in the SDM's order.
 *
 * Not checked, because the model has no such feature and §27.2.1 already
 * fails any VMCS that asks for it (the controls are allowed-1 = 0):
 * - CR4.CET (bit 23) requiring CR0.WP, and the "load CET state" checks on
 *   IA32_S_CET, SSP and the interrupt SSP table address: no CET (CR4.CET is
 *   outside IA32_VMX_CR4_FIXED1, so the CR4 check rejects it first);
 * - "load IA32_PERF_GLOBAL_CTRL": no PMU, so no model reports the control
 *   allowed-1 (presets.ts) and there are no reserved-bit rules to apply;
 * - "load IA32_PKRS": no PKS.
 */
import { CR0_CD, CR0_NW, EFER_LMA, EFER_LME } from '../../cpu/system/mode.ts';
import { EFER_DEFINED, patHalfValid, withinFixed } from './registerRules.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { canonicalField, EXIT_LOAD_EFER, EXIT_LOAD_PAT, exitControl, hostAddressSpaceSize } from './hostCheckSupport.ts';
import type { EntryCheck } from './checkResult.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.2.2 Checks on Host Control Registers, MSRs, and SSP';

/** CR0.NW and CR0.CD are never checked: VM exit does not change them (§27.2.2 footnote; §28.5.1). */
const CR0_UNCHECKED = CR0_NW | CR0_CD;





/** IA32_EFER bit `bit` of the host field equals the "host address-space size" VM-exit control. */
function eferBitFollowsHostAddressSpaceSize(v: VmcsImage, bit: number): boolean {
  return !exitControl(v, EXIT_LOAD_EFER) || ((lo(v, SLOT.hostIa32Efer) & bit) !== 0) === hostAddressSpaceSize(v);
}

export const HOST_CONTROL_REGISTER_CHECKS: readonly EntryCheck[] = [
  {
    name: 'hostCr0Fixed', section: SECTION,
    holds: (v, m) => withinFixed(lo(v, SLOT.hostCr0), hi(v, SLOT.hostCr0), m.read(VMX_MSR.CR0_FIXED0)!, m.read(VMX_MSR.CR0_FIXED1)!, CR0_UNCHECKED),
  },
  {
    name: 'hostCr4Fixed', section: SECTION,
    holds: (v, m) => withinFixed(lo(v, SLOT.hostCr4), hi(v, SLOT.hostCr4), m.read(VMX_MSR.CR4_FIXED0)!, m.read(VMX_MSR.CR4_FIXED1)!, 0),
  },
  {
    // "Bits 63:52 and bits in the range 51:32 beyond the processor's physical-address width must be 0."
    name: 'hostCr3PhysicalAddressWidth', section: SECTION,
    holds: (v, _m, ctx) => hi(v, SLOT.hostCr3) >>> (Math.max(ctx.physAddrBits, 32) - 32) === 0,
  },
  { name: 'hostSysenterEspCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.hostIa32SysenterEsp) },
  { name: 'hostSysenterEipCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.hostIa32SysenterEip) },
  {
    // "Load IA32_PAT": a value WRMSR would accept at CPL 0, each of the 8 bytes a valid memory type.
    name: 'hostPatMemoryTypes', section: SECTION,
    holds: (v) => !exitControl(v, EXIT_LOAD_PAT) || (patHalfValid(lo(v, SLOT.hostIa32Pat)) && patHalfValid(hi(v, SLOT.hostIa32Pat))),
  },
  {
    name: 'hostEferReservedBits', section: SECTION,
    holds: (v) => !exitControl(v, EXIT_LOAD_EFER) || ((lo(v, SLOT.hostIa32Efer) & ~EFER_DEFINED) === 0 && hi(v, SLOT.hostIa32Efer) === 0),
  },
  { name: 'hostEferLmaIsHostAddressSpaceSize', section: SECTION, holds: (v) => eferBitFollowsHostAddressSpaceSize(v, EFER_LMA) },
  { name: 'hostEferLmeIsHostAddressSpaceSize', section: SECTION, holds: (v) => eferBitFollowsHostAddressSpaceSize(v, EFER_LME) },
];
