/**
 * The VMX capability MSRs (SDM Vol. 3C Appendix A) computed by vmx/model/.
 * Expected values are written by hand from the SDM's bit positions (and
 * Linux arch/x86/include/asm/vmx.h's masks for the control bits), as
 * BigInt, never taken from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { controlMask, type ControlGroup, type ControlKey } from '../../vmx/model/controls.ts';
import { DEFAULT_VMX_MODEL, FULL_VMX_MODEL, MINIMAL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VMX_MSR, VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';

/** CR4 bits of the default CPU model with VMX on: TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT VMXE PCIDE OSXSAVE SMEP SMAP. */
const CR4_SETTABLE = [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 17, 18, 20, 21].reduce((m, b) => m | (1 << b), 0) >>> 0;
const INPUTS = { cr4Settable: CR4_SETTABLE, vmcsHighestIndex: 0x1d };

const B = (...bits: number[]): bigint => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
const full = new VmxModel(FULL_VMX_MODEL, INPUTS);
const dflt = new VmxModel(DEFAULT_VMX_MODEL, INPUTS);
const min = new VmxModel(MINIMAL_VMX_MODEL, INPUTS);

function value(m: VmxModel, index: number): bigint {
  const v = m.read(index);
  if (v === undefined) throw new Error(`MSR ${index.toString(16)} absent`);
  return (BigInt(v.hi) << 32n) | BigInt(v.lo);
}
const lo = (v: bigint): bigint => v & 0xffffffffn;
const hi = (v: bigint): bigint => v >> 32n;

/** A copy of a model with some fields replaced. */
const variant = (base: VmxFeatures, change: Partial<VmxFeatures>): VmxFeatures => ({ ...base, ...change });
const withoutControls = (base: VmxFeatures, group: ControlGroup, keys: string[]): VmxFeatures =>
  variant(base, { controls: { ...base.controls, [group]: base.controls[group].filter((k) => !keys.includes(k)) } });

const NO_SECONDARY = withoutControls(
  withoutControls(variant(FULL_VMX_MODEL, { ept: [], vpid: [], vmFunctions: [] }), 'proc', ['activateSecondaryControls']),
  'proc2', [...FULL_VMX_MODEL.controls.proc2],
);

// Default1 classes (SDM Vol. 3C Appendix A.3.1, A.3.2, A.4.1, A.5).
const PIN_DEFAULT1 = B(1, 2, 4);
const PROC_DEFAULT1 = B(1, 4, 5, 6, 8, 13, 14, 15, 16, 26);
const EXIT_DEFAULT1 = B(...range(0, 8), 10, 11, 13, 14, 16, 17);
const ENTRY_DEFAULT1 = B(...range(0, 8), 12);

const CONTROL_MSRS = [
  VMX_MSR.PINBASED_CTLS, VMX_MSR.PROCBASED_CTLS, VMX_MSR.EXIT_CTLS, VMX_MSR.ENTRY_CTLS, VMX_MSR.PROCBASED_CTLS2,
  VMX_MSR.TRUE_PINBASED_CTLS, VMX_MSR.TRUE_PROCBASED_CTLS, VMX_MSR.TRUE_EXIT_CTLS, VMX_MSR.TRUE_ENTRY_CTLS,
];

describe('VMX control bit positions (SDM Vol. 3C §25.6-25.8; Linux asm/vmx.h masks)', () => {
  const linux: [ControlGroup, string, number][] = [
    ['pin', 'externalInterruptExiting', 0x1], ['pin', 'nmiExiting', 0x8], ['pin', 'virtualNmis', 0x20],
    ['pin', 'activatePreemptionTimer', 0x40], ['pin', 'processPostedInterrupts', 0x80],
    ['proc', 'interruptWindowExiting', 0x4], ['proc', 'useTscOffsetting', 0x8], ['proc', 'hltExiting', 0x80],
    ['proc', 'invlpgExiting', 0x200], ['proc', 'mwaitExiting', 0x400], ['proc', 'rdpmcExiting', 0x800],
    ['proc', 'rdtscExiting', 0x1000], ['proc', 'cr3LoadExiting', 0x8000], ['proc', 'cr3StoreExiting', 0x10000],
    ['proc', 'activateTertiaryControls', 0x20000], ['proc', 'cr8LoadExiting', 0x80000],
    ['proc', 'cr8StoreExiting', 0x100000], ['proc', 'useTprShadow', 0x200000], ['proc', 'nmiWindowExiting', 0x400000],
    ['proc', 'movDrExiting', 0x800000], ['proc', 'unconditionalIoExiting', 0x1000000], ['proc', 'useIoBitmaps', 0x2000000],
    ['proc', 'monitorTrapFlag', 0x8000000], ['proc', 'useMsrBitmaps', 0x10000000], ['proc', 'monitorExiting', 0x20000000],
    ['proc', 'pauseExiting', 0x40000000], ['proc', 'activateSecondaryControls', 0x80000000],
    ['proc2', 'virtualizeApicAccesses', 0x1], ['proc2', 'enableEpt', 0x2], ['proc2', 'descriptorTableExiting', 0x4],
    ['proc2', 'enableRdtscp', 0x8], ['proc2', 'virtualizeX2apicMode', 0x10], ['proc2', 'enableVpid', 0x20],
    ['proc2', 'wbinvdExiting', 0x40], ['proc2', 'unrestrictedGuest', 0x80], ['proc2', 'apicRegisterVirtualization', 0x100],
    ['proc2', 'virtualInterruptDelivery', 0x200], ['proc2', 'pauseLoopExiting', 0x400], ['proc2', 'rdrandExiting', 0x800],
    ['proc2', 'enableInvpcid', 0x1000], ['proc2', 'enableVmFunctions', 0x2000], ['proc2', 'vmcsShadowing', 0x4000],
    ['proc2', 'enableEnclsExiting', 0x8000], ['proc2', 'rdseedExiting', 0x10000], ['proc2', 'enablePml', 0x20000],
    ['proc2', 'eptViolationVe', 0x40000], ['proc2', 'concealVmxFromPt', 0x80000], ['proc2', 'enableXsaves', 0x100000],
    ['proc2', 'modeBasedExecuteControl', 0x400000], ['proc2', 'ptUsesGuestPhysical', 0x1000000],
    ['proc2', 'useTscScaling', 0x2000000], ['proc2', 'enableUserWaitPause', 0x4000000],
    ['proc2', 'enableEnclvExiting', 0x10000000], ['proc2', 'busLockDetection', 0x40000000],
    ['exit', 'saveDebugControls', 0x4], ['exit', 'hostAddressSpaceSize', 0x200], ['exit', 'loadPerfGlobalCtrl', 0x1000],
    ['exit', 'acknowledgeInterruptOnExit', 0x8000], ['exit', 'savePat', 0x40000], ['exit', 'loadPat', 0x80000],
    ['exit', 'saveEfer', 0x100000], ['exit', 'loadEfer', 0x200000], ['exit', 'savePreemptionTimer', 0x400000],
    ['exit', 'clearBndcfgs', 0x800000], ['exit', 'concealVmxFromPt', 0x1000000], ['exit', 'clearRtitCtl', 0x2000000],
    ['entry', 'loadDebugControls', 0x4], ['entry', 'ia32eModeGuest', 0x200], ['entry', 'entryToSmm', 0x400],
    ['entry', 'deactivateDualMonitor', 0x800], ['entry', 'loadPerfGlobalCtrl', 0x2000], ['entry', 'loadPat', 0x4000],
    ['entry', 'loadEfer', 0x8000], ['entry', 'loadBndcfgs', 0x10000], ['entry', 'concealVmxFromPt', 0x20000],
    ['entry', 'loadRtitCtl', 0x40000],
  ];
  it.each(linux)('%s %s = %i', (group, key, mask) => {
    expect(controlMask(group, [key as ControlKey<typeof group>])).toBe(mask >>> 0);
  });
  it('an unknown control name is refused', () => {
    expect(() => controlMask('pin', ['bogus' as ControlKey<'pin'>])).toThrow(/unknown pin control/);
  });
});

describe('IA32_VMX_BASIC (SDM Vol. 3C Appendix A.1)', () => {
  it('FULL: revision 1, 4096-byte regions, 64-bit addresses (bit 48 = 0), no dual-monitor, WB, INS/OUTS info, true controls', () => {
    const v = value(full, VMX_MSR.BASIC);
    expect(v).toBe(1n | (4096n << 32n) | (6n << 50n) | B(54, 55));
    expect(v & B(31, 48, 49, 56)).toBe(0n);
    expect((v >> 50n) & 0xfn).toBe(6n);
  });
  it('MINIMAL: no INS/OUTS information, no TRUE MSRs', () => {
    expect(value(min, VMX_MSR.BASIC)).toBe(1n | (4096n << 32n) | (6n << 50n));
  });
  it('DEFAULT: INS/OUTS information (bit 54) and the TRUE MSRs (bit 55)', () => {
    expect(value(dflt, VMX_MSR.BASIC)).toBe(1n | (4096n << 32n) | (6n << 50n) | B(54, 55));
  });
  it('bit 56 follows its switch', () => {
    const m = new VmxModel(variant(FULL_VMX_MODEL, { entryErrorCodeAnyVector: true }), INPUTS);
    expect(value(m, VMX_MSR.BASIC) & B(56)).toBe(B(56));
  });
});

describe('control MSRs: default1 class (SDM Vol. 3C Appendix A.2)', () => {
  it.each([
    ['PINBASED (A.3.1)', VMX_MSR.PINBASED_CTLS, PIN_DEFAULT1],
    ['PROCBASED (A.3.2)', VMX_MSR.PROCBASED_CTLS, PROC_DEFAULT1],
    ['EXIT (A.4.1)', VMX_MSR.EXIT_CTLS, EXIT_DEFAULT1],
    ['ENTRY (A.5)', VMX_MSR.ENTRY_CTLS, ENTRY_DEFAULT1],
  ])('%s non-TRUE MSR reports exactly the default1 bits as must-be-1 (both models)', (_n, index, d1) => {
    for (const m of [full, dflt, min]) {
      expect(lo(value(m, index))).toBe(d1);
      expect(hi(value(m, index)) & d1).toBe(d1);
    }
  });
  it('matches Linux *_ALWAYSON_WITHOUT_TRUE_MSR', () => {
    expect([PIN_DEFAULT1, PROC_DEFAULT1, EXIT_DEFAULT1, ENTRY_DEFAULT1]).toEqual([0x16n, 0x0401e172n, 0x36dffn, 0x11ffn]);
  });
});

describe('MINIMAL_VMX_MODEL: a 64-bit host, IA-32e guests, nothing optional', () => {
  it('allowed-1 settings are the default1 bits plus host address-space size (exit 9) and IA-32e mode guest (entry 9)', () => {
    expect(value(min, VMX_MSR.PINBASED_CTLS)).toBe((PIN_DEFAULT1 << 32n) | PIN_DEFAULT1);
    expect(value(min, VMX_MSR.PROCBASED_CTLS)).toBe((PROC_DEFAULT1 << 32n) | PROC_DEFAULT1);
    expect(value(min, VMX_MSR.EXIT_CTLS)).toBe(((EXIT_DEFAULT1 | B(9)) << 32n) | EXIT_DEFAULT1);
    expect(value(min, VMX_MSR.ENTRY_CTLS)).toBe(((ENTRY_DEFAULT1 | B(9)) << 32n) | ENTRY_DEFAULT1);
  });
  it('PROCBASED_CTLS2, EPT_VPID_CAP, the TRUE MSRs and VMFUNC do not exist (A.3.3, A.10, A.1, A.11)', () => {
    for (const index of [0x48b, 0x48c, 0x48d, 0x48e, 0x48f, 0x490, 0x491]) expect(min.read(index)).toBeUndefined();
    expect([...min.all().keys()].sort((a, b) => a - b)).toEqual(range(0x480, 0x48a));
  });
  it('MISC: rate only; no activity state but active, no CR3 targets, no VMWRITE to read-only fields', () => {
    expect(value(min, VMX_MSR.MISC)).toBe(5n);
  });
});

describe('DEFAULT_VMX_MODEL: what is built, nothing more (issue 4)', () => {
  it('PINBASED: external-interrupt (0), NMI exiting (3), virtual NMIs (5), preemption timer (6); no posted interrupts (7)', () => {
    expect(value(dflt, VMX_MSR.PINBASED_CTLS)).toBe(((PIN_DEFAULT1 | B(0, 3, 5, 6)) << 32n) | PIN_DEFAULT1);
  });
  it('PROCBASED: every primary control but the TPR shadow (21) and tertiary controls (17)', () => {
    const built = B(2, 3, 7, 9, 10, 11, 12, 15, 16, 19, 20, 22, 23, 24, 25, 27, 28, 29, 30, 31);
    expect(value(dflt, VMX_MSR.PROCBASED_CTLS)).toBe(((PROC_DEFAULT1 | built) << 32n) | PROC_DEFAULT1);
  });
  it('PROCBASED_CTLS2: EPT (1), descriptor-table exiting (2), RDTSCP (3), VPID (5), WBINVD (6), UG (7), PLE (10), RDRAND (11), INVPCID (12), VMFUNC (13), VMCS shadowing (14), RDSEED (16), TSC scaling (25); no APICv (0, 4, 8, 9)', () => {
    expect(value(dflt, VMX_MSR.PROCBASED_CTLS2)).toBe(B(1, 2, 3, 5, 6, 7, 10, 11, 12, 13, 14, 16, 25) << 32n);
  });
  it('EXIT: save debug controls, host address-space size, acknowledge interrupt, PAT, EFER, save preemption timer (2, 9, 15, 18-22)', () => {
    expect(value(dflt, VMX_MSR.EXIT_CTLS)).toBe(((EXIT_DEFAULT1 | B(9, 15, 18, 19, 20, 21, 22)) << 32n) | EXIT_DEFAULT1);
  });
  it('ENTRY: load debug controls, IA-32e mode guest, load PAT, load EFER (2, 9, 14, 15)', () => {
    expect(value(dflt, VMX_MSR.ENTRY_CTLS)).toBe(((ENTRY_DEFAULT1 | B(9, 14, 15)) << 32n) | ENTRY_DEFAULT1);
  });
  it('TRUE MSRs free CR3-load/store exiting (15, 16) and save/load debug controls (2)', () => {
    expect(lo(value(dflt, VMX_MSR.TRUE_PROCBASED_CTLS))).toBe(PROC_DEFAULT1 & ~B(15, 16));
    expect(lo(value(dflt, VMX_MSR.TRUE_EXIT_CTLS))).toBe(EXIT_DEFAULT1 & ~B(2));
    expect(lo(value(dflt, VMX_MSR.TRUE_ENTRY_CTLS))).toBe(ENTRY_DEFAULT1 & ~B(2));
  });
  it('EPT_VPID_CAP (A.10): execute-only (0), 4-level walk (6), UC (8), WB (14), 2M (16), 1G (17), INVEPT (20), A/D (21), INVEPT single/all (25, 26); INVVPID (32), its four types (40-43)', () => {
    expect(value(dflt, 0x48c)).toBe(B(0, 6, 8, 14, 16, 17, 20, 21, 25, 26, 32, 40, 41, 42, 43));
  });
  it('VMFUNC (A.11): EPTP switching (bit 0) only', () => {
    expect(value(dflt, 0x491)).toBe(B(0));
  });
  it('MISC: rate 5, LMA store (5, unrestricted guest), activity states HLT/shutdown/wait-for-SIPI (6-8), 4 CR3 targets (24:16), VMWRITE to any field (29)', () => {
    expect(value(dflt, VMX_MSR.MISC)).toBe(5n | B(5, 6, 7, 8) | (4n << 16n) | B(29));
  });
});

describe('FULL_VMX_MODEL control MSRs (SDM Vol. 3C Appendix A.3-A.5)', () => {
  it('PINBASED: external-interrupt, NMI exiting, virtual NMIs, preemption timer, posted interrupts', () => {
    expect(value(full, VMX_MSR.PINBASED_CTLS)).toBe((B(0, 3, 5, 6, 7, 1, 2, 4) << 32n) | PIN_DEFAULT1);
  });
  it('PROCBASED: every primary control but tertiary controls (17) and the reserved bits 0, 18', () => {
    expect(hi(value(full, VMX_MSR.PROCBASED_CTLS))).toBe(0xfff9fffen);
    expect(hi(value(full, VMX_MSR.PROCBASED_CTLS)) & B(0, 17, 18)).toBe(0n);
  });
  it('PROCBASED_CTLS2 (A.3.3): allowed-0 always 0; EPT, VPID, UG, APICv, VMFUNC, shadowing, TSC scaling ...', () => {
    expect(value(full, VMX_MSR.PROCBASED_CTLS2)).toBe(B(...range(0, 14), 16, 25) << 32n);
  });
  it('EXIT: save debug, host address-space size, ack interrupt, PAT, EFER, save preemption timer', () => {
    expect(hi(value(full, VMX_MSR.EXIT_CTLS))).toBe(EXIT_DEFAULT1 | B(2, 9, 15, 18, 19, 20, 21, 22));
    expect(hi(value(full, VMX_MSR.EXIT_CTLS)) & B(12)).toBe(0n); // no PMU: no IA32_PERF_GLOBAL_CTRL
  });
  it('ENTRY: load debug, IA-32e mode guest, PAT, EFER; no SMM controls', () => {
    expect(hi(value(full, VMX_MSR.ENTRY_CTLS))).toBe(ENTRY_DEFAULT1 | B(2, 9, 14, 15));
    expect(hi(value(full, VMX_MSR.ENTRY_CTLS)) & B(10, 11, 13)).toBe(0n);
  });
});

describe('TRUE control MSRs (SDM Vol. 3C Appendix A.3.1, A.3.2, A.4.1, A.5)', () => {
  const pairs = [
    [VMX_MSR.PINBASED_CTLS, VMX_MSR.TRUE_PINBASED_CTLS, 0n],
    [VMX_MSR.PROCBASED_CTLS, VMX_MSR.TRUE_PROCBASED_CTLS, B(15, 16)],
    [VMX_MSR.EXIT_CTLS, VMX_MSR.TRUE_EXIT_CTLS, B(2)],
    [VMX_MSR.ENTRY_CTLS, VMX_MSR.TRUE_ENTRY_CTLS, B(2)],
  ] as const;
  it.each(pairs)('non-TRUE %i / TRUE %i: same allowed-1, allowed-0 minus exactly the freed default1 controls', (n, t, freed) => {
    const a = value(full, n), b = value(full, t);
    expect(hi(b)).toBe(hi(a));
    expect(lo(b)).toBe(lo(a) & ~freed);
    expect(lo(b) & ~lo(a)).toBe(0n); // TRUE allowed-0 ⊆ non-TRUE allowed-0
  });
  it('hand values: TRUE_PROCBASED allowed-0 0x04006172, TRUE_EXIT 0x36dfb, TRUE_ENTRY 0x11fb', () => {
    expect(lo(value(full, VMX_MSR.TRUE_PROCBASED_CTLS))).toBe(0x04006172n);
    expect(lo(value(full, VMX_MSR.TRUE_EXIT_CTLS))).toBe(0x36dfbn);
    expect(lo(value(full, VMX_MSR.TRUE_ENTRY_CTLS))).toBe(0x11fbn);
  });
  it('allowedSettings follows the TRUE MSRs when they exist, the non-TRUE ones otherwise', () => {
    expect(full.allowedSettings('proc')).toEqual({ mustBe1: 0x04006172, mayBe1: 0xfff9fffe });
    expect(min.allowedSettings('proc')).toEqual({ mustBe1: 0x0401e172, mayBe1: 0x0401e172 });
    expect(full.allowedSettings('proc2').mustBe1).toBe(0);
  });
  it('trueAllowed0 without true controls is refused', () => {
    expect(() => new VmxModel(variant(FULL_VMX_MODEL, { trueControls: false }), INPUTS)).toThrow(/trueControls/);
  });
});

describe('allowed-0 ⊆ allowed-1 in every control MSR (SDM Vol. 3C Appendix A.3-A.5)', () => {
  const models: [string, VmxFeatures][] = [
    ['FULL', FULL_VMX_MODEL],
    ['DEFAULT', DEFAULT_VMX_MODEL],
    ['FULL without EPT', variant(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableEpt', 'unrestrictedGuest']), { ept: [] })],
    ['FULL without secondary controls', NO_SECONDARY],
  ];
  it.each(models)('%s', (_n, f) => {
    const m = new VmxModel(f, INPUTS);
    for (const index of CONTROL_MSRS) {
      if (m.read(index) === undefined) continue;
      const v = value(m, index);
      expect(lo(v) & ~hi(v)).toBe(0n);
    }
  });
});

describe('IA32_VMX_EPT_VPID_CAP (SDM Vol. 3C Appendix A.10)', () => {
  it('FULL: execute-only, 4-level walk, UC/WB, 2M/1G pages, INVEPT single/all, A/D; INVVPID all four types', () => {
    const v = value(full, VMX_MSR.EPT_VPID_CAP);
    expect(v).toBe(B(0, 6, 8, 14, 16, 17, 20, 21, 25, 26, 32, 40, 41, 42, 43));
    expect(v & B(7)).toBe(0n); // no 5-level EPT
  });
  it('exists with VPID alone (EPT bits 0), and not without both', () => {
    const noEpt = variant(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableEpt', 'unrestrictedGuest']), { ept: [] });
    expect(value(new VmxModel(noEpt, INPUTS), VMX_MSR.EPT_VPID_CAP)).toBe(B(32, 40, 41, 42, 43));
    const neither = variant(withoutControls(noEpt, 'proc2', ['enableVpid']), { vpid: [] });
    expect(new VmxModel(neither, INPUTS).read(VMX_MSR.EPT_VPID_CAP)).toBeUndefined();
  });
  it('EPT or VPID capabilities without their control are refused', () => {
    expect(() => new VmxModel(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableEpt']), INPUTS)).toThrow(/enableEpt/);
    expect(() => new VmxModel(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableVpid']), INPUTS)).toThrow(/enableVpid/);
  });
});

describe('IA32_VMX_MISC (SDM Vol. 3C Appendix A.6)', () => {
  it('FULL: rate 5, LMA store (unrestricted guest), HLT/shutdown/wait-for-SIPI, 4 CR3 targets, 512 MSRs, VMWRITE any field, MSEG 0', () => {
    const v = value(full, VMX_MSR.MISC);
    expect(v & 0x1fn).toBe(5n);
    expect(v & B(5)).toBe(B(5));
    expect((v >> 6n) & 7n).toBe(7n);
    expect((v >> 16n) & 0x1ffn).toBe(4n);
    expect(512n * (((v >> 25n) & 7n) + 1n)).toBe(512n);
    expect(v & B(29)).toBe(B(29));
    expect(v >> 32n).toBe(0n);
    expect(v).toBe(5n | B(5, 6, 7, 8, 29) | (4n << 16n));
  });
  it('bit 5 is set exactly when unrestricted guest is supported', () => {
    const m = new VmxModel(withoutControls(FULL_VMX_MODEL, 'proc2', ['unrestrictedGuest']), INPUTS);
    expect(value(m, VMX_MSR.MISC) & B(5)).toBe(0n);
  });
  it('256 CR3 targets set bit 24 with bits 23:16 clear; N = 7 means 4096 MSRs', () => {
    const m = new VmxModel(variant(FULL_VMX_MODEL, { cr3TargetCount: 256, msrListSizeN: 7, activityStates: ['shutdown'] }), INPUTS);
    const v = value(m, VMX_MSR.MISC);
    expect((v >> 16n) & 0x1ffn).toBe(0x100n);
    expect(512n * (((v >> 25n) & 7n) + 1n)).toBe(4096n);
    expect((v >> 6n) & 7n).toBe(2n);
  });
  it.each([
    { preemptionTimerRate: 32 }, { cr3TargetCount: 257 }, { msrListSizeN: 8 }, { vmcsRegionSize: 4097 },
    { vmcsRegionSize: 0 }, { vmcsRevisionId: 0x80000000 },
  ])('out-of-range field %o is refused', (change) => {
    expect(() => new VmxModel(variant(FULL_VMX_MODEL, change), INPUTS)).toThrow(/must be an integer/);
  });
});

describe('IA32_VMX_CR0/CR4_FIXED0/1 (SDM Vol. 3C Appendix A.7, A.8)', () => {
  it('CR0: PE, NE, PG fixed to 1; no bit fixed to 0', () => {
    expect(value(full, VMX_MSR.CR0_FIXED0)).toBe(0x80000021n);
    expect(value(full, VMX_MSR.CR0_FIXED1)).toBe(0xffffffffn);
  });
  it('CR4: VMXE fixed to 1; the bits the CPU model cannot set fixed to 0', () => {
    expect(value(full, VMX_MSR.CR4_FIXED0)).toBe(0x2000n);
    expect(value(full, VMX_MSR.CR4_FIXED1)).toBe(0x3627fcn);
    expect(value(full, VMX_MSR.CR4_FIXED0) & ~value(full, VMX_MSR.CR4_FIXED1)).toBe(0n);
  });
  it('a CR4 mask without VMXE is refused', () => {
    expect(() => new VmxModel(FULL_VMX_MODEL, { ...INPUTS, cr4Settable: 0x20 })).toThrow(/VMXE/);
  });
});

describe('IA32_VMX_VMCS_ENUM (A.9) and IA32_VMX_VMFUNC (A.11)', () => {
  it('VMCS_ENUM bits 9:1 hold the highest index; bit 0 and 63:10 are 0', () => {
    expect(value(full, VMX_MSR.VMCS_ENUM)).toBe(0x3an);
    expect(value(new VmxModel(FULL_VMX_MODEL, { ...INPUTS, vmcsHighestIndex: 511 }), VMX_MSR.VMCS_ENUM)).toBe(0x3fen);
    expect(() => new VmxModel(FULL_VMX_MODEL, { ...INPUTS, vmcsHighestIndex: 512 })).toThrow(/vmcsHighestIndex/);
  });
  it('VMFUNC: EPTP switching (function 0) only', () => {
    expect(value(full, VMX_MSR.VMFUNC)).toBe(1n);
  });
  it('VMFUNC does not exist without "enable VM functions"; functions without it are refused', () => {
    const m = new VmxModel(variant(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableVmFunctions']), { vmFunctions: [] }), INPUTS);
    expect(m.read(VMX_MSR.VMFUNC)).toBeUndefined();
    expect(() => new VmxModel(withoutControls(FULL_VMX_MODEL, 'proc2', ['enableVmFunctions']), INPUTS)).toThrow(/enableVmFunctions/);
  });
  it('secondary controls without "activate secondary controls" are refused; without them PROCBASED_CTLS2 does not exist', () => {
    expect(() => new VmxModel(withoutControls(FULL_VMX_MODEL, 'proc', ['activateSecondaryControls']), INPUTS))
      .toThrow(/activateSecondaryControls/);
    const m = new VmxModel(NO_SECONDARY, INPUTS);
    for (const index of [VMX_MSR.PROCBASED_CTLS2, VMX_MSR.EPT_VPID_CAP, VMX_MSR.VMFUNC]) expect(m.read(index)).toBeUndefined();
    expect(hi(value(m, VMX_MSR.PROCBASED_CTLS)) & B(31)).toBe(0n);
    expect(m.read(VMX_MSR.TRUE_PROCBASED_CTLS)).toBeDefined();
  });
});

describe('supports()', () => {
  it('reports the allowed-1 settings, default1 controls included', () => {
    expect(full.supports('proc2', 'vmcsShadowing')).toBe(true);
    expect(full.supports('proc', 'activateTertiaryControls')).toBe(false);
    expect(dflt.supports('proc', 'hltExiting')).toBe(true);
    expect(dflt.supports('proc', 'useTprShadow')).toBe(false);
    expect(min.supports('proc', 'hltExiting')).toBe(false);
    expect(min.supports('proc', 'cr3LoadExiting')).toBe(true); // default1: architecturally always allowed-1
    expect(min.supports('exit', 'saveDebugControls')).toBe(true);
  });
});
