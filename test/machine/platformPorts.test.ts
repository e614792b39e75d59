/**
 * The small port devices: isa-debug-exit at 0xf4 (exit code (v << 1) | 1,
 * as QEMU computes it) and PCI configuration mechanism #1 on an empty bus
 * (PCI Local Bus Specification 3.0 §3.2.2.3.2) with the chipset's reset
 * control register at 0xcf9.
 */
import { describe, expect, it } from 'vitest';
import { DebugExit, debugExitCode } from '../../cpu/devices/debugExit.ts';
import { PciConfigSpace } from '../../cpu/devices/pciConfig.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';

describe('isa-debug-exit', () => {
  it.each([
    [1, 0x00, 1], [1, 0x01, 3], [1, 0x7f, 0xff], [1, 0x1ff, 0x1ff] /* only the byte 0xff is written */, [2, 0x1234, 0x2469], [4, 0xffffffff, 0x1ffffffff],
  ])('a %i-byte write of %s exits with %s', (size, value, code) => {
    const codes: number[] = [];
    new DebugExit((c) => codes.push(c)).write(0xf4, size, value);
    expect(codes).toEqual([code]);
  });

  it('computes the code as QEMU does, (value << 1) | 1, exactly for 32-bit values', () => {
    expect(debugExitCode(0x80000000)).toBe(2 ** 32 + 1);
    expect(debugExitCode(0x21) % 256).toBe(0x43);
  });

  it('reads as all ones', () => {
    expect(new DebugExit(() => {}).read(0xf4, 1)).toBe(0xff);
  });

  it('stops a machine from a 16-bit real-mode guest too', async () => {
    const m = new Machine({ memoryMiB: 2 });
    m.loadFlat(await asm('mov al, 7\nout 0xf4, al\nhlt', 16, 0x7c00), { fileName: 'boot', address: 0x7c00, bits: 16 });
    expect(m.run()).toEqual({ kind: 'exit', code: 15 });
  });
});

describe('PCI configuration space with no devices', () => {
  const dev = () => {
    let resets = 0;
    const pci = new PciConfigSpace(() => resets++);
    return { pci, resets: () => resets };
  };

  it('CONFIG_ADDRESS reads back bit 31, bus, device, function and register, with bits 30:24 and 1:0 as 0', () => {
    const { pci } = dev();
    pci.write(0xcf8, 4, 0xffffffff);
    expect(pci.read(0xcf8, 4) >>> 0).toBe(0x80fffffc);
    pci.write(0xcf8, 4, 0x80000000);
    expect(pci.read(0xcf8, 4) >>> 0).toBe(0x80000000);
  });

  it('CONFIG_DATA reads all ones (vendor ID FFFFh: no device) at every width and ignores writes', () => {
    const { pci } = dev();
    pci.write(0xcf8, 4, 0x80000000); // bus 0, device 0, function 0, register 0
    pci.write(0xcfc, 4, 0x12345678);
    expect(pci.read(0xcfc, 4)).toBe(-1);
    expect(pci.read(0xcfc, 2)).toBe(0xffff);
    expect(pci.read(0xcfe, 1)).toBe(0xff);
  });

  it('byte and word accesses to 0xcf8-0xcfb are not configuration cycles', () => {
    const { pci } = dev();
    pci.write(0xcf8, 4, 0x80001234);
    pci.write(0xcf8, 1, 0);
    pci.write(0xcfa, 2, 0);
    expect(pci.read(0xcf8, 4) >>> 0).toBe(0x80001234);
    expect(pci.read(0xcf8, 2)).toBe(0xffff);
  });

  it('the reset control register (0xcf9) requests a reset when RST_CPU (bit 2) goes from 0 to 1', () => {
    const { pci, resets } = dev();
    pci.write(0xcf9, 1, 0x02); // SYS_RST alone: no reset
    expect(resets()).toBe(0);
    expect(pci.read(0xcf9, 1)).toBe(0x02);
    pci.write(0xcf9, 1, 0x06);
    expect(resets()).toBe(1);
    pci.write(0xcf9, 1, 0x06); // no new 0 → 1 transition
    expect(resets()).toBe(1);
  });

  it('a guest probing for mechanism #1 reads its address back and finds no device on bus 0', async () => {
    const m = new Machine({ memoryMiB: 4 });
    m.loadFlat(await asm(`
      mov dx, 0xcf8
      mov eax, 0x80000000
      out dx, eax
      in eax, dx
      mov ebx, eax
      mov dx, 0xcfc
      in eax, dx
      hlt`, 32, 0x10000), { fileName: 'test', address: 0x10000, bits: 32 });
    m.run();
    const r = m.probe.core(0).regs;
    expect(r.rbx).toBe(0x80000000n);
    expect(r.rax).toBe(0xffffffffn);
  });
});
