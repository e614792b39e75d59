/**
 * Bad input (issue 6): an IPI storm. Both vCPUs of the VM write their
 * x2APIC ICR (MSR 830H, SDM Vol. 3A §11.12.9) in a loop, each write an
 * exit to L1's virtual APIC (hypervisor/lapic/ipi.ts): a fixed interrupt
 * to all including self (shorthand 10B, §11.6.1) and an NMI to all
 * excluding self. Both take them: the interrupt handler counts and writes
 * EOI, the NMI handler counts; neither sends before both have their IDT
 * loaded. Pending state is what the APIC holds (an
 * IRR bit per vector, one pending NMI), so repeated IPIs coalesce until
 * taken (§11.8.4, §6.7.1), and a target on another core is kicked.
 * Test-only (test/hypervisor/badInput.test.ts); it never ends.
 */
import { ApicReg, DeliveryMode, ICR_ASSERT, ICR_SHORTHAND_SHIFT, Shorthand } from '../../cpu/devices/apic/registers.ts';
import { apicMsr, DATA_BASE, descriptorTables, enableX2apic, eoi, loadDescriptorTables, readApic, setGate } from './apicAsm.ts';
import type { L2Guest } from './guest.ts';

export const STORM_VECTOR = 0x40;
const FIXED_TO_ALL = STORM_VECTOR | (DeliveryMode.Fixed << 8) | ICR_ASSERT | (Shorthand.AllIncludingSelf << ICR_SHORTHAND_SHIFT);
const NMI_TO_OTHERS = (DeliveryMode.Nmi << 8) | ICR_ASSERT | (Shorthand.AllExcludingSelf << ICR_SHORTHAND_SHIFT);
const NMI_VECTOR = 2;

/** Guest-physical address of vCPU `index`'s count of interrupts taken; its count of NMIs follows 8 bytes on. */
export const stormCounters = (index: number): number => DATA_BASE + 16 * index;
/** The vCPUs that have their IDT and APIC ready: each starts the storm when both have. */
const READY = DATA_BASE + 0x100;

export default {
  name: 'ipi-storm',
  description: 'two vCPUs send each other and themselves fixed IPIs and NMIs through the ICR, forever',
  expect: { kind: 'running' },
  vcpus: 2,
  source: `
    ${loadDescriptorTables()}
    ${enableX2apic()}
    ${setGate(STORM_VECTOR, 'on_interrupt')}
    ${setGate(NMI_VECTOR, 'on_nmi')}
    ${readApic(ApicReg.ID)}
    shl eax, 4
    lea rbp, [${DATA_BASE} + rax]  ; this vCPU's counters
    mov edi, ${READY}              ; wait until both vCPUs can take the storm
    lock inc dword ptr [rdi]
  wait_other:
    pause
    cmp dword ptr [rdi], 2
    jb wait_other
    sti
  storm:
    mov ecx, ${apicMsr(ApicReg.ICR_LO)}
    xor edx, edx
    mov eax, 0x${FIXED_TO_ALL.toString(16)}
    wrmsr
    mov eax, 0x${NMI_TO_OTHERS.toString(16)}
    wrmsr
    jmp storm
  on_interrupt:
    push rax
    push rcx
    push rdx
    inc qword ptr [rbp]
    ${eoi()}
    pop rdx
    pop rcx
    pop rax
    iretq
  on_nmi:
    inc qword ptr [rbp + 8]
    iretq
    ${descriptorTables()}`,
} satisfies L2Guest;
