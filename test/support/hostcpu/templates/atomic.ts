/**
 * XADD (SDM Vol. 2B), CMPXCHG (Vol. 2A) on registers and memory, with and
 * without LOCK, and CMPXCHG8B/CMPXCHG16B (Vol. 2A) including a misaligned
 * CMPXCHG16B operand (#GP(0)). Half the cases make the accumulator equal
 * the destination so both outcomes of the comparison are exercised.
 */
import fc from 'fast-check';
import { regIndex, scratchWrite, SCRATCH_MID, type CaseInput } from '../gen.ts';
import { ptr, reg, SIZES, type Template } from '../template.ts';

const RAX = regIndex('rax'), RDX = regIndex('rdx'), RDI = regIndex('rdi');
const lowMask = (bits: number) => (1n << BigInt(bits)) - 1n;
const mem = { regs: { rdi: fc.constantFrom(-16, -8, 0, 8).map((d) => BigInt(SCRATCH_MID + d)) }, scratch: true };

/** Half the time, set the low `bits` of RAX to the destination register's. */
function equalRegs(dest: number, bits: number) {
  return (x: CaseInput) => {
    if (x.pick % 2) return;
    const m = lowMask(bits);
    x.regs[RAX] = (x.regs[RAX]! & ~m) | (x.regs[dest]! & m);
  };
}

/** Half the time, store the accumulator (EDX:EAX or RDX:RAX for the 8B/16B forms) at [RDI]. */
function equalMemory(bytes: number) {
  return (x: CaseInput) => {
    if (x.pick % 2) return;
    const la = x.regs[RDI]!;
    if (bytes <= 8) {
      scratchWrite(x, la, bytes, x.regs[RAX]!);
    } else {
      scratchWrite(x, la, 8, x.regs[RAX]!);
      scratchWrite(x, la + 8n, 8, x.regs[RDX]!);
    }
  };
}

/** CMPXCHG8B compares EDX:EAX, a pair of 32-bit halves. */
function equalMemory8b(x: CaseInput): void {
  if (x.pick % 2) return;
  const v = ((x.regs[RDX]! & 0xffffffffn) << 32n) | (x.regs[RAX]! & 0xffffffffn);
  scratchWrite(x, x.regs[RDI]!, 8, v);
}

export const ATOMIC_TEMPLATES: Template[] = [];
for (const bits of SIZES) {
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `xadd ${reg('c', bits)}, ${reg('d', bits)}` });
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `xadd ${ptr(bits)} [rdi], ${reg('d', bits)}`, inputs: mem });
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `lock xadd ${ptr(bits)} [rdi], ${reg('d', bits)}`, inputs: mem });
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `cmpxchg ${reg('c', bits)}, ${reg('d', bits)}`, couple: equalRegs(regIndex('rcx'), bits) });
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `cmpxchg ${ptr(bits)} [rdi], ${reg('d', bits)}`, inputs: mem, couple: equalMemory(bits / 8) });
  ATOMIC_TEMPLATES.push({ family: 'atomic', asm: `lock cmpxchg ${ptr(bits)} [rdi], ${reg('d', bits)}`, inputs: mem, couple: equalMemory(bits / 8) });
}
ATOMIC_TEMPLATES.push(
  { family: 'atomic', asm: 'xadd ecx, ecx' },
  { family: 'atomic', asm: 'xadd bh, ah' },
  { family: 'atomic', asm: 'cmpxchg ah, bh', couple: (x) => { if (x.pick % 2 === 0) x.regs[RAX] = (x.regs[RAX]! & ~0xffn) | ((x.regs[RAX]! >> 8n) & 0xffn); } },
  { family: 'atomic', asm: 'cmpxchg eax, edx', couple: equalRegs(RAX, 32) },
  { family: 'atomic', asm: `cmpxchg8b ${ptr(64)} [rdi]`, inputs: mem, couple: equalMemory8b },
  { family: 'atomic', asm: `lock cmpxchg8b ${ptr(64)} [rdi]`, inputs: mem, couple: equalMemory8b },
  { family: 'atomic', asm: 'cmpxchg16b xmmword ptr [rdi]', inputs: mem, couple: equalMemory(16), needs: 'cx16' },
  { family: 'atomic', asm: 'lock cmpxchg16b xmmword ptr [rdi]', inputs: mem, couple: equalMemory(16), needs: 'cx16' },
);
