/**
 * PAE paging's PDPTE registers (SDM Vol. 3A §4.4.1): the four PDPTEs at the
 * 32-byte-aligned address in CR3 bits 31:5 are loaded by MOV to CR3 while
 * PAE paging is in use, and by MOV to CR0/CR4 that leave PAE paging in use
 * while changing CR0.CD, NW or PG, or CR4.PAE, PGE, PSE or SMEP. A present
 * PDPTE with a reserved bit set (2:1, 8:5, 63:MAXPHYADDR; Table 4-8) makes
 * the MOV fail with #GP(0), loading nothing: the checks run before the
 * instruction changes anything.
 */
import type { Walk } from './pagingWalk.ts';

const RSVD_LO = 0x1e6;

/** Reads the PDPTEs for `cr3` into `out` (halves, as Walk.pdpte); false if a present one has reserved bits. */
export function readPdptes(w: Walk, cr3: number, physBits: number, out: Int32Array): boolean {
  const base = (cr3 & 0xffffffe0) >>> 0;
  for (let i = 0; i < 4; i++) {
    out[2 * i] = w.read(base + 8 * i, true);
    out[2 * i + 1] = w.hi;
  }
  return pdptesValid(out, physBits);
}

/** No present PDPTE of the four (halves) sets a reserved bit (§4.4.1, Table 4-8). */
export function pdptesValid(pdptes: Int32Array, physBits: number): boolean {
  const rsvdHi = ~((1 << (physBits - 32)) - 1);
  for (let i = 0; i < 4; i++) {
    const lo = pdptes[2 * i]!, hi = pdptes[2 * i + 1]!;
    if ((lo & 1) !== 0 && ((lo & RSVD_LO) !== 0 || (hi & rsvdHi) !== 0)) return false;
  }
  return true;
}
