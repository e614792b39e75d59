/**
 * Identity-mapping 4-level paging structures (SDM Vol. 3A §4.5), for a core
 * put straight into 64-bit mode (loaders, test fixtures): linear = physical
 * over the first max(4 GiB, RAM) bytes, writable, executable and
 * user-accessible (flat: every access is allowed while CR4.SMEP/SMAP are
 * 0), with 1-GByte pages (two pages of tables) or, without them in the CPU
 * model, 2-MByte pages (one page directory per GiB more).
 */
import type { Cpu } from '../cpu.ts';
import { pagingStateChanged } from './paging.ts';
import { PAGE_SIZE } from './physical.ts';

const GIB = 2 ** 30, TWO32 = 2 ** 32;
/** P, R/W, U/S, and PS for leaves; A and D preset so no walk writes them. */
const TABLE = 0x7 | 0x20, LEAF = 0x7 | 0x20 | 0x40 | 0x80;

/** Writes entry `k` of the table `v`: physical address `pa` (4-KByte aligned) with `flags`. */
function setEntry(v: DataView, k: number, pa: number, flags: number): void {
  v.setInt32(k * 8, (pa % TWO32) + flags, true);
  v.setInt32(k * 8 + 4, Math.floor(pa / TWO32), true);
}

/** Bytes of paging structures mapIdentity writes for core `c`. */
export function identityMapSize(c: Cpu): number {
  const gib = Math.max(4, Math.ceil(c.phys.size / GIB));
  return (2 + (c.model.has('page1gb') ? 0 : gib)) * PAGE_SIZE;
}

/**
 * Writes the structures at physical `at` (4-KByte aligned, identityMapSize
 * bytes of RAM), points CR3 at them and tells the paging unit. CR0, CR4
 * and EFER must already select 4-level paging.
 */
export function mapIdentity(c: Cpu, at: number): void {
  const phys = c.phys;
  const gib = Math.max(4, Math.ceil(phys.size / GIB));
  if (gib > 512) throw new RangeError(`identity map: ${gib} GiB exceed one PDPT`);
  const page = (n: number): DataView => {
    const v = phys.ramPage(at / PAGE_SIZE + n);
    if (!v) throw new RangeError(`identity map: page tables at 0x${at.toString(16)} are not in RAM`);
    new Uint8Array(v.buffer).fill(0);
    return v;
  };
  const pml4 = page(0), pdpt = page(1);
  setEntry(pml4, 0, at + PAGE_SIZE, TABLE);
  const huge = c.model.has('page1gb');
  for (let g = 0; g < gib; g++) {
    if (huge) {
      setEntry(pdpt, g, g * GIB, LEAF);
      continue;
    }
    setEntry(pdpt, g, at + (2 + g) * PAGE_SIZE, TABLE);
    const pd = page(2 + g);
    for (let k = 0; k < 512; k++) setEntry(pd, k, g * GIB + k * 2 ** 21, LEAF);
  }
  c.cr3 = at;
  pagingStateChanged(c);
}
