/**
 * A guest that fails on purpose, to show how a failure is reported: it
 * ends through the exit hypercall (hypervisor/exits/vmcall.ts) with a
 * nonzero code, which L1 records as the VM's failure.
 */
import type { L2Guest } from './guest.ts';
import { failure, print, string } from './ucall.ts';

const CODE = 42;

export default {
  name: 'exit-code',
  description: `exits through the exit hypercall with code ${CODE}: fails on purpose, to show the report`,
  expect: { kind: 'failed', detail: `exit ${CODE}` },
  source: `
    ${print('announce')}
    mov eax, 1                     ; hypercall 1: exit with code RBX
    mov ebx, ${CODE}
    vmcall
    ${failure('exit_returned', 'the exit hypercall returned')}
    ${string('announce', `reporting failure code ${CODE} through the exit hypercall\n`)}`,
} satisfies L2Guest;
