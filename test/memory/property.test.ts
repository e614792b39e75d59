/**
 * Property test: random paging structures (shared, even self-referencing
 * tables; random flags, reserved and ignored bits, large pages) and random
 * accesses at random CPL/AC under random CR0.WP, CR4.PSE/SMEP/SMAP and
 * EFER.NXE, translated by the core and by the reference walker of
 * reference.ts (SDM Vol. 3A §4.3-§4.8). They must agree on the physical
 * address or the #PF error code and CR2, and on the accessed/dirty flags
 * written to memory. fast-check with a fixed seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuException } from '../../cpu/exceptions.ts';
import { AC } from '../../cpu/flags.ts';
import { Access } from '../../cpu/memory/access.ts';
import { pagingStateChanged } from '../../cpu/memory/paging.ts';
import { makeCore } from '../support/machine.ts';
import {
  A, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_SMAP, CR4_SMEP, D, EFER_LMA, EFER_LME, EFER_NXE, G, P, PageTables,
  type PagingKind, PS, U, W, XD,
} from './pageTables.ts';
import { type Kind, type RefState, refTranslate } from './reference.ts';
import { rng } from '../support/smallRng.ts';

const POOL = 0x200000, POOL_PAGES = 6, FRAMES = 0x300000;
const TWO48 = 1n << 48n;


/** Bits besides P, R/W, U/S, PS, G, XD and the address that entries may carry: reserved in some modes and levels, ignored in others. */
const EXTRA: Record<PagingKind, bigint[]> = {
  '32': [1n << 13n, 1n << 21n, 1n << 9n, 0x18n],
  pae: [1n << 13n, 1n << 20n, 1n << 46n, 1n << 52n, 1n << 62n, 0x18n],
  '4level': [1n << 13n, 1n << 20n, 1n << 29n, 1n << 46n, 1n << 51n, 1n << 52n, 1n << 62n, 0x18n],
};

/** Index values per level: few, so that paths share entries. */
function indexChoices(kind: PagingKind, level: number): bigint[] {
  if (kind === 'pae' && level === 0) return [0n, 1n, 2n, 3n];
  if (kind === '32') return [0n, 1n, 2n, 768n, 1023n];
  return level === 0 && kind === '4level' ? [0n, 1n, 256n, 511n] : [0n, 1n, 2n, 511n];
}

function randomEntry(kind: PagingKind, r: (n: number) => number, pdpte: boolean): bigint {
  if (r(12) === 0) return BigInt(r(0x1000)) & ~P; // not present, junk elsewhere
  // Mostly the pool's tables, so that walks go deep; else frames (zero-filled: not present as tables).
  const frames = [FRAMES + 0x1000 * r(16), 0x400000, 0x600000, 0];
  const addr = BigInt(pdpte || r(6) !== 0 ? POOL + 0x1000 * r(POOL_PAGES) : frames[r(frames.length)]!);
  if (pdpte) return addr | P; // PAE PDPTEs: valid ones only (reserved bits are a #GP at MOV to CR3)
  let e = addr | P;
  if (r(5) !== 0) e |= W;
  if (r(5) !== 0) e |= U;
  if (r(6) === 0) e |= PS;
  if (r(4) === 0) e |= G;
  if (kind !== '32' && r(8) === 0) e |= XD;
  if (r(10) === 0) e |= EXTRA[kind][r(EXTRA[kind].length)]!;
  if (r(6) === 0) e |= A;
  if (r(8) === 0) e |= D;
  return e;
}

interface Scenario { kind: PagingKind; seed: number }

function runScenario({ kind, seed }: Scenario): void {
  const r = rng(seed);
  const t = makeCore(kind === '4level' ? 64 : 32, 8 << 20);
  const c = t.cpu;
  const pt = new PageTables(t.phys, kind, POOL);
  const levels = pt.levels();
  // Fill the chosen indices of every pool page; a page may serve at any level.
  for (let page = 0; page < POOL_PAGES; page++) {
    const idxs = new Set<bigint>();
    for (let l = 0; l < levels.length; l++) for (const i of indexChoices(kind, l)) idxs.add(i);
    for (const i of idxs) {
      const pdpte = kind === 'pae' && page === 0 && i < 4n;
      pt.write(BigInt(POOL + 0x1000 * page) + i * levels[0]!.entry, randomEntry(kind, r, pdpte));
    }
  }
  const st: RefState = {
    kind, cr3: BigInt(POOL), wp: r(2) === 1, pse: kind === '32' && r(2) === 1, smep: r(2) === 1, smap: r(2) === 1,
    nxe: kind !== '32' && r(2) === 1, cpl: 0, ac: false,
  };
  c.cr0 = CR0_PE | CR0_PG | 0x10 | (st.wp ? CR0_WP : 0);
  c.cr4 = (kind === '32' ? 0 : CR4_PAE) | (st.pse ? CR4_PSE : 0) | (st.smep ? CR4_SMEP : 0) | (st.smap ? CR4_SMAP : 0);
  c.efer = (kind === '4level' ? EFER_LME | EFER_LMA : 0) | (st.nxe ? EFER_NXE : 0);
  c.cr3 = POOL;
  pagingStateChanged(c);

  const poolBytes = (): Uint8Array => {
    const out = new Uint8Array(POOL_PAGES * 0x1000);
    for (let k = 0; k < POOL_PAGES; k++) out.set(new Uint8Array(t.phys.ramPage(POOL / 0x1000 + k)!.buffer), k * 0x1000);
    return out;
  };
  for (let n = 0; n < 40; n++) {
    let la = 0n;
    levels.forEach((lv, l) => {
      const ch = indexChoices(kind, l);
      la |= ch[r(ch.length)]! << lv.shift;
    });
    la |= BigInt(r(0x1000));
    if (r(4) === 0) la |= BigInt(r(0x200)) << 12n; // inside a large page
    const laNum = kind === '4level' && la >= 1n << 47n ? Number(la - TWO48) : Number(la);
    const kindOf: Kind = (['read', 'write', 'fetch'] as const)[r(3)]!;
    const cpl = r(2) === 0 ? 3 : 0;
    if (cpl !== c.cpl) {
      c.cpl = cpl;
      pagingStateChanged(c);
    }
    st.cpl = cpl;
    st.ac = r(2) === 1;
    c.eflags = st.ac ? c.eflags | AC : c.eflags & ~AC;

    const before = poolBytes();
    const view = new DataView(before.buffer);
    const read = (pa: bigint, size: 4 | 8): bigint => {
      const off = Number(pa) - POOL;
      if (off < 0 || off + size > before.length) {
        let v = 0n; // outside the pool: memory as it is (frames are zero)
        for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(t.phys.read8(Number(pa) + k));
        return v;
      }
      return size === 4 ? BigInt(view.getUint32(off, true)) : view.getBigUint64(off, true);
    };
    const ref = refTranslate(read, st, la, kindOf);
    const access = kindOf === 'read' ? Access.Read : kindOf === 'write' ? Access.Write : Access.Fetch;
    let got: number | CpuException;
    try {
      got = c.mmu.translate(laNum, access);
    } catch (e) {
      if (!(e instanceof CpuException)) throw e;
      got = e;
    }
    const what = `seed ${seed} access ${n}: ${kindOf} 0x${la.toString(16)} cpl ${cpl} ac ${st.ac} ${JSON.stringify({ ...st, cr3: 0 })}`;
    const expected = new Uint8Array(before);
    if (ref.fault) {
      expect(got instanceof CpuException ? { vector: got.vector, errorCode: got.errorCode, cr2: c.cr2 } : got, what)
        .toEqual({ vector: 14, errorCode: ref.errorCode, cr2: laNum });
    } else {
      expect(got, what).toBe(Number(ref.pa));
      ref.entries.forEach((pa, k) => {
        const off = Number(pa) - POOL;
        expected[off]! |= Number(A) | (kindOf === 'write' && k === ref.entries.length - 1 ? Number(D) : 0);
      });
    }
    const after = poolBytes();
    const diff = after.findIndex((b, k) => b !== expected[k]);
    expect(diff < 0 ? 'none' : `pool+0x${diff.toString(16)}: 0x${after[diff]!.toString(16)}, expected 0x${expected[diff]!.toString(16)}`,
      `${what}: accessed/dirty flags`).toBe('none');
  }
}

describe('paging property: the core agrees with the reference walker (fast-check, fixed seed)', () => {
  for (const kind of ['4level', 'pae', '32'] as PagingKind[]) {
    it(`${kind} paging: random structures, random accesses`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => runScenario({ kind, seed })),
        { seed: 0x7a6e, numRuns: 100 },
      );
    });
  }
});
