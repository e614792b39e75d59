/**
 * SDM Vol. 3C §27.3.1.4 "Checks on Guest RIP, RFLAGS, and SSP" (§26.3.1.4
 * in older editions), in the SDM's order. The SSP checks need CET, which
 * the model lacks.
 */
import { CR0_PE } from '../../cpu/system/mode.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import {
  AR_L, ia32eModeGuest, injectedType, INTERRUPTION_EXTERNAL, RFLAGS_IF, rflags, virtual8086, type GuestCheck,
} from './guestCheckSupport.ts';
import { canonicalField } from './hostCheckSupport.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.3.1.4 Checks on Guest RIP, RFLAGS, and SSP';

/** RFLAGS bits 31:22, 15, 5 and 3 are reserved (0); bits 63:32 too. */
const RFLAGS_RESERVED = 0xffc08028;
/** RFLAGS bit 1 is reserved as 1. */
const RFLAGS_FIXED1 = 1 << 1;

/** The guest will run 64-bit code: IA-32e mode with CS.L = 1. */
const sixtyFourBitCode = (v: VmcsImage): boolean => ia32eModeGuest(v) && (lo(v, SLOT.guestCsAccessRights) & AR_L) !== 0;

export const GUEST_RIP_RFLAGS_CHECKS: readonly GuestCheck[] = [
  { name: 'guestRipHighClearOutside64BitCode', section: SECTION, holds: (v) => sixtyFourBitCode(v) || hi(v, SLOT.guestRip) === 0 },
  { name: 'guestRipCanonicalIn64BitCode', section: SECTION, holds: (v) => !sixtyFourBitCode(v) || canonicalField(v, SLOT.guestRip) },
  {
    name: 'guestRflagsReservedBits', section: SECTION,
    holds: (v) => (lo(v, SLOT.guestRflags) & RFLAGS_RESERVED) === 0 && hi(v, SLOT.guestRflags) === 0 && rflags(v, RFLAGS_FIXED1),
  },
  {
    name: 'guestRflagsVmClearInIa32eModeOrRealMode', section: SECTION,
    holds: (v) => !virtual8086(v) || (!ia32eModeGuest(v) && (lo(v, SLOT.guestCr0) & CR0_PE) !== 0),
  },
  {
    name: 'guestRflagsIfSetForExternalInterrupt', section: SECTION,
    holds: (v) => injectedType(v) !== INTERRUPTION_EXTERNAL || rflags(v, RFLAGS_IF),
  },
];
