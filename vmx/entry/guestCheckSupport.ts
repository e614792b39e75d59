/**
 * What the checks on the guest-state area of SDM Vol. 3C §27.3.1 (§26.3.1
 * in older editions) share: the context they need, the check shape, the
 * controls and guest fields they read, and the segment access-rights
 * layout (§25.4.1 Table 25-2). A failed check is a VM-entry failure: a VM
 * exit with basic reason 33 "VM-entry failure due to invalid guest state"
 * (bit 31 of the exit reason set, exit qualification 0).
 *
 * The model is an Intel 64 processor with 48-bit linear addresses, never in
 * SMM, with no CET, PKS, MPX, Intel PT, RTM, SGX or architectural LBRs:
 * every check the SDM makes only for those features is left out, the
 * feature's bits counting as reserved where the SDM says so.
 */
import { controlMask } from '../model/controls.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { EntryCheck, EntryCheckContext } from './checkResult.ts';
import { secondaryControls } from './controlFields.ts';
import { ENTRY_IA32E_MODE_GUEST } from './hostCheckSupport.ts';
import { lo, SLOT } from './vmcsView.ts';

/**
 * The checks on the guest-state area need one thing from guest memory:
 * the first 4 bytes of the VMCS the link pointer names (§27.3.1.5). The
 * caller reads it; the checks stay free of memory.
 */
export interface GuestCheckContext extends EntryCheckContext {
  /** The 32-bit value at physical address hi:lo (the VMCS link pointer). */
  readonly readLinkRevision: (linkLo: number, linkHi: number) => number;
  /** The current-VMCS pointer (the link pointer must not name it, §27.3.1.5). */
  readonly currentVmcs: number;
}

/** One named check on the guest-state area. */
export type GuestCheck = EntryCheck<GuestCheckContext>;

/** Basic exit reason of the VM exit a failed guest-state check causes (Appendix C). */
export const GUEST_STATE_EXIT_REASON = 33;

export const ENTRY_LOAD_DEBUG_CONTROLS = controlMask('entry', ['loadDebugControls']);
export const ENTRY_LOAD_PAT = controlMask('entry', ['loadPat']);
export const ENTRY_LOAD_EFER = controlMask('entry', ['loadEfer']);
const UNRESTRICTED_GUEST = controlMask('proc2', ['unrestrictedGuest']);

/** Whether VM-entry control(s) `mask` are 1. */
export const entryControl = (v: VmcsImage, mask: number): boolean => (lo(v, SLOT.vmEntryControls) & mask) !== 0;
/** "IA-32e mode guest": the guest will be in IA-32e mode after VM entry. */
export const ia32eModeGuest = (v: VmcsImage): boolean => entryControl(v, ENTRY_IA32E_MODE_GUEST);
/** "Unrestricted guest", as the processor applies it (0 when secondary controls are not activated). */
export const unrestrictedGuest = (v: VmcsImage): boolean => (secondaryControls(v) & UNRESTRICTED_GUEST) !== 0;

export const RFLAGS_IF = 1 << 9, RFLAGS_TF = 1 << 8, RFLAGS_VM = 1 << 17;
/** Whether RFLAGS bit(s) `mask` are 1 in the guest RFLAGS field. */
export const rflags = (v: VmcsImage, mask: number): boolean => (lo(v, SLOT.guestRflags) & mask) !== 0;
/** The guest will be in virtual-8086 mode (RFLAGS.VM = 1). */
export const virtual8086 = (v: VmcsImage): boolean => rflags(v, RFLAGS_VM);

/** Interruption types of the VM-entry interruption-information field (§25.8.3). */
export const INTERRUPTION_EXTERNAL = 0, INTERRUPTION_NMI = 2, INTERRUPTION_HARDWARE_EXCEPTION = 3, INTERRUPTION_OTHER = 7;
/** The type of the event VM entry injects, or -1 when the valid bit (31) is 0. */
export function injectedType(v: VmcsImage): number {
  const info = lo(v, SLOT.vmEntryInterruptionInformationField);
  return (info & 0x80000000) !== 0 ? (info >>> 8) & 7 : -1;
}
/** The vector of the injected event (bits 7:0). */
export const injectedVector = (v: VmcsImage): number => lo(v, SLOT.vmEntryInterruptionInformationField) & 0xff;

/** Segment access rights (§25.4.1 Table 25-2): bits 3:0 type, 4 S, 6:5 DPL, 7 P, 13 L, 14 D/B, 15 G, 16 unusable. */
export const AR_S = 1 << 4, AR_P = 1 << 7, AR_L = 1 << 13, AR_DB = 1 << 14, AR_G = 1 << 15, AR_UNUSABLE = 1 << 16;
export const arType = (ar: number): number => ar & 0xf;
export const arDpl = (ar: number): number => (ar >>> 5) & 3;
