/**
 * Hypercalls under L1 (VMCALL, exit reason 18, SDM Vol. 3C §26.1.2; the
 * ABI of hypervisor/exits/vmcall.ts): print returns 0 in RAX, an unknown
 * call returns -1, yield returns 0, and exit with code 0 ends the VM as
 * passed.
 */
import type { L2Guest } from './guest.ts';
import { failure, string } from './ucall.ts';

const HELLO = 'hello through VMCALL\n';
const UNKNOWN_CALL = 0x99;

export default {
  name: 'hypercalls',
  description: 'VMCALL: print, an unknown call returns -1, yield, exit 0',
  expect: { kind: 'passed' },
  source: `
    lea rbx, [rip + hello]
    mov ecx, ${HELLO.length}
    xor eax, eax                   ; hypercall 0: print RCX bytes at RBX
    vmcall
    test rax, rax
    jnz print_failed
    mov eax, ${UNKNOWN_CALL}
    vmcall
    cmp eax, -1                    ; EAX: vmcall.ts returns -1 as a 32-bit value (RAX[63:32] = 0)
    jne unknown_accepted
    mov eax, 2                     ; hypercall 2: yield
    vmcall
    test rax, rax
    jnz yield_failed
    mov eax, 1                     ; hypercall 1: exit with RBX = 0
    xor ebx, ebx
    vmcall
    ${failure('exit_returned', 'the exit hypercall returned')}
    ${failure('print_failed', 'the print hypercall did not return 0')}
    ${failure('unknown_accepted', 'an unknown hypercall did not return -1')}
    ${failure('yield_failed', 'the yield hypercall did not return 0')}
    ${string('hello', HELLO)}`,
} satisfies L2Guest;
