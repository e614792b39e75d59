/**
 * Loading a Multiboot (v1) kernel the way QEMU's -kernel does:
 *
 * - The header is found in the first 8192 bytes (multibootHeader.ts).
 * - Without flag 16 the file must be a 32-bit i386 ELF: its PT_LOAD
 *   segments are copied to their physical addresses (p_paddr) and the rest
 *   of each segment up to p_memsz is zeroed, whatever else the header's
 *   flags ask. The entry is e_entry, moved to its physical address when it
 *   lies in an executable segment whose virtual and physical addresses
 *   differ. A 64-bit ELF is refused, as QEMU refuses it.
 * - With flag 16 (the "a.out kludge") the header's addresses decide: the
 *   file from the header's offset less (header_addr - load_addr) is copied
 *   to load_addr, up to load_end_addr (or the file's end when 0), and zeroed
 *   up to bss_end_addr (when not 0); entry_addr is the entry.
 * - After the image (page-aligned) come the module list and strings, then
 *   the modules, each page-aligned (which satisfies flag 0 either way).
 * - The kernel's command line is "FILE ARGS": the kernel file name as given,
 *   a space, then the arguments (so with no arguments it ends in a space).
 * - Entry: 32-bit protected mode, flat 4-GiB segments, paging and
 *   interrupts off, EAX = 0x2BADB002, EBX = the information structure
 *   (Multiboot Specification §3.2 "Machine state").
 */
import { MULTIBOOT_AREA_END, MULTIBOOT_MMAP_ADDR } from '../machine/layout.ts';
import { Reg } from '../registers.ts';
import { EM_386, EM_X86_64, parseElf, PF_X, type ElfImage } from './elf.ts';
import type { EntryPoint } from './entry.ts';
import { hex, LoadError, mib } from './loadError.ts';
import { MB_FLAG_ADDRESSES, MB_FLAG_VIDEO, findMultibootHeader, type MultibootHeader } from './multibootHeader.ts';
import { stringsAreaSize, writeMultibootInfo, type ModuleInfo } from './multibootInfo.ts';
import { checkRange, pageAlign, place, type Area, type LoadTarget, type Placement } from './placement.ts';

/** EAX at entry: tells the kernel a Multiboot loader started it (§3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

export interface MultibootModule {
  /** The module's string as the kernel sees it: file name, then optional arguments. */
  string: string;
  bytes: Uint8Array;
}

export interface MultibootOptions {
  /** The kernel's file name, as given: used in messages and as the command line's first word. */
  fileName: string;
  /** Arguments after the file name (QEMU's -append). */
  append?: string;
  modules?: readonly MultibootModule[];
}

export interface MultibootLoad {
  entry: EntryPoint;
  /** The kernel image's physical range [start, end) including zeroed memory. */
  kernelStart: number;
  kernelEnd: number;
  /** End of everything placed after the image (strings and modules), page-aligned: QEMU's KERNEL_SIZE is end - start. */
  imageEnd: number;
  infoAddr: number;
  cmdline: string;
  modules: ModuleInfo[];
  /** Requests in the header's flags that this loader does not honour (QEMU loads such kernels too). */
  warnings: string[];
}

const LOW_INFO_AREA: Area = { base: MULTIBOOT_MMAP_ADDR, end: MULTIBOOT_AREA_END, what: 'multiboot information area' };

/** The a.out-kludge placement (§3.1.3), with QEMU's checks of the address fields. */
function kludgePlacement(h: MultibootHeader, bytes: Uint8Array, file: string): { placements: Placement[]; entry: number } {
  if (h.headerAddr < h.loadAddr) throw new LoadError(file, `multiboot header_addr ${hex(h.headerAddr)} is below load_addr ${hex(h.loadAddr)}`);
  const textOffset = h.offset - (h.headerAddr - h.loadAddr);
  if (textOffset < 0) throw new LoadError(file, `multiboot load_addr ${hex(h.loadAddr)} would start ${-textOffset} bytes before the file`);
  let loadSize = bytes.length - textOffset;
  if (h.loadEndAddr !== 0) {
    if (h.loadEndAddr < h.loadAddr) throw new LoadError(file, `multiboot load_end_addr ${hex(h.loadEndAddr)} is below load_addr ${hex(h.loadAddr)}`);
    loadSize = h.loadEndAddr - h.loadAddr;
  }
  if (textOffset + loadSize > bytes.length) {
    throw new LoadError(file, `multiboot load range (${loadSize} bytes from file offset ${hex(textOffset)}) runs past the end of the file (${bytes.length} bytes)`);
  }
  let memsz = loadSize;
  if (h.bssEndAddr !== 0) {
    if (h.bssEndAddr < h.loadAddr + loadSize) throw new LoadError(file, `multiboot bss_end_addr ${hex(h.bssEndAddr)} is below load_end_addr ${hex(h.loadAddr + loadSize)}`);
    memsz = h.bssEndAddr - h.loadAddr;
  }
  const data = bytes.subarray(textOffset, textOffset + loadSize);
  return { placements: [{ dest: h.loadAddr, data, memsz, what: 'kernel image' }], entry: h.entryAddr };
}

/** Where e_entry is physically: translated through the executable segment that holds it when vaddr != paddr. */
function physicalEntry(elf: ElfImage): number {
  const s = elf.segments.find((g) => (g.flags & PF_X) !== 0 && g.vaddr !== g.paddr && elf.entry >= g.vaddr && elf.entry < g.vaddr + g.filesz);
  return s ? elf.entry - s.vaddr + s.paddr : elf.entry;
}

function elfPlacement(bytes: Uint8Array, file: string): { placements: Placement[]; entry: number } {
  const elf = parseElf(bytes, file);
  if (elf.bits === 64 || elf.machine === EM_X86_64) {
    throw new LoadError(file, 'is a 64-bit (x86-64) ELF; a multiboot kernel must be a 32-bit i386 ELF (or set header flag 16)');
  }
  if (elf.machine !== EM_386) throw new LoadError(file, `ELF machine ${elf.machine} is not i386 (EM_386 = 3)`);
  const placements = elf.segments.map((s, k) => ({
    dest: s.paddr, data: bytes.subarray(s.offset, s.offset + s.filesz), memsz: s.memsz, what: `segment ${k}`,
  }));
  return { placements, entry: physicalEntry(elf) };
}

export function loadMultiboot(phys: LoadTarget, ramBytes: number, image: Uint8Array, opts: MultibootOptions): MultibootLoad {
  const file = opts.fileName;
  const header = findMultibootHeader(image, file);
  const { placements, entry } = (header.flags & MB_FLAG_ADDRESSES) !== 0
    ? kludgePlacement(header, image, file)
    : elfPlacement(image, file);
  const kernelStart = Math.min(...placements.map((p) => p.dest));
  const kernelEnd = Math.max(...placements.map((p) => p.dest + p.memsz));
  if (kernelEnd - kernelStart > ramBytes) {
    throw new LoadError(file, `kernel image spans ${kernelEnd - kernelStart} bytes, more than the machine's RAM (${mib(ramBytes)})`);
  }
  for (const p of placements) checkRange(file, ramBytes, p.dest, p.memsz, `kernel ${p.what}`, [LOW_INFO_AREA]);
  if (entry >= ramBytes) throw new LoadError(file, `entry point ${hex(entry)} is outside RAM (${mib(ramBytes)})`);

  const cmdline = `${file} ${opts.append ?? ''}`;
  const mods = opts.modules ?? [];
  const area = kernelStart + pageAlign(kernelEnd - kernelStart);
  const areaSize = stringsAreaSize(cmdline, mods);
  checkRange(file, ramBytes, area, areaSize, 'multiboot module list and strings', [LOW_INFO_AREA]);
  let next = pageAlign(area + areaSize);
  const modules: ModuleInfo[] = mods.map((m) => {
    const start = next;
    checkRange(file, ramBytes, start, m.bytes.length, `module '${m.string}'`, [LOW_INFO_AREA]);
    next = pageAlign(start + m.bytes.length);
    return { start, end: start + m.bytes.length, string: m.string };
  });

  for (const p of placements) place(phys, p);
  mods.forEach((m, k) => place(phys, { dest: modules[k]!.start, data: m.bytes, memsz: m.bytes.length, what: `module ${k}` }));
  const infoAddr = writeMultibootInfo(phys, ramBytes, area, cmdline, modules);
  const warnings: string[] = [];
  if ((header.flags & MB_FLAG_VIDEO) !== 0) warnings.push('asks for a video mode (flags bit 2); there is no framebuffer');
  if ((header.flags & 0xfff8) !== 0) warnings.push(`asks for unknown required features (flags ${hex(header.flags & 0xfff8)})`);
  return {
    entry: { bits: 32, address: entry, regs: [{ reg: Reg.RAX, value: MULTIBOOT_BOOTLOADER_MAGIC }, { reg: Reg.RBX, value: infoAddr }] },
    kernelStart, kernelEnd, imageEnd: next, infoAddr, cmdline, modules, warnings,
  };
}
