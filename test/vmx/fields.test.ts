import { describe, expect, it } from 'vitest';
import { FieldType, FieldWidth } from '../../vmx/vmcs/encoding.ts';
import {
  fieldByEncoding, fieldByName, highestIndex, vmcs, VMCS_FIELDS, vmcsEnumHighestIndex,
} from '../../vmx/vmcs/fields.ts';

/**
 * Expected encodings, copied as facts from Linux arch/x86/include/asm/vmx.h,
 * `enum vmcs_field` (torvalds/linux, commit d51b9d81f788). Only the full
 * encodings; the *_HIGH entries are checked below as full + 1.
 */
const LINUX_VMX_H: Record<string, number> = {
  VIRTUAL_PROCESSOR_ID: 0x00000000,
  POSTED_INTR_NV: 0x00000002,
  GUEST_ES_SELECTOR: 0x00000800,
  GUEST_CS_SELECTOR: 0x00000802,
  GUEST_SS_SELECTOR: 0x00000804,
  GUEST_DS_SELECTOR: 0x00000806,
  GUEST_FS_SELECTOR: 0x00000808,
  GUEST_GS_SELECTOR: 0x0000080a,
  GUEST_LDTR_SELECTOR: 0x0000080c,
  GUEST_TR_SELECTOR: 0x0000080e,
  GUEST_INTR_STATUS: 0x00000810,
  GUEST_PML_INDEX: 0x00000812,
  HOST_ES_SELECTOR: 0x00000c00,
  HOST_CS_SELECTOR: 0x00000c02,
  HOST_SS_SELECTOR: 0x00000c04,
  HOST_DS_SELECTOR: 0x00000c06,
  HOST_FS_SELECTOR: 0x00000c08,
  HOST_GS_SELECTOR: 0x00000c0a,
  HOST_TR_SELECTOR: 0x00000c0c,
  IO_BITMAP_A: 0x00002000,
  IO_BITMAP_B: 0x00002002,
  MSR_BITMAP: 0x00002004,
  VM_EXIT_MSR_STORE_ADDR: 0x00002006,
  VM_EXIT_MSR_LOAD_ADDR: 0x00002008,
  VM_ENTRY_MSR_LOAD_ADDR: 0x0000200a,
  PML_ADDRESS: 0x0000200e,
  TSC_OFFSET: 0x00002010,
  VIRTUAL_APIC_PAGE_ADDR: 0x00002012,
  APIC_ACCESS_ADDR: 0x00002014,
  POSTED_INTR_DESC_ADDR: 0x00002016,
  VM_FUNCTION_CONTROL: 0x00002018,
  EPT_POINTER: 0x0000201a,
  EOI_EXIT_BITMAP0: 0x0000201c,
  EOI_EXIT_BITMAP1: 0x0000201e,
  EOI_EXIT_BITMAP2: 0x00002020,
  EOI_EXIT_BITMAP3: 0x00002022,
  EPTP_LIST_ADDRESS: 0x00002024,
  VMREAD_BITMAP: 0x00002026,
  VMWRITE_BITMAP: 0x00002028,
  VE_INFORMATION_ADDRESS: 0x0000202a,
  XSS_EXIT_BITMAP: 0x0000202c,
  ENCLS_EXITING_BITMAP: 0x0000202e,
  TSC_MULTIPLIER: 0x00002032,
  GUEST_PHYSICAL_ADDRESS: 0x00002400,
  VMCS_LINK_POINTER: 0x00002800,
  GUEST_IA32_DEBUGCTL: 0x00002802,
  GUEST_IA32_PAT: 0x00002804,
  GUEST_IA32_EFER: 0x00002806,
  GUEST_IA32_PERF_GLOBAL_CTRL: 0x00002808,
  GUEST_PDPTR0: 0x0000280a,
  GUEST_PDPTR1: 0x0000280c,
  GUEST_PDPTR2: 0x0000280e,
  GUEST_PDPTR3: 0x00002810,
  HOST_IA32_PAT: 0x00002c00,
  HOST_IA32_EFER: 0x00002c02,
  HOST_IA32_PERF_GLOBAL_CTRL: 0x00002c04,
  PIN_BASED_VM_EXEC_CONTROL: 0x00004000,
  CPU_BASED_VM_EXEC_CONTROL: 0x00004002,
  EXCEPTION_BITMAP: 0x00004004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x00004006,
  PAGE_FAULT_ERROR_CODE_MATCH: 0x00004008,
  CR3_TARGET_COUNT: 0x0000400a,
  VM_EXIT_CONTROLS: 0x0000400c,
  VM_EXIT_MSR_STORE_COUNT: 0x0000400e,
  VM_EXIT_MSR_LOAD_COUNT: 0x00004010,
  VM_ENTRY_CONTROLS: 0x00004012,
  VM_ENTRY_MSR_LOAD_COUNT: 0x00004014,
  VM_ENTRY_INTR_INFO_FIELD: 0x00004016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x00004018,
  VM_ENTRY_INSTRUCTION_LEN: 0x0000401a,
  TPR_THRESHOLD: 0x0000401c,
  SECONDARY_VM_EXEC_CONTROL: 0x0000401e,
  PLE_GAP: 0x00004020,
  PLE_WINDOW: 0x00004022,
  VM_INSTRUCTION_ERROR: 0x00004400,
  VM_EXIT_REASON: 0x00004402,
  VM_EXIT_INTR_INFO: 0x00004404,
  VM_EXIT_INTR_ERROR_CODE: 0x00004406,
  IDT_VECTORING_INFO_FIELD: 0x00004408,
  IDT_VECTORING_ERROR_CODE: 0x0000440a,
  VM_EXIT_INSTRUCTION_LEN: 0x0000440c,
  VMX_INSTRUCTION_INFO: 0x0000440e,
  GUEST_ES_LIMIT: 0x00004800,
  GUEST_CS_LIMIT: 0x00004802,
  GUEST_SS_LIMIT: 0x00004804,
  GUEST_DS_LIMIT: 0x00004806,
  GUEST_FS_LIMIT: 0x00004808,
  GUEST_GS_LIMIT: 0x0000480a,
  GUEST_LDTR_LIMIT: 0x0000480c,
  GUEST_TR_LIMIT: 0x0000480e,
  GUEST_GDTR_LIMIT: 0x00004810,
  GUEST_IDTR_LIMIT: 0x00004812,
  GUEST_ES_AR_BYTES: 0x00004814,
  GUEST_CS_AR_BYTES: 0x00004816,
  GUEST_SS_AR_BYTES: 0x00004818,
  GUEST_DS_AR_BYTES: 0x0000481a,
  GUEST_FS_AR_BYTES: 0x0000481c,
  GUEST_GS_AR_BYTES: 0x0000481e,
  GUEST_LDTR_AR_BYTES: 0x00004820,
  GUEST_TR_AR_BYTES: 0x00004822,
  GUEST_INTERRUPTIBILITY_INFO: 0x00004824,
  GUEST_ACTIVITY_STATE: 0x00004826,
  GUEST_SYSENTER_CS: 0x0000482a,
  VMX_PREEMPTION_TIMER_VALUE: 0x0000482e,
  HOST_IA32_SYSENTER_CS: 0x00004c00,
  CR0_GUEST_HOST_MASK: 0x00006000,
  CR4_GUEST_HOST_MASK: 0x00006002,
  CR0_READ_SHADOW: 0x00006004,
  CR4_READ_SHADOW: 0x00006006,
  CR3_TARGET_VALUE0: 0x00006008,
  CR3_TARGET_VALUE1: 0x0000600a,
  CR3_TARGET_VALUE2: 0x0000600c,
  CR3_TARGET_VALUE3: 0x0000600e,
  EXIT_QUALIFICATION: 0x00006400,
  GUEST_LINEAR_ADDRESS: 0x0000640a,
  GUEST_CR0: 0x00006800,
  GUEST_CR3: 0x00006802,
  GUEST_CR4: 0x00006804,
  GUEST_ES_BASE: 0x00006806,
  GUEST_CS_BASE: 0x00006808,
  GUEST_SS_BASE: 0x0000680a,
  GUEST_DS_BASE: 0x0000680c,
  GUEST_FS_BASE: 0x0000680e,
  GUEST_GS_BASE: 0x00006810,
  GUEST_LDTR_BASE: 0x00006812,
  GUEST_TR_BASE: 0x00006814,
  GUEST_GDTR_BASE: 0x00006816,
  GUEST_IDTR_BASE: 0x00006818,
  GUEST_DR7: 0x0000681a,
  GUEST_RSP: 0x0000681c,
  GUEST_RIP: 0x0000681e,
  GUEST_RFLAGS: 0x00006820,
  GUEST_PENDING_DBG_EXCEPTIONS: 0x00006822,
  GUEST_SYSENTER_ESP: 0x00006824,
  GUEST_SYSENTER_EIP: 0x00006826,
  HOST_CR0: 0x00006c00,
  HOST_CR3: 0x00006c02,
  HOST_CR4: 0x00006c04,
  HOST_FS_BASE: 0x00006c06,
  HOST_GS_BASE: 0x00006c08,
  HOST_TR_BASE: 0x00006c0a,
  HOST_GDTR_BASE: 0x00006c0c,
  HOST_IDTR_BASE: 0x00006c0e,
  HOST_IA32_SYSENTER_ESP: 0x00006c10,
  HOST_IA32_SYSENTER_EIP: 0x00006c12,
  HOST_RSP: 0x00006c14,
  HOST_RIP: 0x00006c16,
};

/**
 * Fields of SDM Appendix B that Linux's vmx.h does not name. Encodings from
 * Bochs bochs/cpu/vmx.h (VMCS_16BIT_CONTROL_EPTP_INDEX,
 * VMCS_64BIT_CONTROL_EXECUTIVE_VMCS_PTR, VMCS_32BIT_GUEST_SMBASE,
 * VMCS_IO_RCX/RSI/RDI/RIP), which agree with SDM Tables B-1, B-4, B-10, B-12.
 */
const NOT_IN_LINUX: Record<string, number> = {
  eptpIndex: 0x0004,
  executiveVmcsPointer: 0x200c,
  guestSmbase: 0x4828,
  ioRcx: 0x6402,
  ioRsi: 0x6404,
  ioRdi: 0x6406,
  ioRip: 0x6408,
};

/**
 * Fields in Linux's vmx.h the model deliberately leaves out (features it does
 * not have); their encodings must stay unknown to the table so VMREAD/VMWRITE
 * fail with VMfailValid(12).
 */
const LEFT_OUT: Record<string, number> = {
  LAST_PID_POINTER_INDEX: 0x0008,
  TERTIARY_VM_EXEC_CONTROL: 0x2034,
  PID_POINTER_TABLE: 0x2042,
  GUEST_BNDCFGS: 0x2812,
  GUEST_IA32_RTIT_CTL: 0x2814,
  NOTIFY_WINDOW: 0x4024,
};

describe('VMCS field table (SDM Vol. 3C Appendix B)', () => {
  it('has 154 fields', () => {
    expect(VMCS_FIELDS.length).toBe(154);
  });

  it("every field with a Linux name has exactly the encoding Linux's vmx.h gives it", () => {
    const withLinux = VMCS_FIELDS.filter((f) => f.linuxName !== null);
    expect(withLinux.map((f) => f.linuxName).sort()).toEqual(Object.keys(LINUX_VMX_H).sort());
    for (const f of withLinux) expect([f.linuxName, f.encoding]).toEqual([f.linuxName, LINUX_VMX_H[f.linuxName!]]);
  });

  it('fields Linux does not name have the encodings Bochs and the SDM give', () => {
    const without = VMCS_FIELDS.filter((f) => f.linuxName === null);
    expect(without.map((f) => f.name).sort()).toEqual(Object.keys(NOT_IN_LINUX).sort());
    for (const f of without) expect([f.name, f.encoding]).toEqual([f.name, NOT_IN_LINUX[f.name]]);
  });

  it('encodings of features the model leaves out are unknown', () => {
    for (const enc of Object.values(LEFT_OUT)) expect(fieldByEncoding(enc)).toBeUndefined();
  });

  it('names and encodings are unique', () => {
    expect(new Set(VMCS_FIELDS.map((f) => f.name)).size).toBe(VMCS_FIELDS.length);
    expect(new Set(VMCS_FIELDS.map((f) => f.encoding)).size).toBe(VMCS_FIELDS.length);
  });

  it('names are camelCase identifiers', () => {
    for (const f of VMCS_FIELDS) expect(f.name).toMatch(/^[a-z][A-Za-z0-9]*$/);
  });

  it('looks fields up by name', () => {
    expect(vmcs.guestRip.encoding).toBe(0x681e);
    expect(vmcs.vmcsLinkPointer.encoding).toBe(0x2800);
    expect(fieldByName('pinBasedVmExecutionControls')?.encoding).toBe(0x4000);
    expect(fieldByName('noSuchField')).toBeUndefined();
    expect(fieldByName('toString')).toBeUndefined();
  });

  it('looks fields up by encoding, with high access only for 64-bit fields (§25.11.2)', () => {
    expect(fieldByEncoding(0x681e)?.name).toBe('guestRip');
    expect(fieldByEncoding(0x201a)?.name).toBe('eptp');
    expect(fieldByEncoding(0x201b)?.name).toBe('eptp'); // EPT_POINTER_HIGH
    expect(fieldByEncoding(0x2801)?.name).toBe('vmcsLinkPointer'); // VMCS_LINK_POINTER_HIGH
    expect(fieldByEncoding(0x681f)).toBeUndefined(); // high access to a natural-width field
    expect(fieldByEncoding(0x4001)).toBeUndefined(); // ... to a 32-bit field
    expect(fieldByEncoding(0x0001)).toBeUndefined(); // ... to a 16-bit field
    expect(fieldByEncoding(0x1_681e)).toBeUndefined(); // reserved bit 16
    expect(fieldByEncoding(0x781e)).toBeUndefined(); // reserved bit 12
    expect(fieldByEncoding(0x482c)).toBeUndefined(); // 32-bit guest index 22 is unassigned
    expect(fieldByEncoding(0x8000_0000 + 0x681e)).toBeUndefined();
    expect(fieldByEncoding(-1)).toBeUndefined();
  });

  it('kinds and widths follow the SDM tables', () => {
    expect([vmcs.exitReason.type, vmcs.exitReason.width]).toEqual([FieldType.ReadOnlyData, FieldWidth.Bits32]);
    expect([vmcs.hostRip.type, vmcs.hostRip.width]).toEqual([FieldType.HostState, FieldWidth.Natural]);
    expect([vmcs.guestPhysicalAddress.type, vmcs.guestPhysicalAddress.width]).toEqual([FieldType.ReadOnlyData, FieldWidth.Bits64]);
    expect([vmcs.vpid.type, vmcs.vpid.width]).toEqual([FieldType.Control, FieldWidth.Bits16]);
  });

  it('records the feature each field depends on', () => {
    expect(vmcs.vpid.feature).toBe('vpid');
    expect(vmcs.eptp.feature).toBe('ept');
    expect(vmcs.vmreadBitmapAddress.feature).toBe('vmcsShadowing');
    expect(vmcs.vmxPreemptionTimerValue.feature).toBe('preemptionTimer');
    expect(vmcs.guestRip.feature).toBe('none');
    expect(vmcs.ioRcx.feature).toBe('none');
  });

  it('highest index per (type, width), for IA32_VMX_VMCS_ENUM (SDM Appendix A.9)', () => {
    expect(highestIndex(FieldType.Control, FieldWidth.Bits64)).toBe(25); // TSC multiplier, 0x2032
    expect(highestIndex(FieldType.GuestState, FieldWidth.Bits32)).toBe(23); // preemption timer, 0x482e
    expect(highestIndex(FieldType.ReadOnlyData, FieldWidth.Bits16)).toBe(-1);
    expect(highestIndex(FieldType.HostState, FieldWidth.Natural)).toBe(11); // HOST_RIP 0x6c16
    expect(vmcsEnumHighestIndex()).toBe(25);
    const withoutTscScaling = VMCS_FIELDS.filter((f) => f.feature !== 'tscScaling');
    expect(vmcsEnumHighestIndex(withoutTscScaling)).toBe(23);
  });
});
