/**
 * Assembly for guests that provoke exceptions on purpose and go on (the
 * idea of KVM selftests' exception fixups): a GDT with a 64-bit code
 * segment (08H) and a data segment (10H), which event delivery and IRETQ
 * load (SDM Vol. 3A §6.14), and an IDT whose gates for the chosen vectors
 * lead to one recovering handler each. A handler records the event in
 * registers and returns to the recovery address the attempt left in R10:
 *   R11  the vector (-1: nothing was raised),
 *   R12  the error code (-1: the vector pushes none, Vol. 3A Table 6-1),
 *   R13  the RIP the event pushed: the faulting instruction for a fault,
 *        the next one for a trap such as INT3 (Vol. 3A §6.5).
 * Place `catchSetup` before the attempts and `catchTables` after the code.
 */

/** Vectors whose exceptions push an error code (SDM Vol. 3A Table 6-1). */
const WITH_ERROR_CODE = [8, 10, 11, 12, 13, 14, 17, 21];
/** 64-bit interrupt gate, present, DPL 0 (Vol. 3A §6.14.1 Figure 6-8): type 1110 in bits 43:40, P in bit 47. */
const INTERRUPT_GATE = 0x8e00;

/** Loads the GDT and the IDT, and points the gates of `vectors` at their handlers. */
export function catchSetup(vectors: readonly number[]): string {
  const gates = vectors.map((v) => `
    lea rax, [rip + fault_${v}]
    lea rdi, [rip + idt]
    add rdi, ${16 * v}
    mov word ptr [rdi], ax               ; offset 15:0
    mov word ptr [rdi + 2], 0x08         ; code segment selector
    mov word ptr [rdi + 4], ${INTERRUPT_GATE}
    shr rax, 16
    mov word ptr [rdi + 6], ax           ; offset 31:16
    shr rax, 16
    mov qword ptr [rdi + 8], rax         ; offset 63:32, reserved 0`).join('\n');
  return `
    lgdt [rip + gdtr]
    lidt [rip + idtr]
    ${gates}`;
}

/** The GDT, the IDT (room for vectors 0-31) and the handlers of `vectors`. */
export function catchTables(vectors: readonly number[]): string {
  const handlers = vectors.map((v) => `
  fault_${v}:
    mov r11, ${v}
    ${WITH_ERROR_CODE.includes(v) ? 'pop r12' : 'mov r12, -1'}
    mov r13, [rsp]
    mov [rsp], r10
    iretq`).join('\n');
  return `
    ${handlers}
    .align 16
  gdt:
    .quad 0
    .quad 0x00209a0000000000             ; 08H: 64-bit code (L), present, DPL 0
    .quad 0x0000920000000000             ; 10H: data, read/write, present
  gdtr:
    .word 23
    .quad gdt
  idtr:
    .word ${32 * 16 - 1}
    .quad idt
    .align 16
  idt:
    .space ${32 * 16}`;
}

/** Runs `insn` with exceptions caught; `label` names the instruction after it. */
export function attempt(label: string, insn: string): string {
  return `
    lea r10, [rip + ${label}]
    mov r11, -1
    ${insn}
  ${label}:`;
}

/** Goes to `fail` unless the last attempt raised `vector` (with error code `errorCode`, when given). */
export function expectFault(fail: string, vector: number, errorCode?: number): string {
  return `
    cmp r11, ${vector}
    jne ${fail}${errorCode === undefined ? '' : `
    cmp r12, ${errorCode}
    jne ${fail}`}`;
}

/** Goes to `fail` if the last attempt raised anything. */
export const expectNoFault = (fail: string): string => `
    cmp r11, -1
    jne ${fail}`;
