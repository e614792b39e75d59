/**
 * SDM Vol. 3C §27.3.1.1 "Checks on Guest Control Registers, Debug
 * Registers, and MSRs" (§26.3.1.1 in older editions), in the SDM's order.
 *
 * Not checked (no such feature in the model, and §27.2.1 already fails a
 * VMCS that sets the "load" control, whose allowed-1 setting is 0): CR4.CET
 * and the "load CET state", "load IA32_PERF_GLOBAL_CTRL", "load
 * IA32_BNDCFGS", "load IA32_RTIT_CTL", "load IA32_LBR_CTL" and "load
 * IA32_PKRS" rules.
 */
import { CR0_CD, CR0_NW, CR0_PE, CR0_PG, EFER_LMA, EFER_LME } from '../../cpu/system/mode.ts';
import { EFER_DEFINED, patHalfValid, withinFixed } from './registerRules.ts';
import { CR4_PAE, CR4_PCIDE } from '../../cpu/system/controlRegs.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { withinWidth } from './controlFields.ts';
import {
  ENTRY_LOAD_DEBUG_CONTROLS, ENTRY_LOAD_EFER, ENTRY_LOAD_PAT, entryControl, ia32eModeGuest, unrestrictedGuest, type GuestCheck,
} from './guestCheckSupport.ts';
import { canonicalField } from './hostCheckSupport.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.3.1.1 Checks on Guest Control Registers, Debug Registers, and MSRs';

/** IA32_DEBUGCTL bits the model defines: LBR (0) and BTF (1) (SDM Vol. 3B §18.4.1); the others are reserved. */
const DEBUGCTL_DEFINED = 0b11;

const cr0 = (v: VmcsImage, bit: number): boolean => (lo(v, SLOT.guestCr0) & bit) !== 0;
const cr4 = (v: VmcsImage, bit: number): boolean => (lo(v, SLOT.guestCr4) & bit) !== 0;
const efer = (v: VmcsImage, bit: number): boolean => (lo(v, SLOT.guestIa32Efer) & bit) !== 0;



const whenLoadEfer = (rule: (v: VmcsImage) => boolean) => (v: VmcsImage): boolean => !entryControl(v, ENTRY_LOAD_EFER) || rule(v);

export const GUEST_REGISTER_CHECKS: readonly GuestCheck[] = [
  {
    // NW and CD are never checked (VM entry does not change them, §27.3.2.1); PE and PG are not with "unrestricted guest".
    name: 'guestCr0Fixed', section: SECTION,
    holds: (v, m) => withinFixed(lo(v, SLOT.guestCr0), hi(v, SLOT.guestCr0), m.read(VMX_MSR.CR0_FIXED0)!, m.read(VMX_MSR.CR0_FIXED1)!,
      CR0_NW | CR0_CD | (unrestrictedGuest(v) ? CR0_PE | CR0_PG : 0)),
  },
  { name: 'guestCr0PgRequiresPe', section: SECTION, holds: (v) => !cr0(v, CR0_PG) || cr0(v, CR0_PE) },
  {
    name: 'guestCr4Fixed', section: SECTION,
    holds: (v, m) => withinFixed(lo(v, SLOT.guestCr4), hi(v, SLOT.guestCr4), m.read(VMX_MSR.CR4_FIXED0)!, m.read(VMX_MSR.CR4_FIXED1)!, 0),
  },
  {
    name: 'guestDebugctlReservedBits', section: SECTION,
    holds: (v) => !entryControl(v, ENTRY_LOAD_DEBUG_CONTROLS) ||
      ((lo(v, SLOT.guestIa32Debugctl) & ~DEBUGCTL_DEFINED) === 0 && hi(v, SLOT.guestIa32Debugctl) === 0),
  },
  { name: 'ia32eModeGuestCr0Pg', section: SECTION, holds: (v) => !ia32eModeGuest(v) || cr0(v, CR0_PG) },
  { name: 'ia32eModeGuestCr4Pae', section: SECTION, holds: (v) => !ia32eModeGuest(v) || cr4(v, CR4_PAE) },
  { name: 'notIa32eModeGuestCr4PcideClear', section: SECTION, holds: (v) => ia32eModeGuest(v) || !cr4(v, CR4_PCIDE) },
  {
    // "Bits 63:52 and bits in the range 51:32 beyond the processor's physical-address width must be 0."
    name: 'guestCr3PhysicalAddressWidth', section: SECTION,
    holds: (v, _m, ctx) => withinWidth(lo(v, SLOT.guestCr3), hi(v, SLOT.guestCr3), Math.max(ctx.physAddrBits, 32)),
  },
  { name: 'guestDr7HighClear', section: SECTION, holds: (v) => !entryControl(v, ENTRY_LOAD_DEBUG_CONTROLS) || hi(v, SLOT.guestDr7) === 0 },
  { name: 'guestSysenterEspCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.guestIa32SysenterEsp) },
  { name: 'guestSysenterEipCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.guestIa32SysenterEip) },
  {
    name: 'guestPatMemoryTypes', section: SECTION,
    holds: (v) => !entryControl(v, ENTRY_LOAD_PAT) || (patHalfValid(lo(v, SLOT.guestIa32Pat)) && patHalfValid(hi(v, SLOT.guestIa32Pat))),
  },
  {
    name: 'guestEferReservedBits', section: SECTION,
    holds: whenLoadEfer((v) => (lo(v, SLOT.guestIa32Efer) & ~EFER_DEFINED) === 0 && hi(v, SLOT.guestIa32Efer) === 0),
  },
  { name: 'guestEferLmaIsIa32eModeGuest', section: SECTION, holds: whenLoadEfer((v) => efer(v, EFER_LMA) === ia32eModeGuest(v)) },
  {
    name: 'guestEferLmaIsLmeWhenPaging', section: SECTION,
    holds: whenLoadEfer((v) => !cr0(v, CR0_PG) || efer(v, EFER_LMA) === efer(v, EFER_LME)),
  },
];
