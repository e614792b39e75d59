/**
 * The Multiboot information structure (Multiboot Specification 0.6.96
 * §3.3), what the kernel finds at EBX: memory sizes, the boot device, the
 * command line, the modules, the memory map and the boot loader's name.
 * The fixed part and the memory map go in low memory at 0x9500 and 0x9000
 * (where QEMU's multiboot option ROM puts them); strings and the module
 * list go right after the kernel image.
 */
import { LOWER_MEMORY_KIB, memoryMap, MULTIBOOT_INFO_ADDR, MULTIBOOT_MMAP_ADDR, upperMemoryKiB } from '../machine/layout.ts';
import { cString } from '../devices/fwCfg.ts';
import { place, type LoadTarget } from './placement.ts';

// Flags of the information structure (§3.3).
const MBI_MEMORY = 1 << 0, MBI_BOOT_DEVICE = 1 << 1, MBI_CMDLINE = 1 << 2, MBI_MODS = 1 << 3,
  MBI_MMAP = 1 << 6, MBI_LOADER_NAME = 1 << 9;
/** Size of the fixed part up to and including the VBE fields (what QEMU writes). */
export const MBI_SIZE = 88;
/** BIOS drive 0x80 (first hard disk), no partition: what QEMU reports without a disk of its own. */
const BOOT_DEVICE = 0x8000ffff;
const MOD_ENTRY_SIZE = 16;
const MMAP_ENTRY_SIZE = 24; // 4-byte size field + 20-byte entry
export const BOOT_LOADER_NAME = 'turtles';

export interface ModuleInfo {
  start: number;
  /** Exclusive end (mod_end = start + length), as QEMU sets it. */
  end: number;
  /** The module's string: its file name, then any arguments. */
  string: string;
}

/** Bytes of the variable part (module list and strings) for these strings. */
export function stringsAreaSize(cmdline: string, modules: readonly { string: string }[]): number {
  let n = MOD_ENTRY_SIZE * modules.length + cmdline.length + 1 + BOOT_LOADER_NAME.length + 1;
  for (const m of modules) n += m.string.length + 1;
  return n;
}

/**
 * Writes the module list and strings at `area`, the memory map at 0x9000
 * and the fixed part at 0x9500; returns the structure's address.
 */
export function writeMultibootInfo(phys: LoadTarget, ramBytes: number, area: number, cmdline: string, modules: readonly ModuleInfo[]): number {
  const size = stringsAreaSize(cmdline, modules);
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  let at = MOD_ENTRY_SIZE * modules.length;
  const addString = (s: string): number => {
    buf.set(cString(s), at);
    const addr = area + at;
    at += s.length + 1;
    return addr;
  };
  modules.forEach((m, k) => {
    dv.setUint32(k * MOD_ENTRY_SIZE, m.start, true);
    dv.setUint32(k * MOD_ENTRY_SIZE + 4, m.end, true);
    dv.setUint32(k * MOD_ENTRY_SIZE + 8, addString(m.string), true);
  });
  const cmdlineAddr = addString(cmdline);
  const nameAddr = addString(BOOT_LOADER_NAME);
  place(phys, { dest: area, data: buf, memsz: size, what: 'multiboot strings' });

  const map = memoryMap(ramBytes);
  const mmap = new Uint8Array(MMAP_ENTRY_SIZE * map.length);
  const mv = new DataView(mmap.buffer);
  map.forEach((r, k) => {
    const e = k * MMAP_ENTRY_SIZE;
    mv.setUint32(e, MMAP_ENTRY_SIZE - 4, true); // size of the entry after this field
    mv.setUint32(e + 4, r.base % 0x100000000, true);
    mv.setUint32(e + 8, Math.floor(r.base / 0x100000000), true);
    mv.setUint32(e + 12, r.length % 0x100000000, true);
    mv.setUint32(e + 16, Math.floor(r.length / 0x100000000), true);
    mv.setUint32(e + 20, r.type, true);
  });
  place(phys, { dest: MULTIBOOT_MMAP_ADDR, data: mmap, memsz: mmap.length, what: 'multiboot memory map' });

  const mbi = new Uint8Array(MBI_SIZE);
  const iv = new DataView(mbi.buffer);
  iv.setUint32(0, MBI_MEMORY | MBI_BOOT_DEVICE | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME, true);
  iv.setUint32(4, LOWER_MEMORY_KIB, true); // mem_lower
  iv.setUint32(8, upperMemoryKiB(ramBytes), true); // mem_upper
  iv.setUint32(12, BOOT_DEVICE, true);
  iv.setUint32(16, cmdlineAddr, true);
  iv.setUint32(20, modules.length, true); // mods_count
  iv.setUint32(24, area, true); // mods_addr
  iv.setUint32(44, mmap.length, true); // mmap_length
  iv.setUint32(48, MULTIBOOT_MMAP_ADDR, true); // mmap_addr
  iv.setUint32(64, nameAddr, true); // boot_loader_name
  place(phys, { dest: MULTIBOOT_INFO_ADDR, data: mbi, memsz: MBI_SIZE, what: 'multiboot information' });
  return MULTIBOOT_INFO_ADDR;
}
