/**
 * Multiboot v1 loading as QEMU's -kernel does it (Multiboot Specification
 * 0.6.96 §3.1-§3.3): ELF32 segments copied and zero-filled, the a.out
 * kludge, the entry state (§3.2), and the information structure the
 * kernel finds at EBX, read back field by field.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';
import { KERNEL_ENTRY, KERNEL_LOAD, multibootHeader, multibootKernel, PF_R, PF_X, writeElf } from '../support/elf.ts';

const MiB = 1024 * 1024;
const pageAlign = (a: number) => Math.ceil(a / 4096) * 4096;

function cstring(m: Machine, addr: number): string {
  let s = '';
  for (let a = addr; ; a++) {
    const b = m.probe.read(a, 1)[0]!;
    if (b === 0) return s;
    s += String.fromCharCode(b);
  }
}

describe('ELF32 multiboot kernels', () => {
  it('copies the segment to its physical address and zeroes the rest up to p_memsz', async () => {
    const kernel = await multibootKernel('hlt', { bss: 300 });
    const m = new Machine({ memoryMiB: 8 });
    const fileBytes = 12 + 1; // header + hlt
    m.phys.load(KERNEL_LOAD + fileBytes, new Uint8Array(300).fill(0xaa)); // stale memory where the bss goes
    const load = m.loadMultiboot(kernel, { fileName: 'k.elf' });
    expect(Array.from(m.probe.read(KERNEL_LOAD, fileBytes))).toEqual([...multibootHeader(3), 0xf4]);
    expect(m.probe.read(KERNEL_LOAD + fileBytes, 300).every((b) => b === 0)).toBe(true);
    expect(load.kernelStart).toBe(KERNEL_LOAD);
    expect(load.kernelEnd).toBe(KERNEL_LOAD + fileBytes + 300);
  });

  it('enters in flat 32-bit protected mode, paging and interrupts off, EAX = 2BADB002H, EBX = the information (§3.2)', async () => {
    const m = new Machine({ memoryMiB: 8 });
    m.loadMultiboot(await multibootKernel('hlt'), { fileName: 'k.elf' });
    const c = m.probe.core(0);
    expect(c.activity).toBe('active');
    expect(c.mode).toBe(32);
    expect(c.rip).toBe(BigInt(KERNEL_ENTRY));
    expect(c.regs.rax).toBe(0x2badb002n);
    expect(c.regs.rbx).toBe(0x9500n);
    expect(c.cr0 & 0x80000001).toBe(1); // PE set, PG clear
    expect(c.rflags & 0x200).toBe(0); // IF clear
    expect(c.rflags & 0x20000).toBe(0); // VM clear
    expect(c.segments.cs).toMatchObject({ base: 0, limit: 0xffffffff, attr: 0xc09b }); // 32-bit execute/read code
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) expect(c.segments[s]).toMatchObject({ base: 0, limit: 0xffffffff, attr: 0xc093 });
  });

  it('moves the entry to its physical address when the executable segment is linked higher than it loads', async () => {
    const code = await asm('hlt', 32, 0xc0100000 + 12);
    const data = new Uint8Array([...multibootHeader(0), ...code]);
    const elf = writeElf({ bits: 32, entry: 0xc0100000 + 12, segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data, flags: PF_R | PF_X }] });
    const m = new Machine({ memoryMiB: 8 });
    m.loadMultiboot(elf, { fileName: 'higher-half.elf' });
    expect(m.probe.core(0).rip).toBe(0x10000cn);
  });

  it('loads several segments, each at its own address', async () => {
    const text = new Uint8Array([...multibootHeader(0), 0xf4]);
    const dataSeg = Uint8Array.of(1, 2, 3, 4);
    const elf = writeElf({ bits: 32, entry: 0x10000c, segments: [{ paddr: 0x100000, data: text }, { paddr: 0x180000, data: dataSeg, memsz: 8 }] });
    const m = new Machine({ memoryMiB: 8 });
    const load = m.loadMultiboot(elf, { fileName: 'two.elf' });
    expect(Array.from(m.probe.read(0x180000, 8))).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
    expect(load.kernelEnd).toBe(0x180008);
  });
});

describe('the a.out kludge (header flag 16, §3.1.3)', () => {
  it('loads from header offset - (header_addr - load_addr) to load_addr, up to load_end_addr, zeroed to bss_end_addr', async () => {
    const load = 0x200000;
    const pad = new Uint8Array(64).fill(0x90); // header at file offset 64, i.e. at load + 0x40
    const code = await asm('hlt', 32, load + 64 + 32);
    const fileLength = 64 + 32 + code.length + 8;
    const header = multibootHeader(0x10000, { header: load + 64, load, loadEnd: load + fileLength - 8, bssEnd: load + fileLength + 0x100, entry: load + 96 });
    const file = new Uint8Array(fileLength).fill(0x77); // the last 8 bytes are past load_end_addr
    file.set(pad);
    file.set(header, 64);
    file.set(code, 96);
    const m = new Machine({ memoryMiB: 8 });
    m.phys.load(load + fileLength - 8, new Uint8Array(8 + 0x100).fill(0xcc));
    const l = m.loadMultiboot(file, { fileName: 'kludge.bin' });
    expect(Array.from(m.probe.read(load, fileLength - 8))).toEqual(Array.from(file.subarray(0, fileLength - 8)));
    expect(m.probe.read(load + fileLength - 8, 8 + 0x100).every((b) => b === 0)).toBe(true);
    expect(m.probe.core(0).rip).toBe(BigInt(load + 96));
    expect(l.kernelEnd).toBe(load + fileLength + 0x100);
  });

  it('loads to the end of the file when load_end_addr is 0, with no bss when bss_end_addr is 0', async () => {
    const load = 0x300000;
    const code = await asm('hlt', 32, load + 32);
    const file = new Uint8Array([...multibootHeader(0x10000, { header: load, load, loadEnd: 0, bssEnd: 0, entry: load + 32 }), ...code]);
    const m = new Machine({ memoryMiB: 8 });
    const l = m.loadMultiboot(file, { fileName: 'kludge.bin' });
    expect(Array.from(m.probe.read(load, file.length))).toEqual(Array.from(file));
    expect(l.kernelEnd).toBe(load + file.length);
  });
});

describe('the multiboot information structure (§3.3)', () => {
  const mod0 = new Uint8Array(5000).map((_, k) => k & 0xff);
  const mod1 = Uint8Array.of(9, 8, 7);
  const setup = async () => {
    const m = new Machine({ memoryMiB: 128 });
    const load = m.loadMultiboot(await multibootKernel('hlt'), {
      fileName: 'kernel.elf', append: 'console=ttyS0 quiet',
      modules: [{ string: 'initrd.img arg1', bytes: mod0 }, { string: 'extra', bytes: mod1 }],
    });
    return { m, load, mbi: (off: number) => m.probe.read32(0x9500 + off) };
  };

  it('sets flags for memory, boot device, command line, modules, memory map and boot loader name', async () => {
    const { mbi } = await setup();
    expect(mbi(0)).toBe(1 | 2 | 4 | 8 | 64 | 512);
  });

  it('mem_lower is 639 KiB (below the EBDA) and mem_upper the KiB from 1 MiB to the end of RAM', async () => {
    const { mbi } = await setup();
    expect(mbi(4)).toBe(639);
    expect(mbi(8)).toBe((128 - 1) * 1024);
    expect(mbi(12)).toBe(0x8000ffff); // boot device: BIOS drive 80H, no partition (as QEMU reports)
  });

  it('the command line is the kernel file name, a space, then the arguments', async () => {
    const { m, mbi } = await setup();
    expect(cstring(m, mbi(16))).toBe('kernel.elf console=ttyS0 quiet');
    expect(cstring(m, mbi(64))).toBe('turtles');
  });

  it('lists the modules after the kernel, page-aligned, each with its string', async () => {
    const { m, mbi, load } = await setup();
    expect(mbi(20)).toBe(2);
    const list = mbi(24);
    expect(list).toBe(KERNEL_LOAD + pageAlign(load.kernelEnd - KERNEL_LOAD)); // right after the page-aligned image
    const entry = (k: number) => ({ start: m.probe.read32(list + 16 * k), end: m.probe.read32(list + 16 * k + 4), string: cstring(m, m.probe.read32(list + 16 * k + 8)) });
    const first = entry(0), second = entry(1);
    expect(first.start % 4096).toBe(0);
    expect(first.start).toBeGreaterThan(list);
    expect(first.end).toBe(first.start + 5000);
    expect(first.string).toBe('initrd.img arg1');
    expect(second.start).toBe(pageAlign(first.end));
    expect(second).toEqual({ start: second.start, end: second.start + 3, string: 'extra' });
    expect(m.probe.read(first.start, 5000)).toEqual(mod0);
    expect(m.probe.read(second.start, 3)).toEqual(mod1);
  });

  it('the memory map lists usable RAM and the reserved EBDA and legacy areas', async () => {
    const { m, mbi } = await setup();
    const length = mbi(44), addr = mbi(48);
    expect(addr).toBe(0x9000);
    const entries: [number, number, number][] = [];
    for (let at = addr; at < addr + length; at += 4 + m.probe.read32(at)) {
      expect(m.probe.read32(at)).toBe(20);
      expect(m.probe.read32(at + 8)).toBe(0); // high halves: all below 4 GiB here
      entries.push([m.probe.read32(at + 4), m.probe.read32(at + 12), m.probe.read32(at + 20)]);
    }
    expect(entries).toEqual([[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xa0000, 0x60000, 2], [0x100000, 127 * MiB, 1]]);
  });

  it('on a 4 GiB machine, mem_upper stops at the IOAPIC page and the map leaves out both APIC pages', async () => {
    const m = new Machine({ memoryMiB: 4096 });
    m.loadMultiboot(await multibootKernel('hlt'), { fileName: 'k' });
    expect(m.probe.read32(0x9508)).toBe((0xfec00000 - MiB) / 1024);
    const n = m.probe.read32(0x9500 + 44) / 24;
    const map = Array.from({ length: n }, (_, k) => [m.probe.read32(0x9004 + 24 * k), m.probe.read32(0x900c + 24 * k), m.probe.read32(0x9014 + 24 * k)]);
    expect(map.slice(3)).toEqual([
      [0x100000, 0xfec00000 - 0x100000, 1], [0xfec00000, 0x1000, 2], [0xfec01000, 0xfee00000 - 0xfec01000, 1],
      [0xfee00000, 0x1000, 2], [0xfee01000, 0x100000000 - 0xfee01000, 1],
    ]);
  });

  it('publishes the kernel and the information in fw_cfg as QEMU\'s multiboot loader does, plus the command line', async () => {
    const { m, load } = await setup();
    const f = m.fwCfg!;
    const u32 = (key: number) => new DataView(f.get(key)!.buffer).getUint32(0, true);
    expect(u32(0x10)).toBe(KERNEL_ENTRY); // KERNEL_ENTRY
    expect(u32(0x07)).toBe(KERNEL_LOAD); // KERNEL_ADDR
    expect(u32(0x08)).toBe(load.imageEnd - KERNEL_LOAD); // KERNEL_SIZE: image, list, strings, modules
    expect(Array.from(f.get(0x11)!.subarray(0, 12))).toEqual(Array.from(multibootHeader(3))); // KERNEL_DATA
    expect(f.get(0x11)!.length).toBe(u32(0x08));
    expect(u32(0x0a)).toBe(0x9500); // INITRD_ADDR
    expect(u32(0x0b)).toBe(88); // INITRD_SIZE
    expect(Array.from(f.get(0x12)!)).toEqual(Array.from(m.probe.read(0x9500, 88))); // INITRD_DATA
    expect(u32(0x14)).toBe('console=ttyS0 quiet'.length + 1); // CMDLINE_SIZE
    expect(String.fromCharCode(...f.get(0x15)!)).toBe('console=ttyS0 quiet\0');
  });
});

describe('a multiboot kernel runs and reads its information', () => {
  it('prints its command line and module count over COM1 and exits through isa-debug-exit', async () => {
    const kernel = await multibootKernel(`
      mov esp, 0x90000
      cmp eax, 0x2badb002
      jne bad
      mov esi, [ebx + 16]
      call puts
      mov eax, [ebx + 20]
      add al, '0'
      call putc
      mov eax, 0x10
      out 0xf4, eax
    bad: ud2
    puts: lodsb
      test al, al
      jz done
      call putc
      jmp puts
    done: ret
    putc: mov dx, 0x3f8
      out dx, al
      ret`);
    const m = new Machine({ memoryMiB: 16 });
    m.loadMultiboot(kernel, { fileName: '/boot/k', append: 'a=1', modules: [{ string: 'm', bytes: Uint8Array.of(1) }] });
    expect(m.run({ maxInstructions: 10_000 })).toEqual({ kind: 'exit', code: 0x21 });
    expect(String.fromCharCode(...m.serialOutput)).toBe('/boot/k a=11');
  });
});
