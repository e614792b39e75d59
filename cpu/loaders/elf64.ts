/**
 * The project's own 64-bit test programs: an x86-64 ELF whose PT_LOAD
 * segments are copied to their physical addresses (zero-filled to
 * p_memsz) and which is entered at e_entry directly in flat 64-bit mode,
 * on identity page tables (no multiboot, no 32-bit stage). Addresses are
 * physical = virtual, so e_entry must lie in RAM. The segments must stay
 * clear of the page tables' area (`pageTables`, the machine's by default).
 */
import { EM_X86_64, parseElf } from './elf.ts';
import type { EntryPoint } from './entry.ts';
import { entryFor, PAGE_TABLE_AREA } from './flat.ts';
import { LoadError } from './loadError.ts';
import { checkRange, place, type Area, type LoadTarget } from './placement.ts';

export function loadElf64(phys: LoadTarget, ramBytes: number, image: Uint8Array, fileName: string, pageTables: Area = PAGE_TABLE_AREA): EntryPoint {
  const elf = parseElf(image, fileName);
  if (elf.bits !== 64 || elf.machine !== EM_X86_64) {
    throw new LoadError(fileName, `is a ${elf.bits}-bit ELF for machine ${elf.machine}, not an x86-64 ELF (ELFCLASS64, EM_X86_64 = 62)`);
  }
  const placements = elf.segments.map((s, k) => ({
    dest: s.paddr, data: image.subarray(s.offset, s.offset + s.filesz), memsz: s.memsz, what: `segment ${k}`,
  }));
  for (const p of placements) checkRange(fileName, ramBytes, p.dest, p.memsz, p.what, [pageTables]);
  const entry = entryFor(ramBytes, fileName, 64, elf.entry, pageTables);
  for (const p of placements) place(phys, p);
  return entry;
}
