/**
 * Where things are in the machine's physical address space: the PC's
 * conventional layout below 1 MiB, the APIC pages, and the memory map
 * that the loaders report to the kernel (multiboot's mmap, fw_cfg's
 * etc/e820). RAM is one range from 0; device pages shadow the RAM behind
 * them, so the map leaves those pages out of the usable ranges.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Extended BIOS data area: the last KiB of conventional memory (as SeaBIOS leaves it). */
export const EBDA_BASE = 0x9fc00;
/** The legacy video memory and BIOS ROM area, 0xA0000-0xFFFFF. */
export const LEGACY_HOLE_BASE = 0xa0000;
export const HIGH_MEMORY_BASE = 0x100000;
/** Where the ACPI tables go: the BIOS area the RSDP scan covers (ACPI 6.x §5.2.5.1). */
export const ACPI_TABLES_BASE = 0xe0000;
export const ACPI_TABLES_END = 0x100000;
/** The multiboot memory map and information structure (below the EBDA, as QEMU's option ROM puts them). */
export const MULTIBOOT_MMAP_ADDR = 0x9000;
export const MULTIBOOT_INFO_ADDR = 0x9500;
export const MULTIBOOT_AREA_END = 0xa000;
/** Identity page tables the 64-bit loaders build (PML4, then one PDPT): two pages below the EBDA. */
export const BOOT_PAGE_TABLES = 0x9d000;
export const BOOT_PAGE_TABLES_END = 0x9f000;
/** The IOAPIC's and the local APICs' register pages (their architectural default bases). */
export const IOAPIC_BASE = 0xfec00000;
export const LOCAL_APIC_BASE = 0xfee00000;
export const DEVICE_PAGE_SIZE = 0x1000;

export const enum RangeType { Usable = 1, Reserved = 2 }

export interface MemoryRange {
  base: number;
  length: number;
  type: RangeType;
  /** Why the range is reserved (for error messages and traces). */
  what: string;
}

/** Ranges that are not usable RAM, in address order. */
export function reservedRanges(ramBytes: number): MemoryRange[] {
  const r: MemoryRange[] = [
    { base: EBDA_BASE, length: LEGACY_HOLE_BASE - EBDA_BASE, type: RangeType.Reserved, what: 'extended BIOS data area' },
    { base: LEGACY_HOLE_BASE, length: HIGH_MEMORY_BASE - LEGACY_HOLE_BASE, type: RangeType.Reserved, what: 'legacy video and BIOS area (ACPI tables)' },
  ];
  // The device pages are listed only where RAM lies behind them; above RAM there is nothing to hide.
  for (const [base, what] of [[IOAPIC_BASE, 'IOAPIC registers'], [LOCAL_APIC_BASE, 'local APIC registers']] as const) {
    if (base < ramBytes) r.push({ base, length: DEVICE_PAGE_SIZE, type: RangeType.Reserved, what });
  }
  return r;
}

/** The whole map: usable RAM around the reserved ranges, in address order (what E820 would return). */
export function memoryMap(ramBytes: number): MemoryRange[] {
  const out: MemoryRange[] = [];
  let at = 0;
  for (const r of reservedRanges(ramBytes)) {
    if (r.base > at) out.push({ base: at, length: Math.min(r.base, ramBytes) - at, type: RangeType.Usable, what: 'RAM' });
    out.push(r);
    at = r.base + r.length;
  }
  if (at < ramBytes) out.push({ base: at, length: ramBytes - at, type: RangeType.Usable, what: 'RAM' });
  return out;
}

/** Multiboot mem_lower: KiB of conventional memory (from 0 to the EBDA). */
export const LOWER_MEMORY_KIB = EBDA_BASE / KiB;

/** Multiboot mem_upper: KiB of RAM from 1 MiB to the first hole above it. */
export function upperMemoryKiB(ramBytes: number): number {
  const hole = reservedRanges(ramBytes).find((r) => r.base >= HIGH_MEMORY_BASE);
  const end = Math.min(ramBytes, hole ? hole.base : ramBytes);
  return Math.max(0, end - HIGH_MEMORY_BASE) / KiB;
}

/** The reserved range that [base, base+length) overlaps, if any. */
export function overlapsReserved(ramBytes: number, base: number, length: number): MemoryRange | undefined {
  return reservedRanges(ramBytes).find((r) => base < r.base + r.length && r.base < base + length);
}
