/**
 * A VM's memory as the machine's loaders (cpu/loaders/) see it: its RAM
 * pages by guest-physical page number, which are L1's own pages from
 * Vm.ramHpa on (DESIGN decision 1: L1 writes its guests' memory directly),
 * and the area L1 keeps in it for a 64-bit guest's identity page tables
 * (Vm.writeLongModePageTables: PML4, PDPT and one page directory), which a
 * loaded image must leave alone.
 */
import type { Area, LoadTarget } from '../../cpu/loaders/placement.ts';
import { PAGE_SIZE, type PhysicalMemory } from '../../cpu/memory/physical.ts';
import { GUEST_PAGE_TABLES, type Vm } from '../vm.ts';

export const VM_PAGE_TABLES: Area = { base: GUEST_PAGE_TABLES, end: GUEST_PAGE_TABLES + 3 * PAGE_SIZE, what: "VM's identity page tables" };

/** The RAM of `vm` in the host's memory `phys`, guest-physical page 0 first; pages beyond it are not RAM. */
export function guestRam(phys: PhysicalMemory, vm: Vm): LoadTarget {
  const first = vm.ramHpa / PAGE_SIZE, pages = vm.ramBytes / PAGE_SIZE;
  return {
    ramPage: (ppn) => (ppn >= 0 && ppn < pages ? phys.ramPage(first + ppn) : undefined),
    noteWrite: (ppn) => phys.noteWrite(first + ppn),
  };
}
