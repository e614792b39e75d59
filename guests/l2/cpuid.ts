/**
 * CPUID under L1 (exit reason 10, always taken in non-root operation, SDM
 * Vol. 3C §26.1.2): the guest sees the processor's identity with the
 * "hypervisor present" bit set and VMX hidden (CPUID.1:ECX bits 31 and 5,
 * hypervisor/exits/cpuid.ts), and prints the vendor string of leaf 0.
 */
import type { L2Guest } from './guest.ts';
import { done, failure, print, printAt, string } from './ucall.ts';

export default {
  name: 'cpuid',
  description: 'CPUID: hypervisor bit set, VMX hidden, vendor string printed',
  expect: { kind: 'passed' },
  source: `
    xor eax, eax
    cpuid
    cmp eax, 1
    jb no_leaf1                    ; leaf 0 EAX: the highest basic leaf
    sub rsp, 16                    ; vendor = EBX, EDX, ECX, then NUL
    mov [rsp], ebx
    mov [rsp + 4], edx
    mov [rsp + 8], ecx
    mov byte ptr [rsp + 12], 0
    ${print('vendor')}
    ${printAt('rsp')}
    ${print('newline')}
    mov eax, 1
    cpuid
    bt ecx, 31
    jnc no_hypervisor
    bt ecx, 5
    jc vmx_visible
    ${done()}
    ${failure('no_leaf1', 'CPUID leaf 1 not offered')}
    ${failure('no_hypervisor', 'CPUID.1:ECX[31] (hypervisor present) is clear')}
    ${failure('vmx_visible', 'CPUID.1:ECX[5] (VMX) is visible to the guest')}
    ${string('vendor', 'vendor ')}
    ${string('newline', '\n')}`,
} satisfies L2Guest;
