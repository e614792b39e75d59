/**
 * The virtual APIC's timer wakes a halted vCPU (hypervisor/lapic/, exits/
 * hlt.ts): the guest switches its APIC to x2APIC mode, arms a one-shot
 * count of COUNT with divide-by-4 (SDM Vol. 3A §11.5.4: it expires COUNT ×
 * 4 ticks of the timer's input clock, which L1 runs at the TSC rate), then
 * STI; HLT. The interrupt (vector VECTOR, through the LVT timer entry) is
 * taken by the IDT handler, which reads the TSC and sends EOI; back after
 * the HLT, the guest checks: one interrupt, taken no earlier than COUNT × 4
 * TSC ticks after the count was written and at most SLACK later, the
 * current count 0 (a one-shot count stays at 0), and the ISR empty again
 * after the EOI.
 */
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { apicMsr, descriptorTables, enableX2apic, eoi, loadDescriptorTables, rdtsc64, readApic, setGate, wrmsr } from './apicAsm.ts';
import type { L2Guest } from './guest.ts';
import { done, failure } from './ucall.ts';

export const VECTOR = 0x40, COUNT = 1000, DIVIDE_BY_4 = 0x1;
/** TSC ticks allowed between the expiry and the handler: L1's exit and entry, and the VMX-preemption timer's 32-tick granularity. */
export const SLACK = 100;
const TICKS = COUNT * 4;

export default {
  name: 'apic-timer-hlt',
  description: 'APIC timer one-shot + HLT: the vCPU halts, the timer interrupt wakes it on time',
  expect: { kind: 'passed' },
  source: `
    ${loadDescriptorTables()}
    ${setGate(VECTOR, 'timer_handler')}
    ${enableX2apic()}
    ${wrmsr(apicMsr(ApicReg.TIMER_DIVIDE), DIVIDE_BY_4)}
    ${wrmsr(apicMsr(ApicReg.LVT_TIMER), VECTOR)}     ; one-shot, unmasked
    xor r13d, r13d                 ; interrupts taken
    ${rdtsc64()}
    mov r12, rax                   ; TSC before the count starts
    ${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), COUNT)}
    sti
    hlt
    cmp r13, 1
    jne not_once
    mov rax, r14
    sub rax, r12
    cmp rax, ${TICKS}
    jb too_early
    cmp rax, ${TICKS + SLACK}
    jae too_late
    ${readApic(ApicReg.TIMER_CURRENT)}
    test eax, eax
    jnz count_left
    ${readApic(ApicReg.ISR + (VECTOR >> 5))}
    test eax, eax
    jnz still_in_service
    ${done()}
  timer_handler:
    inc r13
    ${rdtsc64()}
    mov r14, rax
    ${eoi()}
    iretq
    ${failure('not_once', 'the timer interrupt was not taken exactly once')}
    ${failure('too_early', `the timer interrupt came before ${TICKS} TSC ticks`)}
    ${failure('too_late', `the timer interrupt came ${SLACK} or more TSC ticks late`)}
    ${failure('count_left', 'the current count of an expired one-shot timer is not 0')}
    ${failure('still_in_service', 'the vector is still in service after EOI')}
    ${descriptorTables()}`,
} satisfies L2Guest;
