/**
 * Guest-linear to guest-physical translation as L1 needs it to read the
 * instruction at a guest's RIP (KVM's gva_to_gpa): a walk of the guest's
 * own page tables in its memory, 4-level paging (SDM Vol. 3A §4.5), with
 * 1-GByte and 2-MByte pages (PS in a PDPTE or PDE). Only presence is
 * checked: the guest was already executing from the address, so its rights
 * allowed the fetch. A walk reads guest memory only; it sets no accessed
 * or dirty flag.
 */
import type { Vm } from './vm.ts';

const TWO32 = 2 ** 32;
const PRESENT = 1, PAGE_SIZE = 1 << 7;
/** Bits 51:32 of an entry's address (MAXPHYADDR 52 at most). */
const ADDRESS_HI = 0xfffff;

/** The 64-bit entry at guest-physical `gpa` as two halves, or null outside guest RAM. */
function readEntry(vm: Vm, gpa: number): [number, number] | null {
  const b = vm.read(gpa, 8);
  if (b === null) return null;
  const view = new DataView(b.buffer, b.byteOffset, 8);
  return [view.getUint32(0, true), view.getUint32(4, true)];
}

/**
 * The guest-physical address of `linear` (bits 47:0 of a linear address,
 * the ones 4-level paging translates) under 4-level paging with the
 * PML4 table at `cr3` (bits 11:0, PCD/PWT or a PCID, ignored), or null when
 * an entry on the way is not present or lies outside guest RAM.
 */
export function guestLinearToPhysical(vm: Vm, cr3: number, linear: number): number | null {
  let table = cr3 - (cr3 % 4096);
  // Bits 47:39, 38:30, 29:21, 20:12 index the four levels; the page offset is what the last level leaves.
  for (let shift = 39; ; shift -= 9) {
    const span = 2 ** shift;
    const index = Math.floor(linear / span) % 512;
    const entry = readEntry(vm, table + 8 * index);
    if (entry === null || (entry[0] & PRESENT) === 0) return null;
    const frame = (entry[1] & ADDRESS_HI) * TWO32 + (entry[0] - (entry[0] % 4096));
    const leaf = shift === 12 || ((shift === 30 || shift === 21) && (entry[0] & PAGE_SIZE) !== 0);
    if (leaf) {
      // A large page's frame has its bits below the page size reserved (0), PAT (bit 12) excepted.
      return frame - (frame % span) + (linear % span);
    }
    table = frame;
  }
}
