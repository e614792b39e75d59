/**
 * SDM Vol. 3C §27.3.1.2 "Checks on Guest Segment Registers" (§26.3.1.2 in
 * older editions), in the SDM's order: selectors, base addresses, limits,
 * then access rights (CS/SS/DS/ES/FS/GS field by field, then TR, then
 * LDTR). "Usable" means the unusable bit (16) of the access rights is 0.
 * Each per-register condition is its own predicate, so a failed entry
 * names the register.
 */
import { CR0_PE } from '../../cpu/system/mode.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import {
  AR_DB, AR_G, AR_L, AR_P, AR_S, AR_UNUSABLE, arDpl, arType, ia32eModeGuest, unrestrictedGuest, virtual8086, type GuestCheck,
} from './guestCheckSupport.ts';
import { canonicalField } from './hostCheckSupport.ts';
import { hi, lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.3.1.2 Checks on Guest Segment Registers';

interface Segment { readonly name: string; readonly selector: number; readonly base: number; readonly limit: number; readonly ar: number }
const segment = (name: string, selector: number, base: number, limit: number, ar: number): Segment =>
  ({ name, selector, base, limit, ar });

const CS = segment('Cs', SLOT.guestCsSelector, SLOT.guestCsBase, SLOT.guestCsLimit, SLOT.guestCsAccessRights);
const SS = segment('Ss', SLOT.guestSsSelector, SLOT.guestSsBase, SLOT.guestSsLimit, SLOT.guestSsAccessRights);
const DS = segment('Ds', SLOT.guestDsSelector, SLOT.guestDsBase, SLOT.guestDsLimit, SLOT.guestDsAccessRights);
const ES = segment('Es', SLOT.guestEsSelector, SLOT.guestEsBase, SLOT.guestEsLimit, SLOT.guestEsAccessRights);
const FS = segment('Fs', SLOT.guestFsSelector, SLOT.guestFsBase, SLOT.guestFsLimit, SLOT.guestFsAccessRights);
const GS = segment('Gs', SLOT.guestGsSelector, SLOT.guestGsBase, SLOT.guestGsLimit, SLOT.guestGsAccessRights);
const TR = segment('Tr', SLOT.guestTrSelector, SLOT.guestTrBase, SLOT.guestTrLimit, SLOT.guestTrAccessRights);
const LDTR = segment('Ldtr', SLOT.guestLdtrSelector, SLOT.guestLdtrBase, SLOT.guestLdtrLimit, SLOT.guestLdtrAccessRights);

/** The six registers virtual-8086 mode constrains. */
const V86_SEGMENTS = [CS, SS, DS, ES, FS, GS];
/** The data-segment registers checked together ("DS, ES, FS, GS"). */
const DATA_SEGMENTS = [DS, ES, FS, GS];
/** Registers checked "if usable": SS, DS, ES, FS, GS (CS is always checked). */
const MAYBE_UNUSABLE = [SS, ...DATA_SEGMENTS];

const TI = 1 << 2;
const RESERVED_11_8 = 0xf00;
const RESERVED_31_17 = 0xfffe0000;
/** Access rights of every segment register in virtual-8086 mode: present, DPL 3, S, read/write accessed data. */
const V86_AR = 0xf3;
/** Accessed code-segment types 9, 11, 13, 15 (bit k set: type k). */
const ACCESSED_CODE_TYPES = 0xaa00;

const ar = (v: VmcsImage, s: Segment): number => lo(v, s.ar);
const usable = (v: VmcsImage, s: Segment): boolean => (ar(v, s) & AR_UNUSABLE) === 0;
const rpl = (v: VmcsImage, s: Segment): number => lo(v, s.selector) & 3;
const csType = (v: VmcsImage): number => arType(ar(v, CS));

/** The SDM's granularity rule: limit bits 11:0 not all 1 ⇒ G = 0; any of limit bits 31:20 set ⇒ G = 1. */
function granularityConsistent(v: VmcsImage, s: Segment): boolean {
  const limit = lo(v, s.limit), g = (ar(v, s) & AR_G) !== 0;
  return ((limit & 0xfff) === 0xfff || !g) && ((limit & 0xfff00000) === 0 || g);
}

const check = (name: string, holds: (v: VmcsImage) => boolean): GuestCheck => ({ name, section: SECTION, holds });
/** A virtual-8086 rule for CS, SS, DS, ES, FS and GS. */
const v86 = (what: string, rule: (v: VmcsImage, s: Segment) => boolean): GuestCheck[] =>
  V86_SEGMENTS.map((s) => check(`v86Guest${s.name}${what}`, (v) => !virtual8086(v) || rule(v, s)));
/** A protected-mode rule (RFLAGS.VM = 0) for CS, always. */
const csRule = (what: string, rule: (v: VmcsImage) => boolean): GuestCheck =>
  check(`guestCs${what}`, (v) => virtual8086(v) || rule(v));
/** A protected-mode rule for each of `segments`, when usable. */
const usableRule = (segments: Segment[], what: string, rule: (v: VmcsImage, s: Segment) => boolean): GuestCheck[] =>
  segments.map((s) => check(`guest${s.name}${what}`, (v) => virtual8086(v) || !usable(v, s) || rule(v, s)));
/** A rule for TR, always, or for LDTR, when usable. */
const systemRule = (s: Segment, what: string, rule: (v: VmcsImage) => boolean): GuestCheck =>
  check(`guest${s.name}${what}`, (v) => (s === LDTR && !usable(v, s)) || rule(v));

export const GUEST_SEGMENT_CHECKS: readonly GuestCheck[] = [
  // Selector fields.
  check('guestTrSelectorTiClear', (v) => (lo(v, TR.selector) & TI) === 0),
  check('guestLdtrSelectorTiClear', (v) => !usable(v, LDTR) || (lo(v, LDTR.selector) & TI) === 0),
  check('guestSsRplIsCsRpl', (v) => virtual8086(v) || unrestrictedGuest(v) || rpl(v, SS) === rpl(v, CS)),
  // Base-address fields.
  ...v86('BaseIsSelectorTimes16', (v, s) => hi(v, s.base) === 0 && lo(v, s.base) === lo(v, s.selector) << 4),
  check('guestTrBaseCanonical', (v) => canonicalField(v, TR.base)),
  check('guestFsBaseCanonical', (v) => canonicalField(v, FS.base)),
  check('guestGsBaseCanonical', (v) => canonicalField(v, GS.base)),
  check('guestLdtrBaseCanonical', (v) => !usable(v, LDTR) || canonicalField(v, LDTR.base)),
  check('guestCsBaseHighClear', (v) => hi(v, CS.base) === 0),
  ...[SS, DS, ES].map((s) => check(`guest${s.name}BaseHighClear`, (v) => !usable(v, s) || hi(v, s.base) === 0)),
  // Limit fields.
  ...v86('Limit0000FFFF', (v, s) => lo(v, s.limit) === 0xffff),
  // Access-rights fields: virtual-8086 mode.
  ...v86('AccessRightsF3', (v, s) => ar(v, s) === V86_AR),
  // Access-rights fields outside virtual-8086 mode. Type: accessed code, or (unrestricted guest) accessed read/write data.
  csRule('Type', (v) => ((ACCESSED_CODE_TYPES >> csType(v)) & 1) !== 0 || (csType(v) === 3 && unrestrictedGuest(v))),
  ...usableRule([SS], 'Type', (v) => arType(ar(v, SS)) === 3 || arType(ar(v, SS)) === 7),
  ...usableRule(DATA_SEGMENTS, 'TypeAccessedReadable', (v, s) => (ar(v, s) & 1) !== 0 && ((ar(v, s) & 8) === 0 || (ar(v, s) & 2) !== 0)),
  // S: code or data.
  csRule('SSet', (v) => (ar(v, CS) & AR_S) !== 0),
  ...usableRule(MAYBE_UNUSABLE, 'SSet', (v, s) => (ar(v, s) & AR_S) !== 0),
  // DPL.
  csRule('DplZeroForType3', (v) => csType(v) !== 3 || arDpl(ar(v, CS)) === 0),
  csRule('DplIsSsDplNonConforming', (v) => (csType(v) !== 9 && csType(v) !== 11) || arDpl(ar(v, CS)) === arDpl(ar(v, SS))),
  csRule('DplAtMostSsDplConforming', (v) => (csType(v) !== 13 && csType(v) !== 15) || arDpl(ar(v, CS)) <= arDpl(ar(v, SS))),
  check('guestSsDplIsRpl', (v) => virtual8086(v) || unrestrictedGuest(v) || arDpl(ar(v, SS)) === rpl(v, SS)),
  check('guestSsDplZeroInRealModeOrCsType3',
    (v) => virtual8086(v) || (csType(v) !== 3 && (lo(v, SLOT.guestCr0) & CR0_PE) !== 0) || arDpl(ar(v, SS)) === 0),
  // "The DPL cannot be less than the RPL" for data and non-conforming code (types 0-11), without "unrestricted guest".
  ...usableRule(DATA_SEGMENTS, 'DplNotBelowRpl', (v, s) => unrestrictedGuest(v) || arType(ar(v, s)) > 11 || arDpl(ar(v, s)) >= rpl(v, s)),
  // P: present.
  csRule('Present', (v) => (ar(v, CS) & AR_P) !== 0),
  ...usableRule(MAYBE_UNUSABLE, 'Present', (v, s) => (ar(v, s) & AR_P) !== 0),
  // Reserved bits 11:8.
  csRule('AccessRightsBits11To8Clear', (v) => (ar(v, CS) & RESERVED_11_8) === 0),
  ...usableRule(MAYBE_UNUSABLE, 'AccessRightsBits11To8Clear', (v, s) => (ar(v, s) & RESERVED_11_8) === 0),
  // D/B: a 64-bit code segment (IA-32e mode, L = 1) has D = 0.
  csRule('DbClearWhenL', (v) => !ia32eModeGuest(v) || (ar(v, CS) & AR_L) === 0 || (ar(v, CS) & AR_DB) === 0),
  // G: consistent with the limit.
  csRule('GranularityMatchesLimit', (v) => granularityConsistent(v, CS)),
  ...usableRule(MAYBE_UNUSABLE, 'GranularityMatchesLimit', granularityConsistent),
  // Reserved bits 31:17.
  csRule('AccessRightsBits31To17Clear', (v) => (ar(v, CS) & RESERVED_31_17) === 0),
  ...usableRule(MAYBE_UNUSABLE, 'AccessRightsBits31To17Clear', (v, s) => (ar(v, s) & RESERVED_31_17) === 0),
  // TR: a busy TSS (16-bit type 3 only outside IA-32e mode, 32/64-bit type 11), present system segment.
  systemRule(TR, 'TypeBusyTss', (v) => arType(ar(v, TR)) === 11 || (arType(ar(v, TR)) === 3 && !ia32eModeGuest(v))),
  systemRule(TR, 'SClear', (v) => (ar(v, TR) & AR_S) === 0),
  systemRule(TR, 'Present', (v) => (ar(v, TR) & AR_P) !== 0),
  systemRule(TR, 'AccessRightsBits11To8Clear', (v) => (ar(v, TR) & RESERVED_11_8) === 0),
  systemRule(TR, 'GranularityMatchesLimit', (v) => granularityConsistent(v, TR)),
  systemRule(TR, 'Usable', (v) => usable(v, TR)),
  systemRule(TR, 'AccessRightsBits31To17Clear', (v) => (ar(v, TR) & RESERVED_31_17) === 0),
  // LDTR, when usable: an LDT (type 2), present system segment.
  systemRule(LDTR, 'TypeLdt', (v) => arType(ar(v, LDTR)) === 2),
  systemRule(LDTR, 'SClear', (v) => (ar(v, LDTR) & AR_S) === 0),
  systemRule(LDTR, 'Present', (v) => (ar(v, LDTR) & AR_P) !== 0),
  systemRule(LDTR, 'AccessRightsBits11To8Clear', (v) => (ar(v, LDTR) & RESERVED_11_8) === 0),
  systemRule(LDTR, 'GranularityMatchesLimit', (v) => granularityConsistent(v, LDTR)),
  systemRule(LDTR, 'AccessRightsBits31To17Clear', (v) => (ar(v, LDTR) & RESERVED_31_17) === 0),
];
