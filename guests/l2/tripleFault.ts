/**
 * A triple fault on purpose (SDM Vol. 3A §6.15 "Interrupt 8 — Double Fault
 * Exception"; in non-root operation it is a VM exit, reason 2, Vol. 3C
 * §26.2): with an IDT of limit 0 no vector's gate can be read, so UD2's #UD
 * becomes #GP, then #DF, then shutdown. L1 stops the VM with a report; the
 * other VMs go on.
 */
import type { L2Guest } from './guest.ts';
import { failure, print, string } from './ucall.ts';

export default {
  name: 'triple-fault',
  description: 'UD2 with an empty IDT: #UD → #GP → #DF → triple fault, the VM is stopped',
  expect: { kind: 'stopped', detail: 'triple fault' },
  source: `
    ${print('announce')}
    lidt [rip + empty_idt]
    ud2
    ${failure('survived', 'UD2 with an empty IDT did not triple-fault')}
  empty_idt:
    .word 0                        ; limit 0: no gate fits
    .quad 0
    ${string('announce', 'faulting on purpose: UD2 with an empty IDT\n')}`,
} satisfies L2Guest;
