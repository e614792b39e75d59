/**
 * An interrupt that waits for the guest to enable interrupts (L1's
 * injection and "interrupt-window exiting", SDM Vol. 3C §26.2, §27.6): the
 * guest arms a short one-shot timer with interrupts off, spins well past
 * its expiry, and checks the vector waits in the IRR (§11.8.4) and that no
 * interrupt came. Then STI: the instruction after STI runs in its shadow
 * (Vol. 2B STI: "interrupts are recognized after the next instruction"),
 * so the handler must find the return address of the instruction after
 * that one, with that instruction done.
 */
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { apicMsr, descriptorTables, enableX2apic, eoi, loadDescriptorTables, readApic, setGate, wrmsr } from './apicAsm.ts';
import type { L2Guest } from './guest.ts';
import { done, failure } from './ucall.ts';

export const VECTOR = 0x41, COUNT = 100, DIVIDE_BY_1 = 0xb, SPIN = 1000;

export default {
  name: 'interrupt-window',
  description: 'a timer interrupt held off by IF = 0 arrives after STI and its shadow (interrupt-window exit)',
  expect: { kind: 'passed' },
  source: `
    ${loadDescriptorTables()}
    ${setGate(VECTOR, 'timer_handler')}
    ${enableX2apic()}
    cli
    xor r13d, r13d                 ; interrupts taken
    xor ebx, ebx
    ${wrmsr(apicMsr(ApicReg.TIMER_DIVIDE), DIVIDE_BY_1)}
    ${wrmsr(apicMsr(ApicReg.LVT_TIMER), VECTOR)}
    ${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), COUNT)}
    mov esi, ${SPIN}
  spin:
    dec esi
    jnz spin
    test r13, r13
    jnz taken_with_if0
    ${readApic(ApicReg.IRR + (VECTOR >> 5))}
    bt eax, ${VECTOR & 31}
    jnc not_pending
    sti
    inc rbx                        ; in STI's shadow
  after_shadow:
    cmp r13, 1
    jne not_once
    cmp rbx, 1
    jne shadow_skipped
    lea rax, [rip + after_shadow]
    cmp r14, rax
    jne wrong_return
    ${done()}
  timer_handler:
    inc r13
    mov r14, [rsp]                 ; the return RIP of the interrupt frame
    ${eoi()}
    iretq
    ${failure('taken_with_if0', 'an interrupt was taken with RFLAGS.IF = 0')}
    ${failure('not_pending', 'the expired timer vector is not pending in the IRR')}
    ${failure('not_once', 'the interrupt was not taken exactly once after STI')}
    ${failure('shadow_skipped', 'the instruction in the STI shadow did not run')}
    ${failure('wrong_return', 'the interrupt did not come right after the instruction in the STI shadow')}
    ${descriptorTables()}`,
} satisfies L2Guest;
