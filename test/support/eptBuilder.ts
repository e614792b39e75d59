/**
 * EPT paging structures for tests, written with BigInt straight from the
 * entry formats of SDM Vol. 3C §29.3.2 (Figure 29-1, Tables 29-1 to 29-6)
 * and the EPTP format of §25.6.11 (Table 25-9), independent of vmx/ept/.
 *
 * Levels are named as the SDM does: 4 = EPT PML4E (bits 47:39 of the
 * guest-physical address), 3 = EPT PDPTE (38:30), 2 = EPT PDE (29:21),
 * 1 = EPT PTE (20:12). Every entry is 8 bytes:
 *  - bits 2:0 read, write, execute access (all 0: not present);
 *  - an entry that references a table: bits 7:3 reserved (0), bit 8
 *    accessed, bits N-1:12 the table's physical address;
 *  - an entry that maps a page (a PTE, or a PDPTE/PDE with bit 7 = 1):
 *    bits 5:3 EPT memory type, bit 6 ignore PAT, bit 7 page size, bit 8
 *    accessed, bit 9 dirty, bits N-1:12/21/30 the page's physical address.
 * Tables are taken in order from [base, limit) and zeroed when taken.
 */
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';

export const EPT_R = 1n, EPT_W = 2n, EPT_X = 4n, EPT_RWX = 7n;
export const EPT_PS = 0x80n, EPT_A = 0x100n, EPT_D = 0x200n, EPT_IPAT = 0x40n;
/** EPT memory types (§29.3.7): UC 0, WC 1, WT 4, WP 5, WB 6; 2, 3 and 7 are reserved. */
export const MT_UC = 0, MT_WB = 6;
export type EptLevel = 1 | 2 | 3 | 4;
export type EptPageSize = '4K' | '2M' | '1G';

/** The level whose entry maps a page of each size, and the size in bytes. */
export const PAGE_LEVEL: Record<EptPageSize, EptLevel> = { '4K': 1, '2M': 2, '1G': 3 };
export const PAGE_BYTES: Record<EptPageSize, bigint> = { '4K': 1n << 12n, '2M': 1n << 21n, '1G': 1n << 30n };
const ADDRESS = 0x000ffffffffff000n;

export interface EptMapOptions {
  /** Page size (default 4K). */
  size?: EptPageSize;
  /** Bits 2:0 of the leaf: EPT_R | EPT_W | EPT_X (default RWX). */
  perms?: bigint;
  /** EPT memory type, bits 5:3 of the leaf (default WB). */
  memoryType?: number;
  ignorePat?: boolean;
  /** Accessed (bit 8) and dirty (bit 9) preset in the leaf. */
  accessed?: boolean;
  dirty?: boolean;
  /** Raw bits ORed into the leaf (reserved bits for misconfiguration tests). */
  extra?: bigint;
}

export class EptBuilder {
  /** Physical address of the EPT PML4 table. */
  readonly root: bigint;
  private next: number;

  constructor(readonly phys: PhysicalMemory, readonly base: number, readonly limit: number) {
    this.next = base;
    this.root = this.newTable();
  }

  /** Takes a zeroed 4-KByte page for a table (for entries written by hand). */
  newTable(): bigint {
    if (this.next + 0x1000 > this.limit) throw new RangeError(`EPT builder: no room for another table below 0x${this.limit.toString(16)}`);
    const pa = this.next;
    this.next += 0x1000;
    new Uint8Array(this.phys.ramPage(pa / 0x1000)!.buffer).fill(0);
    return BigInt(pa);
  }

  read(pa: bigint): bigint {
    return this.phys.ramPage(Number(pa >> 12n))!.getBigUint64(Number(pa & 0xfffn), true);
  }

  write(pa: bigint, v: bigint): void {
    this.phys.ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), BigInt.asUintN(64, v), true);
  }

  /** Address of the entry for `gpa` at `level` in the table at `table`: index bits 3+9·level+8 : 3+9·level. */
  static slot(table: bigint, gpa: bigint, level: EptLevel): bigint {
    return table + ((gpa >> BigInt(3 + 9 * level)) & 0x1ffn) * 8n;
  }

  /**
   * Address of the entry for `gpa` at `level`, following the entries above
   * it; a missing table on the way is created (entry RWX) when `create`.
   */
  entryAddress(gpa: bigint, level: EptLevel, create = false): bigint {
    let table = this.root;
    for (let l = 4; l > level; l--) {
      const pa = EptBuilder.slot(table, gpa, l as EptLevel);
      let e = this.read(pa);
      if ((e & 7n) === 0n) {
        if (!create) throw new Error(`EPT builder: no level-${l - 1} table for 0x${gpa.toString(16)}`);
        e = this.newTable() | EPT_RWX;
        this.write(pa, e);
      } else if (l < 4 && (e & EPT_PS) !== 0n) {
        throw new Error(`EPT builder: 0x${gpa.toString(16)} is in a page mapped at level ${l}`);
      }
      table = e & ADDRESS;
    }
    return EptBuilder.slot(table, gpa, level);
  }

  entry(gpa: bigint, level: EptLevel): bigint {
    return this.read(this.entryAddress(gpa, level));
  }

  setEntry(gpa: bigint, level: EptLevel, v: bigint): void {
    this.write(this.entryAddress(gpa, level), v);
  }

  /** Replaces bits `clear` of the entry for `gpa` at `level` by `set`. */
  edit(gpa: bigint, level: EptLevel, clear: bigint, set: bigint): void {
    const pa = this.entryAddress(gpa, level);
    this.write(pa, (this.read(pa) & ~clear) | set);
  }

  /** The leaf entry value for a page at `hpa` (aligned to its size). */
  static leaf(hpa: bigint, o: EptMapOptions = {}): bigint {
    const size = o.size ?? '4K';
    if (hpa % PAGE_BYTES[size] !== 0n) throw new Error(`EPT builder: 0x${hpa.toString(16)} is not ${size}-aligned`);
    return hpa | (o.perms ?? EPT_RWX) | (BigInt(o.memoryType ?? MT_WB) << 3n) | (o.ignorePat ? EPT_IPAT : 0n) |
      (size === '4K' ? 0n : EPT_PS) | (o.accessed ? EPT_A : 0n) | (o.dirty ? EPT_D : 0n) | (o.extra ?? 0n);
  }

  /** Maps [gpa, gpa + length) to [hpa, hpa + length) with pages of `o.size`; both aligned to it. */
  map(gpa: bigint | number, hpa: bigint | number, length: bigint | number, o: EptMapOptions = {}): this {
    const size = o.size ?? '4K', step = PAGE_BYTES[size];
    const g0 = BigInt(gpa), h0 = BigInt(hpa), n = BigInt(length);
    if (g0 % step !== 0n || n % step !== 0n) throw new Error(`EPT builder: [0x${g0.toString(16)}, +0x${n.toString(16)}) is not ${size}-aligned`);
    for (let off = 0n; off < n; off += step) this.write(this.entryAddress(g0 + off, PAGE_LEVEL[size], true), EptBuilder.leaf(h0 + off, o));
    return this;
  }

  /** Maps [from, to) onto itself. */
  identity(from: bigint | number, to: bigint | number, o: EptMapOptions = {}): this {
    return this.map(from, from, BigInt(to) - BigInt(from), o);
  }

  /** Makes the entry for `gpa` at `level` not present (bits 2:0 = 0; the rest kept, as it is then ignored). */
  unmap(gpa: bigint | number, level: EptLevel): this {
    this.edit(BigInt(gpa), level, EPT_RWX, 0n);
    return this;
  }

  /** Sets bits 2:0 of the entry for `gpa` at `level` to `perms`. */
  protect(gpa: bigint | number, level: EptLevel, perms: bigint): this {
    this.edit(BigInt(gpa), level, EPT_RWX, perms);
    return this;
  }

  /**
   * The EPTP (Table 25-9): bits 2:0 memory type of the paging structures
   * (default WB), bits 5:3 the page-walk length minus 1 (3: four levels),
   * bit 6 enable accessed and dirty flags, bits N-1:12 the PML4 table.
   */
  eptp(o: { accessedDirty?: boolean; memoryType?: number } = {}): bigint {
    return this.root | BigInt(o.memoryType ?? MT_WB) | (3n << 3n) | (o.accessedDirty ? 0x40n : 0n);
  }
}
