/**
 * SDM Vol. 3C §27.2.3 "Checks on Host Segment and Descriptor-Table
 * Registers" (§26.2.3 in older editions), in the SDM's order. Each
 * per-register condition is its own predicate, so a failed entry names the
 * field.
 */
import { canonicalField, hostAddressSpaceSize } from './hostCheckSupport.ts';
import type { EntryCheck } from './checkResult.ts';
import { lo, SLOT } from './vmcsView.ts';

const SECTION = '§27.2.3 Checks on Host Segment and Descriptor-Table Registers';

/** A selector's RPL (bits 1:0) and TI flag (bit 2). */
const RPL_TI = 7;

/** "In the selector field for each of CS, SS, DS, ES, FS, GS and TR, the RPL and the TI flag must be 0." */
const SELECTORS = [
  ['hostCsSelector', SLOT.hostCsSelector], ['hostSsSelector', SLOT.hostSsSelector],
  ['hostDsSelector', SLOT.hostDsSelector], ['hostEsSelector', SLOT.hostEsSelector],
  ['hostFsSelector', SLOT.hostFsSelector], ['hostGsSelector', SLOT.hostGsSelector],
  ['hostTrSelector', SLOT.hostTrSelector],
] as const;

/** "The base-address fields for FS, GS, GDTR, IDTR, and TR must contain canonical addresses." */
const BASES = [
  ['hostFsBase', SLOT.hostFsBase], ['hostGsBase', SLOT.hostGsBase], ['hostGdtrBase', SLOT.hostGdtrBase],
  ['hostIdtrBase', SLOT.hostIdtrBase], ['hostTrBase', SLOT.hostTrBase],
] as const;

const nonNull = (name: string, slot: number): EntryCheck =>
  ({ name: `${name}NonNull`, section: SECTION, holds: (v) => lo(v, slot) !== 0 });

export const HOST_SEGMENT_CHECKS: readonly EntryCheck[] = [
  ...SELECTORS.map(([name, slot]): EntryCheck =>
    ({ name: `${name}RplTiZero`, section: SECTION, holds: (v) => (lo(v, slot) & RPL_TI) === 0 })),
  nonNull('hostCsSelector', SLOT.hostCsSelector),
  nonNull('hostTrSelector', SLOT.hostTrSelector),
  {
    // A 64-bit host may run with a null SS; a 32-bit one may not.
    name: 'hostSsSelectorNonNullWithoutHostAddressSpaceSize', section: SECTION,
    holds: (v) => hostAddressSpaceSize(v) || lo(v, SLOT.hostSsSelector) !== 0,
  },
  ...BASES.map(([name, slot]): EntryCheck =>
    ({ name: `${name}Canonical`, section: SECTION, holds: (v) => canonicalField(v, slot) })),
];
