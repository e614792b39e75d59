/**
 * 32-bit paging (SDM Vol. 3A §4.3): CR0.PG = 1, CR4.PAE = 0. A 10-bit
 * directory index and a 10-bit table index over 4-byte entries; with
 * CR4.PSE = 1 a PDE with PS = 1 maps a 4-MByte page, whose bits 20:13 give
 * physical-address bits 39:32 (PSE-36, Table 4-4). There is no XD bit, and
 * the only reserved bits are those of 4-MByte PDEs.
 */
import { PTE_P, PTE_PS, TWO32, type Walk, WalkStatus } from './pagingWalk.ts';

/** Walks the paging structures for the 32-bit linear address `la`. */
export function walk32(w: Walk, la: number): WalkStatus {
  w.begin();
  const pdeAddr = w.root + (la >>> 22) * 4;
  const pde = w.read(pdeAddr, false);
  if ((pde & PTE_P) === 0) return WalkStatus.NotPresent;
  if ((pde & PTE_PS) !== 0 && w.pse) {
    if ((pde & w.rsvdPse) !== 0) return WalkStatus.Reserved;
    w.use(pdeAddr, pde, 0);
    return w.leaf(pde, ((pde >>> 13) & 0xff) * TWO32 + ((pde & 0xffc00000) >>> 0), 22);
  }
  w.use(pdeAddr, pde, 0);
  const pteAddr = ((pde & 0xfffff000) >>> 0) + ((la >>> 12) & 0x3ff) * 4;
  const pte = w.read(pteAddr, false);
  if ((pte & PTE_P) === 0) return WalkStatus.NotPresent;
  w.use(pteAddr, pte, 0);
  return w.leaf(pte, (pte & 0xfffff000) >>> 0, 12);
}
