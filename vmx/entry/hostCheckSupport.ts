/**
 * What the host-state checks of SDM Vol. 3C §27.2.2-§27.2.4 (§26.2.2-§26.2.4
 * in older editions) share: the controls they read and the canonical test
 * on a natural-width field (the check shape is checkResult.ts's).
 *
 * The model is an Intel 64 processor, so every check the SDM makes "on
 * processors that support Intel 64 architecture" is made unconditionally.
 */
import { controlMask } from '../model/controls.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

/** The VM-exit controls the host-state checks depend on (§25.7.1), as masks of the VM-exit controls field. */
export const EXIT_HOST_ADDRESS_SPACE_SIZE = controlMask('exit', ['hostAddressSpaceSize']);
export const EXIT_LOAD_PAT = controlMask('exit', ['loadPat']);
export const EXIT_LOAD_EFER = controlMask('exit', ['loadEfer']);
/** The "IA-32e mode guest" VM-entry control (§25.8.1). */
export const ENTRY_IA32E_MODE_GUEST = controlMask('entry', ['ia32eModeGuest']);

/** Whether VM-exit control(s) `mask` are 1 in the VMCS. */
export function exitControl(v: VmcsImage, mask: number): boolean {
  return (lo(v, SLOT.vmExitControls) & mask) !== 0;
}

/** The "host address-space size" VM-exit control: the host runs in 64-bit mode after VM exits. */
export function hostAddressSpaceSize(v: VmcsImage): boolean {
  return exitControl(v, EXIT_HOST_ADDRESS_SPACE_SIZE);
}

/**
 * A canonical address (SDM Vol. 1 §3.3.7.1: bits 63:47 all equal, with the
 * model's 48-bit linear addresses; no 5-level paging), from bits 63:32.
 */
export function canonicalHigh(high: number): boolean {
  return high <= 0x7fff || high >= 0xffff8000;
}

/** Whether the natural-width field in `slot` holds a canonical address. */
export function canonicalField(v: VmcsImage, slot: number): boolean {
  return canonicalHigh(hi(v, slot));
}
