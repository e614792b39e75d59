/**
 * Test helpers for paging: a builder of paging structures in guest
 * physical memory (SDM Vol. 3A §4.3-§4.5 formats, written with BigInt from
 * the SDM tables, independent of the walker), and a runner that enables
 * paging through state and runs an assembled program ending with INT3.
 */
import type { Cpu, StopReason } from '../../cpu/cpu.ts';
import { CpuException } from '../../cpu/exceptions.ts';
import { writeRflags } from '../../cpu/flags.ts';
import { pagingStateChanged } from '../../cpu/memory/paging.ts';
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { asm } from '../support/asm.ts';
import { CODE_BASE, makeCore, type RegName, type TestCore } from '../support/machine.ts';

export type PagingKind = '32' | 'pae' | '4level';

// Entry bits (Tables 4-4 to 4-20).
export const P = 1n, W = 2n, U = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, G = 0x100n, XD = 1n << 63n;
export const KiB4 = 1n << 12n, MiB2 = 1n << 21n, MiB4 = 1n << 22n, GiB1 = 1n << 30n;

// Control bits.
export const CR0_PE = 0x1, CR0_WP = 0x10000, CR0_PG = 0x80000000;
export const CR4_PSE = 0x10, CR4_PAE = 0x20, CR4_PGE = 0x80, CR4_PCIDE = 0x20000, CR4_SMEP = 0x100000, CR4_SMAP = 0x200000;
export const EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

interface Level { shift: bigint; bits: bigint; entry: bigint }

/** Index shifts, index widths and entry sizes per paging mode, top level first. */
const LEVELS: Record<PagingKind, Level[]> = {
  '32': [{ shift: 22n, bits: 10n, entry: 4n }, { shift: 12n, bits: 10n, entry: 4n }],
  pae: [{ shift: 30n, bits: 2n, entry: 8n }, { shift: 21n, bits: 9n, entry: 8n }, { shift: 12n, bits: 9n, entry: 8n }],
  '4level': [
    { shift: 39n, bits: 9n, entry: 8n }, { shift: 30n, bits: 9n, entry: 8n },
    { shift: 21n, bits: 9n, entry: 8n }, { shift: 12n, bits: 9n, entry: 8n },
  ],
};

export interface MapOptions {
  /** Page size: 4 KiB (default), 2 MiB, 4 MiB (32-bit) or 1 GiB. */
  size?: bigint;
  /** Flags of the leaf entry (P is added). */
  flags?: bigint;
  /** Flags of the non-leaf entries created or reused on the way (default P|W|U; PAE PDPTEs take P only). */
  upper?: bigint;
}

export class PageTables {
  /** Physical address of the top structure (CR3's address). */
  readonly root: number;
  private next: number;

  constructor(readonly phys: PhysicalMemory, readonly kind: PagingKind, base: number) {
    this.root = base;
    this.next = base + 0x1000;
  }

  levels(): Level[] {
    return LEVELS[this.kind];
  }

  read(pa: bigint): bigint {
    const n = this.kind === '32' ? 4 : 8;
    let v = 0n;
    for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(this.phys.read8(Number(pa) + k));
    return v;
  }

  write(pa: bigint, v: bigint): void {
    const n = this.kind === '32' ? 4 : 8;
    for (let k = 0; k < n; k++) this.phys.write8(Number(pa) + k, Number((v >> BigInt(8 * k)) & 0xffn));
  }

  /** Physical address of the entry at `level` (0 = top) for linear address `la`, following present entries. */
  entryAddress(la: bigint, level: number): bigint {
    const lv = this.levels();
    let table = BigInt(this.root);
    for (let k = 0; ; k++) {
      const idx = (la >> lv[k]!.shift) & ((1n << lv[k]!.bits) - 1n);
      const pa = table + idx * lv[k]!.entry;
      if (k === level) return pa;
      const e = this.read(pa);
      if ((e & P) === 0n) throw new Error(`no table at level ${k} for 0x${la.toString(16)}`);
      table = e & 0x000ffffffffff000n;
    }
  }

  /** The entry at `level` for `la`. */
  entry(la: bigint, level: number): bigint {
    return this.read(this.entryAddress(la, level));
  }

  setEntry(la: bigint, level: number, v: bigint): void {
    this.write(this.entryAddress(la, level), v);
  }

  /** Maps the page of `size` at linear `la` to physical `pa`. */
  map(la: bigint, pa: bigint, opts: MapOptions = {}): void {
    const size = opts.size ?? KiB4;
    const lv = this.levels();
    const leafLevel = lv.findIndex((l) => 1n << l.shift === size);
    if (leafLevel < 0) throw new Error(`no ${size}-byte pages in ${this.kind} paging`);
    let table = BigInt(this.root);
    for (let k = 0; k < leafLevel; k++) {
      const idx = (la >> lv[k]!.shift) & ((1n << lv[k]!.bits) - 1n);
      const epa = table + idx * lv[k]!.entry;
      let e = this.read(epa);
      if ((e & P) === 0n) {
        const upper = this.kind === 'pae' && k === 0 ? P : opts.upper ?? P | W | U;
        e = BigInt(this.alloc()) | upper | P;
        this.write(epa, e);
      }
      table = e & 0x000ffffffffff000n;
    }
    const idx = (la >> lv[leafLevel]!.shift) & ((1n << lv[leafLevel]!.bits) - 1n);
    const big = leafLevel < lv.length - 1 ? PS : 0n;
    this.write(table + idx * lv[leafLevel]!.entry, pa | big | P | (opts.flags ?? 0n));
  }

  /** Identity-maps [from, to) with 4 KiB pages. */
  identity(from: number, to: number, flags: bigint = W | U): void {
    for (let a = from; a < to; a += 0x1000) this.map(BigInt(a), BigInt(a), { flags });
  }

  private alloc(): number {
    const a = this.next;
    this.next += 0x1000;
    for (let k = 0; k < 0x1000; k++) this.phys.write8(a + k, 0);
    return a;
  }
}

export interface PagedOptions {
  kind?: PagingKind;
  cpl?: 0 | 3;
  cr0?: number;
  /** CR4 bits beyond those the mode needs (PAE is added for pae/4level). */
  cr4?: number;
  /** EFER bits beyond LME/LMA for 4level. */
  efer?: number;
  cr3Low?: number;
  regs?: Partial<Record<RegName, bigint>>;
  rflags?: number;
  memBytes?: number;
  /** Builds the mappings; code at CODE_BASE is identity-mapped as supervisor (cpl 0) or user (cpl 3) before. */
  map?: (pt: PageTables) => void;
}

export const TABLES_BASE = 0x200000;

/** A core with paging structures built and paging enabled through state. */
export interface PagedCore { t: TestCore; cpu: Cpu; pt: PageTables; run(max?: number): StopReason }

/**
 * Assembles `source` (INT3 appended) at CODE_BASE, builds paging
 * structures, enables paging as MOV to CR0/CR3/CR4 would leave it, and
 * returns the core ready to run.
 */
export async function pagedCore(source: string, opts: PagedOptions = {}): Promise<PagedCore> {
  const kind = opts.kind ?? '4level';
  const bits = kind === '4level' ? 64 : 32;
  const code = await asm(`${source}\nint3`, bits, CODE_BASE);
  const t = makeCore(bits, opts.memBytes ?? 8 << 20);
  t.phys.load(CODE_BASE, code);
  const pt = new PageTables(t.phys, kind, TABLES_BASE);
  const codeFlags = opts.cpl === 3 ? U : 0n;
  for (let a = CODE_BASE; a < CODE_BASE + code.length; a += 0x1000) pt.map(BigInt(a), BigInt(a), { flags: codeFlags });
  opts.map?.(pt);
  const c = t.cpu;
  c.cr0 = CR0_PE | CR0_PG | (opts.cr0 ?? 0) | 0x10;
  c.cr4 = (kind === '32' ? 0 : CR4_PAE) | (opts.cr4 ?? 0);
  c.efer = (kind === '4level' ? EFER_LME | EFER_LMA : 0) | (opts.efer ?? 0);
  c.cr3 = TABLES_BASE + (opts.cr3Low ?? 0);
  c.cpl = opts.cpl ?? 0;
  for (const [k, v] of Object.entries(opts.regs ?? {})) t.setReg(k as RegName, v as bigint);
  if (opts.rflags !== undefined) writeRflags(c, opts.rflags, 0xffffffff);
  pagingStateChanged(c);
  return { t, cpu: c, pt, run: (max = 100_000) => t.run(max) };
}

/** Runs and expects the program to reach its final INT3. */
export function expectDone(stop: StopReason): void {
  if (stop.kind !== 'exception' || stop.vector !== 3) throw new Error(`expected INT3, got ${JSON.stringify(stop)}`);
}

/** The #PF that `f` raises. */
export function catchPf(f: () => unknown): CpuException {
  try {
    f();
  } catch (e) {
    if (e instanceof CpuException && e.vector === 14) return e;
    throw e;
  }
  throw new Error('expected #PF');
}
