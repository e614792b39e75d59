/**
 * Data movement (SDM Vol. 2A/2B, each instruction's page): MOV, MOVZX,
 * MOVSX, MOVSXD, MOVBE, LEA, XCHG, CMOVcc, BSWAP, CBW/CWDE/CDQE and
 * CWD/CDQ/CQO, and the flag instructions CLC STC CMC CLD STD LAHF SAHF.
 * The interesting parts are the register-write rules (SDM Vol. 1
 * §3.4.1.1): 32-bit writes zero the upper half, even a CMOV whose condition
 * is false and XCHG EAX, EAX written as 87 C0; 8/16-bit writes don't.
 */
import { pointer, regIndex } from '../gen.ts';
import { CONDITIONS } from './bits.ts';
import { ptr, type Template } from '../template.ts';
import { byteSwap16 } from '../undefinedFlags.ts';

const mem = { regs: { rdi: pointer(-8, 8) }, scratch: true };
const mov = (asm: string, rest: Partial<Template> = {}): Template => ({ family: 'mov', asm, ...rest });

export const MOV_TEMPLATES: Template[] = [
  mov('mov cl, dl'), mov('mov bh, cl'), mov('mov r9b, sil'), mov('mov cx, dx'), mov('mov ecx, edx'), mov('mov rcx, rdx'),
  mov('mov bh, IMM', { immBytes: 1 }), mov('mov cx, IMM', { immBytes: 2 }), mov('mov ecx, IMM', { immBytes: 4 }),
  mov('mov rcx, IMM', { immBytes: 4 }), mov('movabs rcx, IMM', { immBytes: 8 }),
  mov(`mov ${ptr(32)} [rdi], ecx`, { inputs: mem }), mov(`mov rdx, ${ptr(64)} [rdi]`, { inputs: mem }),
  mov(`mov ${ptr(8)} [rdi], bh`, { inputs: mem }), mov(`mov ${ptr(16)} [rdi], IMM`, { immBytes: 2, inputs: mem }),
  mov(`movbe ecx, ${ptr(32)} [rdi]`, { inputs: mem, needs: 'movbe' }), mov(`movbe cx, ${ptr(16)} [rdi]`, { inputs: mem, needs: 'movbe' }),
  mov(`movbe ${ptr(64)} [rdi], rdx`, { inputs: mem, needs: 'movbe' }),
];
for (const op of ['movzx', 'movsx']) {
  MOV_TEMPLATES.push(
    mov(`${op} ecx, dl`), mov(`${op} ecx, dh`), mov(`${op} cx, bl`), mov(`${op} rcx, dl`), mov(`${op} r9, sil`),
    mov(`${op} ecx, dx`), mov(`${op} rcx, dx`), mov(`${op} rcx, ${ptr(8)} [rdi]`, { inputs: mem }),
  );
}
// MOVZX/MOVSX r16, r/m16 (66 0F B7/BF) is a plain 16-bit move; keystone refuses to write it.
MOV_TEMPLATES.push(
  mov('.byte 0x66, 0x0f, 0xb7, 0xca', { name: 'movzx cx, dx' }),
  mov('.byte 0x66, 0x0f, 0xbf, 0xca', { name: 'movsx cx, dx' }),
);
MOV_TEMPLATES.push(
  mov('movsxd rcx, edx'), mov('.byte 0x63, 0xca', { name: 'movsxd ecx, edx (63 /r without REX.W)' }),
  mov(`movsxd rcx, ${ptr(32)} [rdi]`, { inputs: mem }),
  mov('bswap ecx'), mov('bswap rcx'), mov('bswap r9d'),
  mov('.byte 0x66, 0x0f, 0xc9', { name: 'bswap cx', undef: () => byteSwap16(regIndex('rcx')) }),
  mov('cbw'), mov('cwde'), mov('cdqe'), mov('cwd'), mov('cdq'), mov('cqo'),
  mov('xchg cl, dl'), mov('xchg ah, bl'), mov('xchg ecx, edx'), mov('xchg rcx, rdx'), mov('xchg eax, ebx'), mov('xchg ax, bx'),
  mov('xchg r8, rax'), mov(`xchg ${ptr(32)} [rdi], ecx`, { inputs: mem }),
  mov('.byte 0x87, 0xc0', { name: 'xchg eax, eax (87 C0)' }), mov('.byte 0x90', { name: 'nop (90)' }),
  mov('.byte 0x41, 0x90', { name: 'xchg r8d, eax (41 90)' }),
  // LEA: IMM is the displacement (the last field when there is no immediate).
  mov('lea rax, [rbx+rcx*4+IMM]', { immBytes: 4 }), mov('lea rax, [rbx+rcx*2+IMM]', { immBytes: 1 }),
  mov('lea r10, [r11+r12*8+IMM]', { immBytes: 4 }), mov('lea rax, [rcx*8+IMM]', { immBytes: 4 }),
  mov('lea rax, [rbp+IMM]', { immBytes: 1 }), mov('lea eax, [rbx+rcx*8+IMM]', { immBytes: 4 }),
  mov('lea ax, [rbx+rcx+IMM]', { immBytes: 1 }), mov('lea eax, [ebx+ecx*2+IMM]', { immBytes: 1 }),
  mov('lea rax, [ebx+ecx*4+IMM]', { immBytes: 4 }), mov('lea ax, [ebx+IMM]', { immBytes: 4 }),
);
for (const cc of CONDITIONS) MOV_TEMPLATES.push(mov(`cmov${cc} ecx, edx`));
for (const cc of ['b', 'e', 'l', 'p']) MOV_TEMPLATES.push(mov(`cmov${cc} rcx, rdx`), mov(`cmov${cc} cx, dx`));
MOV_TEMPLATES.push(mov(`cmove ecx, ${ptr(32)} [rdi]`, { inputs: mem }));

export const FLAG_TEMPLATES: Template[] = ['clc', 'stc', 'cmc', 'cld', 'std', 'lahf', 'sahf'].map((asm) => ({ family: 'flags', asm }));
