/**
 * The checks on the guest-state area at VM entry (SDM Vol. 3C §27.3.1.1-
 * §27.3.1.5). Valid guest areas are built by hand (a 64-bit guest, a 32-bit
 * protected-mode guest, a virtual-8086 guest); each case breaks exactly one
 * of the SDM's conditions and expects that predicate as the first failure.
 * Bit positions are typed from the SDM, not taken from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel } from '../../vmx/model/vmxModel.ts';
import {
  checkGuestState, GUEST_STATE_CHECKS, GUEST_STATE_EXIT_REASON, type GuestCheckContext,
} from '../../vmx/entry/guestStateChecks.ts';
import { hi, lo, set, SLOT } from '../../vmx/entry/vmcsView.ts';
import { FIELD_SLOTS, type VmcsImage } from '../../vmx/unit/vmcsRegion.ts';

const bit = (...ns: number[]): number => ns.reduce((m, n) => m | (1 << n), 0) >>> 0;
/** CR4 bits a CPU model with VMX, PAE and PCID lets software set: TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT VMXE PCIDE OSXSAVE SMEP SMAP. */
const CR4_SETTABLE = bit(2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 17, 18, 20, 21);
const INPUTS = { cr4Settable: CR4_SETTABLE, vmcsHighestIndex: 0x1d };
const model = new VmxModel(FULL_VMX_MODEL, INPUTS);
const activeOnlyModel = new VmxModel({ ...FULL_VMX_MODEL, activityStates: [] }, INPUTS);
const REVISION = FULL_VMX_MODEL.vmcsRevisionId;

// VM-entry controls (§25.8.1): load debug controls 2, IA-32e mode guest 9, load IA32_PAT 14, load IA32_EFER 15.
const LOAD_DEBUG = bit(2), IA32E_GUEST = bit(9), LOAD_PAT = bit(14), LOAD_EFER = bit(15);
// Pin-based (§25.6.1): NMI exiting 3, virtual NMIs 5. Primary: activate secondary 31. Secondary: unrestricted guest 7, VMCS shadowing 14.
const VIRTUAL_NMIS = bit(3, 5), ACTIVATE_SECONDARY = bit(31), UNRESTRICTED = bit(7), SHADOWING = bit(14);
const CR0_PE = 1n, CR0_NE = 0x20n, CR0_PG = 0x80000000n;
const CR4_PAE = 0x20n, CR4_VMXE = 0x2000n, CR4_PCIDE = 0x20000n;
const EFER_SCE = 0x1n, EFER_LME = 0x100n, EFER_LMA = 0x400n, EFER_NXE = 0x800n;
/** Bit 47 set, bits 63:48 clear: the smallest non-canonical address. */
const NON_CANONICAL = 0x0000800000000000n;

type Field = keyof typeof SLOT;

function put(v: VmcsImage, f: Field, value: bigint): void {
  const u = BigInt.asUintN(64, value);
  set(v, SLOT[f], Number(u & 0xffffffffn), Number(u >> 32n));
}
function get(v: VmcsImage, f: Field): bigint {
  return (BigInt(hi(v, SLOT[f])) << 32n) | BigInt(lo(v, SLOT[f]));
}

const ctxWithLink = (revision: number): GuestCheckContext =>
  ({ physAddrBits: 46, hostInIa32eMode: true, readLinkRevision: () => revision, currentVmcs: 0x7000 });
const CTX = ctxWithLink(REVISION);

const SEGS = ['Cs', 'Ss', 'Ds', 'Es', 'Fs', 'Gs'] as const;
const DATA = ['Ds', 'Es', 'Fs', 'Gs'] as const;
type Seg = (typeof SEGS)[number] | 'Tr' | 'Ldtr';
const f = (s: Seg, what: 'Selector' | 'Base' | 'Limit' | 'AccessRights'): Field => `guest${s}${what}` as Field;
function segment(v: VmcsImage, s: Seg, selector: bigint, base: bigint, limit: bigint, ar: bigint): void {
  put(v, f(s, 'Selector'), selector); put(v, f(s, 'Base'), base); put(v, f(s, 'Limit'), limit); put(v, f(s, 'AccessRights'), ar);
}

/** A 64-bit guest at CPL 0: paging, PAE, IA32_EFER LME|LMA, flat 64-bit code (AR A09BH), flat data (C093H), busy TSS, no LDT. */
function guest64(): VmcsImage {
  const v: VmcsImage = { lo: new Int32Array(FIELD_SLOTS), hi: new Int32Array(FIELD_SLOTS), launched: false };
  put(v, 'vmEntryControls', BigInt(IA32E_GUEST | LOAD_DEBUG | LOAD_PAT | LOAD_EFER));
  put(v, 'guestCr0', 0x80050033n); // PG WP AM NE ET MP PE
  put(v, 'guestCr3', 0x2000n);
  put(v, 'guestCr4', CR4_PAE | CR4_VMXE);
  put(v, 'guestDr7', 0x400n);
  put(v, 'guestIa32Debugctl', 0n);
  put(v, 'guestIa32SysenterEsp', 0xffffffff80002000n);
  put(v, 'guestIa32SysenterEip', 0xffffffff80001000n);
  put(v, 'guestIa32Pat', 0x0007040600070406n);
  put(v, 'guestIa32Efer', EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
  segment(v, 'Cs', 0x08n, 0n, 0xffffffffn, 0xa09bn);
  segment(v, 'Ss', 0x10n, 0n, 0xffffffffn, 0xc093n);
  for (const s of DATA) segment(v, s, 0x18n, 0n, 0xffffffffn, 0xc093n);
  put(v, 'guestGsBase', 0xffff800000000000n);
  segment(v, 'Tr', 0x20n, 0xffffffff80003000n, 0x67n, 0x8bn);
  segment(v, 'Ldtr', 0n, 0n, 0n, 0x10000n); // unusable
  put(v, 'guestGdtrBase', 0xffffffff80004000n); put(v, 'guestGdtrLimit', 0x7fn);
  put(v, 'guestIdtrBase', 0x00007ffffffff000n); put(v, 'guestIdtrLimit', 0xfffn);
  put(v, 'guestRsp', 0xffffffff80010000n);
  put(v, 'guestRip', 0xffffffff81000000n);
  put(v, 'guestRflags', 0x2n);
  put(v, 'vmcsLinkPointer', 0xffffffffffffffffn);
  return v;
}

/** A 32-bit protected-mode guest with paging (no PAE), CS AR C09BH, RIP below 4 GB. */
function guest32(): VmcsImage {
  const v = guest64();
  put(v, 'vmEntryControls', BigInt(LOAD_DEBUG | LOAD_PAT | LOAD_EFER));
  put(v, 'guestCr4', CR4_VMXE);
  put(v, 'guestIa32Efer', EFER_SCE | EFER_NXE);
  put(v, 'guestCsAccessRights', 0xc09bn);
  put(v, 'guestGsBase', 0x80005000n);
  put(v, 'guestRip', 0x00401000n);
  return v;
}

/** A virtual-8086 guest (RFLAGS.VM) on the 32-bit guest: base = selector * 16, limit FFFFH, AR F3H. */
function guestV86(): VmcsImage {
  const v = guest32();
  put(v, 'guestRflags', 0x20002n);
  SEGS.forEach((s, k) => segment(v, s, BigInt(0x1000 + k), BigInt(0x1000 + k) << 4n, 0xffffn, 0xf3n));
  put(v, 'guestRip', 0x100n);
  return v;
}

/** Turns on "unrestricted guest" (with "activate secondary controls"). */
function unrestricted(v: VmcsImage): void {
  put(v, 'primaryProcessorBasedVmExecutionControls', BigInt(ACTIVATE_SECONDARY));
  put(v, 'secondaryProcessorBasedVmExecutionControls', BigInt(UNRESTRICTED));
}

interface Case { check: string; how: string; base: () => VmcsImage; change: (v: VmcsImage) => void; m?: VmxModel; ctx?: GuestCheckContext }
const c64 = (check: string, how: string, change: (v: VmcsImage) => void, extra: Partial<Case> = {}): Case =>
  ({ check, how, base: guest64, change, ...extra });
const c32 = (check: string, how: string, change: (v: VmcsImage) => void): Case => ({ check, how, base: guest32, change });
const cV86 = (check: string, how: string, change: (v: VmcsImage) => void): Case => ({ check, how, base: guestV86, change });
const orBits = (x: Field, bits: bigint) => (v: VmcsImage): void => put(v, x, get(v, x) | bits);
const clearBits = (x: Field, bits: bigint) => (v: VmcsImage): void => put(v, x, get(v, x) & ~bits);
const value = (x: Field, n: bigint) => (v: VmcsImage): void => put(v, x, n);
const all = (...changes: ((v: VmcsImage) => void)[]) => (v: VmcsImage): void => changes.forEach((c) => c(v));
/** A usable LDT: selector 28H, base 0, limit FFFFH, AR 82H (type 2, present). */
const usableLdt = (v: VmcsImage): void => segment(v, 'Ldtr', 0x28n, 0n, 0xffffn, 0x82n);
const withLdt = (x: Field, n: bigint) => all(usableLdt, value(x, n));

const CASES: readonly Case[] = [
  // §27.3.1.1
  c64('guestCr0Fixed', 'CR0.NE clear (IA32_VMX_CR0_FIXED0 bit 5)', clearBits('guestCr0', CR0_NE)),
  c64('guestCr0Fixed', 'CR0.PE clear without "unrestricted guest"', clearBits('guestCr0', CR0_PE)),
  c32('guestCr0PgRequiresPe', 'CR0.PG 1, PE 0 with "unrestricted guest"', all(unrestricted, clearBits('guestCr0', CR0_PE))),
  c64('guestCr4Fixed', 'CR4.VMXE clear', clearBits('guestCr4', CR4_VMXE)),
  c64('guestDebugctlReservedBits', 'IA32_DEBUGCTL bit 2 set', orBits('guestIa32Debugctl', 4n)),
  c64('guestDebugctlReservedBits', 'IA32_DEBUGCTL bit 32 set', orBits('guestIa32Debugctl', 1n << 32n)),
  c64('ia32eModeGuestCr0Pg', 'CR0.PG 0 with "unrestricted guest"', all(unrestricted, clearBits('guestCr0', CR0_PG))),
  c64('ia32eModeGuestCr4Pae', 'CR4.PAE 0', clearBits('guestCr4', CR4_PAE)),
  c32('notIa32eModeGuestCr4PcideClear', 'CR4.PCIDE 1 outside IA-32e mode', orBits('guestCr4', CR4_PCIDE)),
  c64('guestCr3PhysicalAddressWidth', 'CR3 bit 46 with MAXPHYADDR 46', orBits('guestCr3', 1n << 46n)),
  c64('guestDr7HighClear', 'DR7 bit 32', orBits('guestDr7', 1n << 32n)),
  c64('guestSysenterEspCanonical', 'IA32_SYSENTER_ESP non-canonical', value('guestIa32SysenterEsp', NON_CANONICAL)),
  c64('guestSysenterEipCanonical', 'IA32_SYSENTER_EIP non-canonical', value('guestIa32SysenterEip', NON_CANONICAL)),
  c64('guestPatMemoryTypes', 'PAT entry 2 = 2', value('guestIa32Pat', 0x0007040600020406n)),
  c64('guestPatMemoryTypes', 'PAT entry 7 = 8', value('guestIa32Pat', 0x0807040600070406n)),
  c64('guestEferReservedBits', 'IA32_EFER bit 12', orBits('guestIa32Efer', 1n << 12n)),
  c64('guestEferLmaIsIa32eModeGuest', 'LMA 0 with "IA-32e mode guest" 1', clearBits('guestIa32Efer', EFER_LMA)),
  c32('guestEferLmaIsIa32eModeGuest', 'LMA 1 with "IA-32e mode guest" 0', orBits('guestIa32Efer', EFER_LMA | EFER_LME)),
  c64('guestEferLmaIsLmeWhenPaging', 'LME 0, LMA 1, CR0.PG 1', clearBits('guestIa32Efer', EFER_LME)),
  // §27.3.1.2 selectors and bases
  c64('guestTrSelectorTiClear', 'TR selector TI = 1', value('guestTrSelector', 0x24n)),
  c64('guestLdtrSelectorTiClear', 'usable LDTR selector TI = 1', withLdt('guestLdtrSelector', 0x2cn)),
  c64('guestSsRplIsCsRpl', 'SS RPL 3, CS RPL 0', value('guestSsSelector', 0x13n)),
  ...SEGS.map((s) => cV86(`v86Guest${s}BaseIsSelectorTimes16`, `${s} base off by 1`, orBits(f(s, 'Base'), 1n))),
  c64('guestTrBaseCanonical', 'TR base non-canonical', value('guestTrBase', NON_CANONICAL)),
  c64('guestFsBaseCanonical', 'FS base non-canonical', value('guestFsBase', NON_CANONICAL)),
  c64('guestGsBaseCanonical', 'GS base non-canonical', value('guestGsBase', NON_CANONICAL)),
  c64('guestLdtrBaseCanonical', 'usable LDTR base non-canonical', withLdt('guestLdtrBase', NON_CANONICAL)),
  c64('guestCsBaseHighClear', 'CS base bit 32', value('guestCsBase', 1n << 32n)),
  ...(['Ss', 'Ds', 'Es'] as const).map((s) => c64(`guest${s}BaseHighClear`, `${s} base bit 32`, value(f(s, 'Base'), 1n << 32n))),
  // Limits and access rights in virtual-8086 mode
  ...SEGS.map((s) => cV86(`v86Guest${s}Limit0000FFFF`, `${s} limit FFFFFH`, value(f(s, 'Limit'), 0xfffffn))),
  ...SEGS.map((s) => cV86(`v86Guest${s}AccessRightsF3`, `${s} AR F7H`, value(f(s, 'AccessRights'), 0xf7n))),
  // Access rights outside virtual-8086 mode
  c64('guestCsType', 'CS type 8 (code, not accessed)', value('guestCsAccessRights', 0xa098n)),
  c32('guestCsType', 'CS type 3 without "unrestricted guest"', value('guestCsAccessRights', 0xc093n)),
  c64('guestSsType', 'SS type 1 (read-only data)', value('guestSsAccessRights', 0xc091n)),
  ...DATA.map((s) => c64(`guest${s}TypeAccessedReadable`, `${s} type 2 (not accessed)`, value(f(s, 'AccessRights'), 0xc092n))),
  c64('guestDsTypeAccessedReadable', 'DS type 9 (execute-only code)', value('guestDsAccessRights', 0xc099n)),
  c64('guestCsSSet', 'CS S = 0', value('guestCsAccessRights', 0xa08bn)),
  ...(['Ss', ...DATA] as const).map((s) => c64(`guest${s}SSet`, `${s} S = 0`, value(f(s, 'AccessRights'), 0xc083n))),
  c32('guestCsDplZeroForType3', 'CS type 3 DPL 3 with "unrestricted guest"', all(unrestricted, value('guestCsAccessRights', 0xc0f3n))),
  c64('guestCsDplIsSsDplNonConforming', 'CS type 11 DPL 3, SS DPL 0', value('guestCsAccessRights', 0xa0fbn)),
  c64('guestCsDplAtMostSsDplConforming', 'CS type 15 DPL 3, SS DPL 0', value('guestCsAccessRights', 0xa0ffn)),
  c64('guestSsDplIsRpl', 'SS DPL 3, RPL 0 (conforming CS DPL 0)',
    all(value('guestCsAccessRights', 0xa09fn), value('guestSsAccessRights', 0xc0f3n))),
  c32('guestSsDplZeroInRealModeOrCsType3', 'SS DPL 3 with CR0.PE 0 ("unrestricted guest")',
    all(unrestricted, clearBits('guestCr0', CR0_PE | CR0_PG), value('guestCsAccessRights', 0xc09fn), value('guestSsAccessRights', 0xc0f3n))),
  ...DATA.map((s) => c64(`guest${s}DplNotBelowRpl`, `${s} RPL 3, DPL 0`, value(f(s, 'Selector'), 0x1bn))),
  c64('guestCsPresent', 'CS P = 0', value('guestCsAccessRights', 0xa01bn)),
  ...(['Ss', ...DATA] as const).map((s) => c64(`guest${s}Present`, `${s} P = 0`, value(f(s, 'AccessRights'), 0xc013n))),
  c64('guestCsAccessRightsBits11To8Clear', 'CS AR bit 8', value('guestCsAccessRights', 0xa19bn)),
  ...(['Ss', ...DATA] as const).map((s) =>
    c64(`guest${s}AccessRightsBits11To8Clear`, `${s} AR bit 11`, value(f(s, 'AccessRights'), 0xc893n))),
  c64('guestCsDbClearWhenL', 'CS L = 1 and D = 1', value('guestCsAccessRights', 0xe09bn)),
  c64('guestCsGranularityMatchesLimit', 'CS limit FFFFFFFFH with G = 0', value('guestCsAccessRights', 0x209bn)),
  ...(['Ss', ...DATA] as const).map((s) =>
    c64(`guest${s}GranularityMatchesLimit`, `${s} limit FFFFFFFFH with G = 0`, value(f(s, 'AccessRights'), 0x4093n))),
  c64('guestDsGranularityMatchesLimit', 'DS limit FFFFEH with G = 1', value('guestDsLimit', 0xffffen)),
  c64('guestCsAccessRightsBits31To17Clear', 'CS AR bit 17', orBits('guestCsAccessRights', 1n << 17n)),
  ...(['Ss', ...DATA] as const).map((s) =>
    c64(`guest${s}AccessRightsBits31To17Clear`, `${s} AR bit 31`, orBits(f(s, 'AccessRights'), 1n << 31n))),
  c64('guestTrTypeBusyTss', 'TR type 9 (available TSS)', value('guestTrAccessRights', 0x89n)),
  c64('guestTrTypeBusyTss', 'TR type 3 (16-bit busy TSS) in IA-32e mode', value('guestTrAccessRights', 0x83n)),
  c64('guestTrSClear', 'TR S = 1', value('guestTrAccessRights', 0x9bn)),
  c64('guestTrPresent', 'TR P = 0', value('guestTrAccessRights', 0x0bn)),
  c64('guestTrAccessRightsBits11To8Clear', 'TR AR bit 8', value('guestTrAccessRights', 0x18bn)),
  c64('guestTrGranularityMatchesLimit', 'TR limit 67H with G = 1', value('guestTrAccessRights', 0x808bn)),
  c64('guestTrUsable', 'TR unusable', value('guestTrAccessRights', 0x1008bn)),
  c64('guestTrAccessRightsBits31To17Clear', 'TR AR bit 17', value('guestTrAccessRights', 0x2008bn)),
  c64('guestLdtrTypeLdt', 'LDTR type 3', withLdt('guestLdtrAccessRights', 0x83n)),
  c64('guestLdtrSClear', 'LDTR S = 1', withLdt('guestLdtrAccessRights', 0x92n)),
  c64('guestLdtrPresent', 'LDTR P = 0', withLdt('guestLdtrAccessRights', 0x02n)),
  c64('guestLdtrAccessRightsBits11To8Clear', 'LDTR AR bit 9', withLdt('guestLdtrAccessRights', 0x282n)),
  c64('guestLdtrGranularityMatchesLimit', 'LDTR limit FFF0H with G = 1',
    all(withLdt('guestLdtrAccessRights', 0x8082n), value('guestLdtrLimit', 0xfff0n))),
  c64('guestLdtrAccessRightsBits31To17Clear', 'LDTR AR bit 20', withLdt('guestLdtrAccessRights', 0x100082n)),
  // §27.3.1.3
  c64('guestGdtrBaseCanonical', 'GDTR base non-canonical', value('guestGdtrBase', NON_CANONICAL)),
  c64('guestIdtrBaseCanonical', 'IDTR base non-canonical', value('guestIdtrBase', NON_CANONICAL)),
  c64('guestGdtrLimitHighClear', 'GDTR limit bit 16', value('guestGdtrLimit', 0x10000n)),
  c64('guestIdtrLimitHighClear', 'IDTR limit bit 31', value('guestIdtrLimit', 0x80000000n)),
  // §27.3.1.4
  c32('guestRipHighClearOutside64BitCode', 'RIP bit 32 outside IA-32e mode', orBits('guestRip', 1n << 32n)),
  c64('guestRipHighClearOutside64BitCode', 'RIP bit 32 in compatibility mode (CS.L 0)',
    all(value('guestCsAccessRights', 0xc09bn), value('guestRip', 1n << 32n))),
  c64('guestRipCanonicalIn64BitCode', 'RIP non-canonical in 64-bit code', value('guestRip', NON_CANONICAL)),
  c64('guestRflagsReservedBits', 'RFLAGS bit 1 clear', value('guestRflags', 0n)),
  ...[3n, 5n, 15n, 22n, 31n, 32n].map((n) => c64('guestRflagsReservedBits', `RFLAGS bit ${n}`, orBits('guestRflags', 1n << n))),
  cV86('guestRflagsVmClearInIa32eModeOrRealMode', 'RFLAGS.VM 1 with CR0.PE 0 ("unrestricted guest")',
    all(unrestricted, clearBits('guestCr0', CR0_PE | CR0_PG))),
  c64('guestRflagsIfSetForExternalInterrupt', 'injecting external interrupt 20H with IF 0',
    value('vmEntryInterruptionInformationField', 0x80000020n)),
  // §27.3.1.5
  c64('guestActivityStateDefined', 'activity state 4', value('guestActivityState', 4n)),
  c64('guestActivityStateSupported', 'HLT on a model supporting only active (IA32_VMX_MISC bit 6 = 0)',
    value('guestActivityState', 1n), { m: activeOnlyModel }),
  c64('guestHltRequiresSsDplZero', 'HLT at CPL 3', all(
    value('guestCsSelector', 0x2bn), value('guestCsAccessRights', 0xa0fbn),
    value('guestSsSelector', 0x33n), value('guestSsAccessRights', 0xc0f3n), value('guestActivityState', 1n))),
  c64('guestActiveWhenBlockingByStiOrMovSs', 'HLT with blocking by MOV SS',
    all(value('guestActivityState', 1n), value('guestInterruptibilityState', 2n))),
  c64('guestInjectionFitsActivityState', 'HLT while injecting #GP',
    all(value('guestActivityState', 1n), value('vmEntryInterruptionInformationField', 0x80000b0dn))),
  c64('guestInjectionFitsActivityState', 'shutdown while injecting #DB',
    all(value('guestActivityState', 2n), value('vmEntryInterruptionInformationField', 0x80000301n))),
  c64('guestInjectionFitsActivityState', 'wait-for-SIPI while injecting an NMI',
    all(value('guestActivityState', 3n), value('vmEntryInterruptionInformationField', 0x80000202n))),
  c64('guestInterruptibilityReservedBits', 'interruptibility bit 4 (enclave interruption, no SGX)', value('guestInterruptibilityState', 0x10n)),
  c64('guestInterruptibilityReservedBits', 'interruptibility bit 5', value('guestInterruptibilityState', 0x20n)),
  c64('guestNotBlockingByStiAndMovSs', 'blocking by STI and MOV SS',
    all(value('guestRflags', 0x202n), value('guestInterruptibilityState', 3n))),
  c64('guestBlockingByStiRequiresIf', 'blocking by STI with IF 0', value('guestInterruptibilityState', 1n)),
  c64('guestExternalInterruptInjectionUnblocked', 'injecting an external interrupt with blocking by STI', all(
    value('guestRflags', 0x202n), value('guestInterruptibilityState', 1n), value('vmEntryInterruptionInformationField', 0x80000020n))),
  c64('guestNmiInjectionNoBlockingByMovSs', 'injecting an NMI with blocking by MOV SS',
    all(value('guestInterruptibilityState', 2n), value('vmEntryInterruptionInformationField', 0x80000202n))),
  c64('guestNoBlockingBySmiOutsideSmm', 'blocking by SMI outside SMM', value('guestInterruptibilityState', 4n)),
  c64('guestVirtualNmiInjectionNoBlockingByNmi', 'injecting an NMI with "virtual NMIs" and blocking by NMI', all(
    value('pinBasedVmExecutionControls', BigInt(VIRTUAL_NMIS)), value('guestInterruptibilityState', 8n),
    value('vmEntryInterruptionInformationField', 0x80000202n))),
  ...[4n, 11n, 13n, 15n, 16n, 17n, 31n, 32n].map((n) =>
    c64('guestPendingDebugReservedBits', `pending debug exceptions bit ${n}`, value('guestPendingDebugExceptions', 1n << n))),
  c64('guestPendingBsSetWhenSingleStepping', 'HLT with TF 1, BTF 0 and BS 0',
    all(value('guestActivityState', 1n), value('guestRflags', 0x102n))),
  c64('guestPendingBsClearWhenNotSingleStepping', 'HLT with TF 0 and BS 1',
    all(value('guestActivityState', 1n), value('guestPendingDebugExceptions', 1n << 14n))),
  c64('guestPendingBsClearWhenNotSingleStepping', 'blocking by STI, TF 1, BTF 1 and BS 1', all(
    value('guestRflags', 0x302n), value('guestInterruptibilityState', 1n), value('guestIa32Debugctl', 2n),
    value('guestPendingDebugExceptions', 1n << 14n))),
  c64('vmcsLinkPointerAligned', 'link pointer 1008H', value('vmcsLinkPointer', 0x1008n)),
  c64('vmcsLinkPointerWithinWidth', 'link pointer bit 46 with MAXPHYADDR 46', value('vmcsLinkPointer', 1n << 46n)),
  c64('vmcsLinkPointerRevisionId', 'linked VMCS with another revision', value('vmcsLinkPointer', 0x5000n),
    { ctx: ctxWithLink(REVISION ^ 1) }),
  c64('vmcsLinkPointerShadowIndicator', 'shadow-VMCS indicator 1 with "VMCS shadowing" 0', value('vmcsLinkPointer', 0x5000n),
    { ctx: ctxWithLink((REVISION | 0x80000000) >>> 0) }),
  c64('vmcsLinkPointerShadowIndicator', 'shadow-VMCS indicator 0 with "VMCS shadowing" 1', all(
    value('primaryProcessorBasedVmExecutionControls', BigInt(ACTIVATE_SECONDARY)),
    value('secondaryProcessorBasedVmExecutionControls', BigInt(SHADOWING)), value('vmcsLinkPointer', 0x5000n))),
  c64('vmcsLinkPointerNotCurrentVmcs', 'link pointer equal to the current-VMCS pointer (7000H)', value('vmcsLinkPointer', 0x7000n)),
];

const firstFailure = (v: VmcsImage, m = model, ctx = CTX): string | null => checkGuestState(v, m, ctx)?.check ?? null;

describe('VM-entry checks on the guest-state area (SDM Vol. 3C §27.3.1.1-§27.3.1.5)', () => {
  it('fail with a VM exit of basic reason 33 "VM-entry failure due to invalid guest state" (Appendix C)', () => {
    expect(GUEST_STATE_EXIT_REASON).toBe(33);
  });

  it.each([['64-bit', guest64], ['32-bit protected-mode', guest32], ['virtual-8086', guestV86]] as const)(
    'a valid %s guest area passes every check', (_name, base) => {
      expect(checkGuestState(base(), model, CTX)).toBeNull();
    });

  it('a failure names its SDM section', () => {
    const v = guest64();
    put(v, 'guestIdtrLimit', 0x10000n);
    expect(checkGuestState(v, model, CTX)).toEqual({
      check: 'guestIdtrLimitHighClear', section: '§27.3.1.3 Checks on Guest Descriptor-Table Registers',
    });
  });

  it.each(CASES.map((c) => [c.check, c.how, c] as const))('%s: %s', (_name, _how, c) => {
    const v = c.base();
    c.change(v);
    expect(firstFailure(v, c.m, c.ctx)).toBe(c.check);
  });

  it('every predicate has a case above', () => {
    const covered = new Set(CASES.map((c) => c.check));
    expect(GUEST_STATE_CHECKS.map((c) => c.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  it('predicate names are unique', () => {
    const names = GUEST_STATE_CHECKS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('§27.3.1 conditions that do not apply', () => {
  it('"unrestricted guest" allows a real-mode guest (CR0.PE = PG = 0) with CS type 3 at DPL 0', () => {
    const v = guest32();
    unrestricted(v);
    put(v, 'guestCr0', get(v, 'guestCr0') & ~(CR0_PE | CR0_PG));
    put(v, 'guestCsAccessRights', 0x93n);
    put(v, 'guestCsLimit', 0xffffn);
    for (const s of ['Ss', ...DATA] as const) { put(v, f(s, 'AccessRights'), 0x93n); put(v, f(s, 'Limit'), 0xffffn); }
    expect(firstFailure(v)).toBeNull();
  });

  it('unusable SS/DS/ES/FS/GS/LDTR are not checked beyond their base rules', () => {
    const v = guest64();
    for (const s of ['Ds', 'Es', 'Fs', 'Gs', 'Ldtr'] as const) put(v, f(s, 'AccessRights'), 0x10000n);
    put(v, 'guestLdtrSelector', 0x2cn);
    put(v, 'guestDsBase', 1n << 32n);
    expect(firstFailure(v)).toBeNull();
  });

  it('the "load" controls off: DEBUGCTL, DR7, PAT and EFER fields are not checked', () => {
    const v = guest64();
    put(v, 'vmEntryControls', BigInt(IA32E_GUEST));
    put(v, 'guestIa32Debugctl', 0xffffn); put(v, 'guestDr7', 1n << 40n);
    put(v, 'guestIa32Pat', 0x0202020202020202n); put(v, 'guestIa32Efer', 0n);
    expect(firstFailure(v)).toBeNull();
  });

  it('HLT may take an external interrupt, NMI, #DB, #MC or a pending MTF; shutdown an NMI or #MC', () => {
    for (const [state, info] of [[1n, 0x80000020n], [1n, 0x80000202n], [1n, 0x80000301n], [1n, 0x80000312n], [1n, 0x80000700n],
      [2n, 0x80000202n], [2n, 0x80000312n]] as const) {
      const v = guest64();
      put(v, 'guestRflags', 0x202n);
      put(v, 'guestActivityState', state);
      put(v, 'vmEntryInterruptionInformationField', info);
      expect(firstFailure(v)).toBeNull();
    }
  });

  it('blocking by NMI while injecting an NMI is allowed without "virtual NMIs"', () => {
    const v = guest64();
    put(v, 'guestInterruptibilityState', 8n);
    put(v, 'vmEntryInterruptionInformationField', 0x80000202n);
    expect(firstFailure(v)).toBeNull();
  });

  it('a link pointer to a VMCS of the right revision passes, and FFFFFFFF_FFFFFFFFH is not read', () => {
    const v = guest64();
    put(v, 'vmcsLinkPointer', 0x5000n);
    let reads = 0;
    const ctx: GuestCheckContext = { ...CTX, readLinkRevision: (l, h) => { reads++; expect([l, h]).toEqual([0x5000, 0]); return REVISION; } };
    expect(firstFailure(v, model, ctx)).toBeNull();
    expect(reads).toBeGreaterThan(0);
    reads = 0;
    expect(firstFailure(guest64(), model, ctx)).toBeNull();
    expect(reads).toBe(0);
  });
});
