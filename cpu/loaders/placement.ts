/**
 * Putting loaded bytes into guest RAM, after checking that they fit: a
 * range must lie inside RAM and clear of the platform's reserved ranges
 * (BIOS area with the ACPI tables, EBDA, APIC pages) and of any area the
 * loader itself uses. Bytes are copied page by page into the RAM pages (a
 * loader write is not a guest access; pages holding decoded code are still
 * told, so a reload invalidates stale blocks). The pages are the machine's
 * RAM, or a VM's guest-physical RAM as L1 sees it (hypervisor/loaders/).
 */
import { PAGE_SIZE, type PhysicalMemory } from '../memory/physical.ts';
import { overlapsReserved } from '../machine/layout.ts';
import { hex, LoadError, mib } from './loadError.ts';

/** Where loaders put bytes: RAM pages by guest-physical page number (PhysicalMemory, or a view of a VM's RAM). */
export type LoadTarget = Pick<PhysicalMemory, 'ramPage' | 'noteWrite'>;

export interface Area {
  base: number;
  end: number;
  what: string;
}

export interface Placement {
  /** Guest-physical destination. */
  dest: number;
  /** Bytes copied to dest. */
  data: Uint8Array;
  /** Total bytes at dest: those past data.length are zeroed (an ELF segment's p_memsz > p_filesz). */
  memsz: number;
  /** What it is, for messages: "segment 1", "module 'initrd.img'"... */
  what: string;
}

export function pageAlign(a: number): number {
  return Math.ceil(a / PAGE_SIZE) * PAGE_SIZE;
}

/** Throws unless [base, base+length) is inside RAM and clear of reserved ranges and `avoid`. */
export function checkRange(file: string, ramBytes: number, base: number, length: number, what: string, avoid: readonly Area[] = []): void {
  const end = base + length;
  if (end > ramBytes) {
    throw new LoadError(file, `${what} (${hex(base)}-${hex(end)}) does not fit in RAM (${mib(ramBytes)})`);
  }
  const r = overlapsReserved(ramBytes, base, length);
  if (r) throw new LoadError(file, `${what} (${hex(base)}-${hex(end)}) overlaps the ${r.what} at ${hex(r.base)}-${hex(r.base + r.length)}`);
  const a = avoid.find((x) => base < x.end && x.base < end);
  if (a) throw new LoadError(file, `${what} (${hex(base)}-${hex(end)}) overlaps the ${a.what} at ${hex(a.base)}-${hex(a.end)}`);
}

/** Copies `data` to guest-physical `dest`, then zeroes up to `memsz` bytes in all. */
export function place(phys: LoadTarget, p: Placement): void {
  let at = p.dest;
  const end = p.dest + p.memsz;
  while (at < end) {
    const ppn = Math.floor(at / PAGE_SIZE);
    const page = phys.ramPage(ppn);
    if (!page) throw new RangeError(`loader: no RAM page at ${hex(at)}`); // checkRange rules this out
    const off = at - ppn * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, end - at);
    phys.noteWrite(ppn);
    const view = new Uint8Array(page.buffer, off, n);
    const from = at - p.dest;
    const copied = Math.max(0, Math.min(n, p.data.length - from));
    if (copied > 0) view.set(p.data.subarray(from, from + copied));
    view.fill(0, copied);
    at += n;
  }
}
