/**
 * The current-VMCS pointer and launch state: VMCLEAR, VMPTRLD and VMPTRST
 * (SDM Vol. 3C ch. 31, their instruction pages; §25.1 "Overview", §25.11.3
 * "Initializing a VMCS"). The current VMCS is cached in VmxState; it is
 * written back to its region (vmcsRegion.ts) by VMCLEAR of it and when
 * VMPTRLD makes another VMCS current.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { VmInstructionError } from '../instructionError.ts';
import { vmFail, vmSucceed } from './conventions.ts';
import { isInvalidRegionAddress, requireVmxRootCpl0 } from './checks.ts';
import { clearLaunchState, loadVmcs, SHADOW_INDICATOR, storeVmcs } from './vmcsRegion.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

/**
 * VMCLEAR of the VMCS at `pa`: after #UD/#GP(0) (requireVmxRootCpl0),
 * VMfail(2) for an address not 4-KByte aligned or beyond the
 * physical-address width, VMfail(3) for the VMXON pointer; else the VMCS's
 * data goes to its region with launch state clear, it stops being current
 * if it was, and VMsucceed.
 */
export function vmclear(s: VmxState, c: Cpu, pa: number): void {
  requireVmxRootCpl0(s, c);
  if (isInvalidRegionAddress(c, pa)) {
    vmFail(s, c, VmInstructionError.VmclearInvalidAddress);
  } else if (pa === s.vmxonPointer) {
    vmFail(s, c, VmInstructionError.VmclearVmxonPointer);
  } else {
    if (pa === s.currentVmcs) {
      s.vmcs.launched = false;
      storeVmcs(c.phys, pa, s.vmcs);
      s.currentVmcs = INVALID_POINTER;
      s.currentIsShadow = false;
    } else {
      clearLaunchState(c.phys, pa);
    }
    vmSucceed(c);
  }
}

/**
 * VMPTRLD of the VMCS at `pa`: VMfail(9) for an invalid address, VMfail(10)
 * for the VMXON pointer, VMfail(11) when the region's bits 30:0 differ from
 * the revision identifier or bit 31 (shadow-VMCS indicator) is set and the
 * model lacks "VMCS shadowing"; else it becomes the current VMCS and
 * VMsucceed. Loading the VMCS that is already current keeps the cache.
 */
export function vmptrld(s: VmxState, c: Cpu, pa: number): void {
  requireVmxRootCpl0(s, c);
  if (isInvalidRegionAddress(c, pa)) {
    vmFail(s, c, VmInstructionError.VmptrldInvalidAddress);
    return;
  }
  if (pa === s.vmxonPointer) {
    vmFail(s, c, VmInstructionError.VmptrldVmxonPointer);
    return;
  }
  const rev = c.phys.readSized(pa, 4) >>> 0;
  const shadow = (rev & SHADOW_INDICATOR) !== 0;
  if ((rev & ~SHADOW_INDICATOR) >>> 0 !== s.model.features.vmcsRevisionId || (shadow && !s.model.supports('proc2', 'vmcsShadowing'))) {
    vmFail(s, c, VmInstructionError.VmptrldIncorrectRevisionId);
    return;
  }
  if (pa !== s.currentVmcs) {
    if (s.currentVmcs !== INVALID_POINTER) storeVmcs(c.phys, s.currentVmcs, s.vmcs);
    loadVmcs(c.phys, pa, s.vmcs);
    s.currentVmcs = pa;
  }
  s.currentIsShadow = shadow;
  vmSucceed(c);
}

/**
 * VMPTRST, up to its store: after #UD/#GP(0), returns the current-VMCS
 * pointer's bits 31:0 with bits 63:32 in c.opHi (FFFFFFFF_FFFFFFFFH when
 * there is none). The caller stores it and then reports vmSucceed(c), so
 * that a faulting store leaves RFLAGS alone.
 */
export function vmptrst(s: VmxState, c: Cpu): number {
  requireVmxRootCpl0(s, c);
  const p = s.currentVmcs;
  c.opHi = p === INVALID_POINTER ? -1 : Math.floor(p / 2 ** 32);
  return p === INVALID_POINTER ? -1 : p | 0;
}
