/**
 * The VMX control bits as data: pin-based, primary and secondary
 * processor-based VM-execution controls, VM-exit controls and VM-entry
 * controls, each with its name in the SDM's words and its bit position
 * (SDM Vol. 3C §25.6.1, §25.6.2, §25.7.1 and §25.8.1, the tables of
 * definitions of each kind of control; numbered §24.x in SDMs before the
 * tertiary controls were added). Cross-checked against Linux
 * arch/x86/include/asm/vmx.h and vmxfeatures.h.
 *
 * Only controls with a defined function are listed; every other bit is
 * reserved. The model reports a listed control as allowed-1 only when it is
 * switched on (vmxModel.ts); unlisted bits are never allowed-1 except the
 * default1 bits below.
 */

export type ControlGroup = 'pin' | 'proc' | 'proc2' | 'exit' | 'entry';

export interface ControlDef {
  /** Identifier used by the model's switches. */
  readonly key: string;
  /** The control's name as the SDM's table spells it. */
  readonly sdm: string;
  readonly bit: number;
}

/** Pin-based VM-execution controls (SDM Vol. 3C §25.6.1). */
export const PIN_CONTROLS = [
  { key: 'externalInterruptExiting', sdm: 'External-interrupt exiting', bit: 0 },
  { key: 'nmiExiting', sdm: 'NMI exiting', bit: 3 },
  { key: 'virtualNmis', sdm: 'Virtual NMIs', bit: 5 },
  { key: 'activatePreemptionTimer', sdm: 'Activate VMX-preemption timer', bit: 6 },
  { key: 'processPostedInterrupts', sdm: 'Process posted interrupts', bit: 7 },
] as const satisfies readonly ControlDef[];

/** Primary processor-based VM-execution controls (SDM Vol. 3C §25.6.2). */
export const PROC_CONTROLS = [
  { key: 'interruptWindowExiting', sdm: 'Interrupt-window exiting', bit: 2 },
  { key: 'useTscOffsetting', sdm: 'Use TSC offsetting', bit: 3 },
  { key: 'hltExiting', sdm: 'HLT exiting', bit: 7 },
  { key: 'invlpgExiting', sdm: 'INVLPG exiting', bit: 9 },
  { key: 'mwaitExiting', sdm: 'MWAIT exiting', bit: 10 },
  { key: 'rdpmcExiting', sdm: 'RDPMC exiting', bit: 11 },
  { key: 'rdtscExiting', sdm: 'RDTSC exiting', bit: 12 },
  { key: 'cr3LoadExiting', sdm: 'CR3-load exiting', bit: 15 },
  { key: 'cr3StoreExiting', sdm: 'CR3-store exiting', bit: 16 },
  { key: 'activateTertiaryControls', sdm: 'Activate tertiary controls', bit: 17 },
  { key: 'cr8LoadExiting', sdm: 'CR8-load exiting', bit: 19 },
  { key: 'cr8StoreExiting', sdm: 'CR8-store exiting', bit: 20 },
  { key: 'useTprShadow', sdm: 'Use TPR shadow', bit: 21 },
  { key: 'nmiWindowExiting', sdm: 'NMI-window exiting', bit: 22 },
  { key: 'movDrExiting', sdm: 'MOV-DR exiting', bit: 23 },
  { key: 'unconditionalIoExiting', sdm: 'Unconditional I/O exiting', bit: 24 },
  { key: 'useIoBitmaps', sdm: 'Use I/O bitmaps', bit: 25 },
  { key: 'monitorTrapFlag', sdm: 'Monitor trap flag', bit: 27 },
  { key: 'useMsrBitmaps', sdm: 'Use MSR bitmaps', bit: 28 },
  { key: 'monitorExiting', sdm: 'MONITOR exiting', bit: 29 },
  { key: 'pauseExiting', sdm: 'PAUSE exiting', bit: 30 },
  { key: 'activateSecondaryControls', sdm: 'Activate secondary controls', bit: 31 },
] as const satisfies readonly ControlDef[];

/**
 * Secondary processor-based VM-execution controls (SDM Vol. 3C §25.6.2).
 * Bits 21, 23, 27, 29 and 31 are not listed: the model will not offer
 * them, so they stay reserved (allowed-1 = 0).
 */
export const PROC2_CONTROLS = [
  { key: 'virtualizeApicAccesses', sdm: 'Virtualize APIC accesses', bit: 0 },
  { key: 'enableEpt', sdm: 'Enable EPT', bit: 1 },
  { key: 'descriptorTableExiting', sdm: 'Descriptor-table exiting', bit: 2 },
  { key: 'enableRdtscp', sdm: 'Enable RDTSCP', bit: 3 },
  { key: 'virtualizeX2apicMode', sdm: 'Virtualize x2APIC mode', bit: 4 },
  { key: 'enableVpid', sdm: 'Enable VPID', bit: 5 },
  { key: 'wbinvdExiting', sdm: 'WBINVD exiting', bit: 6 },
  { key: 'unrestrictedGuest', sdm: 'Unrestricted guest', bit: 7 },
  { key: 'apicRegisterVirtualization', sdm: 'APIC-register virtualization', bit: 8 },
  { key: 'virtualInterruptDelivery', sdm: 'Virtual-interrupt delivery', bit: 9 },
  { key: 'pauseLoopExiting', sdm: 'PAUSE-loop exiting', bit: 10 },
  { key: 'rdrandExiting', sdm: 'RDRAND exiting', bit: 11 },
  { key: 'enableInvpcid', sdm: 'Enable INVPCID', bit: 12 },
  { key: 'enableVmFunctions', sdm: 'Enable VM functions', bit: 13 },
  { key: 'vmcsShadowing', sdm: 'VMCS shadowing', bit: 14 },
  { key: 'enableEnclsExiting', sdm: 'Enable ENCLS exiting', bit: 15 },
  { key: 'rdseedExiting', sdm: 'RDSEED exiting', bit: 16 },
  { key: 'enablePml', sdm: 'Enable PML', bit: 17 },
  { key: 'eptViolationVe', sdm: 'EPT-violation #VE', bit: 18 },
  { key: 'concealVmxFromPt', sdm: 'Conceal VMX from PT', bit: 19 },
  { key: 'enableXsaves', sdm: 'Enable XSAVES/XRSTORS', bit: 20 },
  { key: 'modeBasedExecuteControl', sdm: 'Mode-based execute control for EPT', bit: 22 },
  { key: 'ptUsesGuestPhysical', sdm: 'Intel PT uses guest physical addresses', bit: 24 },
  { key: 'useTscScaling', sdm: 'Use TSC scaling', bit: 25 },
  { key: 'enableUserWaitPause', sdm: 'Enable user wait and pause', bit: 26 },
  { key: 'enableEnclvExiting', sdm: 'Enable ENCLV exiting', bit: 28 },
  { key: 'busLockDetection', sdm: 'VMM bus-lock detection', bit: 30 },
] as const satisfies readonly ControlDef[];

/** VM-exit controls (SDM Vol. 3C §25.7.1). */
export const EXIT_CONTROLS = [
  { key: 'saveDebugControls', sdm: 'Save debug controls', bit: 2 },
  { key: 'hostAddressSpaceSize', sdm: 'Host address-space size', bit: 9 },
  { key: 'loadPerfGlobalCtrl', sdm: 'Load IA32_PERF_GLOBAL_CTRL', bit: 12 },
  { key: 'acknowledgeInterruptOnExit', sdm: 'Acknowledge interrupt on exit', bit: 15 },
  { key: 'savePat', sdm: 'Save IA32_PAT', bit: 18 },
  { key: 'loadPat', sdm: 'Load IA32_PAT', bit: 19 },
  { key: 'saveEfer', sdm: 'Save IA32_EFER', bit: 20 },
  { key: 'loadEfer', sdm: 'Load IA32_EFER', bit: 21 },
  { key: 'savePreemptionTimer', sdm: 'Save VMX-preemption timer value', bit: 22 },
  { key: 'clearBndcfgs', sdm: 'Clear IA32_BNDCFGS', bit: 23 },
  { key: 'concealVmxFromPt', sdm: 'Conceal VMX from PT', bit: 24 },
  { key: 'clearRtitCtl', sdm: 'Clear IA32_RTIT_CTL', bit: 25 },
] as const satisfies readonly ControlDef[];

/** VM-entry controls (SDM Vol. 3C §25.8.1). */
export const ENTRY_CONTROLS = [
  { key: 'loadDebugControls', sdm: 'Load debug controls', bit: 2 },
  { key: 'ia32eModeGuest', sdm: 'IA-32e mode guest', bit: 9 },
  { key: 'entryToSmm', sdm: 'Entry to SMM', bit: 10 },
  { key: 'deactivateDualMonitor', sdm: 'Deactivate dual-monitor treatment', bit: 11 },
  { key: 'loadPerfGlobalCtrl', sdm: 'Load IA32_PERF_GLOBAL_CTRL', bit: 13 },
  { key: 'loadPat', sdm: 'Load IA32_PAT', bit: 14 },
  { key: 'loadEfer', sdm: 'Load IA32_EFER', bit: 15 },
  { key: 'loadBndcfgs', sdm: 'Load IA32_BNDCFGS', bit: 16 },
  { key: 'concealVmxFromPt', sdm: 'Conceal VMX from PT', bit: 17 },
  { key: 'loadRtitCtl', sdm: 'Load IA32_RTIT_CTL', bit: 18 },
] as const satisfies readonly ControlDef[];

export const CONTROLS = {
  pin: PIN_CONTROLS,
  proc: PROC_CONTROLS,
  proc2: PROC2_CONTROLS,
  exit: EXIT_CONTROLS,
  entry: ENTRY_CONTROLS,
} as const;

export type ControlKey<G extends ControlGroup> = (typeof CONTROLS)[G][number]['key'];

/** A set of controls per group, e.g. the ones a model supports. */
export type ControlSet = { readonly [G in ControlGroup]: readonly ControlKey<G>[] };

const bits = (...ns: number[]): number => ns.reduce((m, n) => (m | (1 << n)) >>> 0, 0);
const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);

/**
 * The default1 class (SDM Vol. 3C Appendix A.2): bits the first VMX
 * processors supported only as 1. The non-TRUE capability MSRs always
 * report them as must-be-1 (Appendix A.3.1 pin-based 1, 2, 4; A.3.2
 * primary 1, 4-6, 8, 13-16, 26; A.4.1 exit 0-8, 10, 11, 13, 14, 16, 17;
 * A.5 entry 0-8, 12). The secondary controls have no default1 class
 * (A.3.3: allowed-0 settings are always 0). Same values as Linux's
 * *_ALWAYSON_WITHOUT_TRUE_MSR (0x16, 0x0401e172, 0x36dff, 0x11ff).
 */
export const DEFAULT1: { readonly [G in ControlGroup]: number } = {
  pin: bits(1, 2, 4),
  proc: bits(1, 4, 5, 6, 8, 13, 14, 15, 16, 26),
  proc2: 0,
  exit: bits(...range(0, 8), 10, 11, 13, 14, 16, 17),
  entry: bits(...range(0, 8), 12),
};

/** Mask of the given controls of one group. */
export function controlMask<G extends ControlGroup>(group: G, keys: readonly ControlKey<G>[]): number {
  const defs: readonly ControlDef[] = CONTROLS[group];
  let m = 0;
  for (const k of keys) {
    const d = defs.find((x) => x.key === k);
    if (d === undefined) throw new Error(`VMX model: unknown ${group} control '${k}'`);
    m |= 1 << d.bit;
  }
  return m >>> 0;
}
