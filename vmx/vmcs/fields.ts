/**
 * The VMCS field table (DESIGN decision 4): every field of SDM Vol. 3C
 * Appendix B "Field Encoding in VMCS" that the model can know about, one row
 * each. VMREAD/VMWRITE validation, the VMCS region layout, shadow bitmaps,
 * IA32_VMX_VMCS_ENUM, traces and the nested merge all read this table.
 *
 * Naming scheme: the SDM's Appendix B name in camelCase, word for word
 * ("Guest RIP" → guestRip, "VMCS link pointer" → vmcsLinkPointer,
 * "Pin-based VM-execution controls" → pinBasedVmExecutionControls), with
 * three rules: where the SDM gives an abbreviation in parentheses it replaces
 * the long form (vpid, eptp); "Address of X" is written xAddress, so every
 * address field ends in Address; MSR names keep their IA32 prefix as a word
 * (guestIa32Efer). `linuxName` is the enum vmcs_field name in Linux
 * arch/x86/include/asm/vmx.h, for cross-reference, or null where that header
 * has no such field.
 *
 * Each encoding is computed from (type, width, index) by encoding.ts, never
 * typed in. 64-bit fields also answer to encoding+1 (high access).
 *
 * `feature` is the SDM's condition for the field to exist ("This field exists
 * only on processors that support the 1-setting of ..."), named after the
 * control or VM function it follows; 'none' for fields every VMX processor has.
 *
 * Left out on purpose (the model has none of these features, so VMREAD/VMWRITE
 * of them must fail with VMfailValid(12)): sub-page-permission-table pointer,
 * tertiary controls, PASID directories, PID-pointer table, HLAT, shared EPTP,
 * notify window, guest/host IA32_BNDCFGS, IA32_RTIT_CTL, IA32_LBR_CTL,
 * IA32_PKRS, CET state (IA32_S_CET, SSP, interrupt SSP table address),
 * last PID-pointer index, and Intel TDX/SEAM-only fields.
 */
import { encodeField, FieldType, FieldWidth, isValidEncoding } from './encoding.ts';

export type VmcsFeature =
  | 'none'
  | 'vpid' | 'ept' | 'eptViolationVe' | 'eptpSwitching' | 'vmfunc' | 'pml'
  | 'postedInterrupts' | 'virtualInterruptDelivery' | 'apicVirtualization' | 'tprShadow'
  | 'useMsrBitmaps' | 'secondaryControls' | 'pauseLoopExiting' | 'preemptionTimer'
  | 'vmcsShadowing' | 'xsaves' | 'encls' | 'tscScaling'
  | 'loadIa32Pat' | 'loadIa32Efer' | 'loadIa32PerfGlobalCtrl';

export interface VmcsField<N extends string = string> {
  readonly name: N;
  readonly linuxName: string | null;
  readonly type: FieldType;
  readonly width: FieldWidth;
  readonly index: number;
  /** The full-access encoding. */
  readonly encoding: number;
  readonly feature: VmcsFeature;
}

function row<N extends string>(
  type: FieldType, width: FieldWidth, index: number,
  name: N, linuxName: string | null, feature: VmcsFeature = 'none',
): VmcsField<N> {
  return { name, linuxName, type, width, index, encoding: encodeField(type, width, index), feature };
}

const C = FieldType.Control, R = FieldType.ReadOnlyData, G = FieldType.GuestState, H = FieldType.HostState;
const W16 = FieldWidth.Bits16, W64 = FieldWidth.Bits64, W32 = FieldWidth.Bits32, WN = FieldWidth.Natural;

export const VMCS_FIELDS = [
  // B.1.1 16-bit control fields
  row(C, W16, 0, 'vpid', 'VIRTUAL_PROCESSOR_ID', 'vpid'),
  row(C, W16, 1, 'postedInterruptNotificationVector', 'POSTED_INTR_NV', 'postedInterrupts'),
  row(C, W16, 2, 'eptpIndex', null, 'eptViolationVe'),
  // B.1.2 16-bit guest-state fields
  row(G, W16, 0, 'guestEsSelector', 'GUEST_ES_SELECTOR'),
  row(G, W16, 1, 'guestCsSelector', 'GUEST_CS_SELECTOR'),
  row(G, W16, 2, 'guestSsSelector', 'GUEST_SS_SELECTOR'),
  row(G, W16, 3, 'guestDsSelector', 'GUEST_DS_SELECTOR'),
  row(G, W16, 4, 'guestFsSelector', 'GUEST_FS_SELECTOR'),
  row(G, W16, 5, 'guestGsSelector', 'GUEST_GS_SELECTOR'),
  row(G, W16, 6, 'guestLdtrSelector', 'GUEST_LDTR_SELECTOR'),
  row(G, W16, 7, 'guestTrSelector', 'GUEST_TR_SELECTOR'),
  row(G, W16, 8, 'guestInterruptStatus', 'GUEST_INTR_STATUS', 'virtualInterruptDelivery'),
  row(G, W16, 9, 'pmlIndex', 'GUEST_PML_INDEX', 'pml'),
  // B.1.3 16-bit host-state fields
  row(H, W16, 0, 'hostEsSelector', 'HOST_ES_SELECTOR'),
  row(H, W16, 1, 'hostCsSelector', 'HOST_CS_SELECTOR'),
  row(H, W16, 2, 'hostSsSelector', 'HOST_SS_SELECTOR'),
  row(H, W16, 3, 'hostDsSelector', 'HOST_DS_SELECTOR'),
  row(H, W16, 4, 'hostFsSelector', 'HOST_FS_SELECTOR'),
  row(H, W16, 5, 'hostGsSelector', 'HOST_GS_SELECTOR'),
  row(H, W16, 6, 'hostTrSelector', 'HOST_TR_SELECTOR'),

  // B.2.1 64-bit control fields
  row(C, W64, 0, 'ioBitmapAAddress', 'IO_BITMAP_A'),
  row(C, W64, 1, 'ioBitmapBAddress', 'IO_BITMAP_B'),
  row(C, W64, 2, 'msrBitmapsAddress', 'MSR_BITMAP', 'useMsrBitmaps'),
  row(C, W64, 3, 'vmExitMsrStoreAddress', 'VM_EXIT_MSR_STORE_ADDR'),
  row(C, W64, 4, 'vmExitMsrLoadAddress', 'VM_EXIT_MSR_LOAD_ADDR'),
  row(C, W64, 5, 'vmEntryMsrLoadAddress', 'VM_ENTRY_MSR_LOAD_ADDR'),
  row(C, W64, 6, 'executiveVmcsPointer', null),
  row(C, W64, 7, 'pmlAddress', 'PML_ADDRESS', 'pml'),
  row(C, W64, 8, 'tscOffset', 'TSC_OFFSET'),
  row(C, W64, 9, 'virtualApicAddress', 'VIRTUAL_APIC_PAGE_ADDR', 'tprShadow'),
  row(C, W64, 10, 'apicAccessAddress', 'APIC_ACCESS_ADDR', 'apicVirtualization'),
  row(C, W64, 11, 'postedInterruptDescriptorAddress', 'POSTED_INTR_DESC_ADDR', 'postedInterrupts'),
  row(C, W64, 12, 'vmFunctionControls', 'VM_FUNCTION_CONTROL', 'vmfunc'),
  row(C, W64, 13, 'eptp', 'EPT_POINTER', 'ept'),
  row(C, W64, 14, 'eoiExitBitmap0', 'EOI_EXIT_BITMAP0', 'virtualInterruptDelivery'),
  row(C, W64, 15, 'eoiExitBitmap1', 'EOI_EXIT_BITMAP1', 'virtualInterruptDelivery'),
  row(C, W64, 16, 'eoiExitBitmap2', 'EOI_EXIT_BITMAP2', 'virtualInterruptDelivery'),
  row(C, W64, 17, 'eoiExitBitmap3', 'EOI_EXIT_BITMAP3', 'virtualInterruptDelivery'),
  row(C, W64, 18, 'eptpListAddress', 'EPTP_LIST_ADDRESS', 'eptpSwitching'),
  row(C, W64, 19, 'vmreadBitmapAddress', 'VMREAD_BITMAP', 'vmcsShadowing'),
  row(C, W64, 20, 'vmwriteBitmapAddress', 'VMWRITE_BITMAP', 'vmcsShadowing'),
  row(C, W64, 21, 'virtualizationExceptionInformationAddress', 'VE_INFORMATION_ADDRESS', 'eptViolationVe'),
  row(C, W64, 22, 'xssExitingBitmap', 'XSS_EXIT_BITMAP', 'xsaves'),
  row(C, W64, 23, 'enclsExitingBitmap', 'ENCLS_EXITING_BITMAP', 'encls'),
  // index 24, sub-page-permission-table pointer: left out (see header)
  row(C, W64, 25, 'tscMultiplier', 'TSC_MULTIPLIER', 'tscScaling'),
  // B.2.2 64-bit read-only data field
  row(R, W64, 0, 'guestPhysicalAddress', 'GUEST_PHYSICAL_ADDRESS', 'ept'),
  // B.2.3 64-bit guest-state fields
  row(G, W64, 0, 'vmcsLinkPointer', 'VMCS_LINK_POINTER'),
  row(G, W64, 1, 'guestIa32Debugctl', 'GUEST_IA32_DEBUGCTL'),
  row(G, W64, 2, 'guestIa32Pat', 'GUEST_IA32_PAT', 'loadIa32Pat'),
  row(G, W64, 3, 'guestIa32Efer', 'GUEST_IA32_EFER', 'loadIa32Efer'),
  row(G, W64, 4, 'guestIa32PerfGlobalCtrl', 'GUEST_IA32_PERF_GLOBAL_CTRL', 'loadIa32PerfGlobalCtrl'),
  row(G, W64, 5, 'guestPdpte0', 'GUEST_PDPTR0', 'ept'),
  row(G, W64, 6, 'guestPdpte1', 'GUEST_PDPTR1', 'ept'),
  row(G, W64, 7, 'guestPdpte2', 'GUEST_PDPTR2', 'ept'),
  row(G, W64, 8, 'guestPdpte3', 'GUEST_PDPTR3', 'ept'),
  // B.2.4 64-bit host-state fields
  row(H, W64, 0, 'hostIa32Pat', 'HOST_IA32_PAT', 'loadIa32Pat'),
  row(H, W64, 1, 'hostIa32Efer', 'HOST_IA32_EFER', 'loadIa32Efer'),
  row(H, W64, 2, 'hostIa32PerfGlobalCtrl', 'HOST_IA32_PERF_GLOBAL_CTRL', 'loadIa32PerfGlobalCtrl'),

  // B.3.1 32-bit control fields
  row(C, W32, 0, 'pinBasedVmExecutionControls', 'PIN_BASED_VM_EXEC_CONTROL'),
  row(C, W32, 1, 'primaryProcessorBasedVmExecutionControls', 'CPU_BASED_VM_EXEC_CONTROL'),
  row(C, W32, 2, 'exceptionBitmap', 'EXCEPTION_BITMAP'),
  row(C, W32, 3, 'pageFaultErrorCodeMask', 'PAGE_FAULT_ERROR_CODE_MASK'),
  row(C, W32, 4, 'pageFaultErrorCodeMatch', 'PAGE_FAULT_ERROR_CODE_MATCH'),
  row(C, W32, 5, 'cr3TargetCount', 'CR3_TARGET_COUNT'),
  row(C, W32, 6, 'vmExitControls', 'VM_EXIT_CONTROLS'),
  row(C, W32, 7, 'vmExitMsrStoreCount', 'VM_EXIT_MSR_STORE_COUNT'),
  row(C, W32, 8, 'vmExitMsrLoadCount', 'VM_EXIT_MSR_LOAD_COUNT'),
  row(C, W32, 9, 'vmEntryControls', 'VM_ENTRY_CONTROLS'),
  row(C, W32, 10, 'vmEntryMsrLoadCount', 'VM_ENTRY_MSR_LOAD_COUNT'),
  row(C, W32, 11, 'vmEntryInterruptionInformationField', 'VM_ENTRY_INTR_INFO_FIELD'),
  row(C, W32, 12, 'vmEntryExceptionErrorCode', 'VM_ENTRY_EXCEPTION_ERROR_CODE'),
  row(C, W32, 13, 'vmEntryInstructionLength', 'VM_ENTRY_INSTRUCTION_LEN'),
  row(C, W32, 14, 'tprThreshold', 'TPR_THRESHOLD', 'tprShadow'),
  row(C, W32, 15, 'secondaryProcessorBasedVmExecutionControls', 'SECONDARY_VM_EXEC_CONTROL', 'secondaryControls'),
  row(C, W32, 16, 'pleGap', 'PLE_GAP', 'pauseLoopExiting'),
  row(C, W32, 17, 'pleWindow', 'PLE_WINDOW', 'pauseLoopExiting'),
  // B.3.2 32-bit read-only data fields
  row(R, W32, 0, 'vmInstructionError', 'VM_INSTRUCTION_ERROR'),
  row(R, W32, 1, 'exitReason', 'VM_EXIT_REASON'),
  row(R, W32, 2, 'vmExitInterruptionInformation', 'VM_EXIT_INTR_INFO'),
  row(R, W32, 3, 'vmExitInterruptionErrorCode', 'VM_EXIT_INTR_ERROR_CODE'),
  row(R, W32, 4, 'idtVectoringInformationField', 'IDT_VECTORING_INFO_FIELD'),
  row(R, W32, 5, 'idtVectoringErrorCode', 'IDT_VECTORING_ERROR_CODE'),
  row(R, W32, 6, 'vmExitInstructionLength', 'VM_EXIT_INSTRUCTION_LEN'),
  row(R, W32, 7, 'vmExitInstructionInformation', 'VMX_INSTRUCTION_INFO'),
  // B.3.3 32-bit guest-state fields
  row(G, W32, 0, 'guestEsLimit', 'GUEST_ES_LIMIT'),
  row(G, W32, 1, 'guestCsLimit', 'GUEST_CS_LIMIT'),
  row(G, W32, 2, 'guestSsLimit', 'GUEST_SS_LIMIT'),
  row(G, W32, 3, 'guestDsLimit', 'GUEST_DS_LIMIT'),
  row(G, W32, 4, 'guestFsLimit', 'GUEST_FS_LIMIT'),
  row(G, W32, 5, 'guestGsLimit', 'GUEST_GS_LIMIT'),
  row(G, W32, 6, 'guestLdtrLimit', 'GUEST_LDTR_LIMIT'),
  row(G, W32, 7, 'guestTrLimit', 'GUEST_TR_LIMIT'),
  row(G, W32, 8, 'guestGdtrLimit', 'GUEST_GDTR_LIMIT'),
  row(G, W32, 9, 'guestIdtrLimit', 'GUEST_IDTR_LIMIT'),
  row(G, W32, 10, 'guestEsAccessRights', 'GUEST_ES_AR_BYTES'),
  row(G, W32, 11, 'guestCsAccessRights', 'GUEST_CS_AR_BYTES'),
  row(G, W32, 12, 'guestSsAccessRights', 'GUEST_SS_AR_BYTES'),
  row(G, W32, 13, 'guestDsAccessRights', 'GUEST_DS_AR_BYTES'),
  row(G, W32, 14, 'guestFsAccessRights', 'GUEST_FS_AR_BYTES'),
  row(G, W32, 15, 'guestGsAccessRights', 'GUEST_GS_AR_BYTES'),
  row(G, W32, 16, 'guestLdtrAccessRights', 'GUEST_LDTR_AR_BYTES'),
  row(G, W32, 17, 'guestTrAccessRights', 'GUEST_TR_AR_BYTES'),
  row(G, W32, 18, 'guestInterruptibilityState', 'GUEST_INTERRUPTIBILITY_INFO'),
  row(G, W32, 19, 'guestActivityState', 'GUEST_ACTIVITY_STATE'),
  row(G, W32, 20, 'guestSmbase', null),
  row(G, W32, 21, 'guestIa32SysenterCs', 'GUEST_SYSENTER_CS'),
  // index 22 is not assigned by the SDM
  row(G, W32, 23, 'vmxPreemptionTimerValue', 'VMX_PREEMPTION_TIMER_VALUE', 'preemptionTimer'),
  // B.3.4 32-bit host-state field
  row(H, W32, 0, 'hostIa32SysenterCs', 'HOST_IA32_SYSENTER_CS'),

  // B.4.1 natural-width control fields
  row(C, WN, 0, 'cr0GuestHostMask', 'CR0_GUEST_HOST_MASK'),
  row(C, WN, 1, 'cr4GuestHostMask', 'CR4_GUEST_HOST_MASK'),
  row(C, WN, 2, 'cr0ReadShadow', 'CR0_READ_SHADOW'),
  row(C, WN, 3, 'cr4ReadShadow', 'CR4_READ_SHADOW'),
  row(C, WN, 4, 'cr3TargetValue0', 'CR3_TARGET_VALUE0'),
  row(C, WN, 5, 'cr3TargetValue1', 'CR3_TARGET_VALUE1'),
  row(C, WN, 6, 'cr3TargetValue2', 'CR3_TARGET_VALUE2'),
  row(C, WN, 7, 'cr3TargetValue3', 'CR3_TARGET_VALUE3'),
  // B.4.2 natural-width read-only data fields
  row(R, WN, 0, 'exitQualification', 'EXIT_QUALIFICATION'),
  row(R, WN, 1, 'ioRcx', null),
  row(R, WN, 2, 'ioRsi', null),
  row(R, WN, 3, 'ioRdi', null),
  row(R, WN, 4, 'ioRip', null),
  row(R, WN, 5, 'guestLinearAddress', 'GUEST_LINEAR_ADDRESS'),
  // B.4.3 natural-width guest-state fields
  row(G, WN, 0, 'guestCr0', 'GUEST_CR0'),
  row(G, WN, 1, 'guestCr3', 'GUEST_CR3'),
  row(G, WN, 2, 'guestCr4', 'GUEST_CR4'),
  row(G, WN, 3, 'guestEsBase', 'GUEST_ES_BASE'),
  row(G, WN, 4, 'guestCsBase', 'GUEST_CS_BASE'),
  row(G, WN, 5, 'guestSsBase', 'GUEST_SS_BASE'),
  row(G, WN, 6, 'guestDsBase', 'GUEST_DS_BASE'),
  row(G, WN, 7, 'guestFsBase', 'GUEST_FS_BASE'),
  row(G, WN, 8, 'guestGsBase', 'GUEST_GS_BASE'),
  row(G, WN, 9, 'guestLdtrBase', 'GUEST_LDTR_BASE'),
  row(G, WN, 10, 'guestTrBase', 'GUEST_TR_BASE'),
  row(G, WN, 11, 'guestGdtrBase', 'GUEST_GDTR_BASE'),
  row(G, WN, 12, 'guestIdtrBase', 'GUEST_IDTR_BASE'),
  row(G, WN, 13, 'guestDr7', 'GUEST_DR7'),
  row(G, WN, 14, 'guestRsp', 'GUEST_RSP'),
  row(G, WN, 15, 'guestRip', 'GUEST_RIP'),
  row(G, WN, 16, 'guestRflags', 'GUEST_RFLAGS'),
  row(G, WN, 17, 'guestPendingDebugExceptions', 'GUEST_PENDING_DBG_EXCEPTIONS'),
  row(G, WN, 18, 'guestIa32SysenterEsp', 'GUEST_SYSENTER_ESP'),
  row(G, WN, 19, 'guestIa32SysenterEip', 'GUEST_SYSENTER_EIP'),
  // B.4.4 natural-width host-state fields
  row(H, WN, 0, 'hostCr0', 'HOST_CR0'),
  row(H, WN, 1, 'hostCr3', 'HOST_CR3'),
  row(H, WN, 2, 'hostCr4', 'HOST_CR4'),
  row(H, WN, 3, 'hostFsBase', 'HOST_FS_BASE'),
  row(H, WN, 4, 'hostGsBase', 'HOST_GS_BASE'),
  row(H, WN, 5, 'hostTrBase', 'HOST_TR_BASE'),
  row(H, WN, 6, 'hostGdtrBase', 'HOST_GDTR_BASE'),
  row(H, WN, 7, 'hostIdtrBase', 'HOST_IDTR_BASE'),
  row(H, WN, 8, 'hostIa32SysenterEsp', 'HOST_IA32_SYSENTER_ESP'),
  row(H, WN, 9, 'hostIa32SysenterEip', 'HOST_IA32_SYSENTER_EIP'),
  row(H, WN, 10, 'hostRsp', 'HOST_RSP'),
  row(H, WN, 11, 'hostRip', 'HOST_RIP'),
] as const;

export type VmcsFieldName = (typeof VMCS_FIELDS)[number]['name'];

function buildByName(): { readonly [K in VmcsFieldName]: VmcsField<K> } {
  const out: Record<string, VmcsField> = {};
  for (const f of VMCS_FIELDS) {
    if (out[f.name] !== undefined) throw new Error(`duplicate VMCS field name ${f.name}`);
    out[f.name] = f;
  }
  return Object.freeze(out) as { readonly [K in VmcsFieldName]: VmcsField<K> };
}

function buildByEncoding(): ReadonlyMap<number, VmcsField> {
  const out = new Map<number, VmcsField>();
  for (const f of VMCS_FIELDS) {
    if (out.has(f.encoding)) throw new Error(`duplicate VMCS encoding ${f.encoding} (${f.name})`);
    out.set(f.encoding, f);
  }
  return out;
}

/** Fields by name: `vmcs.guestRip.encoding`. */
export const vmcs = buildByName();

const byEncoding = buildByEncoding();

/**
 * The field an encoding names, full or high access; undefined for encodings
 * the table has no field for (including high access to a non-64-bit field).
 */
export function fieldByEncoding(encoding: number): VmcsField | undefined {
  return isValidEncoding(encoding) ? byEncoding.get(encoding & ~1) : undefined;
}

export function fieldByName(name: string): VmcsField | undefined {
  return Object.hasOwn(vmcs, name) ? vmcs[name as VmcsFieldName] : undefined;
}

/**
 * Highest index among `fields` of one (type, width), -1 if none: what
 * IA32_VMX_VMCS_ENUM summarises (SDM Vol. 3C Appendix A.9), per group. Pass
 * the fields the model really supports.
 */
export function highestIndex(type: FieldType, width: FieldWidth, fields: readonly VmcsField[] = VMCS_FIELDS): number {
  let max = -1;
  for (const f of fields) if (f.type === type && f.width === width && f.index > max) max = f.index;
  return max;
}

/** The value of IA32_VMX_VMCS_ENUM bits 9:1: the highest index of any field in `fields`. */
export function vmcsEnumHighestIndex(fields: readonly VmcsField[] = VMCS_FIELDS): number {
  let max = 0;
  for (const f of fields) if (f.index > max) max = f.index;
  return max;
}
