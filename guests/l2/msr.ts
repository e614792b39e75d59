/**
 * MSRs under L1 (RDMSR/WRMSR exits, reasons 31 and 32, through the MSR
 * bitmaps, SDM Vol. 3C §25.6.9, §26.1.3): the MSRs that pass through
 * (hypervisor/exits/msrPassthrough.ts) act on the processor with no exit —
 * FS_BASE moves FS, SWAPGS brings KERNEL_GS_BASE into GS — and the ones L1
 * emulates (hypervisor/exits/virtualMsrs.ts) read their virtual values and
 * refuse bad writes with #GP(0), as does every MSR L1 does not know.
 */
import { attempt, catchSetup, catchTables, expectFault, expectNoFault } from './faults.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

const GP = 13;
const FS_BASE = 0xc0000100, GS_BASE = 0xc0000101, KERNEL_GS_BASE = 0xc0000102, LSTAR = 0xc0000082, STAR = 0xc0000081;
const SYSENTER_EIP = 0x176, TSC_AUX = 0xc0000103, TSC = 0x10;
const APIC_BASE = 0x1b, FEATURE_CONTROL = 0x3a, MISC_ENABLE = 0x1a0, MTRRCAP = 0xfe, MTRR_DEF_TYPE = 0x2ff, PAT = 0x277, EFER = 0xc0000080;

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** ECX = `index`, EDX:EAX = `value`. */
const msrOperands = (index: number, value: bigint): string => `
    mov ecx, ${hex(index)}
    mov rax, ${hex(value)}
    mov rdx, rax
    shr rdx, 32`;

const wrmsr = (index: number, value: bigint): string => `${msrOperands(index, value)}
    wrmsr`;

/** RDMSR of `index`, EDX:EAX joined into RAX. */
const rdmsr = (index: number): string => `
    mov ecx, ${hex(index)}
    rdmsr
    shl rdx, 32
    or rax, rdx`;

/** The guest's code, then its failure targets (one per check, numbered in order). */
function msrGuest(): string {
  const failures: string[] = [];
  const fail = (message: string): string => {
    const label = `check_${failures.length + 1}`;
    failures.push(failure(label, message));
    return label;
  };
  /** RDMSR of `index` must give `value`. */
  const expectMsr = (index: number, name: string, value: bigint): string => `
    ${rdmsr(index)}
    mov rbx, ${hex(value)}
    cmp rax, rbx
    jne ${fail(`RDMSR ${name} is not ${hex(value)}`)}`;
  /** WRMSR of `value`, which RDMSR must then give back. */
  const readsBack = (index: number, name: string, value: bigint): string => `${wrmsr(index, value)}${expectMsr(index, name, value)}`;
  /** WRMSR of `value` must raise #GP(0). */
  const refused = (index: number, name: string, value: bigint): string => `
    ${msrOperands(index, value)}
    ${attempt(`after_${failures.length + 1}`, 'wrmsr')}
    ${expectFault(fail(`WRMSR ${name} := ${hex(value)} did not raise #GP(0)`), GP, 0)}`;

  const code = `
    ${catchSetup([GP])}
    ; Passed through: the processor's own MSRs, no exit.
    lea rax, [rip + marker]
    mov rdx, rax
    shr rdx, 32
    mov ecx, ${hex(FS_BASE)}
    wrmsr
    xor esi, esi
    mov rbx, qword ptr fs:[rsi]
    cmp rbx, qword ptr [rip + marker]
    jne ${fail('FS_BASE written by WRMSR does not move FS')}
    ${wrmsr(KERNEL_GS_BASE, 0x123456789000n)}
    swapgs
    ${expectMsr(GS_BASE, 'IA32_GS_BASE after SWAPGS', 0x123456789000n)}
    swapgs
    ${readsBack(LSTAR, 'IA32_LSTAR', 0xffff800000001000n)}
    ${readsBack(STAR, 'IA32_STAR', 0x0023001000000000n)}
    ${readsBack(SYSENTER_EIP, 'IA32_SYSENTER_EIP', 0x401000n)}
    ${readsBack(TSC_AUX, 'IA32_TSC_AUX', 7n)}
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r8, rax
    ${rdmsr(TSC)}
    cmp rax, r8
    jb ${fail('RDMSR IA32_TIME_STAMP_COUNTER is behind an earlier RDTSC')}
    ; Emulated by L1: virtual values.
    ${expectMsr(APIC_BASE, 'IA32_APIC_BASE', 0xfee00900n)}
    ${expectMsr(FEATURE_CONTROL, 'IA32_FEATURE_CONTROL', 1n)}
    ${expectMsr(MISC_ENABLE, 'IA32_MISC_ENABLE', 0x1801n)}
    ${expectMsr(MTRRCAP, 'IA32_MTRRCAP', 0x400n)}
    ${expectMsr(MTRR_DEF_TYPE, 'IA32_MTRR_DEF_TYPE', 0n)}
    ${expectMsr(PAT, 'IA32_PAT', 0x0007040600070406n)}
    ${expectMsr(EFER, 'IA32_EFER', 0x500n)}
    ; Emulated writes, checked as WRMSR checks them.
    ${readsBack(PAT, 'IA32_PAT after WRMSR', 0x0000000600000006n)}
    ${refused(PAT, 'IA32_PAT (memory type 2)', 0x0000000600000002n)}
    ${wrmsr(EFER, 0x901n)}
    ${expectMsr(EFER, 'IA32_EFER after setting SCE and NXE', 0xd01n)}
    ${refused(EFER, 'IA32_EFER (LME cleared with paging on)', 0x401n)}
    ${refused(EFER, 'IA32_EFER (reserved bit 1)', 0xd03n)}
    ${refused(FEATURE_CONTROL, 'IA32_FEATURE_CONTROL (locked)', 5n)}
    ${refused(MTRRCAP, 'IA32_MTRRCAP (read-only)', 0x400n)}
    ${readsBack(MTRR_DEF_TYPE, 'IA32_MTRR_DEF_TYPE after WRMSR', 0x806n)}
    ${refused(MTRR_DEF_TYPE, 'IA32_MTRR_DEF_TYPE (FE without fixed ranges)', 0xc06n)}
    ${refused(MTRR_DEF_TYPE, 'IA32_MTRR_DEF_TYPE (type 2)', 0x802n)}
    ${readsBack(MISC_ENABLE, 'IA32_MISC_ENABLE after clearing fast strings', 0x1800n)}
    ${refused(MISC_ENABLE, 'IA32_MISC_ENABLE (PEBS-unavailable cleared)', 0x800n)}
    ${refused(APIC_BASE, 'IA32_APIC_BASE (reserved bit 0)', 0xfee00901n)}
    ${readsBack(APIC_BASE, 'IA32_APIC_BASE in x2APIC mode', 0xfee00d00n)}
    ${refused(APIC_BASE, 'IA32_APIC_BASE (x2APIC back to xAPIC)', 0xfee00900n)}
    ; Not L1's: #GP(0).
    mov ecx, 0x480
    ${attempt('after_vmx_basic', 'rdmsr')}
    ${expectFault(fail('RDMSR IA32_VMX_BASIC did not raise #GP(0)'), GP, 0)}
    ${refused(0x12345678, 'of MSR 12345678H', 0n)}
    ${refused(TSC, 'IA32_TIME_STAMP_COUNTER (not virtualized)', 0n)}
    ${attempt('after_last', 'nop')}
    ${expectNoFault(fail('a NOP raised an exception'))}
    ${print('passed')}
    ${done()}`;
  return `${code}
    ${failures.join('\n')}`;
}

export default {
  name: 'msr',
  description: 'MSRs: pass-through ones act with no exit, emulated ones read virtual values, unknown ones #GP',
  expect: { kind: 'passed' },
  source: `${msrGuest()}
    ${catchTables([GP])}
    .align 8
  marker:
    .quad 0x1122334455667788
    ${string('passed', 'pass-through, emulated and unknown MSRs behave\n')}`,
} satisfies L2Guest;
