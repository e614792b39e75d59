/**
 * A raw flat binary: the file's bytes at one physical address, entered at
 * that address (or a given entry) in real mode, flat 32-bit protected mode
 * or flat 64-bit mode. For 64-bit entry the loader builds identity page
 * tables (identityPaging.ts) in the two pages below the EBDA.
 */
import type { PhysicalMemory } from '../memory/physical.ts';
import { BOOT_PAGE_TABLES, BOOT_PAGE_TABLES_END, HIGH_MEMORY_BASE } from '../machine/layout.ts';
import type { EntryPoint } from './entry.ts';
import { hex, LoadError, mib } from './loadError.ts';
import { checkRange, place, type Area } from './placement.ts';

export const PAGE_TABLE_AREA: Area = { base: BOOT_PAGE_TABLES, end: BOOT_PAGE_TABLES_END, what: 'boot page tables' };

export interface FlatOptions {
  fileName: string;
  /** Load address. */
  address: number;
  bits: 16 | 32 | 64;
  /** First instruction (default: the load address). */
  entry?: number;
}

/** Checks the entry point against RAM and the mode, and builds page tables for 64-bit entry. */
export function entryFor(phys: PhysicalMemory, ramBytes: number, file: string, bits: 16 | 32 | 64, entry: number): EntryPoint {
  if (entry >= ramBytes) throw new LoadError(file, `entry point ${hex(entry)} is outside RAM (${mib(ramBytes)})`);
  if (bits === 16 && entry >= HIGH_MEMORY_BASE) throw new LoadError(file, `entry point ${hex(entry)} is not reachable in real mode (must be below 1 MiB)`);
  if (bits !== 64) return { bits, address: entry };
  return { bits, address: entry, identityMapAt: BOOT_PAGE_TABLES };
}

export function loadFlat(phys: PhysicalMemory, ramBytes: number, image: Uint8Array, o: FlatOptions): EntryPoint {
  const avoid = o.bits === 64 ? [PAGE_TABLE_AREA] : [];
  checkRange(o.fileName, ramBytes, o.address, image.length, 'flat binary', avoid);
  const entry = entryFor(phys, ramBytes, o.fileName, o.bits, o.entry ?? o.address);
  place(phys, { dest: o.address, data: image, memsz: image.length, what: 'flat binary' });
  return entry;
}
