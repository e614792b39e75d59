/**
 * A raw flat binary: the file's bytes at one physical address, entered at
 * that address (or a given entry) in real mode, flat 32-bit protected mode
 * or flat 64-bit mode. For 64-bit entry the loader builds identity page
 * tables (identityPaging.ts) in the two pages below the EBDA — or, for a
 * VM whose page tables lie elsewhere, keeps the binary clear of the area
 * the caller names.
 */
import { BOOT_PAGE_TABLES, BOOT_PAGE_TABLES_END, HIGH_MEMORY_BASE } from '../machine/layout.ts';
import type { EntryPoint } from './entry.ts';
import { hex, LoadError, mib } from './loadError.ts';
import { checkRange, place, type Area, type LoadTarget } from './placement.ts';

export const PAGE_TABLE_AREA: Area = { base: BOOT_PAGE_TABLES, end: BOOT_PAGE_TABLES_END, what: 'boot page tables' };

export interface FlatOptions {
  fileName: string;
  /** Load address. */
  address: number;
  bits: 16 | 32 | 64;
  /** First instruction (default: the load address). */
  entry?: number;
  /** For 64-bit entry: where the identity page tables go, kept clear of the binary (default PAGE_TABLE_AREA). */
  pageTables?: Area;
}

/** Checks the entry point against RAM and the mode; 64-bit entry gets identity page tables at `pageTables`. */
export function entryFor(ramBytes: number, file: string, bits: 16 | 32 | 64, entry: number, pageTables: Area = PAGE_TABLE_AREA): EntryPoint {
  if (entry >= ramBytes) throw new LoadError(file, `entry point ${hex(entry)} is outside RAM (${mib(ramBytes)})`);
  if (bits === 16 && entry >= HIGH_MEMORY_BASE) throw new LoadError(file, `entry point ${hex(entry)} is not reachable in real mode (must be below 1 MiB)`);
  if (bits !== 64) return { bits, address: entry };
  return { bits, address: entry, identityMapAt: pageTables.base };
}

export function loadFlat(phys: LoadTarget, ramBytes: number, image: Uint8Array, o: FlatOptions): EntryPoint {
  const pageTables = o.pageTables ?? PAGE_TABLE_AREA;
  checkRange(o.fileName, ramBytes, o.address, image.length, 'flat binary', o.bits === 64 ? [pageTables] : []);
  const entry = entryFor(ramBytes, o.fileName, o.bits, o.entry ?? o.address, pageTables);
  place(phys, { dest: o.address, data: image, memsz: image.length, what: 'flat binary' });
  return entry;
}
