/**
 * MMIO under L1 (EPT violations, reason 48, SDM Vol. 3C §29.3.3.2, on a
 * device region outside guest RAM; hypervisor/exits/mmioEmulation.ts):
 * the guest maps a 4-KByte register block of a scratch device at
 * guest-physical C0000000H with a 1-GByte page of its own (and again at
 * linear 40000000H), stores bytes, words, dwords and qwords from
 * registers (AH, R9B, RSP included) and immediates, loads them back with
 * the zero- and merge-extension rules of Vol. 1 §3.4.1.1, and does one
 * access from code it runs through an alias mapping, so that L1 must read
 * the instruction through the guest's page tables.
 */
import type { AccessSize, MmioDevice } from '../../hypervisor/mmio.ts';
import { GUEST_PAGE_TABLES } from '../../hypervisor/vm.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

export const SCRATCH_GPA = 0xc0000000, SCRATCH_SIZE = 0x1000;
/** The guest's own mappings: PDPT entries of 1-GByte pages (P, R/W, PS), SDM Vol. 3A §4.5 Table 4-16. */
const PDPT = GUEST_PAGE_TABLES + 0x1000, PAGE_1G = 0x83;
const DEVICE_ALIAS = 0x40000000, CODE_ALIAS = 0x80000000;

/** A device whose registers hold what is stored to them, little-endian like memory, and which logs every access. */
export class ScratchDevice implements MmioDevice {
  readonly name = 'scratch';
  readonly log: [op: 'read' | 'write', offset: number, size: AccessSize, value: bigint][] = [];
  private readonly bytes = new Uint8Array(SCRATCH_SIZE);

  read(offset: number, size: AccessSize): bigint {
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(this.bytes[offset + k]!);
    this.log.push(['read', offset, size, v]);
    return v;
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    for (let k = 0; k < size; k++) this.bytes[offset + k] = Number((value >> BigInt(8 * k)) & 0xffn);
    this.log.push(['write', offset, size, value]);
  }
}

const expect64 = (reg: string, value: bigint, fail: string): string => `
    mov r15, 0x${value.toString(16)}
    cmp ${reg}, r15
    jne ${fail}`;

export default {
  name: 'mmio',
  description: 'MMIO: MOV stores and loads of 1-8 bytes to a scratch device, emulated by L1 from the decoded instruction',
  expect: { kind: 'passed' },
  setup(vm) {
    vm.addMmio(SCRATCH_GPA, SCRATCH_SIZE, new ScratchDevice());
  },
  source: `
    mov rdi, ${PDPT}
    mov rax, 0x${(SCRATCH_GPA + PAGE_1G).toString(16)}
    mov [rdi + 24], rax            ; linear C0000000H: the device, identity
    mov [rdi + 8], rax             ; linear 40000000H: the device again
    mov qword ptr [rdi + 16], ${PAGE_1G}   ; linear 80000000H: guest RAM from 0
    mov rsi, 0x${SCRATCH_GPA.toString(16)}
    ; Stores (offsets 0-39).
    mov byte ptr [rsi], 0x11                      ; C6: 1 byte
    mov word ptr [rsi + 2], 0x2233                ; C7 with 66H: 2 bytes
    mov dword ptr [rsi + 4], 0x44556677           ; C7: 4 bytes
    mov rax, 0x8877665544332211
    mov [rsi + 8], rax                            ; 89: 8 bytes
    mov qword ptr [rsi + 16], -2                  ; C7 REX.W: imm32 sign-extended
    mov [rsi + 24], ah                            ; 88: AH (22H)
    mov r9, 0x99
    mov [rsi + 25], r9b                           ; 88 with REX: R9B
    mov r10, 0xabcd
    mov [rsi + 26], r10w                          ; 89 with 66H
    mov [rsi + 32], rsp                           ; 89: RSP, which the VMCS holds
    ; Loads.
    mov rbx, [rsi + 8]
    ${expect64('rbx', 0x8877665544332211n, 'load64')}
    mov rcx, -1
    mov ecx, [rsi + 4]                            ; 32 bits: zero-extended
    ${expect64('rcx', 0x44556677n, 'load32')}
    mov rdx, -1
    mov dx, [rsi + 2]                             ; 16 bits: RDX[63:16] kept
    ${expect64('rdx', 0xffffffffffff2233n, 'load16')}
    mov r8, -1
    mov r8b, [rsi]                                ; 8 bits: R8[63:8] kept
    ${expect64('r8', 0xffffffffffffff11n, 'load8')}
    xor ebx, ebx
    mov bh, [rsi + 25]                            ; 8A: BH
    ${expect64('rbx', 0x9900n, 'load_bh')}
    mov rdi, [rsi + 16]
    ${expect64('rdi', 0xfffffffffffffffen, 'load_imm')}
    xor eax, eax
    mov ax, [rsi + 26]
    ${expect64('rax', 0xabcdn, 'load_r10w')}
    mov r14, rsp
    mov rsp, [rsi + 32]                           ; 8B into RSP
    cmp rsp, r14
    jne load_rsp
    mov rax, 0x${DEVICE_ALIAS.toString(16)}
    mov r12, [rax + 8]                            ; the same register through the alias
    ${expect64('r12', 0x8877665544332211n, 'load_alias')}
    ; From code at another linear address: L1 reads it through the guest's paging.
    lea rax, [rip + aliased]
    mov rcx, 0x${CODE_ALIAS.toString(16)}
    add rax, rcx
    jmp rax
  aliased:
    mov dword ptr [rsi + 36], 0x5a5a5a5a
    mov eax, [rsi + 36]
    lea rdx, [rip + back]
    sub rdx, rcx
    jmp rdx
  back:
    cmp eax, 0x5a5a5a5a
    jne load_aliased
    ${print('passed')}
    ${done()}
    ${failure('load64', 'MOV r64 from MMIO: wrong value')}
    ${failure('load32', 'MOV r32 from MMIO: wrong value or not zero-extended')}
    ${failure('load16', 'MOV r16 from MMIO: wrong value or RDX[63:16] changed')}
    ${failure('load8', 'MOV r8 from MMIO: wrong value or R8[63:8] changed')}
    ${failure('load_bh', 'MOV BH from MMIO: wrong value')}
    ${failure('load_imm', 'a sign-extended imm32 store did not read back')}
    ${failure('load_r10w', 'MOV AX from MMIO after a 16-bit store: wrong value')}
    ${failure('load_rsp', 'RSP stored to MMIO and loaded back changed')}
    ${failure('load_alias', 'the device reads differently through its alias mapping')}
    ${failure('load_aliased', 'an access from aliased code read the wrong value')}
    ${string('passed', 'MMIO stores and loads of every size behave\n')}`,
} satisfies L2Guest;
