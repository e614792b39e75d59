/**
 * Accessed and dirty flags (SDM Vol. 3A §4.8): every paging-structure
 * entry used by a translation gets A = 1; the entry that maps the page gets
 * D = 1 when the access is a write. Flags already set are not written
 * again. The flags are set once the walk has succeeded and the access is
 * allowed, before the access itself: a faulting access sets none (the SDM
 * leaves open whether flags of upper levels are set when a lower level
 * faults; this model sets none, deterministically).
 *
 * PAE paging's PDPTEs are registers without an A flag and are never written.
 *
 * Under a second stage (EPT) each flag update is a write to the entry's
 * guest-physical address, which the stage must allow (SDM Vol. 3C
 * §29.3.3.2): every one is checked before any is written.
 */
import { Access } from './access.ts';
import { PTE_A, PTE_D, type Walk } from './pagingWalk.ts';
import { PAGE_SIZE } from './physical.ts';

/** The flags entry k of the walk needs set: A, and D for the leaf of a write. */
const wanted = (w: Walk, k: number, write: boolean): number => (k === w.n - 1 && write ? PTE_A | PTE_D : PTE_A);

/**
 * Sets A in each entry of the walk `w`, and D in its leaf when `write`.
 * Returns false, having written nothing, when the stage quietly refuses
 * one of the writes (a probe); a refusal in a real access throws.
 */
export function setAccessedDirty(w: Walk, write: boolean): boolean {
  const stage = w.stage;
  if (stage !== null) {
    for (let k = 0; k < w.n; k++) {
      const want = wanted(w, k, write);
      if ((w.entryLo[k]! & want) !== want && stage.translate(w.entryGpa[k]!, Access.Write, w.linear, true, w.fault) < 0) return false;
    }
  }
  for (let k = 0; k < w.n; k++) {
    const want = wanted(w, k, write);
    const lo = w.entryLo[k]!;
    if ((lo & want) !== want) writeEntryLow(w, w.entryPa[k]!, lo | want);
  }
  return true;
}

/** Writes the low 4 bytes of an entry, as any write to physical memory (a page holding code is invalidated). */
function writeEntryLow(w: Walk, pa: number, v: number): void {
  const phys = w.mmu.phys;
  const ppn = Math.floor(pa / PAGE_SIZE);
  const page = phys.ramPage(ppn);
  if (!page) {
    phys.writeSized(pa, 4, v);
    return;
  }
  if (phys.isCodePage(ppn)) {
    w.mmu.owner.exitBlock = true;
    phys.noteWrite(ppn);
  }
  page.setInt32(pa - ppn * PAGE_SIZE, v, true);
}
