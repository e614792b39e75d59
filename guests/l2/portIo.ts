/**
 * Port I/O under L1 (exit reason 30: L1 sets "unconditional I/O exiting",
 * SDM Vol. 3C §26.1.3; the qualification of §28.2.1 Table 28-5 tells L1
 * port, size and direction): bytes written to COM1's data port 3F8H reach
 * the VM's console; IN from a port with nothing behind it reads all ones,
 * leaving the rest of RAX alone for 8- and 16-bit IN and zero-extending a
 * 32-bit result (SDM Vol. 1 §3.4.1.1); OUT to it is ignored.
 */
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

const UNCLAIMED_PORT = 0x1234;

export default {
  name: 'port-io',
  description: 'port I/O: console writes on 0x3f8, IN from an unclaimed port reads all ones',
  expect: { kind: 'passed' },
  source: `
    lea rsi, [rip + greeting]
    mov dx, 0x3f8
  next_byte:
    lodsb
    test al, al
    jz sent
    out dx, al
    jmp next_byte
  sent:
    mov dx, ${UNCLAIMED_PORT}
    mov rax, 0x1122334455667700
    in al, dx
    mov rbx, 0x11223344556677ff
    cmp rax, rbx
    jne in8_wrong
    mov rax, 0x1122334455660000
    in ax, dx
    mov rbx, 0x112233445566ffff
    cmp rax, rbx
    jne in16_wrong
    mov rax, 0x1122334455667788
    in eax, dx
    mov ebx, 0xffffffff            ; zero-extended into RBX
    cmp rax, rbx
    jne in32_wrong
    out dx, eax                    ; ignored
    ${print('all_ones')}
    ${done()}
    ${failure('in8_wrong', 'IN AL from an unclaimed port: AL is not FFH or RAX[63:8] changed')}
    ${failure('in16_wrong', 'IN AX from an unclaimed port: AX is not FFFFH or RAX[63:16] changed')}
    ${failure('in32_wrong', 'IN EAX from an unclaimed port: RAX is not 00000000FFFFFFFFH')}
    ${string('greeting', 'hello over COM1 (port 0x3f8)\n')}
    ${string('all_ones', `IN from port 0x${UNCLAIMED_PORT.toString(16)} reads all ones\n`)}`,
} satisfies L2Guest;
