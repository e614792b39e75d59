/**
 * The VMX capability MSRs (SDM Vol. 3C Appendix A, "VMX Capability
 * Reporting Facility") computed from one set of feature switches.
 *
 * The MSRs are a contract: VMX software derives from them which VM entries
 * must succeed and which must fail. A control is reported allowed-1 only
 * when its switch is on, and a switch goes on only when the control is
 * implemented exactly (issue 4). Pure data and functions; registering the
 * MSRs with RDMSR is the machine's business.
 *
 * API edge: every MSR value is an `Msr64` pair of unsigned 32-bit halves
 * `{ lo, hi }` (bits 31:0 and 63:32), the form RDMSR puts in EAX/EDX. For
 * the control MSRs `lo` is the allowed-0 settings (bit X set: control X
 * must be 1) and `hi` the allowed-1 settings (bit X clear: control X must
 * be 0), Appendix A.3-A.5.
 */
import { ACTIVITY_STATES, EPT_CAPS, VM_FUNCTIONS, VPID_CAPS } from './capabilityBits.ts';
import type { ActivityState, EptCap, VmFunction, VpidCap } from './capabilityBits.ts';
import { CONTROLS, DEFAULT1, controlMask } from './controls.ts';
import type { ControlGroup, ControlKey, ControlSet } from './controls.ts';
import { vmcsEnumIndex } from './fieldSupport.ts';

export interface Msr64 {
  readonly lo: number;
  readonly hi: number;
}

/** MSR indices of the capability MSRs (SDM Vol. 4 Table 2-2; Vol. 3C Appendix A). */
export const VMX_MSR = {
  BASIC: 0x480,
  PINBASED_CTLS: 0x481,
  PROCBASED_CTLS: 0x482,
  EXIT_CTLS: 0x483,
  ENTRY_CTLS: 0x484,
  MISC: 0x485,
  CR0_FIXED0: 0x486,
  CR0_FIXED1: 0x487,
  CR4_FIXED0: 0x488,
  CR4_FIXED1: 0x489,
  VMCS_ENUM: 0x48a,
  PROCBASED_CTLS2: 0x48b,
  EPT_VPID_CAP: 0x48c,
  TRUE_PINBASED_CTLS: 0x48d,
  TRUE_PROCBASED_CTLS: 0x48e,
  TRUE_EXIT_CTLS: 0x48f,
  TRUE_ENTRY_CTLS: 0x490,
  VMFUNC: 0x491,
} as const;

/** The default1 controls that have a function; only these may be allowed-0 in a TRUE MSR (see VmxFeatures.trueAllowed0). */
export type TrueAllowed0 = {
  readonly proc: readonly ('cr3LoadExiting' | 'cr3StoreExiting')[];
  readonly exit: readonly 'saveDebugControls'[];
  readonly entry: readonly 'loadDebugControls'[];
};

/** The switches a VMX model is built from. */
export interface VmxFeatures {
  /** Controls reported allowed-1 beyond the default1 bits (which always are). */
  readonly controls: ControlSet;
  /**
   * IA32_VMX_BASIC bit 55: the TRUE_* MSRs exist (Appendix A.1). They
   * report the default1 controls of `trueAllowed0` as allowed-0 (A.3.1,
   * A.3.2, A.4.1, A.5). The other default1 bits are reserved bits without
   * a function and stay must-be-1, as on Intel hardware and in KVM's
   * nested model (which frees exactly CR3-load/store exiting and
   * save/load debug controls).
   */
  readonly trueControls: boolean;
  /** Default1 controls whose 0-setting is implemented (needs `trueControls`). */
  readonly trueAllowed0: TrueAllowed0;
  /** IA32_VMX_BASIC bit 54: VM exits due to INS/OUTS report instruction information. */
  readonly insOutsInformation: boolean;
  /** IA32_VMX_BASIC bit 56: VM entry may deliver a hardware exception with or without an error code, regardless of vector. */
  readonly entryErrorCodeAnyVector: boolean;
  /** IA32_VMX_BASIC bits 30:0. */
  readonly vmcsRevisionId: number;
  /** IA32_VMX_BASIC bits 44:32: bytes software allocates for a VMXON or VMCS region (1..4096). */
  readonly vmcsRegionSize: number;
  readonly ept: readonly EptCap[];
  readonly vpid: readonly VpidCap[];
  readonly vmFunctions: readonly VmFunction[];
  /** IA32_VMX_MISC bits 4:0: the preemption timer counts down when TSC bit X changes. */
  readonly preemptionTimerRate: number;
  /** IA32_VMX_MISC bits 8:6 (active, state 0, is always supported). */
  readonly activityStates: readonly ActivityState[];
  /** IA32_VMX_MISC bits 24:16 (0..256). */
  readonly cr3TargetCount: number;
  /** IA32_VMX_MISC bits 27:25 = N: recommended MSR-list maximum 512 * (N + 1). */
  readonly msrListSizeN: number;
  /** IA32_VMX_MISC bit 29: VMWRITE may write any supported field, including VM-exit information fields. */
  readonly vmwriteAnyField: boolean;
}

/** Values that come from other parts of the machine, not from VMX switches. */
export interface VmxModelInputs {
  /** CR4 bits the CPU model lets software set (cr4Settable of cpu/system/controlRegs.ts); must include VMXE. */
  readonly cr4Settable: number;
  /**
   * The highest index (encoding bits 9:1) of any VMCS field the model
   * recognizes; by default computed from the fields the features give
   * (fieldSupport.ts), which is what VMREAD and VMWRITE accept.
   */
  readonly vmcsHighestIndex?: number;
}

const CR0_PE = 1 << 0, CR0_NE = 1 << 5, CR0_PG = 1 << 31;
const CR4_VMXE = 1 << 13;
/** IA32_VMX_BASIC bits 53:50: write-back memory type for VMCS and related structures (Appendix A.1). */
const MEMORY_TYPE_WB = 6;
/** IA32_VMX_MISC bit 5: VM exits store IA32_EFER.LMA into the "IA-32e mode guest" entry control. */
const MISC_STORE_LMA = 1 << 5;
const MISC_VMWRITE_ANY = 1 << 29;

const msr = (lo: number, hi: number): Msr64 => ({ lo: lo >>> 0, hi: hi >>> 0 });
const bitsOf = <K extends string>(table: Readonly<Record<K, number>>, keys: readonly K[], base = 0): number =>
  keys.reduce((m, k) => (m | (1 << (table[k] - base))) >>> 0, 0);

function checkRange(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`VMX model: ${name} must be an integer ${lo}..${hi}, got ${v}`);
}

export class VmxModel {
  readonly features: VmxFeatures;
  /** Allowed-1 settings per group (the `hi` halves). */
  private readonly allowed1: { readonly [G in ControlGroup]: number };
  /** Allowed-0 settings per group as VM entry applies them: the TRUE MSRs' when they exist. */
  private readonly allowed0: { readonly [G in ControlGroup]: number };
  private readonly msrs: ReadonlyMap<number, Msr64>;

  constructor(features: VmxFeatures, inputs: VmxModelInputs) {
    this.features = features;
    const f = features;
    const allowed1 = {} as Record<ControlGroup, number>;
    for (const g of Object.keys(CONTROLS) as ControlGroup[]) {
      allowed1[g] = (DEFAULT1[g] | controlMask(g, f.controls[g] as readonly ControlKey<typeof g>[])) >>> 0;
    }
    this.allowed1 = allowed1;
    const freed = {
      proc: controlMask('proc', f.trueAllowed0.proc),
      exit: controlMask('exit', f.trueAllowed0.exit),
      entry: controlMask('entry', f.trueAllowed0.entry),
    };
    this.allowed0 = {
      pin: DEFAULT1.pin,
      proc: (DEFAULT1.proc & ~freed.proc) >>> 0,
      proc2: 0,
      exit: (DEFAULT1.exit & ~freed.exit) >>> 0,
      entry: (DEFAULT1.entry & ~freed.entry) >>> 0,
    };
    this.validate(inputs, freed.proc | freed.exit | freed.entry);
    this.msrs = this.buildMsrs(inputs);
  }

  /** The capability MSR with this index, or undefined when the model does not have it (RDMSR raises #GP(0)). */
  read(index: number): Msr64 | undefined {
    return this.msrs.get(index);
  }

  /** Every capability MSR the model has, by index. */
  all(): ReadonlyMap<number, Msr64> {
    return this.msrs;
  }

  /** Whether the model reports control `key` as allowed-1. */
  supports<G extends ControlGroup>(group: G, key: ControlKey<G>): boolean {
    return (this.allowed1[group] & controlMask(group, [key])) !== 0;
  }

  /**
   * The settings VM entry allows for a group (Appendix A.3-A.5): bits set
   * in `mustBe1` must be 1, bits clear in `mayBe1` must be 0. With TRUE
   * controls the TRUE MSRs decide; without, the non-TRUE ones.
   */
  allowedSettings(group: ControlGroup): { mustBe1: number; mayBe1: number } {
    return { mustBe1: this.allowed0[group], mayBe1: this.allowed1[group] };
  }

  private validate(inputs: VmxModelInputs, freed: number): void {
    const f = this.features;
    checkRange('vmcsRevisionId', f.vmcsRevisionId, 0, 0x7fffffff);
    checkRange('vmcsRegionSize', f.vmcsRegionSize, 1, 4096);
    checkRange('preemptionTimerRate', f.preemptionTimerRate, 0, 31);
    checkRange('cr3TargetCount', f.cr3TargetCount, 0, 256);
    checkRange('msrListSizeN', f.msrListSizeN, 0, 7);
    checkRange('vmcsHighestIndex', inputs.vmcsHighestIndex ?? vmcsEnumIndex(f), 0, 511);
    if ((inputs.cr4Settable & CR4_VMXE) === 0) throw new Error('VMX model: cr4Settable must include CR4.VMXE');
    if (freed !== 0 && !f.trueControls) throw new Error('VMX model: trueAllowed0 needs trueControls');
    // Appendix A.3.3: the secondary controls are usable only through "activate secondary controls".
    if (this.allowed1.proc2 !== 0 && !this.supports('proc', 'activateSecondaryControls')) {
      throw new Error('VMX model: secondary controls need activateSecondaryControls');
    }
    // Appendix A.10 / A.11: the capability bits describe features of these controls.
    if (f.ept.length > 0 && !this.supports('proc2', 'enableEpt')) throw new Error('VMX model: EPT capabilities need enableEpt');
    if (f.vpid.length > 0 && !this.supports('proc2', 'enableVpid')) throw new Error('VMX model: VPID capabilities need enableVpid');
    if (f.vmFunctions.length > 0 && !this.supports('proc2', 'enableVmFunctions')) {
      throw new Error('VMX model: VM functions need enableVmFunctions');
    }
  }

  private buildMsrs(inputs: VmxModelInputs): ReadonlyMap<number, Msr64> {
    const f = this.features;
    const m = new Map<number, Msr64>();
    const a1 = this.allowed1;
    // Appendix A.1: revision [30:0] (bit 31 = 0), region size [44:32], bit 48 = 0 (addresses
    // up to the physical-address width), dual-monitor bit 49 = 0 (no SMM), memory type [53:50].
    m.set(VMX_MSR.BASIC, msr(f.vmcsRevisionId,
      f.vmcsRegionSize | (MEMORY_TYPE_WB << (50 - 32)) | (+f.insOutsInformation << (54 - 32)) |
      (+f.trueControls << (55 - 32)) | (+f.entryErrorCodeAnyVector << (56 - 32))));
    // A.3.1, A.3.2, A.4.1, A.5: the non-TRUE MSRs report every default1 bit as must-be-1.
    m.set(VMX_MSR.PINBASED_CTLS, msr(DEFAULT1.pin, a1.pin));
    m.set(VMX_MSR.PROCBASED_CTLS, msr(DEFAULT1.proc, a1.proc));
    m.set(VMX_MSR.EXIT_CTLS, msr(DEFAULT1.exit, a1.exit));
    m.set(VMX_MSR.ENTRY_CTLS, msr(DEFAULT1.entry, a1.entry));
    // A.6: bit 5 is 1 on any processor supporting "unrestricted guest"; MSEG revision [63:32] = 0.
    const storeLma = this.supports('proc2', 'unrestrictedGuest') ? MISC_STORE_LMA : 0;
    m.set(VMX_MSR.MISC, msr(
      f.preemptionTimerRate | storeLma | bitsOf(ACTIVITY_STATES, f.activityStates) |
      (f.cr3TargetCount << 16) | (f.msrListSizeN << 25) | (f.vmwriteAnyField ? MISC_VMWRITE_ANY : 0), 0));
    // A.7: PE, NE and PG fixed to 1 in VMX operation ("unrestricted guest" relaxes PE/PG
    // only for the guest, at VM entry); no CR0 bit is fixed to 0. A.8: CR4.VMXE fixed to 1,
    // the bits the CPU model cannot set fixed to 0.
    m.set(VMX_MSR.CR0_FIXED0, msr(CR0_PE | CR0_NE | CR0_PG, 0));
    m.set(VMX_MSR.CR0_FIXED1, msr(0xffffffff, 0));
    m.set(VMX_MSR.CR4_FIXED0, msr(CR4_VMXE, 0));
    m.set(VMX_MSR.CR4_FIXED1, msr(inputs.cr4Settable, 0));
    // A.9: bits 9:1 the highest index value of any VMCS field encoding.
    m.set(VMX_MSR.VMCS_ENUM, msr((inputs.vmcsHighestIndex ?? vmcsEnumIndex(this.features)) << 1, 0));
    // A.3.3: exists only with the 1-setting of "activate secondary controls"; allowed-0 always 0.
    const secondary = this.supports('proc', 'activateSecondaryControls');
    if (secondary) m.set(VMX_MSR.PROCBASED_CTLS2, msr(0, a1.proc2));
    // A.10: exists with the 1-setting of "enable EPT" or "enable VPID".
    if (secondary && (this.supports('proc2', 'enableEpt') || this.supports('proc2', 'enableVpid'))) {
      m.set(VMX_MSR.EPT_VPID_CAP, msr(bitsOf(EPT_CAPS, f.ept), bitsOf(VPID_CAPS, f.vpid, 32)));
    }
    if (f.trueControls) {
      const a0 = this.allowed0;
      m.set(VMX_MSR.TRUE_PINBASED_CTLS, msr(a0.pin, a1.pin));
      m.set(VMX_MSR.TRUE_PROCBASED_CTLS, msr(a0.proc, a1.proc));
      m.set(VMX_MSR.TRUE_EXIT_CTLS, msr(a0.exit, a1.exit));
      m.set(VMX_MSR.TRUE_ENTRY_CTLS, msr(a0.entry, a1.entry));
    }
    // A.11: exists with the 1-setting of "enable VM functions"; bit X = VM function X allowed.
    if (secondary && this.supports('proc2', 'enableVmFunctions')) m.set(VMX_MSR.VMFUNC, msr(bitsOf(VM_FUNCTIONS, f.vmFunctions), 0));
    return m;
  }
}
