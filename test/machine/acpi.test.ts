/**
 * The ACPI tables in guest memory, found and parsed back the way an OS
 * does (ACPI 6.4 §5.2.5.1: scan 0xE0000-0xFFFFF on 16-byte boundaries for
 * "RSD PTR "), with every checksum and the MADT's entries checked.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../cpu/machine/machine.ts';

function tables(cpus: number) {
  const m = new Machine({ cpus, memoryMiB: 16 });
  const bytes = (addr: number, n: number) => m.probe.read(addr, n);
  const u8 = (addr: number) => bytes(addr, 1)[0]!;
  const u16 = (addr: number) => u8(addr) | (u8(addr + 1) << 8);
  const u32 = (addr: number) => m.probe.read32(addr);
  const u64 = (addr: number) => u32(addr) + u32(addr + 4) * 2 ** 32;
  const ascii = (addr: number, n: number) => String.fromCharCode(...bytes(addr, n));
  const sum = (addr: number, n: number) => bytes(addr, n).reduce((a, b) => a + b, 0) & 0xff;
  let rsdp = -1;
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (ascii(a, 8) === 'RSD PTR ') { rsdp = a; break; }
  }
  return { m, bytes, u8, u16, u32, u64, ascii, sum, rsdp };
}

/** Checks a table's header (ACPI §5.2.6) and checksum; returns its length. */
function checkTable(t: ReturnType<typeof tables>, addr: number, signature: string): number {
  expect(t.ascii(addr, 4)).toBe(signature);
  const length = t.u32(addr + 4);
  expect(t.sum(addr, length)).toBe(0);
  expect(t.ascii(addr + 10, 6)).toBe('TURTLE');
  return length;
}

describe('RSDP (ACPI 6.4 §5.2.5.3)', () => {
  it('is found by the BIOS-area scan, revision 2, with both checksums correct', () => {
    const t = tables(1);
    expect(t.rsdp).toBeGreaterThanOrEqual(0xe0000);
    expect(t.sum(t.rsdp, 20)).toBe(0);
    expect(t.u8(t.rsdp + 15)).toBe(2);
    expect(t.u32(t.rsdp + 20)).toBe(36);
    expect(t.sum(t.rsdp, 36)).toBe(0);
  });

  it('the EBDA segment in the BIOS data area (0x40E) points below 640 KiB', () => {
    const t = tables(1);
    expect(t.u16(0x40e)).toBe(0x9fc0);
    expect(t.u16(0x413)).toBe(639);
  });
});

describe('RSDT, XSDT, FADT, DSDT', () => {
  it('RSDT and XSDT point at the same FADT and MADT', () => {
    const t = tables(2);
    const rsdt = t.u32(t.rsdp + 16);
    const xsdt = t.u64(t.rsdp + 24);
    const rl = checkTable(t, rsdt, 'RSDT');
    const xl = checkTable(t, xsdt, 'XSDT');
    const r = Array.from({ length: (rl - 36) / 4 }, (_, k) => t.u32(rsdt + 36 + 4 * k));
    const x = Array.from({ length: (xl - 36) / 8 }, (_, k) => t.u64(xsdt + 36 + 8 * k));
    expect(r).toEqual(x);
    expect(r.map((a) => t.ascii(a, 4)).sort()).toEqual(['APIC', 'FACP']);
  });

  it('the FADT (revision 6, 276 bytes) is hardware-reduced and points at a valid DSDT through DSDT and X_DSDT', () => {
    const t = tables(1);
    const fadt = Array.from({ length: 2 }, (_, k) => t.u32(t.u32(t.rsdp + 16) + 36 + 4 * k)).find((a) => t.ascii(a, 4) === 'FACP')!;
    expect(checkTable(t, fadt, 'FACP')).toBe(276);
    expect(t.u8(fadt + 8)).toBe(6);
    expect(t.u8(fadt + 131)).toBe(4); // FADT minor version: ACPI 6.4
    const flags = t.u32(fadt + 112);
    expect(flags & (1 << 20)).not.toBe(0); // HW_REDUCED_ACPI
    expect(t.u32(fadt + 36)).toBe(0); // FIRMWARE_CTRL: no FACS
    const dsdt = t.u32(fadt + 40);
    expect(t.u64(fadt + 140)).toBe(dsdt);
    expect(checkTable(t, dsdt, 'DSDT')).toBe(36);
    expect(t.u8(dsdt + 8)).toBe(2); // 64-bit AML integers
  });
});

describe('MADT (ACPI 6.4 §5.2.12)', () => {
  it.each([1, 4, 64])('lists %i enabled local APICs, the IOAPIC, IRQ0 → GSI 2 and LINT1 NMI', (cpus) => {
    const t = tables(cpus);
    const madt = Array.from({ length: 2 }, (_, k) => t.u32(t.u32(t.rsdp + 16) + 36 + 4 * k)).find((a) => t.ascii(a, 4) === 'APIC')!;
    const length = checkTable(t, madt, 'APIC');
    expect(t.u32(madt + 36)).toBe(0xfee00000); // local interrupt controller address
    expect(t.u32(madt + 40)).toBe(1); // PCAT_COMPAT
    const lapics: { uid: number; id: number; flags: number }[] = [];
    const ioapics: { id: number; address: number; gsiBase: number }[] = [];
    const overrides: { bus: number; source: number; gsi: number; flags: number }[] = [];
    const nmis: { uid: number; flags: number; lint: number }[] = [];
    for (let at = madt + 44; at < madt + length;) {
      const type = t.u8(at), len = t.u8(at + 1);
      if (type === 0) lapics.push({ uid: t.u8(at + 2), id: t.u8(at + 3), flags: t.u32(at + 4) });
      else if (type === 1) ioapics.push({ id: t.u8(at + 2), address: t.u32(at + 4), gsiBase: t.u32(at + 8) });
      else if (type === 2) overrides.push({ bus: t.u8(at + 2), source: t.u8(at + 3), gsi: t.u32(at + 4), flags: t.u16(at + 8) });
      else if (type === 4) nmis.push({ uid: t.u8(at + 2), flags: t.u16(at + 3), lint: t.u8(at + 5) });
      expect(len).toBe({ 0: 8, 1: 12, 2: 10, 4: 6 }[type]);
      at += len;
    }
    expect(lapics).toEqual(Array.from({ length: cpus }, (_, k) => ({ uid: k, id: k, flags: 1 })));
    expect(ioapics).toEqual([{ id: 0, address: 0xfec00000, gsiBase: 0 }]);
    expect(overrides).toEqual([{ bus: 0, source: 0, gsi: 2, flags: 0 }]);
    expect(nmis).toEqual([{ uid: 0xff, flags: 0, lint: 1 }]);
  });
});
