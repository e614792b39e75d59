/**
 * PAE paging (SDM Vol. 3A §4.4): CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 0.
 * Linear-address bits 31:30 select one of the four PDPTE registers loaded
 * at MOV to CR3 (pagingPdpte.ts), not a PDPTE in memory: a PDPTE has no
 * R/W, U/S, XD or accessed flag. Below it, 8-byte PDEs (PS = 1: a 2-MByte
 * page) and PTEs, with bits 62:MAXPHYADDR reserved and bit 63 XD with
 * EFER.NXE = 1, else reserved (Tables 4-8 to 4-11).
 */
import { PTE_P, PTE_PS, TWO32, type Walk, WalkStatus } from './pagingWalk.ts';

/** Reserved bits 20:13 of a PDE mapping a 2-MByte page (Table 4-9). */
const RSVD_2M = 0x001fe000;

/** Walks the paging structures for the 32-bit linear address `la`. */
export function walkPae(w: Walk, la: number): WalkStatus {
  w.begin();
  const i = la >>> 30;
  const pdpte = w.pdpte[2 * i]!;
  if ((pdpte & PTE_P) === 0) return WalkStatus.NotPresent;
  const pdeAddr = (w.pdpte[2 * i + 1]! & w.addrHi) * TWO32 + ((pdpte & 0xfffff000) >>> 0) + ((la >>> 21) & 0x1ff) * 8;
  const pde = w.read(pdeAddr, true);
  const pdeHi = w.hi;
  if ((pde & PTE_P) === 0) return WalkStatus.NotPresent;
  if ((pdeHi & w.rsvdHiPae) !== 0) return WalkStatus.Reserved;
  if ((pde & PTE_PS) !== 0) {
    if ((pde & RSVD_2M) !== 0) return WalkStatus.Reserved;
    w.use(pdeAddr, pde, pdeHi);
    return w.leaf(pde, (pdeHi & w.addrHi) * TWO32 + ((pde & 0xffe00000) >>> 0), 21);
  }
  w.use(pdeAddr, pde, pdeHi);
  const pteAddr = (pdeHi & w.addrHi) * TWO32 + ((pde & 0xfffff000) >>> 0) + ((la >>> 12) & 0x1ff) * 8;
  const pte = w.read(pteAddr, true);
  const pteHi = w.hi;
  if ((pte & PTE_P) === 0) return WalkStatus.NotPresent;
  if ((pteHi & w.rsvdHiPae) !== 0) return WalkStatus.Reserved;
  w.use(pteAddr, pte, pteHi);
  return w.leaf(pte, (pteHi & w.addrHi) * TWO32 + ((pte & 0xfffff000) >>> 0), 12);
}
