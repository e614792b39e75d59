/**
 * The VM-entry checks on VMX controls (SDM Vol. 3C §27.2.1; §26.2.1 in
 * older editions). A valid VMCS image for FULL_VMX_MODEL passes every
 * check; each case below breaks exactly one rule of the SDM and expects
 * that rule's predicate as the first failure. Control bits are written
 * here by their SDM bit numbers (§25.6-§25.8), not taken from
 * vmx/model/controls.ts; must-be-1 bits come from the TRUE capability MSRs,
 * as VMX software reads them.
 */
import { describe, expect, it } from 'vitest';
import { CONTROL_CHECKS, checkVmxControls, type ControlCheckContext } from '../../vmx/entry/controlChecks.ts';
import { SLOT, lo, set } from '../../vmx/entry/vmcsView.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VMX_MSR, VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { FIELD_SLOTS, type VmcsImage } from '../../vmx/unit/vmcsRegion.ts';

const INPUTS = { cr4Settable: 1 << 13, vmcsHighestIndex: 0x1d };
const PHYS_ADDR_BITS = 46;
/** Bit 46 as a high half: the first address bit beyond the width. */
const BEYOND_WIDTH_HI = 1 << (PHYS_ADDR_BITS - 32);

const b = (...bits: number[]): number => bits.reduce((m, n) => (m | (1 << n)) >>> 0, 0);

const full = new VmxModel(FULL_VMX_MODEL, INPUTS);
/** FULL plus the controls it leaves out, so that their own rules can be reached past the reserved-bit checks. */
const WIDE_FEATURES: VmxFeatures = {
  ...FULL_VMX_MODEL,
  controls: {
    ...FULL_VMX_MODEL.controls,
    proc2: [...FULL_VMX_MODEL.controls.proc2, 'enablePml', 'eptViolationVe', 'modeBasedExecuteControl'],
    entry: [...FULL_VMX_MODEL.controls.entry, 'entryToSmm', 'deactivateDualMonitor'],
  },
};
const wide = new VmxModel(WIDE_FEATURES, INPUTS);
const noAccessedDirty = new VmxModel({ ...FULL_VMX_MODEL, ept: FULL_VMX_MODEL.ept.filter((c) => c !== 'accessedDirty') }, INPUTS);
const noMtf = new VmxModel({
  ...FULL_VMX_MODEL,
  controls: { ...FULL_VMX_MODEL.controls, proc: FULL_VMX_MODEL.controls.proc.filter((c) => c !== 'monitorTrapFlag') },
}, INPUTS);
const anyVectorErrorCode = new VmxModel({ ...FULL_VMX_MODEL, entryErrorCodeAnyVector: true }, INPUTS);

/** Allowed-0 half (must-be-1 bits) of a capability MSR. */
const mustBe1 = (m: VmxModel, index: number): number => m.read(index)!.lo;

// Control bits by SDM bit number.
const PIN = { extInt: 0, nmiExiting: 3, virtualNmis: 5, preemptionTimer: 6, postedInterrupts: 7 };
const PROC = { hlt: 7, tertiary: 17, tprShadow: 21, nmiWindow: 22, ioBitmaps: 25, msrBitmaps: 28, secondary: 31 };
const PROC2 = {
  apicAccesses: 0, ept: 1, x2apic: 4, vpid: 5, unrestricted: 7, apicRegister: 8, vid: 9, vmFunctions: 13, shadowing: 14,
  pml: 17, ve: 18, subPageWrite: 23, modeBased: 22,
};
const EXIT = { hostAddressSpace: 9, loadPerfGlobalCtrl: 12, ackInterrupt: 15, savePreemptionTimer: 22 };
const ENTRY = { ia32eGuest: 9, toSmm: 10, deactivateDualMonitor: 11 };

// VM-entry interruption information (§25.8.3): type in 10:8, deliver-error-code bit 11, valid bit 31.
const inject = (type: number, vector: number, deliver: boolean): number => (0x80000000 | (type << 8) | vector | (deliver ? 1 << 11 : 0)) >>> 0;

/** A VMCS image that passes every check on VMX controls under FULL_VMX_MODEL. */
function baseline(m: VmxModel = full): VmcsImage {
  const v: VmcsImage = { lo: new Int32Array(FIELD_SLOTS), hi: new Int32Array(FIELD_SLOTS), launched: false };
  set(v, SLOT.pinBasedVmExecutionControls, mustBe1(m, VMX_MSR.TRUE_PINBASED_CTLS) |
    b(PIN.extInt, PIN.nmiExiting, PIN.virtualNmis, PIN.preemptionTimer, PIN.postedInterrupts));
  set(v, SLOT.primaryProcessorBasedVmExecutionControls, mustBe1(m, VMX_MSR.TRUE_PROCBASED_CTLS) |
    b(PROC.hlt, PROC.tprShadow, PROC.nmiWindow, PROC.ioBitmaps, PROC.msrBitmaps, PROC.secondary));
  set(v, SLOT.secondaryProcessorBasedVmExecutionControls, b(PROC2.apicAccesses, PROC2.ept, PROC2.vpid, PROC2.unrestricted,
    PROC2.apicRegister, PROC2.vid, PROC2.vmFunctions, PROC2.shadowing));
  set(v, SLOT.cr3TargetCount, 4);
  set(v, SLOT.ioBitmapAAddress, 0x1000);
  set(v, SLOT.ioBitmapBAddress, 0x2000);
  set(v, SLOT.msrBitmapsAddress, 0x3000);
  set(v, SLOT.virtualApicAddress, 0x4000, 0x1);
  set(v, SLOT.tprThreshold, 0);
  set(v, SLOT.apicAccessAddress, 0xfee00000);
  set(v, SLOT.postedInterruptNotificationVector, 0xf2);
  set(v, SLOT.postedInterruptDescriptorAddress, 0x6040);
  set(v, SLOT.vpid, 1);
  // EPTP (§25.6.11): memory type WB (6), page-walk length 4 (3 in bits 5:3), A/D flags on, PML4 at 0x7000.
  set(v, SLOT.eptp, 0x7000 | (1 << 6) | (3 << 3) | 6);
  set(v, SLOT.vmFunctionControls, 1); // EPTP switching (VM function 0)
  set(v, SLOT.eptpListAddress, 0x8000);
  set(v, SLOT.vmreadBitmapAddress, 0x9000);
  set(v, SLOT.vmwriteBitmapAddress, 0xa000, BEYOND_WIDTH_HI - 1);
  set(v, SLOT.vmExitControls, mustBe1(m, VMX_MSR.TRUE_EXIT_CTLS) | b(EXIT.hostAddressSpace, EXIT.ackInterrupt, EXIT.savePreemptionTimer));
  set(v, SLOT.vmExitMsrStoreAddress, 0xb000);
  set(v, SLOT.vmExitMsrStoreCount, 1);
  set(v, SLOT.vmExitMsrLoadAddress, 0xb810);
  set(v, SLOT.vmExitMsrLoadCount, 2);
  set(v, SLOT.vmEntryControls, mustBe1(m, VMX_MSR.TRUE_ENTRY_CTLS) | b(ENTRY.ia32eGuest));
  set(v, SLOT.vmEntryMsrLoadAddress, 0xc000);
  set(v, SLOT.vmEntryMsrLoadCount, 3);
  // Inject #GP (hardware exception 3, vector 13) with error code 0x10 into a protected-mode guest.
  set(v, SLOT.vmEntryInterruptionInformationField, inject(3, 13, true));
  set(v, SLOT.vmEntryExceptionErrorCode, 0x10);
  set(v, SLOT.guestCr0, 0x80000031);
  return v;
}

const CTX: ControlCheckContext = { physAddrBits: PHYS_ADDR_BITS, hostInIa32eMode: true, readVtpr: () => 0xff };

const setBits = (v: VmcsImage, slot: number, mask: number): void => set(v, slot, lo(v, slot) | mask, v.hi[slot]!);
const clearBits = (v: VmcsImage, slot: number, mask: number): void => set(v, slot, lo(v, slot) & ~mask, v.hi[slot]!);
const setHi = (v: VmcsImage, slot: number, high: number): void => set(v, slot, lo(v, slot), high);
const pin = SLOT.pinBasedVmExecutionControls, proc = SLOT.primaryProcessorBasedVmExecutionControls;
const proc2 = SLOT.secondaryProcessorBasedVmExecutionControls, exit = SLOT.vmExitControls, entry = SLOT.vmEntryControls;
const injection = SLOT.vmEntryInterruptionInformationField;

interface Case {
  readonly why: string;
  readonly change: (v: VmcsImage) => void;
  readonly model?: VmxModel;
  readonly ctx?: ControlCheckContext;
}

/** The first failing check's name, or null. */
function firstFailure(c: Case): string | null {
  const m = c.model ?? full;
  const v = baseline(m);
  c.change(v);
  return checkVmxControls(v, m, c.ctx ?? CTX)?.check ?? null;
}

/** The two rules of a page-aligned address field: bits 11:0 zero (or `alignment`), and within the physical-address width. */
function addressCases(name: string, slot: number, enable: (v: VmcsImage) => void, alignment = 4096, model?: VmxModel): [string, Case[]][] {
  return [
    [`${name}Aligned`, [{ why: `address + ${alignment / 2}`, model, change: (v) => { enable(v); set(v, slot, 0xd000 + alignment / 2); } }]],
    [`${name}WithinWidth`, [{ why: 'bit 46 set', model, change: (v) => { enable(v); setHi(v, slot, BEYOND_WIDTH_HI); } }]],
  ];
}

/** The three rules of an MSR area with a nonzero count (16-byte alignment, address and last byte within the width). */
function msrAreaCases(name: string, addressSlot: number, countSlot: number): [string, Case[]][] {
  return [
    [`${name}AddressAligned`, [{ why: 'address 0xd008', change: (v) => set(v, addressSlot, 0xd008) }]],
    [`${name}AddressWithinWidth`, [{ why: 'bit 46 set', change: (v) => setHi(v, addressSlot, BEYOND_WIDTH_HI) }]],
    [`${name}AreaWithinWidth`, [{
      why: 'two entries from 2^46 - 16: last byte 2^46 + 15',
      change: (v) => { set(v, addressSlot, 0xfffffff0, BEYOND_WIDTH_HI - 1); set(v, countSlot, 2); },
    }]],
  ];
}

const SECTION_1: [string, Case[]][] = [
  ['pinBasedReservedBits', [
    { why: 'default1 bit 1 clear', change: (v) => clearBits(v, pin, b(1)) },
    { why: 'reserved bit 8 set', change: (v) => setBits(v, pin, b(8)) },
  ]],
  ['primaryReservedBits', [
    { why: 'default1 bit 1 clear', change: (v) => clearBits(v, proc, b(1)) },
    { why: '"activate tertiary controls" (not offered)', change: (v) => setBits(v, proc, b(PROC.tertiary)) },
  ]],
  ['secondaryReservedBits', [
    { why: '"sub-page write permissions" (not modelled)', change: (v) => setBits(v, proc2, b(PROC2.subPageWrite)) },
    { why: '"enable PML" (not offered)', change: (v) => setBits(v, proc2, b(PROC2.pml)) },
  ]],
  ['cr3TargetCount', [{ why: 'count 5 > IA32_VMX_MISC[24:16] = 4', change: (v) => set(v, SLOT.cr3TargetCount, 5) }]],
  ...addressCases('ioBitmapAAddress', SLOT.ioBitmapAAddress, () => {}),
  ...addressCases('ioBitmapBAddress', SLOT.ioBitmapBAddress, () => {}),
  ...addressCases('msrBitmapsAddress', SLOT.msrBitmapsAddress, () => {}),
  ...addressCases('virtualApicAddress', SLOT.virtualApicAddress, () => {}),
  ['tprThresholdBits31To4', [{
    why: 'threshold 0x10 without virtual-interrupt delivery',
    change: (v) => { clearBits(v, proc2, b(PROC2.vid)); set(v, SLOT.tprThreshold, 0x10); },
  }]],
  ['tprThresholdNotAboveVtpr', [{
    why: 'threshold 5 > VTPR[7:4] = 4, no APIC-access or interrupt virtualization',
    change: (v) => { clearBits(v, proc2, b(PROC2.vid, PROC2.apicAccesses)); set(v, SLOT.tprThreshold, 5); },
    ctx: { ...CTX, readVtpr: () => 0x4f },
  }]],
  ['virtualNmisNeedNmiExiting', [{ why: 'NMI exiting clear', change: (v) => clearBits(v, pin, b(PIN.nmiExiting)) }]],
  ['nmiWindowExitingNeedsVirtualNmis', [{
    why: 'virtual NMIs clear, NMI-window exiting set', change: (v) => clearBits(v, pin, b(PIN.virtualNmis)),
  }]],
  ...addressCases('apicAccessAddress', SLOT.apicAccessAddress, () => {}),
  ['apicVirtualizationNeedsTprShadow', [
    { why: 'TPR shadow clear, APIC-register virtualization and VID set', change: (v) => clearBits(v, proc, b(PROC.tprShadow)) },
    {
      why: 'TPR shadow clear, only virtualize x2APIC mode set',
      change: (v) => {
        clearBits(v, proc, b(PROC.tprShadow));
        clearBits(v, pin, b(PIN.postedInterrupts));
        set(v, proc2, b(PROC2.ept, PROC2.x2apic));
        set(v, SLOT.vmFunctionControls, 0);
      },
    },
  ]],
  ['x2apicModeExcludesApicAccesses', [{ why: 'both set', change: (v) => setBits(v, proc2, b(PROC2.x2apic)) }]],
  ['virtualInterruptDeliveryNeedsExternalInterruptExiting', [{
    why: 'external-interrupt exiting clear', change: (v) => clearBits(v, pin, b(PIN.extInt)),
  }]],
  ['postedInterruptsNeedVirtualInterruptDelivery', [{ why: 'VID clear', change: (v) => clearBits(v, proc2, b(PROC2.vid)) }]],
  ['postedInterruptsNeedAcknowledgeInterruptOnExit', [{
    why: 'acknowledge interrupt on exit clear', change: (v) => clearBits(v, exit, b(EXIT.ackInterrupt)),
  }]],
  ['postedInterruptNotificationVectorBits15To8', [{
    why: 'vector 0x1f2', change: (v) => set(v, SLOT.postedInterruptNotificationVector, 0x1f2),
  }]],
  ...addressCases('postedInterruptDescriptorAddress', SLOT.postedInterruptDescriptorAddress, () => {}, 64),
  ['vpidNonZero', [{ why: 'VPID 0', change: (v) => set(v, SLOT.vpid, 0) }]],
  ['eptpMemoryType', [
    { why: 'type 1 (WC)', change: (v) => set(v, SLOT.eptp, (lo(v, SLOT.eptp) & ~7) | 1) },
    { why: 'type 7', change: (v) => setBits(v, SLOT.eptp, 7) },
  ]],
  ['eptpPageWalkLength', [
    { why: '3-level walk (2 in bits 5:3)', change: (v) => set(v, SLOT.eptp, (lo(v, SLOT.eptp) & ~0x38) | (2 << 3)) },
    { why: '5-level walk, not supported', change: (v) => set(v, SLOT.eptp, (lo(v, SLOT.eptp) & ~0x38) | (4 << 3)) },
  ]],
  ['eptpAccessedDirty', [{ why: 'bit 6 set, EPT_VPID_CAP bit 21 clear', model: noAccessedDirty, change: () => {} }]],
  ['eptpReservedBits', [
    { why: 'bit 7 set', change: (v) => setBits(v, SLOT.eptp, b(7)) },
    { why: 'bit 11 set', change: (v) => setBits(v, SLOT.eptp, b(11)) },
    { why: 'bit 46 set', change: (v) => setHi(v, SLOT.eptp, BEYOND_WIDTH_HI) },
  ]],
  ['pmlNeedsEpt', [{
    why: 'PML without EPT', model: wide, change: (v) => { setBits(v, proc2, b(PROC2.pml)); clearBits(v, proc2, b(PROC2.ept)); },
  }]],
  ...addressCases('pmlAddress', SLOT.pmlAddress, (v) => setBits(v, proc2, b(PROC2.pml)), 4096, wide),
  ['unrestrictedGuestNeedsEpt', [{ why: 'EPT clear', change: (v) => clearBits(v, proc2, b(PROC2.ept)) }]],
  ['modeBasedExecuteControlNeedsEpt', [{
    why: 'mode-based execute without EPT', model: wide,
    change: (v) => { setBits(v, proc2, b(PROC2.modeBased)); clearBits(v, proc2, b(PROC2.ept, PROC2.unrestricted)); },
  }]],
  ['vmFunctionControlsReservedBits', [
    { why: 'VM function 1', change: (v) => setBits(v, SLOT.vmFunctionControls, b(1)) },
    { why: 'VM function 63', change: (v) => setHi(v, SLOT.vmFunctionControls, 0x80000000) },
  ]],
  ['eptpSwitchingNeedsEpt', [{
    why: 'EPTP switching without EPT', change: (v) => clearBits(v, proc2, b(PROC2.ept, PROC2.unrestricted)),
  }]],
  ...addressCases('eptpListAddress', SLOT.eptpListAddress, () => {}),
  ...addressCases('vmreadBitmapAddress', SLOT.vmreadBitmapAddress, () => {}),
  ...addressCases('vmwriteBitmapAddress', SLOT.vmwriteBitmapAddress, () => {}),
  ...addressCases('virtualizationExceptionInformationAddress', SLOT.virtualizationExceptionInformationAddress,
    (v) => setBits(v, proc2, b(PROC2.ve)), 4096, wide),
];

const SECTION_2: [string, Case[]][] = [
  ['exitReservedBits', [
    { why: 'default1 bit 0 clear', change: (v) => clearBits(v, exit, b(0)) },
    { why: '"load IA32_PERF_GLOBAL_CTRL" (not offered)', change: (v) => setBits(v, exit, b(EXIT.loadPerfGlobalCtrl)) },
  ]],
  ['savePreemptionTimerNeedsActivate', [{
    why: 'timer not activated', change: (v) => clearBits(v, pin, b(PIN.preemptionTimer)),
  }]],
  ...msrAreaCases('exitMsrStore', SLOT.vmExitMsrStoreAddress, SLOT.vmExitMsrStoreCount),
  ...msrAreaCases('exitMsrLoad', SLOT.vmExitMsrLoadAddress, SLOT.vmExitMsrLoadCount),
];

const SECTION_3: [string, Case[]][] = [
  ['entryReservedBits', [
    { why: 'default1 bit 0 clear', change: (v) => clearBits(v, entry, b(0)) },
    { why: '"entry to SMM" (not offered)', change: (v) => setBits(v, entry, b(ENTRY.toSmm)) },
  ]],
  ['injectionTypeNotReserved', [
    { why: 'type 1', change: (v) => set(v, injection, inject(1, 0, false)) },
    { why: 'type 7 (other event) without "monitor trap flag"', model: noMtf, change: (v) => set(v, injection, inject(7, 0, false)) },
  ]],
  ['injectionNmiVector', [{ why: 'NMI with vector 3', change: (v) => set(v, injection, inject(2, 3, false)) }]],
  ['injectionHardwareExceptionVector', [{ why: 'vector 32', change: (v) => set(v, injection, inject(3, 32, false)) }]],
  ['injectionOtherEventVector', [{ why: 'other event with vector 1', change: (v) => set(v, injection, inject(7, 1, false)) }]],
  ['injectionDeliverErrorCode', [
    { why: '#GP without error code', change: (v) => set(v, injection, inject(3, 13, false)) },
    { why: '#UD with error code', change: (v) => set(v, injection, inject(3, 6, true)) },
    { why: 'external interrupt with error code', change: (v) => set(v, injection, inject(0, 0x20, true)) },
    { why: 'software interrupt with error code', change: (v) => { set(v, injection, inject(4, 13, true)); set(v, SLOT.vmEntryInstructionLength, 2); } },
    { why: '#GP with error code, unrestricted guest and CR0.PE = 0', change: (v) => set(v, SLOT.guestCr0, 0x30) },
    {
      why: 'IA32_VMX_BASIC[56] = 1: external interrupt with error code', model: anyVectorErrorCode,
      change: (v) => set(v, injection, inject(0, 0x20, true)),
    },
    {
      why: 'IA32_VMX_BASIC[56] = 1: #GP with error code, unrestricted guest and CR0.PE = 0', model: anyVectorErrorCode,
      change: (v) => set(v, SLOT.guestCr0, 0x30),
    },
  ]],
  ['injectionReservedBits30To12', [
    { why: 'bit 12', change: (v) => setBits(v, injection, b(12)) },
    { why: 'bit 30', change: (v) => setBits(v, injection, b(30)) },
  ]],
  ['injectionErrorCodeBits31To16', [{ why: 'error code 0x10000', change: (v) => set(v, SLOT.vmEntryExceptionErrorCode, 0x10000) }]],
  ['injectionInstructionLength', [
    { why: 'INT n, length 0', change: (v) => { set(v, injection, inject(4, 0x80, false)); set(v, SLOT.vmEntryInstructionLength, 0); } },
    { why: 'INT n, length 16', change: (v) => { set(v, injection, inject(4, 0x80, false)); set(v, SLOT.vmEntryInstructionLength, 16); } },
    { why: 'INT1, length 0', change: (v) => set(v, injection, inject(5, 1, false)) },
    { why: 'INT3, length 16', change: (v) => { set(v, injection, inject(6, 3, false)); set(v, SLOT.vmEntryInstructionLength, 16); } },
  ]],
  ...msrAreaCases('entryMsrLoad', SLOT.vmEntryMsrLoadAddress, SLOT.vmEntryMsrLoadCount),
  ['entryToSmmOutsideSmm', [{ why: 'set, and the machine has no SMM', model: wide, change: (v) => setBits(v, entry, b(ENTRY.toSmm)) }]],
  ['deactivateDualMonitorOutsideSmm', [{
    why: 'set, and the machine has no SMM', model: wide, change: (v) => setBits(v, entry, b(ENTRY.deactivateDualMonitor)),
  }]],
];

describe('checks on VMX controls (SDM Vol. 3C §27.2.1)', () => {
  it('a valid VMCS passes every check (FULL_VMX_MODEL, and the widened model)', () => {
    expect(checkVmxControls(baseline(), full, CTX)).toBeNull();
    expect(checkVmxControls(baseline(wide), wide, CTX)).toBeNull();
  });

  it('every check has a unique name and a case below', () => {
    const names = CONTROL_CHECKS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    const tested = [...SECTION_1, ...SECTION_2, ...SECTION_3].map(([n]) => n);
    expect(tested).toEqual(names);
  });

  it('the failure names its SDM section, and the earliest broken rule wins', () => {
    const v = baseline();
    set(v, SLOT.cr3TargetCount, 5);
    set(v, entry, 0);
    expect(checkVmxControls(v, full, CTX)).toEqual({ check: 'cr3TargetCount', section: '§27.2.1.1 VM-Execution Control Fields' });
    set(v, SLOT.cr3TargetCount, 0);
    expect(checkVmxControls(v, full, CTX)).toEqual({ check: 'entryReservedBits', section: '§27.2.1.3 VM-Entry Control Fields' });
  });

  const groups: [string, [string, Case[]][]][] = [
    ['§27.2.1.1 VM-execution control fields', SECTION_1],
    ['§27.2.1.2 VM-exit control fields', SECTION_2],
    ['§27.2.1.3 VM-entry control fields', SECTION_3],
  ];
  for (const [section, cases] of groups) {
    describe(section, () => {
      for (const [name, list] of cases) {
        for (const c of list) {
          it(`${name}: ${c.why}`, () => expect(firstFailure(c)).toBe(name));
        }
      }
    });
  }
});

describe('conditions under which the rules do not apply (SDM Vol. 3C §27.2.1)', () => {
  const passes: Case[] = [
    {
      why: '§27.2.1.1: secondary controls are not checked when "activate secondary controls" is 0',
      change: (v) => {
        clearBits(v, proc, b(PROC.secondary));
        clearBits(v, pin, b(PIN.postedInterrupts));
        set(v, proc2, 0xffffffff);
      },
    },
    { why: '§27.2.1.1: CR3-target count 0', change: (v) => set(v, SLOT.cr3TargetCount, 0) },
    {
      why: '§27.2.1.1: bitmap addresses are ignored when the bitmaps are not used',
      change: (v) => {
        clearBits(v, proc, b(PROC.ioBitmaps, PROC.msrBitmaps));
        set(v, SLOT.ioBitmapAAddress, 1); set(v, SLOT.ioBitmapBAddress, 1); set(v, SLOT.msrBitmapsAddress, 1);
      },
    },
    { why: '§27.2.1.1: with virtual-interrupt delivery the TPR threshold is free', change: (v) => set(v, SLOT.tprThreshold, 0xffffffff) },
    {
      why: '§27.2.1.1: threshold 4 = VTPR[7:4]',
      change: (v) => {
        clearBits(v, proc2, b(PROC2.vid, PROC2.apicAccesses));
        clearBits(v, pin, b(PIN.postedInterrupts));
        set(v, SLOT.tprThreshold, 4);
      },
      ctx: { ...CTX, readVtpr: () => 0x40 },
    },
    {
      why: '§27.2.1.1: no VTPR check with "virtualize APIC accesses"',
      change: (v) => { clearBits(v, proc2, b(PROC2.vid)); clearBits(v, pin, b(PIN.postedInterrupts)); set(v, SLOT.tprThreshold, 15); },
      ctx: { ...CTX, readVtpr: () => { throw new Error('VTPR read'); } },
    },
    { why: '§27.2.1.1: VM-function controls are not checked with "enable VM functions" 0', change: (v) => {
      clearBits(v, proc2, b(PROC2.vmFunctions)); set(v, SLOT.vmFunctionControls, 0xffffffff, 0xffffffff); set(v, SLOT.eptpListAddress, 1);
    } },
    { why: '§27.2.1.1: posted-interrupt fields ignored without "process posted interrupts"', change: (v) => {
      clearBits(v, pin, b(PIN.postedInterrupts)); set(v, SLOT.postedInterruptNotificationVector, 0xffff);
      set(v, SLOT.postedInterruptDescriptorAddress, 1);
    } },
    { why: '§27.2.1.2: MSR-store area of 1 entry ending at 2^46 - 1', change: (v) => set(v, SLOT.vmExitMsrStoreAddress, 0xfffffff0, BEYOND_WIDTH_HI - 1) },
    { why: '§27.2.1.2: MSR-load count 0 ignores the address', change: (v) => { set(v, SLOT.vmExitMsrLoadCount, 0); set(v, SLOT.vmExitMsrLoadAddress, 1, 0xffffffff); } },
    { why: '§27.2.1.2: MSR-store area of 2^32 - 1 entries within the width', change: (v) => set(v, SLOT.vmExitMsrStoreCount, 0xffffffff) },
    { why: '§27.2.1.3: no injection checks when the valid bit is 0', change: (v) => set(v, injection, 0x7fffffff) },
    { why: '§27.2.1.3: #GP without error code, unrestricted guest and CR0.PE = 0', change: (v) => {
      set(v, injection, inject(3, 13, false)); set(v, SLOT.guestCr0, 0x30);
    } },
    { why: '§27.2.1.3: IA32_VMX_BASIC[56] = 1 allows #UD with an error code', model: anyVectorErrorCode, change: (v) => set(v, injection, inject(3, 6, true)) },
    { why: '§27.2.1.3: IA32_VMX_BASIC[56] = 1 allows #GP without one', model: anyVectorErrorCode, change: (v) => set(v, injection, inject(3, 13, false)) },
    { why: '§27.2.1.3: error code bit 15 may be set (current SDM: bits 31:16)', change: (v) => set(v, SLOT.vmEntryExceptionErrorCode, 0xffff) },
    { why: '§27.2.1.3: error code is not checked without deliver-error-code', change: (v) => {
      set(v, injection, inject(0, 0x20, false)); set(v, SLOT.vmEntryExceptionErrorCode, 0xffffffff);
    } },
    { why: '§27.2.1.3: INT n with length 15', change: (v) => { set(v, injection, inject(4, 0x80, false)); set(v, SLOT.vmEntryInstructionLength, 15); } },
    { why: '§27.2.1.3: NMI with vector 2', change: (v) => set(v, injection, inject(2, 2, false)) },
    { why: '§27.2.1.3: other event (pending MTF) with vector 0', change: (v) => set(v, injection, inject(7, 0, false)) },
  ];
  for (const c of passes) it(c.why, () => expect(firstFailure(c)).toBeNull());

  it('§27.2.1.1: VTPR is read from the virtual-APIC address', () => {
    const seen: number[][] = [];
    const v = baseline();
    clearBits(v, proc2, b(PROC2.vid, PROC2.apicAccesses));
    clearBits(v, pin, b(PIN.postedInterrupts));
    checkVmxControls(v, full, { ...CTX, readVtpr: (l, h) => { seen.push([l, h]); return 0; } });
    expect(seen).toEqual([[0x4000, 0x1]]);
  });
});
