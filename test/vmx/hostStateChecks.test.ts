/**
 * The checks on the host-state area at VM entry (SDM Vol. 3C §27.2.2
 * "Checks on Host Control Registers, MSRs, and SSP", §27.2.3 "Checks on Host
 * Segment and Descriptor-Table Registers", §27.2.4 "Checks Related to
 * Address-Space Size"). A valid host area is built by hand for a 64-bit and
 * a 32-bit host; each case breaks exactly one of the SDM's conditions and
 * expects that predicate as the first failure. Bit positions are typed from
 * the SDM, not taken from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel } from '../../vmx/model/vmxModel.ts';
import type { EntryCheckContext } from '../../vmx/entry/checkResult.ts';
import { checkHostState, HOST_STATE_CHECK_ERROR, HOST_STATE_CHECKS } from '../../vmx/entry/hostStateChecks.ts';
import { hi, lo, set, SLOT } from '../../vmx/entry/vmcsView.ts';
import { FIELD_SLOTS, type VmcsImage } from '../../vmx/unit/vmcsRegion.ts';

const bit = (...ns: number[]): number => ns.reduce((m, n) => m | (1 << n), 0) >>> 0;
/** CR4 bits a CPU model with VMX, PAE and PCID lets software set: TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT VMXE PCIDE OSXSAVE SMEP SMAP. */
const CR4_SETTABLE = bit(2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 17, 18, 20, 21);
const model = new VmxModel(FULL_VMX_MODEL, { cr4Settable: CR4_SETTABLE, vmcsHighestIndex: 0x1d });

// VM-exit controls (§25.7.1): host address-space size 9, load IA32_PAT 19, load IA32_EFER 21.
const HASS = bit(9), LOAD_PAT = bit(19), LOAD_EFER = bit(21);
// VM-entry controls (§25.8.1): IA-32e mode guest 9.
const IA32E_GUEST = bit(9);
const CR0_PE = bit(0), CR0_NE = bit(5), CR0_NW = bit(29), CR0_CD = bit(30);
const CR4_PAE = bit(5), CR4_LA57 = bit(12), CR4_VMXE = bit(13), CR4_PCIDE = bit(17);
const EFER_SCE = 0x1n, EFER_LME = 0x100n, EFER_LMA = 0x400n, EFER_NXE = 0x800n;

type Field = keyof typeof SLOT;

function put(v: VmcsImage, f: Field, value: bigint): void {
  const u = BigInt.asUintN(64, value);
  set(v, SLOT[f], Number(u & 0xffffffffn), Number(u >> 32n));
}
function get(v: VmcsImage, f: Field): bigint {
  return (BigInt(hi(v, SLOT[f])) << 32n) | BigInt(lo(v, SLOT[f]));
}

const CTX64: EntryCheckContext = { physAddrBits: 46, hostInIa32eMode: true };
const CTX32: EntryCheckContext = { physAddrBits: 46, hostInIa32eMode: false };

/** A 64-bit host that satisfies every check: paging on, PAE|VMXE, flat selectors, higher-half kernel addresses. */
function host64(): VmcsImage {
  const v: VmcsImage = { lo: new Int32Array(FIELD_SLOTS), hi: new Int32Array(FIELD_SLOTS), launched: false };
  put(v, 'hostCr0', 0x80050033n); // PG WP AM NE ET MP PE
  put(v, 'hostCr3', 0x1000n);
  put(v, 'hostCr4', BigInt(CR4_PAE | CR4_VMXE));
  put(v, 'hostIa32SysenterEsp', 0xffffffff80002000n);
  put(v, 'hostIa32SysenterEip', 0xffffffff80001000n);
  put(v, 'hostIa32Pat', 0x0007040600070406n); // the power-up PAT: WB WT UC- UC, twice
  put(v, 'hostIa32Efer', EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
  put(v, 'hostCsSelector', 0x08n);
  put(v, 'hostSsSelector', 0x10n);
  for (const s of ['hostDsSelector', 'hostEsSelector', 'hostFsSelector', 'hostGsSelector'] as const) put(v, s, 0x18n);
  put(v, 'hostTrSelector', 0x20n);
  put(v, 'hostFsBase', 0n);
  put(v, 'hostGsBase', 0xffff800000000000n); // lowest canonical higher-half address
  put(v, 'hostTrBase', 0xffffffff80003000n);
  put(v, 'hostGdtrBase', 0xffffffff80004000n);
  put(v, 'hostIdtrBase', 0x00007ffffffff000n); // highest canonical lower-half page
  put(v, 'hostRsp', 0xffffffff80010000n);
  put(v, 'hostRip', 0xffffffff81000000n);
  put(v, 'vmExitControls', BigInt(HASS | LOAD_PAT | LOAD_EFER));
  put(v, 'vmEntryControls', BigInt(IA32E_GUEST));
  return v;
}

/** A 32-bit host (outside IA-32e mode): host address-space size 0, no IA32_EFER load, RIP below 4 GB. */
function host32(): VmcsImage {
  const v = host64();
  put(v, 'hostCr4', BigInt(CR4_VMXE));
  put(v, 'hostIa32SysenterEsp', 0x80002000n);
  put(v, 'hostIa32SysenterEip', 0x80001000n);
  for (const f of ['hostGsBase', 'hostTrBase', 'hostGdtrBase', 'hostIdtrBase'] as const) put(v, f, 0x80004000n);
  put(v, 'hostRsp', 0x80010000n);
  put(v, 'hostRip', 0x00401000n);
  put(v, 'vmExitControls', BigInt(LOAD_PAT));
  put(v, 'vmEntryControls', 0n);
  return v;
}

const firstFailure = (v: VmcsImage, ctx: EntryCheckContext): string | null =>
  checkHostState(v, model, ctx)?.check ?? null;

/** A case: start from `base`, apply `change`, expect `check` to be the first failure. */
interface Case { check: string; how: string; base: () => VmcsImage; ctx: EntryCheckContext; change: (v: VmcsImage) => void }
const c64 = (check: string, how: string, change: (v: VmcsImage) => void): Case => ({ check, how, base: host64, ctx: CTX64, change });
const c32 = (check: string, how: string, change: (v: VmcsImage) => void): Case => ({ check, how, base: host32, ctx: CTX32, change });
const orBits = (f: Field, bits: bigint) => (v: VmcsImage): void => put(v, f, get(v, f) | bits);
const clearBits = (f: Field, bits: bigint) => (v: VmcsImage): void => put(v, f, get(v, f) & ~bits);
const value = (f: Field, x: bigint) => (v: VmcsImage): void => put(v, f, x);

const SELECTOR_FIELDS = ['hostCsSelector', 'hostSsSelector', 'hostDsSelector', 'hostEsSelector', 'hostFsSelector', 'hostGsSelector', 'hostTrSelector'] as const;
const BASE_FIELDS = ['hostFsBase', 'hostGsBase', 'hostGdtrBase', 'hostIdtrBase', 'hostTrBase'] as const;
/** Bit 47 set, bits 63:48 clear: the smallest non-canonical address. */
const NON_CANONICAL = 0x0000800000000000n;

const CASES: readonly Case[] = [
  // §27.2.2
  c64('hostCr0Fixed', 'CR0.NE clear (IA32_VMX_CR0_FIXED0 bit 5)', clearBits('hostCr0', BigInt(CR0_NE))),
  c64('hostCr0Fixed', 'CR0.PE clear (IA32_VMX_CR0_FIXED0 bit 0)', clearBits('hostCr0', BigInt(CR0_PE))),
  c64('hostCr0Fixed', 'CR0 bit 32 set (IA32_VMX_CR0_FIXED1 bits 63:32 are 0)', orBits('hostCr0', 1n << 32n)),
  c64('hostCr4Fixed', 'CR4.VMXE clear (IA32_VMX_CR4_FIXED0 bit 13)', clearBits('hostCr4', BigInt(CR4_VMXE))),
  c64('hostCr4Fixed', 'CR4.LA57 set (not in IA32_VMX_CR4_FIXED1)', orBits('hostCr4', BigInt(CR4_LA57))),
  c64('hostCr4Fixed', 'CR4 bit 40 set', orBits('hostCr4', 1n << 40n)),
  c64('hostCr3PhysicalAddressWidth', 'CR3 bit 46 set with MAXPHYADDR 46', orBits('hostCr3', 1n << 46n)),
  c64('hostCr3PhysicalAddressWidth', 'CR3 bit 63 set', orBits('hostCr3', 1n << 63n)),
  c64('hostSysenterEspCanonical', 'IA32_SYSENTER_ESP non-canonical', value('hostIa32SysenterEsp', NON_CANONICAL)),
  c64('hostSysenterEipCanonical', 'IA32_SYSENTER_EIP bits 63:48 not all equal to bit 47', value('hostIa32SysenterEip', 0xfffe800000000000n)),
  c64('hostPatMemoryTypes', 'PAT entry 2 = 2 (reserved type)', value('hostIa32Pat', 0x0007040600020406n)),
  c64('hostPatMemoryTypes', 'PAT entry 7 = 3 (reserved type)', value('hostIa32Pat', 0x0307040600070406n)),
  c64('hostPatMemoryTypes', 'PAT entry 4 = 8 (beyond the types)', value('hostIa32Pat', 0x0007040800070406n)),
  c64('hostEferReservedBits', 'IA32_EFER bit 12 set', orBits('hostIa32Efer', 1n << 12n)),
  c64('hostEferReservedBits', 'IA32_EFER bit 32 set', orBits('hostIa32Efer', 1n << 32n)),
  c64('hostEferLmaIsHostAddressSpaceSize', 'LMA 0 with host address-space size 1', clearBits('hostIa32Efer', EFER_LMA)),
  c64('hostEferLmeIsHostAddressSpaceSize', 'LME 0 with host address-space size 1', clearBits('hostIa32Efer', EFER_LME)),
  c32('hostEferLmaIsHostAddressSpaceSize', 'LMA 1 with host address-space size 0', (v) => {
    orBits('vmExitControls', BigInt(LOAD_EFER))(v);
    put(v, 'hostIa32Efer', EFER_LMA);
  }),
  // §27.2.3
  ...SELECTOR_FIELDS.map((f) => c64(`${f}RplTiZero`, `${f} RPL = 3`, orBits(f, 3n))),
  c64('hostDsSelectorRplTiZero', 'DS selector TI = 1', orBits('hostDsSelector', 4n)),
  c64('hostCsSelectorNonNull', 'CS selector 0000H', value('hostCsSelector', 0n)),
  c64('hostTrSelectorNonNull', 'TR selector 0000H', value('hostTrSelector', 0n)),
  c32('hostSsSelectorNonNullWithoutHostAddressSpaceSize', 'SS selector 0000H for a 32-bit host', value('hostSsSelector', 0n)),
  ...BASE_FIELDS.map((f) => c64(`${f}Canonical`, `${f} non-canonical`, value(f, NON_CANONICAL))),
  // §27.2.4
  c32('outsideIa32eModeNoIa32eModeGuest', '"IA-32e mode guest" 1 outside IA-32e mode', orBits('vmEntryControls', BigInt(IA32E_GUEST))),
  c32('outsideIa32eModeNoHostAddressSpaceSize', '"host address-space size" 1 outside IA-32e mode', orBits('vmExitControls', BigInt(HASS))),
  c64('inIa32eModeHostAddressSpaceSize', '"host address-space size" 0 in IA-32e mode (no IA32_EFER load)',
    clearBits('vmExitControls', BigInt(HASS | LOAD_EFER))),
  c32('noHostAddressSpaceSizeCr4PcideClear', 'CR4.PCIDE 1 for a 32-bit host', orBits('hostCr4', BigInt(CR4_PCIDE))),
  c32('noHostAddressSpaceSizeRipHighClear', 'RIP bit 32 set for a 32-bit host', orBits('hostRip', 1n << 32n)),
  c64('hostAddressSpaceSizeCr4Pae', 'CR4.PAE 0 for a 64-bit host', clearBits('hostCr4', BigInt(CR4_PAE))),
  c64('hostAddressSpaceSizeRipCanonical', 'RIP non-canonical for a 64-bit host', value('hostRip', NON_CANONICAL)),
];

describe('VM-entry checks on the host-state area (SDM Vol. 3C §27.2.2-§27.2.4)', () => {
  it('fail with VMfailValid(8) "VM entry with invalid host-state field(s)" (§31.4)', () => {
    expect(HOST_STATE_CHECK_ERROR).toBe(8);
  });

  it('a valid 64-bit host area passes every check', () => {
    expect(checkHostState(host64(), model, CTX64)).toBeNull();
  });

  it('a valid 32-bit host area passes every check outside IA-32e mode', () => {
    expect(checkHostState(host32(), model, CTX32)).toBeNull();
  });

  it('run in the SDM order, one predicate per condition', () => {
    expect(HOST_STATE_CHECKS.map((c) => c.name)).toEqual([
      'hostCr0Fixed', 'hostCr4Fixed', 'hostCr3PhysicalAddressWidth', 'hostSysenterEspCanonical', 'hostSysenterEipCanonical',
      'hostPatMemoryTypes', 'hostEferReservedBits', 'hostEferLmaIsHostAddressSpaceSize', 'hostEferLmeIsHostAddressSpaceSize',
      'hostCsSelectorRplTiZero', 'hostSsSelectorRplTiZero', 'hostDsSelectorRplTiZero', 'hostEsSelectorRplTiZero',
      'hostFsSelectorRplTiZero', 'hostGsSelectorRplTiZero', 'hostTrSelectorRplTiZero',
      'hostCsSelectorNonNull', 'hostTrSelectorNonNull', 'hostSsSelectorNonNullWithoutHostAddressSpaceSize',
      'hostFsBaseCanonical', 'hostGsBaseCanonical', 'hostGdtrBaseCanonical', 'hostIdtrBaseCanonical', 'hostTrBaseCanonical',
      'outsideIa32eModeNoIa32eModeGuest', 'outsideIa32eModeNoHostAddressSpaceSize', 'inIa32eModeHostAddressSpaceSize',
      'noHostAddressSpaceSizeNoIa32eModeGuest', 'noHostAddressSpaceSizeCr4PcideClear', 'noHostAddressSpaceSizeRipHighClear',
      'hostAddressSpaceSizeCr4Pae', 'hostAddressSpaceSizeRipCanonical',
    ]);
  });

  it('a failure names its SDM section', () => {
    const v = host64();
    put(v, 'hostTrSelector', 0n);
    expect(checkHostState(v, model, CTX64)).toEqual({
      check: 'hostTrSelectorNonNull', section: '§27.2.3 Checks on Host Segment and Descriptor-Table Registers',
    });
  });

  it.each(CASES.map((c) => [c.check, c.how, c] as const))('%s: %s', (_name, _how, c) => {
    const v = c.base();
    c.change(v);
    expect(firstFailure(v, c.ctx)).toBe(c.check);
  });

  it('every predicate but the unreachable one has a case above', () => {
    const covered = new Set(CASES.map((c) => c.check));
    const missing = HOST_STATE_CHECKS.map((c) => c.name).filter((n) => !covered.has(n));
    expect(missing).toEqual(['noHostAddressSpaceSizeNoIa32eModeGuest']);
  });
});

describe('§27.2.2 conditions that do not apply', () => {
  it('CR0.NW and CR0.CD are never checked (VM exit does not change them)', () => {
    const v = host64();
    put(v, 'hostCr0', get(v, 'hostCr0') | BigInt(CR0_NW | CR0_CD));
    expect(firstFailure(v, CTX64)).toBeNull();
  });

  it('CR3 bits below the physical-address width may be set', () => {
    const v = host64();
    put(v, 'hostCr3', (1n << 46n) - 0x1000n);
    expect(firstFailure(v, CTX64)).toBeNull();
    expect(firstFailure(v, { ...CTX64, physAddrBits: 39 })).toBe('hostCr3PhysicalAddressWidth');
  });

  it('IA32_PAT and IA32_EFER fields are not checked when their "load" VM-exit controls are 0', () => {
    const v = host64();
    put(v, 'vmExitControls', BigInt(HASS));
    put(v, 'hostIa32Pat', 0x0202020202020202n);
    put(v, 'hostIa32Efer', 0xffffffffffffffffn);
    expect(firstFailure(v, CTX64)).toBeNull();
  });

  it('every valid PAT memory type (0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-) is accepted', () => {
    const v = host64();
    put(v, 'hostIa32Pat', 0x0706050401000706n);
    expect(firstFailure(v, CTX64)).toBeNull();
  });
});

describe('§27.2.3 and §27.2.4 conditions that do not apply', () => {
  it('a 64-bit host may have a null SS selector', () => {
    const v = host64();
    put(v, 'hostSsSelector', 0n);
    expect(firstFailure(v, CTX64)).toBeNull();
  });

  it('"host address-space size" 0 requires "IA-32e mode guest" 0 (a predicate earlier checks always catch first)', () => {
    const check = HOST_STATE_CHECKS.find((c) => c.name === 'noHostAddressSpaceSizeNoIa32eModeGuest')!;
    const v = host32();
    expect(check.holds(v, model, CTX64)).toBe(true);
    put(v, 'vmEntryControls', BigInt(IA32E_GUEST));
    expect(check.holds(v, model, CTX64)).toBe(false);
    put(v, 'vmExitControls', BigInt(HASS));
    expect(check.holds(v, model, CTX64)).toBe(true);
  });

  it('a 32-bit host may leave CR4.PAE 0 and a 64-bit host may have CR4.PCIDE 1', () => {
    const v = host64();
    put(v, 'hostCr4', get(v, 'hostCr4') | BigInt(CR4_PCIDE));
    expect(firstFailure(v, CTX64)).toBeNull();
    expect(get(host32(), 'hostCr4') & BigInt(CR4_PAE)).toBe(0n);
  });
});
