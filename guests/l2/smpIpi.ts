/**
 * Two vCPUs: vCPU 0 starts vCPU 1 with INIT-SIPI-SIPI through its x2APIC
 * ICR (MSR 830H, SDM Vol. 3A §11.12.9; the MP initialization protocol of
 * §9.4.4: INIT, then two Start-up IPIs with the start page's number as
 * vector, the second ignored by a started processor), then sends it a
 * fixed IPI, which vCPU 1 takes in its IDT handler while halted.
 *
 * vCPU 1 starts at AP_ENTRY as L1's SIPI convention says (64-bit mode at
 * vector × 4096, its own stack: hypervisor/l1/mpState.ts). If the VM
 * starts vCPU 1 at the first instruction like vCPU 0 instead, it parks
 * itself with CLI; HLT until the INIT, as firmware parks its application
 * processors, and the protocol goes the same way.
 *
 * vCPU 1 reports its x2APIC ID and that it runs; vCPU 0 checks what it
 * reported and ends the test once the IPI has been taken. Waits are
 * bounded, so a lost IPI fails instead of hanging.
 */
import { ApicReg, DeliveryMode, ICR_ASSERT } from '../../cpu/devices/apic/registers.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';
import { apicMsr, DATA_BASE, descriptorTables, enableX2apic, eoi, loadDescriptorTables, readApic, setGate } from './apicAsm.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

export const IPI_VECTOR = 0x50;
/** Where vCPU 1 starts: the page after the first of the guest's code (`.balign 4096` puts it there). */
export const AP_ENTRY = GUEST_CODE + 0x1000;
export const SIPI_VECTOR = AP_ENTRY >> 12;
/** Iterations of each bounded wait. */
const WAIT = 1_000_000;
const AP_ID = DATA_BASE, AP_RUNNING = DATA_BASE + 8, IPI_TAKEN = DATA_BASE + 16;

/** WRMSR of ICR = `lo` with destination x2APIC ID 1. */
const icrToVcpu1 = (lo: number): string => `mov ecx, ${apicMsr(ApicReg.ICR_LO)}\nmov eax, 0x${lo.toString(16)}\nmov edx, 1\nwrmsr`;

/** Waits until the byte at `flag` is non-zero, at most WAIT iterations; else fails at `timeout`. */
const waitFor = (flag: number, timeout: string, label: string): string => `
    mov esi, ${WAIT}
  ${label}:
    cmp byte ptr [rbp + ${flag - DATA_BASE}], 0
    jne ${label}_done
    pause
    dec esi
    jnz ${label}
    jmp ${timeout}
  ${label}_done:`;

export default {
  name: 'smp-ipi',
  description: 'vCPU 0 starts vCPU 1 with INIT-SIPI-SIPI, then sends it a fixed IPI',
  expect: { kind: 'passed' },
  vcpus: 2,
  source: `
    ${loadDescriptorTables()}
    ${enableX2apic()}
    ${readApic(ApicReg.ID)}
    test eax, eax
    jz bsp
    cli                            ; started with vCPU 0: wait for the INIT
    hlt
    jmp bsp                        ; never reached: INIT ends the HLT
  bsp:
    ${setGate(IPI_VECTOR, 'ipi_handler')}
    mov ebp, ${DATA_BASE}
    ${icrToVcpu1(ICR_ASSERT | (DeliveryMode.Init << 8))}
    ${icrToVcpu1(ICR_ASSERT | (DeliveryMode.StartUp << 8) | SIPI_VECTOR)}
    ${icrToVcpu1(ICR_ASSERT | (DeliveryMode.StartUp << 8) | SIPI_VECTOR)}
    ${waitFor(AP_RUNNING, 'ap_silent', 'wait_ap')}
    cmp dword ptr [rbp + ${AP_ID - DATA_BASE}], 1
    jne wrong_id
    ${icrToVcpu1(ICR_ASSERT | (DeliveryMode.Fixed << 8) | IPI_VECTOR)}
    ${waitFor(IPI_TAKEN, 'ipi_lost', 'wait_ipi')}
    ${print('taken')}
    ${done()}
    ${failure('ap_silent', 'vCPU 1 did not start after INIT-SIPI-SIPI')}
    ${failure('wrong_id', 'vCPU 1 did not read x2APIC ID 1')}
    ${failure('ipi_lost', 'vCPU 1 did not take the fixed IPI')}
    ${string('taken', 'vCPU 1 took the IPI\n')}
  ipi_handler:
    mov byte ptr [rbp + ${IPI_TAKEN - DATA_BASE}], 1
    ${eoi()}
    iretq
    ${descriptorTables()}
    .balign 4096
  ap_entry:                        ; at AP_ENTRY, in 64-bit mode (L1's SIPI convention)
    ${loadDescriptorTables()}
    ${enableX2apic()}
    mov ebp, ${DATA_BASE}
    ${readApic(ApicReg.ID)}
    mov dword ptr [rbp + ${AP_ID - DATA_BASE}], eax
    mov byte ptr [rbp + ${AP_RUNNING - DATA_BASE}], 1
    sti
  idle:
    hlt
    jmp idle`,
} satisfies L2Guest;
