/**
 * SDM Vol. 3C §27.3.1.3 "Checks on Guest Descriptor-Table Registers"
 * (§26.3.1.3 in older editions), in the SDM's order.
 */
import type { GuestCheck } from './guestCheckSupport.ts';
import { canonicalField } from './hostCheckSupport.ts';
import { lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.3.1.3 Checks on Guest Descriptor-Table Registers';

export const GUEST_DESCRIPTOR_TABLE_CHECKS: readonly GuestCheck[] = [
  { name: 'guestGdtrBaseCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.guestGdtrBase) },
  { name: 'guestIdtrBaseCanonical', section: SECTION, holds: (v) => canonicalField(v, SLOT.guestIdtrBase) },
  { name: 'guestGdtrLimitHighClear', section: SECTION, holds: (v) => lo(v, SLOT.guestGdtrLimit) >>> 16 === 0 },
  { name: 'guestIdtrLimitHighClear', section: SECTION, holds: (v) => lo(v, SLOT.guestIdtrLimit) >>> 16 === 0 },
];
