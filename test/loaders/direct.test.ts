/**
 * The direct loaders for the project's own programs: a raw flat binary at
 * an address (real mode, flat 32-bit or flat 64-bit entry) and an x86-64
 * ELF entered in 64-bit mode on identity page tables (SDM Vol. 3A §4.5:
 * PML4 → PDPT with 1-GByte pages).
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';
import { writeElf } from '../support/elf.ts';

describe('flat binaries', () => {
  it('64-bit: entered at the load address in 64-bit mode with CR3 at identity tables', async () => {
    const m = new Machine({ memoryMiB: 8 });
    m.loadFlat(await asm('mov rax, 0x123456789\nhlt', 64, 0x40000), { fileName: 'p.bin', address: 0x40000, bits: 64 });
    const c = m.probe.core(0);
    expect(c.mode).toBe(64);
    expect(c.efer & 0x500).toBe(0x500); // LME, LMA
    expect(c.cr0 >>> 31).toBe(1); // PG
    expect(c.cr4 & 0x20).toBe(0x20); // PAE
    expect(c.cr3).toBe(0x9d000);
    // PML4[0] → PDPT at 0x9e000 (P, RW, U/S, A); PDPT[k] maps k GiB with PS (bit 7), P, RW, U/S,
    // and A/D preset (cpu/memory/identityMap.ts); at least 4 GiB.
    expect(m.probe.read32(0x9d000)).toBe(0x9e000 | 0x27);
    for (let k = 0; k < 4; k++) {
      expect(m.probe.read32(0x9e000 + 8 * k)).toBe(((k & 3) * 0x40000000 + 0xe7) >>> 0);
      expect(m.probe.read32(0x9e000 + 8 * k + 4)).toBe(0);
    }
    expect(m.probe.read32(0x9e000 + 8 * 4)).toBe(0);
    expect(m.run()).toEqual({ kind: 'idle' });
    expect(m.probe.core(0).regs.rax).toBe(0x123456789n);
  });

  it('32-bit: entered at a separate entry point in flat protected mode', async () => {
    const m = new Machine({ memoryMiB: 8 });
    const code = await asm('mov eax, 1\nhlt\nmov eax, 2\nhlt', 32, 0x20000);
    m.loadFlat(code, { fileName: 'p.bin', address: 0x20000, bits: 32, entry: 0x20000 + 6 });
    m.run();
    expect(m.probe.core(0).regs.rax).toBe(2n);
    expect(m.probe.core(0).mode).toBe(32);
  });

  it('16-bit: entered in real mode with CS:IP = (address >> 4):(address & 0xF)', async () => {
    const m = new Machine({ memoryMiB: 2 });
    m.loadFlat(await asm('mov ax, 0x1234\nhlt', 16, 0x3), { fileName: 'p.bin', address: 0x12343, bits: 16 });
    const c = m.probe.core(0);
    expect(c.segments.cs.selector).toBe(0x1234);
    expect(c.segments.cs.base).toBe(0x12340);
    expect(c.rip).toBe(3n);
    m.run();
    expect(m.probe.core(0).regs.rax).toBe(0x1234n);
  });
});

describe('x86-64 ELF programs', () => {
  it('copies the segments (zero-filling to p_memsz) and enters at e_entry in 64-bit mode', async () => {
    const code = await asm('mov ebx, 0x500000\nmov rax, [rbx]\nmov rcx, [rbx + 8]\nhlt', 64, 0x400000);
    const data = Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1);
    const m = new Machine({ memoryMiB: 8 });
    m.phys.load(0x500000, new Uint8Array(16).fill(0xee));
    m.loadElf64(writeElf({ bits: 64, entry: 0x400000, segments: [{ paddr: 0x400000, data: code }, { paddr: 0x500000, data, memsz: 16 }] }), 'prog.elf');
    expect(Array.from(m.probe.read(0x500000, 16))).toEqual([...data, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.probe.core(0).rip).toBe(0x400000n);
    m.run();
    expect(m.probe.core(0).regs.rax).toBe(0x0102030405060708n);
    expect(m.probe.core(0).regs.rcx).toBe(0n);
  });
});
