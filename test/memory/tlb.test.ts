/**
 * The TLB (SDM Vol. 3A §4.10): translations survive page-table changes
 * until invalidated, exactly by the operations of §4.10.4.1 — INVLPG,
 * INVPCID, MOV to CR3 (per PCID, with the bit-63 no-flush hint), MOV to
 * CR4 changing PGE/PCIDE/PAE/SMEP, MOV to CR0 clearing PG — and by page
 * faults. Global entries (CR4.PGE) survive MOV to CR3.
 */
import { describe, expect, it } from 'vitest';
import { implicitSupervisor, invalidatePage, pagingStateChanged, writeCr3 } from '../../cpu/memory/paging.ts';
import { asm } from '../support/asm.ts';
import {
  catchPf, CR0_PG, CR0_WP, CR4_PCIDE, CR4_PGE, CR4_SMAP, CR4_SMEP, expectDone, G, MiB2, type PagedCore, pagedCore, P, TABLES_BASE, U, W,
} from './pageTables.ts';

const T = 0x8000400000n, T2 = 0x8000401000n;
const F1 = 0x300000, F2 = 0x301000, F3 = 0x302000, F4 = 0x303000;

/** Reads the bytes at T and T2 into AL and CL. */
async function twoPages(opts: { global?: boolean; cr4?: number; cr3Low?: number } = {}): Promise<PagedCore> {
  const p = await pagedCore('mov al, [rbx]\nmov cl, [rdx]', {
    regs: { rbx: T, rdx: T2 },
    cr4: opts.cr4,
    cr3Low: opts.cr3Low,
    map: (pt) => {
      pt.map(T, BigInt(F1), { flags: W | (opts.global ? G : 0n) });
      pt.map(T2, BigInt(F2), { flags: W });
    },
  });
  for (const [a, v] of [[F1, 1], [F2, 2], [F3, 3], [F4, 4]]) p.t.phys.write8(a!, v!);
  return p;
}

/** Runs from the start again and returns [AL, CL]. */
function reads(p: PagedCore): [number, number] {
  p.cpu.rip = 0x1000;
  expectDone(p.run());
  return [Number(p.t.reg('rax') & 0xffn), Number(p.t.reg('rcx') & 0xffn)];
}

/** Points T at F3 and T2 at F4 in memory, invalidating nothing. */
function remap(p: PagedCore): void {
  p.pt.setEntry(T, 3, BigInt(F3) | P | W | (p.pt.entry(T, 3) & G));
  p.pt.setEntry(T2, 3, BigInt(F4) | P | W);
}

describe('TLB invalidation (SDM Vol. 3A §4.10.4)', () => {
  it('a page-table change without invalidation leaves the old translation; INVLPG drops it (§4.10.4.1)', async () => {
    const p = await twoPages();
    expect(reads(p)).toEqual([1, 2]);
    remap(p);
    expect(reads(p)).toEqual([1, 2]); // stale, deterministically
    invalidatePage(p.cpu, Number(T));
    expect(reads(p)).toEqual([3, 2]); // only T's page was invalidated
  });

  it('INVLPG as an instruction, and of any address inside a 2-MByte page', async () => {
    const big = 0x10000600000n;
    const p = await pagedCore('mov al, [rbx+0x1000]\ninvlpg [rbx+0x5000]\nmov cl, [rbx+0x1000]', {
      regs: { rbx: big },
      map: (pt) => pt.map(big, 0x400000n, { size: MiB2, flags: W }),
    });
    p.t.phys.write8(0x401000, 0x11);
    p.t.phys.write8(0x601000, 0x66);
    // Change the PDE between the first read and INVLPG: stop after the first instruction.
    expect(p.run(1)).toEqual({ kind: 'limit' });
    p.pt.setEntry(big, 2, 0x600000n | P | W | 0x80n);
    expectDone(p.run());
    expect(p.t.reg('rax') & 0xffn).toBe(0x11n);
    expect(p.t.reg('rcx') & 0xffn).toBe(0x66n);
  });

  it('MOV to CR3 drops non-global entries; global ones (CR4.PGE, G = 1) survive it but not INVLPG', async () => {
    const p = await twoPages({ global: true, cr4: CR4_PGE });
    expect(reads(p)).toEqual([1, 2]);
    remap(p);
    writeCr3(p.cpu, TABLES_BASE, 0);
    expect(reads(p)).toEqual([1, 4]);
    invalidatePage(p.cpu, Number(T));
    expect(reads(p)).toEqual([3, 4]);
  });

  it('G is ignored without CR4.PGE', async () => {
    const p = await twoPages({ global: true });
    reads(p);
    remap(p);
    writeCr3(p.cpu, TABLES_BASE, 0);
    expect(reads(p)).toEqual([3, 4]);
  });

  it('MOV to CR4 changing PGE drops global entries too', async () => {
    const p = await twoPages({ global: true, cr4: CR4_PGE });
    reads(p);
    remap(p);
    p.cpu.cr4 &= ~CR4_PGE;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([3, 4]);
  });

  it('MOV to CR4 setting SMEP drops the current PCID\'s entries; clearing it drops nothing', async () => {
    const p = await twoPages({ cr4: CR4_SMEP });
    reads(p);
    remap(p);
    p.cpu.cr4 &= ~CR4_SMEP;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([1, 2]);
    p.cpu.cr4 |= CR4_SMEP;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([3, 4]);
  });

  it('MOV to CR0 clearing PG drops everything, global entries included; changing WP drops nothing', async () => {
    const p = await twoPages({ global: true, cr4: CR4_PGE });
    reads(p);
    remap(p);
    p.cpu.cr0 ^= CR0_WP;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([1, 2]);
    p.cpu.cr0 &= ~CR0_PG;
    pagingStateChanged(p.cpu);
    p.cpu.cr0 |= CR0_PG;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([3, 4]);
  });

  it('a page fault drops the stale entry that caused it, so the retried access walks memory again', async () => {
    const p = await pagedCore('mov al, [rbx]\nmov byte ptr [rbx], 9', {
      regs: { rbx: T },
      cr0: CR0_WP,
      map: (pt) => pt.map(T, BigInt(F1)), // read-only
    });
    expect(p.run(1)).toEqual({ kind: 'limit' });
    p.pt.setEntry(T, 3, p.pt.entry(T, 3) | W); // made writable without INVLPG
    expect(p.run()).toMatchObject({ kind: 'exception', vector: 14, errorCode: 0b011, rip: 0x1002 });
    p.cpu.rip = 0x1002;
    expectDone(p.run());
    expect(p.t.phys.read8(F1)).toBe(9);
  });

  it('remapped code runs only after invalidation (decoded blocks are keyed by physical address)', async () => {
    const p = await pagedCore('nop');
    p.t.phys.load(0x5000, await asm('mov eax, 1\nint3', 64, 0x5000));
    p.t.phys.load(0x6000, await asm('mov eax, 2\nint3', 64, 0x5000));
    p.pt.map(0x5000n, 0x5000n);
    const go = (): bigint => {
      p.cpu.rip = 0x5000;
      expectDone(p.run());
      return p.t.reg('rax');
    };
    expect(go()).toBe(1n);
    p.pt.setEntry(0x5000n, 3, 0x6000n | P);
    expect(go()).toBe(1n);
    invalidatePage(p.cpu, 0x5000);
    expect(go()).toBe(2n);
  });

  it('a CPL change never lets user accesses reach pages cached for supervisor accesses', async () => {
    const p = await pagedCore('nop', { map: (pt) => pt.map(T, BigInt(F1), { flags: W }) });
    const c = p.cpu;
    p.t.phys.write8(F1, 1);
    expect(c.mmu.read8(Number(T))).toBe(1);
    c.mmu.write8(Number(T), 5);
    c.cpl = 3;
    pagingStateChanged(c);
    expect(() => c.mmu.read8(Number(T))).toThrow();
    expect(c.cr2).toBe(Number(T));
  });

  it('leaving CPL 3 under SMAP: user pages cached for user accesses fault for supervisor ones', async () => {
    const p = await pagedCore('nop', { cpl: 3, cr4: CR4_SMAP, map: (pt) => pt.map(T, BigInt(F1), { flags: W | U }) });
    const c = p.cpu;
    c.mmu.write8(Number(T), 7);
    expect(c.mmu.read8(Number(T))).toBe(7);
    c.cpl = 0;
    pagingStateChanged(c);
    expect(catchPf(() => c.mmu.read8(Number(T))).errorCode).toBe(0b001);
    expect(catchPf(() => c.mmu.write8(Number(T), 1)).errorCode).toBe(0b011);
  });

  for (const duringImplicit of [false, true]) {
    it(`leaving CPL 3 under SMEP${duringImplicit ? ' amid implicit accesses (event delivery)' : ''}: code run at CPL 3 from a user page faults when fetched at CPL 0`, async () => {
      const p = await pagedCore('nop', { cpl: 3, cr4: CR4_SMEP });
      expectDone(p.run());
      if (duringImplicit) implicitSupervisor(p.cpu, true);
      p.cpu.cpl = 0;
      pagingStateChanged(p.cpu);
      if (duringImplicit) implicitSupervisor(p.cpu, false);
      p.cpu.rip = 0x1000;
      expect(p.run()).toEqual({ kind: 'exception', vector: 14, errorCode: 0b10001, rip: 0x1000 });
    });
  }

  it('leaving CPL 3 without SMEP and SMAP keeps what CPL 3 cached (rights only widen)', async () => {
    const p = await pagedCore('nop', { cpl: 3, map: (pt) => pt.map(T, BigInt(F1), { flags: W | U }) });
    const c = p.cpu;
    expectDone(p.run());
    c.mmu.write8(Number(T), 7);
    c.cpl = 0;
    pagingStateChanged(c);
    expect(c.mmu.read8(Number(T))).toBe(7);
    c.rip = 0x1000;
    expectDone(p.run());
  });
});

describe('PCIDs (SDM Vol. 3A §4.10.1, §4.10.4.1)', () => {
  it('entries are tagged by PCID; MOV to CR3 with bit 63 keeps them, without it drops the new PCID\'s', async () => {
    const p = await twoPages({ cr4: CR4_PCIDE, cr3Low: 1 });
    expect(reads(p)).toEqual([1, 2]); // cached for PCID 1
    remap(p);
    writeCr3(p.cpu, TABLES_BASE + 2, 0x80000000 | 0); // PCID 2, no flush: nothing cached for it
    expect(reads(p)).toEqual([3, 4]);
    writeCr3(p.cpu, TABLES_BASE + 1, 0x80000000 | 0); // back to PCID 1, no flush: its entries remain
    expect(reads(p)).toEqual([1, 2]);
    writeCr3(p.cpu, TABLES_BASE + 2, 0); // PCID 2 flushed; PCID 1 untouched
    writeCr3(p.cpu, TABLES_BASE + 1, 0x80000000 | 0);
    expect(reads(p)).toEqual([1, 2]);
    writeCr3(p.cpu, TABLES_BASE + 1, 0); // PCID 1 flushed
    expect(reads(p)).toEqual([3, 4]);
  });

  it('INVLPG drops the current PCID\'s entry and global ones, not other PCIDs\'', async () => {
    const p = await twoPages({ cr4: CR4_PCIDE, cr3Low: 1 });
    reads(p);
    remap(p);
    writeCr3(p.cpu, TABLES_BASE + 2, 0x80000000 | 0);
    invalidatePage(p.cpu, Number(T));
    writeCr3(p.cpu, TABLES_BASE + 1, 0x80000000 | 0);
    expect(reads(p)).toEqual([1, 2]);
  });

  it('MOV to CR4 clearing PCIDE drops everything', async () => {
    const p = await twoPages({ cr4: CR4_PCIDE, cr3Low: 0 });
    reads(p);
    remap(p);
    p.cpu.cr4 &= ~CR4_PCIDE;
    pagingStateChanged(p.cpu);
    expect(reads(p)).toEqual([3, 4]);
  });

  /** INVPCID rax, [rsi] (66 0F 38 82 /r), then the two reads. */
  async function invpcidCore(): Promise<PagedCore> {
    const p = await pagedCore('.byte 0x66, 0x0f, 0x38, 0x82, 0x06\nmov al, [rbx]\nmov cl, [rdx]', {
      regs: { rbx: T, rdx: T2, rsi: 0x8000n },
      cr4: CR4_PCIDE | CR4_PGE,
      cr3Low: 1,
      map: (pt) => {
        pt.map(T, BigInt(F1), { flags: W | G });
        pt.map(T2, BigInt(F2), { flags: W });
        pt.map(0x8000n, 0x8000n);
      },
    });
    for (const [a, v] of [[F1, 1], [F2, 2], [F3, 3], [F4, 4]]) p.t.phys.write8(a!, v!);
    return p;
  }

  /** Fills the TLB for PCID 1, remaps, runs INVPCID with `type` and descriptor (pcid, la), returns the reads. */
  function afterInvpcid(p: PagedCore, type: number, pcid: number, la: bigint): [number, number] {
    p.cpu.mmu.read8(Number(T));
    p.cpu.mmu.read8(Number(T2));
    remap(p);
    const desc = new Uint8Array(16);
    new DataView(desc.buffer).setBigUint64(0, BigInt(pcid), true);
    new DataView(desc.buffer).setBigUint64(8, la, true);
    p.t.phys.load(0x8000, desc);
    p.t.setReg('rax', BigInt(type));
    p.cpu.rip = 0x1000;
    expectDone(p.run());
    return [Number(p.t.reg('rax') & 0xffn), Number(p.t.reg('rcx') & 0xffn)];
  }

  it('INVPCID type 0 drops one non-global mapping of the given PCID', async () => {
    const p = await invpcidCore();
    expect(afterInvpcid(p, 0, 1, T2)).toEqual([1, 4]);
    const q = await invpcidCore();
    expect(afterInvpcid(q, 0, 1, T)).toEqual([1, 2]); // T is global: kept
    const r = await invpcidCore();
    expect(afterInvpcid(r, 0, 7, T2)).toEqual([1, 2]); // another PCID's: kept
  });

  it('INVPCID type 1 drops the PCID\'s non-global mappings', async () => {
    expect(afterInvpcid(await invpcidCore(), 1, 1, 0n)).toEqual([1, 4]);
    expect(afterInvpcid(await invpcidCore(), 1, 3, 0n)).toEqual([1, 2]);
  });

  it('INVPCID type 2 drops everything, global mappings included; type 3 all but global ones', async () => {
    expect(afterInvpcid(await invpcidCore(), 2, 0, 0n)).toEqual([3, 4]);
    expect(afterInvpcid(await invpcidCore(), 3, 0, 0n)).toEqual([1, 4]);
  });
});

describe('TLB determinism', () => {
  it('the same accesses leave the same stale entries on two cores', async () => {
    const outcome = async (): Promise<number[]> => {
      const p = await pagedCore('nop', {
        map: (pt) => {
          for (let k = 0n; k < 64n; k++) pt.map(T + k * 0x10000000n, BigInt(F1), { flags: W | U });
        },
      });
      const c = p.cpu;
      p.t.phys.write8(F1, 1);
      p.t.phys.write8(F2, 2);
      const out: number[] = [];
      for (let k = 0; k < 64; k++) c.mmu.read8(Number(T) + k * 0x10000000);
      for (let k = 0n; k < 64n; k++) p.pt.setEntry(T + k * 0x10000000n, 3, BigInt(F2) | P | W | U);
      for (let k = 0; k < 64; k++) out.push(c.mmu.read8(Number(T) + ((k * 37) % 64) * 0x10000000));
      return out;
    };
    expect(await outcome()).toEqual(await outcome());
  });
});
