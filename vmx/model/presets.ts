/**
 * The two VMX models: what the machine reports today, and the target of
 * DESIGN.md "The CPU model" that the VMX work switches on feature by
 * feature (move a switch from FULL to DEFAULT when the feature is built and
 * tested exactly).
 */
import type { VmxFeatures } from './vmxModel.ts';

/**
 * VMCS revision identifier (IA32_VMX_BASIC[30:0]) of the project's VMCS
 * layout. Nonzero, so that a zeroed region fails the revision check.
 */
export const VMCS_REVISION_ID = 1;
/** Bytes of a VMXON/VMCS region: one 4-KByte page, the architectural maximum (Appendix A.1). */
export const VMCS_REGION_SIZE = 4096;

/**
 * What is built and tested exactly, and no more (issue 4: "a control not
 * built yet is reported as unsupported, never as supported-but-ignored"):
 * VM entry and exit with a 64-bit host and IA-32e or 32-bit guests, PAT,
 * EFER and debug-control save/load, the TRUE controls, every exit of the
 * primary controls but the TPR shadow, the secondary controls that need no
 * EPT, VPID or APIC virtualization, the event controls, the VMX-preemption
 * timer, MTF, VMCS shadowing, the HLT, shutdown and wait-for-SIPI
 * activity states, EPT (4-level, 2M/1G pages, A/D, execute-only), VPID,
 * INVEPT and INVVPID of all types, unrestricted guest and VMFUNC EPTP
 * switching. Not built yet: APIC virtualization (TPR shadow, APIC-access
 * page, x2APIC mode, register virtualization, virtual-interrupt delivery)
 * and posted interrupts.
 */
export const DEFAULT_VMX_MODEL: VmxFeatures = {
  controls: {
    pin: ['externalInterruptExiting', 'nmiExiting', 'virtualNmis', 'activatePreemptionTimer'],
    proc: [
      'interruptWindowExiting', 'useTscOffsetting', 'hltExiting', 'invlpgExiting', 'mwaitExiting', 'rdpmcExiting',
      'rdtscExiting', 'cr3LoadExiting', 'cr3StoreExiting', 'cr8LoadExiting', 'cr8StoreExiting', 'nmiWindowExiting',
      'movDrExiting', 'unconditionalIoExiting', 'useIoBitmaps', 'monitorTrapFlag', 'useMsrBitmaps', 'monitorExiting',
      'pauseExiting', 'activateSecondaryControls',
    ],
    proc2: [
      'enableEpt', 'descriptorTableExiting', 'enableRdtscp', 'enableVpid', 'wbinvdExiting', 'unrestrictedGuest',
      'pauseLoopExiting', 'rdrandExiting', 'enableInvpcid', 'enableVmFunctions', 'vmcsShadowing', 'rdseedExiting',
      'useTscScaling',
    ],
    exit: [
      'saveDebugControls', 'hostAddressSpaceSize', 'acknowledgeInterruptOnExit', 'savePat', 'loadPat', 'saveEfer',
      'loadEfer', 'savePreemptionTimer',
    ],
    entry: ['loadDebugControls', 'ia32eModeGuest', 'loadPat', 'loadEfer'],
  },
  trueControls: true,
  trueAllowed0: { proc: ['cr3LoadExiting', 'cr3StoreExiting'], exit: ['saveDebugControls'], entry: ['loadDebugControls'] },
  insOutsInformation: true,
  entryErrorCodeAnyVector: false,
  vmcsRevisionId: VMCS_REVISION_ID,
  vmcsRegionSize: VMCS_REGION_SIZE,
  ept: [
    'executeOnly', 'pageWalkLength4', 'memoryTypeUc', 'memoryTypeWb', 'pde2MPages', 'pdpte1GPages', 'invept',
    'accessedDirty', 'inveptSingleContext', 'inveptAllContext',
  ],
  vpid: [
    'invvpid', 'invvpidIndividualAddress', 'invvpidSingleContext', 'invvpidAllContext',
    'invvpidSingleContextRetainingGlobals',
  ],
  vmFunctions: ['eptpSwitching'],
  preemptionTimerRate: 5,
  activityStates: ['hlt', 'shutdown', 'waitForSipi'],
  cr3TargetCount: 4,
  msrListSizeN: 0,
  vmwriteAnyField: true,
};

/**
 * The least a VMX processor reports that still lets a 64-bit host run
 * IA-32e guests: "host address-space size" and "IA-32e mode guest", and
 * every optional control, capability and activity state off (no TRUE
 * MSRs, no secondary controls). For studying how software copes with the
 * absence of a feature, as on older silicon (DESIGN.md "The CPU model").
 */
export const MINIMAL_VMX_MODEL: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: { pin: [], proc: [], proc2: [], exit: ['hostAddressSpaceSize'], entry: ['ia32eModeGuest'] },
  trueControls: false,
  trueAllowed0: { proc: [], exit: [], entry: [] },
  insOutsInformation: false,
  ept: [],
  vpid: [],
  vmFunctions: [],
  activityStates: [],
  cr3TargetCount: 0,
  vmwriteAnyField: false,
};

/**
 * The target model (DESIGN.md "The CPU model"): EPT with 4-level walks,
 * 2M/1G pages, A/D flags and execute-only entries; VPID; INVEPT and
 * INVVPID of all types; unrestricted guest; VMCS shadowing; APIC
 * virtualization (TPR shadow, APIC-access page, x2APIC mode, APIC-register
 * virtualization, virtual-interrupt delivery); posted interrupts; the
 * VMX-preemption timer; MTF; VMFUNC with EPTP switching; true controls;
 * plus every exit the issue lists. It is DEFAULT_VMX_MODEL plus what is
 * still to build.
 *
 * Left out, because the CPU model has no such feature: PERF_GLOBAL_CTRL
 * loading (no PMU), XSAVES, SGX (ENCLS/ENCLV), Intel PT, MPX, PML, #VE,
 * mode-based execute control, tertiary controls, SMM (entry to SMM,
 * dual-monitor). Not in the DESIGN list, so off until decided: IA32_VMX_BASIC
 * bit 56.
 *
 * EPT paging-structure memory types UC and WB are both reported: the
 * machine has no caches, so a memory type has no observable effect beyond
 * the EPTP check that it be a supported one.
 */
export const FULL_VMX_MODEL: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: {
    ...DEFAULT_VMX_MODEL.controls,
    pin: [...DEFAULT_VMX_MODEL.controls.pin, 'processPostedInterrupts'],
    proc: [...DEFAULT_VMX_MODEL.controls.proc, 'useTprShadow'],
    proc2: [
      ...DEFAULT_VMX_MODEL.controls.proc2, 'virtualizeApicAccesses', 'virtualizeX2apicMode', 'apicRegisterVirtualization',
      'virtualInterruptDelivery',
    ],
  },
};
