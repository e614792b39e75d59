/**
 * The few BIOS data area words that PC software reads without a BIOS:
 * the EBDA's segment at 0x40E (where an OS looks first for the ACPI RSDP,
 * ACPI 6.4 §5.2.5.1) and the conventional memory size in KiB at 0x413
 * (what INT 12h would return). The EBDA's first byte is its size in KiB.
 */
import type { PhysicalMemory } from '../memory/physical.ts';
import { EBDA_BASE, KiB, LEGACY_HOLE_BASE, LOWER_MEMORY_KIB } from './layout.ts';

export const BDA_EBDA_SEGMENT = 0x40e;
export const BDA_BASE_MEMORY_KIB = 0x413;

function write16(phys: PhysicalMemory, addr: number, v: number): void {
  phys.load(addr, Uint8Array.of(v & 0xff, v >>> 8));
}

export function writeBiosDataArea(phys: PhysicalMemory): void {
  write16(phys, BDA_EBDA_SEGMENT, EBDA_BASE >>> 4);
  write16(phys, BDA_BASE_MEMORY_KIB, LOWER_MEMORY_KIB);
  phys.load(EBDA_BASE, Uint8Array.of((LEGACY_HOLE_BASE - EBDA_BASE) / KiB));
}
