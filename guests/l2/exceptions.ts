/**
 * Exceptions L1 intercepts and reflects (exit reason 0 through the
 * exception bitmap, SDM Vol. 3C §25.6.3, §26.2; reflection by VM-entry
 * injection, §27.6.1, as hypervisor/exits/exception.ts does it): with #UD
 * and #BP intercepted, UD2 and INT3 still reach the guest's own IDT
 * handlers exactly as without a VMM — #UD a fault whose pushed RIP is the
 * UD2, #BP a trap whose pushed RIP is past the INT3 (Vol. 3A §6.5,
 * Table 6-1), neither with an error code.
 */
import { Vector } from '../../cpu/exceptions.ts';
import { attempt, catchSetup, catchTables, expectFault } from './faults.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

const VECTORS = [Vector.UD, Vector.BP];

export default {
  name: 'exception-reflection',
  description: '#UD and #BP intercepted by L1 and reflected: the guest\'s own handlers see them as without a VMM',
  expect: { kind: 'passed' },
  setup(vm) {
    vm.interceptExceptions = [Vector.UD, Vector.BP];
  },
  source: `
    ${catchSetup(VECTORS)}
    ${attempt('after_ud2', 'ud2')}
    ${expectFault('no_ud', Vector.UD, -1)}
    lea rax, [rip + after_ud2]
    sub rax, 2                     ; UD2 is 0F 0B: a fault pushes its own address
    cmp r13, rax
    jne ud_rip
    ${attempt('after_int3', 'int3')}
    ${expectFault('no_bp', Vector.BP, -1)}
    lea rax, [rip + after_int3]    ; INT3 is a trap: the address after it
    cmp r13, rax
    jne bp_rip
    ${print('passed')}
    ${done()}
    ${failure('no_ud', 'UD2 did not reach the #UD handler without an error code')}
    ${failure('ud_rip', '#UD pushed a RIP other than the UD2')}
    ${failure('no_bp', 'INT3 did not reach the #BP handler without an error code')}
    ${failure('bp_rip', '#BP pushed a RIP other than the one after INT3')}
    ${catchTables(VECTORS)}
    ${string('passed', "#UD and #BP reached the guest's handlers\n")}`,
} satisfies L2Guest;
