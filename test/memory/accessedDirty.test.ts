/**
 * Accessed and dirty flags (SDM Vol. 3A §4.8): A in every paging-structure
 * entry a translation uses, D in the entry that maps the page on a write;
 * with TLB caching (§4.10.2.2) the dirty flag is part of the cached entry.
 */
import { describe, expect, it } from 'vitest';
import { invalidatePage } from '../../cpu/memory/paging.ts';
import { A, D, expectDone, GiB1, MiB2, MiB4, pagedCore, type PagingKind, CR4_PSE, U, W } from './pageTables.ts';

const FRAME = 0x300000n;

/** The A and D flags of each entry on the path of `la`, top level first, as 'A', 'AD' or '-'. */
function flagsOnPath(pt: { entry(la: bigint, level: number): bigint; levels(): unknown[] }, la: bigint, depth?: number): string[] {
  const out: string[] = [];
  const n = depth ?? pt.levels().length;
  for (let level = 0; level < n; level++) {
    const e = pt.entry(la, level);
    out.push(((e & A) !== 0n ? 'A' : '') + ((e & D) !== 0n ? 'D' : '') || '-');
  }
  return out;
}

describe('accessed and dirty flags (SDM Vol. 3A §4.8)', () => {
  it('a read sets A at every level of 4-level paging and no D', async () => {
    const p = await pagedCore('mov rax, [rbx]', { regs: { rbx: 0x8000400000n }, map: (pt) => pt.map(0x8000400000n, FRAME, { flags: W }) });
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['-', '-', '-', '-']);
    expectDone(p.run());
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['A', 'A', 'A', 'A']);
  });

  it('a write sets D only in the entry that maps the page (PTE, 2-MByte PDE, 1-GByte PDPTE)', async () => {
    const p = await pagedCore('mov byte ptr [rbx], 1\nmov byte ptr [rcx], 1\nmov byte ptr [rdx], 1', {
      regs: { rbx: 0x8000400000n, rcx: 0x10000600000n, rdx: 0x18040000000n },
      map: (pt) => {
        pt.map(0x8000400000n, FRAME, { flags: W });
        pt.map(0x10000600000n, 0x400000n, { size: MiB2, flags: W });
        pt.map(0x18040000000n, 0n, { size: GiB1, flags: W });
      },
    });
    expectDone(p.run());
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['A', 'A', 'A', 'AD']);
    expect(flagsOnPath(p.pt, 0x10000600000n, 3)).toEqual(['A', 'A', 'AD']);
    expect(flagsOnPath(p.pt, 0x18040000000n, 2)).toEqual(['A', 'AD']);
  });

  it('instruction fetches set A in the code page\'s entries', async () => {
    const p = await pagedCore('nop');
    expectDone(p.run());
    expect(flagsOnPath(p.pt, 0x1000n)).toEqual(['A', 'A', 'A', 'A']);
  });

  it('a write through a TLB entry cached by a read with D = 0 sets D', async () => {
    const p = await pagedCore('mov rax, [rbx]\nmov qword ptr [rbx+8], rax', {
      regs: { rbx: 0x8000400000n },
      map: (pt) => pt.map(0x8000400000n, FRAME, { flags: W }),
    });
    p.t.phys.write8(Number(FRAME), 0x42);
    expectDone(p.run());
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['A', 'A', 'A', 'AD']);
    expect(p.t.phys.read8(Number(FRAME) + 8)).toBe(0x42);
  });

  it('the TLB remembers D: cleared in memory without INVLPG it stays clear; after INVLPG the next write sets it', async () => {
    const p = await pagedCore('mov byte ptr [rbx], 1', {
      regs: { rbx: 0x8000400000n },
      map: (pt) => pt.map(0x8000400000n, FRAME, { flags: W }),
    });
    const rerun = (): void => {
      p.cpu.rip = 0x1000;
      expectDone(p.run());
    };
    rerun();
    const pte = p.pt.entry(0x8000400000n, 3);
    expect(pte & (A | D)).toBe(A | D);
    p.pt.setEntry(0x8000400000n, 3, pte & ~(A | D));
    rerun();
    expect(p.pt.entry(0x8000400000n, 3) & (A | D)).toBe(0n); // stale cached translation, deterministically
    invalidatePage(p.cpu, 0x8000400000);
    rerun();
    expect(p.pt.entry(0x8000400000n, 3) & (A | D)).toBe(A | D);
  });

  it('an access that faults sets no flag', async () => {
    const p = await pagedCore('mov byte ptr [rbx], 1', {
      cpl: 3,
      regs: { rbx: 0x8000400000n },
      map: (pt) => pt.map(0x8000400000n, FRAME, { flags: U }), // read-only user page
    });
    expect(p.run()).toMatchObject({ kind: 'exception', vector: 14, errorCode: 0b111 });
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['-', '-', '-', '-']);
  });

  it('a write crossing two pages sets D in both PTEs', async () => {
    const p = await pagedCore('mov qword ptr [rbx], rcx', {
      regs: { rbx: 0x8000400ffcn },
      map: (pt) => {
        pt.map(0x8000400000n, FRAME, { flags: W });
        pt.map(0x8000401000n, FRAME + 0x1000n, { flags: W });
      },
    });
    expectDone(p.run());
    expect(flagsOnPath(p.pt, 0x8000400000n)).toEqual(['A', 'A', 'A', 'AD']);
    expect(flagsOnPath(p.pt, 0x8000401000n)).toEqual(['A', 'A', 'A', 'AD']);
  });

  for (const [kind, size] of [['pae', MiB2], ['32', MiB4]] as [PagingKind, bigint][]) {
    it(`${kind} paging: A and D in PDEs and PTEs${kind === 'pae' ? '; the PDPTE registers are never written' : ''}`, async () => {
      const big = 0x80000000n;
      const p = await pagedCore('mov byte ptr [ebx], 1\nmov al, [ecx]\nmov byte ptr [edx], 1', {
        kind,
        cr4: kind === '32' ? CR4_PSE : 0,
        regs: { rbx: 0x40400000n, rcx: 0x40401000n, rdx: big },
        map: (pt) => {
          pt.map(0x40400000n, FRAME, { flags: W });
          pt.map(0x40401000n, FRAME + 0x1000n, { flags: W });
          pt.map(big, 0x400000n, { size, flags: W });
        },
      });
      const pdpte = kind === 'pae' ? [p.pt.entry(0x40400000n, 0), p.pt.entry(big, 0)] : [];
      expectDone(p.run());
      const depth = p.pt.levels().length;
      const path = (la: bigint, d: number): string[] => flagsOnPath(p.pt, la, d).slice(kind === 'pae' ? 1 : 0);
      expect(path(0x40400000n, depth)).toEqual(['A', 'AD']);
      expect(path(0x40401000n, depth)).toEqual(['A', 'A']);
      expect(path(big, depth - 1)).toEqual(['AD']);
      if (kind === 'pae') expect([p.pt.entry(0x40400000n, 0), p.pt.entry(big, 0)]).toEqual(pdpte);
    });
  }
});
