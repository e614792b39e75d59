/**
 * ept12: the EPT paging structures L1 builds and owns for one VM (DESIGN
 * "Levels"), in L1's memory, in the format of SDM Vol. 3C §29.3.2: a PML4
 * table, one PDPT, and page directories mapping guest-physical memory to
 * host-physical memory with 2-MByte pages, write-back (memory type 6),
 * read/write/execute. What is not mapped (device MMIO) makes the guest's
 * accesses EPT violations, which L1 handles.
 */
import { HypervisorError } from './hypervisorError.ts';
import type { HostPages } from './l1/hostPages.ts';

const TWO_MIB = 1 << 21, ONE_GIB = 2 ** 30;
const RWX = 0x7, MEMORY_TYPE_WB = 6 << 3, PAGE_SIZE = 0x80;
/** EPTP (§25.6.11): memory type WB (6), page-walk length 4 (3 in bits 5:3). */
const EPTP_WB_4LEVEL = 6 | (3 << 3);

export class Ept12 {
  readonly pml4: number;
  private readonly pdpt: number;
  /** Page directory of each GiB of guest-physical space, made on first use. */
  private readonly directories = new Map<number, number>();

  constructor(private readonly pages: HostPages) {
    this.pml4 = pages.allocate();
    this.pdpt = pages.allocate();
    this.write(this.pml4, this.pdpt + RWX);
  }

  /** The EPTP field value for these tables. */
  get eptp(): number {
    return this.pml4 + EPTP_WB_4LEVEL;
  }

  /** Maps [gpa, gpa + bytes) to host-physical [hpa, ...) with 2-MByte pages (both 2-MByte aligned, below 512 GiB). */
  map2M(gpa: number, hpa: number, bytes: number): void {
    if (gpa % TWO_MIB !== 0 || hpa % TWO_MIB !== 0 || bytes % TWO_MIB !== 0 || gpa + bytes > 512 * ONE_GIB) {
      throw new HypervisorError(`ept12: mapping 0x${gpa.toString(16)}+0x${bytes.toString(16)} → 0x${hpa.toString(16)} is not 2-MByte aligned`);
    }
    for (let off = 0; off < bytes; off += TWO_MIB) {
      const g = gpa + off;
      const pd = this.directory(Math.floor(g / ONE_GIB));
      this.write(pd + 8 * ((g % ONE_GIB) / TWO_MIB), hpa + off + PAGE_SIZE + MEMORY_TYPE_WB + RWX);
    }
  }

  private directory(gib: number): number {
    let pd = this.directories.get(gib);
    if (pd === undefined) {
      pd = this.pages.allocate();
      this.directories.set(gib, pd);
      this.write(this.pdpt + 8 * gib, pd + RWX);
    }
    return pd;
  }

  /** Writes a 64-bit entry whose value is below 2^52 (addresses are page-aligned, so the flags add without carry). */
  private write(at: number, value: number): void {
    const hi = Math.floor(value / 2 ** 32);
    this.pages.phys.writeSized(at, 4, (value - hi * 2 ** 32) | 0);
    this.pages.phys.writeSized(at + 4, 4, hi);
  }
}
