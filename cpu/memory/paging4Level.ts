/**
 * 4-level paging (SDM Vol. 3A §4.5): CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 1.
 * Four levels of 8-byte entries indexed by linear-address bits 47:39,
 * 38:30, 29:21 and 20:12. A PDPTE with PS = 1 maps a 1-GByte page (when
 * the processor supports them, else PS is reserved), a PDE with PS = 1 a
 * 2-MByte page; PS is reserved in a PML4E. Bits 51:MAXPHYADDR are
 * reserved everywhere, bit 63 is XD with EFER.NXE = 1 and reserved without,
 * and bits 62:52 are ignored (no protection keys: CR4.PKE is not
 * supported). Large-page entries reserve the bits between 12 and the page
 * size (Tables 4-14 to 4-20). 5-level paging is not modelled: the CPU
 * model reports no LA57.
 */
import { PTE_P, PTE_PS, TWO32, type Walk, WalkStatus } from './pagingWalk.ts';

/** Reserved bits of a leaf PDPTE (29:13) and of a leaf PDE (20:13). */
const RSVD_1G = 0x3fffe000, RSVD_2M = 0x001fe000;

/** Walks the paging structures for the linear address `la` (bits 47:0, unsigned). */
export function walk4Level(w: Walk, la: number): WalkStatus {
  w.begin();
  let table = w.root;
  for (let level = 4; ; level--) {
    const shift = 3 + 9 * level; // 39, 30, 21, 12
    const pa = table + (Math.floor(la / 2 ** shift) & 0x1ff) * 8;
    const lo = w.read(pa, true);
    const hi = w.hi;
    if ((lo & PTE_P) === 0) return WalkStatus.NotPresent;
    if ((hi & w.rsvdHi4) !== 0) return WalkStatus.Reserved;
    const base = (hi & w.addrHi) * TWO32;
    if (level === 1) {
      w.use(pa, lo, hi);
      return w.leaf(lo, base + ((lo & 0xfffff000) >>> 0), 12);
    }
    if ((lo & PTE_PS) !== 0) {
      if (level === 4 || (level === 3 && !w.page1gb)) return WalkStatus.Reserved;
      if ((lo & (level === 3 ? RSVD_1G : RSVD_2M)) !== 0) return WalkStatus.Reserved;
      w.use(pa, lo, hi);
      return w.leaf(lo, base + ((lo & (level === 3 ? 0xc0000000 : 0xffe00000)) >>> 0), shift);
    }
    w.use(pa, lo, hi);
    table = base + ((lo & 0xfffff000) >>> 0);
  }
}
