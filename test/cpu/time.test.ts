/**
 * RDTSC, RDTSCP, RDPID (SDM Vol. 2B) on the instruction-count time base:
 * TSC = TSC_TICKS_PER_INSTRUCTION × retired instructions + tscOffset
 * (cpu/tsc.ts, DESIGN decision 3). The expected counts are the number of
 * instructions (and REP iterations) retired before the read.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { TSC_TICKS_PER_INSTRUCTION } from '../../cpu/tsc.ts';
import { CODE_BASE, runAsm, type TestCore } from '../support/machine.ts';

const TICKS = BigInt(TSC_TICKS_PER_INSTRUCTION);
const CR4_TSD = 4;
const tsc = (t: TestCore, hiReg: 'rdx' | 'rcx' = 'rdx') => (t.reg(hiReg) << 32n) | t.reg('rax');

describe('RDTSC', () => {
  it('reads ticks × retired instructions + offset into EDX:EAX, clearing the upper halves', async () => {
    const offset = 0x123456789a0n;
    const t = await runAsm('nop\nnop\nrdtsc', {
      regs: { rax: -1n, rdx: -1n },
      setup: (t) => { t.cpu.tscOffset = Number(offset); },
    });
    expect(t.reg('rax')).toBe((TICKS * 2n + offset) & 0xffffffffn);
    expect(t.reg('rdx')).toBe((TICKS * 2n + offset) >> 32n);
  });

  it('advances by ticks per instruction between two reads, counting each REP iteration', async () => {
    const t = await runAsm(`
      rdtsc
      mov esi, eax
      mov ecx, 100
      rep stosb
      nop
      rdtsc`, { regs: { rdi: 0x5000n } });
    // Retired before the second RDTSC: rdtsc, mov, mov, 100 iterations, nop.
    expect(t.reg('rax') - t.reg('rsi')).toBe(TICKS * 104n);
  });

  it('wraps modulo 2^64 when an offset takes it below zero', async () => {
    const t = await runAsm('rdtsc', { setup: (t) => { t.cpu.tscOffset = -10; } });
    expect(tsc(t)).toBe(BigInt.asUintN(64, -10n));
  });

  it('CR4.TSD makes it privileged in protected mode: #GP(0) at CPL 3, allowed at CPL 0', async () => {
    const gp = await runAsm('rdtsc', { setup: (t) => { t.cpu.cr4 |= CR4_TSD; t.cpu.cpl = 3; } });
    expect(gp.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
    const ok = await runAsm('nop\nrdtsc', { setup: (t) => { t.cpu.cr4 |= CR4_TSD; } });
    expect(ok.stop.kind).toBe('halt');
    expect(tsc(ok)).toBe(TICKS);
  });
});

describe('RDTSCP', () => {
  it('reads the TSC and IA32_TSC_AUX into ECX, clearing upper halves', async () => {
    const t = await runAsm('nop\nrdtscp', {
      regs: { rax: -1n, rcx: -1n, rdx: -1n },
      setup: (t) => { t.cpu.tscAux = 0x8000_0007 | 0; },
    });
    expect(t.reg('rcx')).toBe(0x80000007n);
    expect(tsc(t)).toBe(TICKS);
    expect(t.reg('rdx')).toBe(0n);
  });

  it('honours CR4.TSD like RDTSC', async () => {
    const t = await runAsm('rdtscp', { setup: (t) => { t.cpu.cr4 |= CR4_TSD; t.cpu.cpl = 3; } });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
  });
});

describe('RDPID (F3 0F C7 /7)', () => {
  it('reads IA32_TSC_AUX zero-extended into a 64-bit register in 64-bit mode', async () => {
    const t = await runAsm('.byte 0xf3, 0x0f, 0xc7, 0xf8\n.byte 0xf3, 0x41, 0x0f, 0xc7, 0xf9', {
      regs: { rax: -1n, r9: -1n },
      setup: (t) => { t.cpu.tscAux = 0xfedcba98 | 0; },
    });
    expect(t.reg('rax')).toBe(0xfedcba98n);
    expect(t.reg('r9')).toBe(0xfedcba98n);
  });

  it('writes a 32-bit register in 32-bit mode', async () => {
    const t = await runAsm('.byte 0xf3, 0x0f, 0xc7, 0xfb', { bits: 32, setup: (t) => { t.cpu.tscAux = 42; } });
    expect(t.reg('rbx')).toBe(42n);
  });

  it('is not affected by CR4.TSD', async () => {
    const t = await runAsm('.byte 0xf3, 0x0f, 0xc7, 0xf8', { setup: (t) => { t.cpu.tscAux = 3; t.cpu.cr4 |= CR4_TSD; t.cpu.cpl = 3; } });
    expect(t.reg('rax')).toBe(3n);
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE + 4 }); // the HLT at CPL 3
  });
});
