/**
 * Decoded-code cache coherence (DESIGN decision 6): a write to a page that
 * holds decoded instructions is seen by the next fetch, including a write
 * to the very block that is executing (self-modifying code).
 */
import { describe, expect, it } from 'vitest';
import { runAsm } from '../support/machine.ts';

describe('self-modifying code', () => {
  it('patching an immediate later in the same block takes effect', async () => {
    // Overwrite the imm32 of "mov eax, 1" (at label p, opcode B8) with 42 before reaching it.
    const t = await runAsm('mov dword ptr [rip + p + 1 - 0], 42\np: mov eax, 1');
    expect(t.reg('rax')).toBe(42n);
  });
  it('code rewritten between two executions of a loop body', async () => {
    const t = await runAsm(`
      xor ebx, ebx
      mov ecx, 2
    again:
    body: mov eax, 1
      add ebx, eax
      mov byte ptr [rip + body + 1], 10
      dec ecx
      jnz again`);
    expect(t.reg('rbx')).toBe(11n);
    expect(t.cpu.blocks.invalidations).toBeGreaterThan(0);
  });
  it('a write to a data page next to code does not disturb the code', async () => {
    const t = await runAsm('mov ecx, 1000\nl: mov [0x5000], ecx\ndec ecx\njnz l\nmov eax, 3');
    expect(t.reg('rax')).toBe(3n);
    expect(t.cpu.blocks.invalidations).toBe(0);
  });
});

describe('instruction budget', () => {
  it('run(n) retires exactly n instructions and resumes where it stopped', async () => {
    const t = await runAsm('l: inc rax\njmp l', { max: 7 });
    expect(t.stop.kind).toBe('limit');
    expect(t.cpu.icount).toBe(7);
    expect(t.reg('rax')).toBe(4n);
    t.run(5);
    expect(t.cpu.icount).toBe(12);
    expect(t.reg('rax')).toBe(6n);
  });
});

describe('instruction budget inside an STI shadow', () => {
  it('run(1) retires one instruction even while an event waits for the shadow to end (SDM Vol. 3A §6.8.3)', async () => {
    const t = await runAsm('sti\nnop\nnop\nnop', { max: 1 });
    expect(t.cpu.icount).toBe(1); // the STI
    t.cpu.eventsPending = true; // something pending: the loop now bounds blocks by the shadow's end
    t.run(1);
    expect(t.cpu.icount).toBe(2);
    t.run(1);
    expect(t.cpu.icount).toBe(3);
  });
});
