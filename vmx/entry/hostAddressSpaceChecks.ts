/**
 * SDM Vol. 3C §27.2.4 "Checks Related to Address-Space Size" (§26.2.4 in
 * older editions), in the SDM's order: the VM-exit/entry controls must fit
 * the mode the logical processor is in at VM entry (IA32_EFER.LMA, given as
 * ctx.hostInIa32eMode), and the host CR4 and RIP fields the mode VM exit
 * will return to.
 *
 * noHostAddressSpaceSizeNoIa32eModeGuest can never be the first failure:
 * outside IA-32e mode outsideIa32eModeNoIa32eModeGuest fails before it, and
 * in IA-32e mode inIa32eModeHostAddressSpaceSize does. It stays because the
 * SDM lists it, so the list reads against the book line by line.
 */
import { CR4_PAE, CR4_PCIDE } from '../../cpu/system/controlRegs.ts';
import { canonicalField, ENTRY_IA32E_MODE_GUEST, hostAddressSpaceSize } from './hostCheckSupport.ts';
import type { EntryCheck } from './checkResult.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.2.4 Checks Related to Address-Space Size';

const ia32eModeGuest = (v: VmcsImage): boolean => (lo(v, SLOT.vmEntryControls) & ENTRY_IA32E_MODE_GUEST) !== 0;
const hostCr4 = (v: VmcsImage, bit: number): boolean => (lo(v, SLOT.hostCr4) & bit) !== 0;

export const HOST_ADDRESS_SPACE_CHECKS: readonly EntryCheck[] = [
  // Outside IA-32e mode (IA32_EFER.LMA = 0) at VM entry.
  { name: 'outsideIa32eModeNoIa32eModeGuest', section: SECTION, holds: (v, _m, ctx) => ctx.hostInIa32eMode || !ia32eModeGuest(v) },
  {
    name: 'outsideIa32eModeNoHostAddressSpaceSize', section: SECTION,
    holds: (v, _m, ctx) => ctx.hostInIa32eMode || !hostAddressSpaceSize(v),
  },
  // In IA-32e mode (IA32_EFER.LMA = 1) at VM entry.
  { name: 'inIa32eModeHostAddressSpaceSize', section: SECTION, holds: (v, _m, ctx) => !ctx.hostInIa32eMode || hostAddressSpaceSize(v) },
  // "Host address-space size" 0: VM exit returns to a 32-bit host.
  { name: 'noHostAddressSpaceSizeNoIa32eModeGuest', section: SECTION, holds: (v) => hostAddressSpaceSize(v) || !ia32eModeGuest(v) },
  { name: 'noHostAddressSpaceSizeCr4PcideClear', section: SECTION, holds: (v) => hostAddressSpaceSize(v) || !hostCr4(v, CR4_PCIDE) },
  { name: 'noHostAddressSpaceSizeRipHighClear', section: SECTION, holds: (v) => hostAddressSpaceSize(v) || hi(v, SLOT.hostRip) === 0 },
  // "Host address-space size" 1: VM exit returns to a 64-bit host.
  { name: 'hostAddressSpaceSizeCr4Pae', section: SECTION, holds: (v) => !hostAddressSpaceSize(v) || hostCr4(v, CR4_PAE) },
  { name: 'hostAddressSpaceSizeRipCanonical', section: SECTION, holds: (v) => !hostAddressSpaceSize(v) || canonicalField(v, SLOT.hostRip) },
];
