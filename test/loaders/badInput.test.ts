/**
 * Bad input (DESIGN decision 7): every malformed kernel is a LoadError
 * naming the file and the problem in one line, thrown before anything is
 * written to guest memory or any core runs.
 */
import { describe, expect, it } from 'vitest';
import { LoadError } from '../../cpu/loaders/loadError.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { EM_X86_64, multibootHeader, multibootKernel, writeElf } from '../support/elf.ts';

/** A multiboot ELF32 with one segment holding the header and a HLT. */
function kernel(over: Partial<Parameters<typeof writeElf>[0]> = {}, segment: Partial<Parameters<typeof writeElf>[0]['segments'][0]> = {}): Uint8Array {
  const data = new Uint8Array([...multibootHeader(0), 0xf4]);
  return writeElf({ bits: 32, entry: 0x10000c, segments: [{ paddr: 0x100000, data, ...segment }], ...over });
}

/** Loads `image` on a fresh 8 MiB machine and returns the error message (and checks nothing was loaded). */
function loadError(image: Uint8Array, load: 'multiboot' | 'elf64' = 'multiboot', memoryMiB = 8): string {
  const m = new Machine({ memoryMiB });
  const before = m.phys.allocatedBytes;
  let err: unknown;
  try {
    if (load === 'multiboot') m.loadMultiboot(image, { fileName: 'bad.elf' });
    else m.loadElf64(image, 'bad.elf');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LoadError);
  expect((err as LoadError).file).toBe('bad.elf');
  expect((err as Error).message).not.toContain('\n');
  expect(m.phys.allocatedBytes).toBe(before);
  expect(m.probe.core(0).rip).toBe(0xfff0n);
  return (err as Error).message;
}

function patch(image: Uint8Array, at: number, value: number, size: 1 | 2 | 4 = 4): Uint8Array {
  const out = image.slice();
  const dv = new DataView(out.buffer);
  if (size === 1) dv.setUint8(at, value);
  else if (size === 2) dv.setUint16(at, value, true);
  else dv.setUint32(at, value >>> 0, true);
  return out;
}

const PH = 52; // the first program header in a 32-bit file

describe('malformed multiboot headers', () => {
  it('no header in the first 8192 bytes', () => {
    expect(loadError(new Uint8Array(10000))).toBe('bad.elf: no multiboot header (magic 0x1badb002) in the first 8192 bytes');
  });

  it('a header placed after the first 8192 bytes is not found (the scan limit, §3.1.1)', () => {
    const file = new Uint8Array(9000);
    file.set(multibootHeader(0), 8192);
    expect(loadError(file)).toContain('no multiboot header');
  });

  it('a bad checksum', () => {
    const file = new Uint8Array(64);
    file.set(multibootHeader(0), 16);
    file[16 + 8] ^= 1;
    expect(loadError(file)).toBe('bad.elf: multiboot header at offset 0x10 has a bad checksum (magic + flags + checksum must be 0 mod 2^32)');
  });

  it('a.out kludge: header_addr below load_addr', () => {
    const file = multibootHeader(0x10000, { header: 0x100000, load: 0x100010, loadEnd: 0, bssEnd: 0, entry: 0x100000 });
    expect(loadError(file)).toBe('bad.elf: multiboot header_addr 0x100000 is below load_addr 0x100010');
  });

  it('a.out kludge: load_end_addr below load_addr, bss_end_addr below the loaded end, a range past the file', () => {
    const h = (loadEnd: number, bssEnd: number) => multibootHeader(0x10000, { header: 0x100000, load: 0x100000, loadEnd, bssEnd, entry: 0x100000 });
    expect(loadError(h(0xff000, 0))).toBe('bad.elf: multiboot load_end_addr 0xff000 is below load_addr 0x100000');
    expect(loadError(h(0x100010, 0x100008))).toBe('bad.elf: multiboot bss_end_addr 0x100008 is below load_end_addr 0x100010');
    expect(loadError(h(0x100100, 0))).toBe('bad.elf: multiboot load range (256 bytes from file offset 0x0) runs past the end of the file (32 bytes)');
  });

  it('a.out kludge: flag 16 with the address fields cut off by the end of the file', () => {
    expect(loadError(multibootHeader(0x10000).subarray(0, 12))).toContain('its address fields run past the end of the file');
  });
});

describe('malformed ELF files', () => {
  it('a multiboot header in something that is not ELF (and no flag 16)', () => {
    const file = new Uint8Array(64);
    file.set(multibootHeader(0), 4);
    expect(loadError(file)).toBe('bad.elf: not an ELF file (no \\x7fELF magic at the start)');
  });

  it('a 64-bit ELF as a multiboot kernel (refused, as QEMU does)', () => {
    const data = new Uint8Array([...multibootHeader(0), 0xf4]);
    expect(loadError(writeElf({ bits: 64, entry: 0x10000c, segments: [{ paddr: 0x100000, data }] })))
      .toBe('bad.elf: is a 64-bit (x86-64) ELF; a multiboot kernel must be a 32-bit i386 ELF (or set header flag 16)');
  });

  it('an ELF32 for another machine', () => {
    expect(loadError(kernel({ machine: 40 }))).toBe('bad.elf: ELF machine 40 is not i386 (EM_386 = 3)');
  });

  it('bad identification bytes: class, data encoding, version', () => {
    expect(loadError(patch(kernel(), 4, 3, 1))).toBe('bad.elf: unknown ELF class 3 (expected 1 for 32-bit or 2 for 64-bit)');
    expect(loadError(patch(kernel(), 5, 2, 1))).toBe('bad.elf: ELF data encoding 2 is not little-endian (x86 needs ELFDATA2LSB)');
    expect(loadError(patch(kernel(), 6, 0, 1))).toBe('bad.elf: ELF identification version 0 is not 1 (EV_CURRENT)');
  });

  it('not an executable (a relocatable object)', () => {
    expect(loadError(kernel({ type: 1 }))).toBe('bad.elf: ELF type 1 is not an executable (ET_EXEC or ET_DYN)');
  });

  it('program headers past the end of the file', () => {
    expect(loadError(patch(kernel(), 44, 200, 2))).toBe('bad.elf: ELF program headers (200 at offset 0x34) run past the end of the file (109 bytes)'); // 52 + 32, aligned to 96, + 13
  });

  it('a segment whose file bytes run past the end of the file', () => {
    expect(loadError(patch(patch(kernel(), PH + 16, 0x1000), PH + 20, 0x1000)))
      .toBe('bad.elf: segment 0 (file offset 0x60, 0x1000 bytes) runs past the end of the file (109 bytes)');
  });

  it('a segment with more file bytes than memory bytes', () => {
    expect(loadError(patch(kernel(), PH + 20, 4))).toBe('bad.elf: segment 0 has more file bytes (0xd) than memory bytes (0x4)');
  });

  it('no PT_LOAD segment', () => {
    expect(loadError(patch(kernel(), PH, 4))).toBe('bad.elf: ELF file has no loadable (PT_LOAD) segments');
  });
});

describe('kernels that do not fit the machine', () => {
  it('a kernel larger than RAM', () => {
    expect(loadError(kernel({}, { memsz: 16 * 1024 * 1024 }))).toBe("bad.elf: kernel image spans 16777216 bytes, more than the machine's RAM (8 MiB)");
  });

  it('a segment that ends beyond RAM', () => {
    expect(loadError(kernel({ entry: 0x7ff00c }, { paddr: 0x7ff000, memsz: 0x2000 }))).toBe('bad.elf: kernel segment 0 (0x7ff000-0x801000) does not fit in RAM (8 MiB)');
  });

  it('an entry point outside RAM', () => {
    expect(loadError(kernel({ entry: 0x20000000 }))).toBe('bad.elf: entry point 0x20000000 is outside RAM (8 MiB)');
  });

  it('a segment over the legacy video and BIOS area (where the ACPI tables are)', () => {
    expect(loadError(kernel({ entry: 0xa000c }, { paddr: 0xa0000 }))).toBe('bad.elf: kernel segment 0 (0xa0000-0xa000d) overlaps the legacy video and BIOS area (ACPI tables) at 0xa0000-0x100000');
  });

  it('a segment over the multiboot information area', () => {
    expect(loadError(kernel({ entry: 0x900c }, { paddr: 0x9000 }))).toBe('bad.elf: kernel segment 0 (0x9000-0x900d) overlaps the multiboot information area at 0x9000-0xa000');
  });

  it('modules that do not fit in RAM', async () => {
    const m = new Machine({ memoryMiB: 2 });
    const image = await multibootKernel('hlt');
    expect(() => m.loadMultiboot(image, { fileName: 'k.elf', modules: [{ string: 'big', bytes: new Uint8Array(2 * 1024 * 1024) }] }))
      .toThrow(new LoadError('k.elf', "module 'big' (0x102000-0x302000) does not fit in RAM (2 MiB)"));
  });
});

describe('the direct loaders', () => {
  it('elf64 refuses a 32-bit ELF', () => {
    expect(loadError(kernel(), 'elf64')).toBe('bad.elf: is a 32-bit ELF for machine 3, not an x86-64 ELF (ELFCLASS64, EM_X86_64 = 62)');
  });

  it('elf64 refuses a segment over its page tables', () => {
    const image = writeElf({ bits: 64, machine: EM_X86_64, entry: 0x9d000, segments: [{ paddr: 0x9d000, data: Uint8Array.of(0xf4) }] });
    expect(loadError(image, 'elf64')).toBe('bad.elf: segment 0 (0x9d000-0x9d001) overlaps the boot page tables at 0x9d000-0x9f000');
  });

  it('elf64 refuses addresses beyond 2^53', () => {
    const image = writeElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: Uint8Array.of(0xf4) }] });
    const dv = new DataView(image.buffer);
    dv.setUint32(24 + 4, 0xffff8000, true); // e_entry high half: a kernel-space address
    expect(loadError(image, 'elf64')).toBe('bad.elf: entry point 0xffff800000100000 is beyond the machine\'s address range');
  });

  it('flat binaries: beyond RAM, and a real-mode entry above 1 MiB', () => {
    const m = new Machine({ memoryMiB: 2 });
    expect(() => m.loadFlat(new Uint8Array(16), { fileName: 'f.bin', address: 0x1ffff8, bits: 64 }))
      .toThrow(new LoadError('f.bin', 'flat binary (0x1ffff8-0x200008) does not fit in RAM (2 MiB)'));
    expect(() => m.loadFlat(new Uint8Array(16), { fileName: 'f.bin', address: 0x100000, bits: 16 }))
      .toThrow(new LoadError('f.bin', 'entry point 0x100000 is not reachable in real mode (must be below 1 MiB)'));
  });
});
