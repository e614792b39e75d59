/**
 * Access rights (SDM Vol. 3A §4.6.1) and the page-fault error code (§4.7)
 * for every combination of U/S × R/W × XD × CR0.WP × CR4.SMEP × CR4.SMAP ×
 * EFER.NXE × CPL 0/3 × RFLAGS.AC × read/write/fetch, with the restricting
 * flags in the leaf entry or in a paging-structure entry above it, in each
 * paging mode. Expected outcomes come from the reference (reference.ts).
 */
import { CpuException } from '../../cpu/exceptions.ts';
import { describe, expect, it } from 'vitest';
import { AC } from '../../cpu/flags.ts';
import { implicitSupervisor, pagingStateChanged, writeCr3 } from '../../cpu/memory/paging.ts';
import { asm } from '../support/asm.ts';
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE,
  catchPf, pagedCore, type PagingKind, P, TABLES_BASE, U, W, XD,
} from './pageTables.ts';
import { type Kind, refTranslate } from './reference.ts';

const TARGET = 0x400000n, FRAME = 0x300000n;
const ENTRY: Record<Kind, number> = { read: 0x1000, write: 0x1100, fetch: 0x1200 };

async function rightsCore(kind: PagingKind) {
  const r = kind === '4level' ? 'rbx' : 'ebx';
  const bits = kind === '4level' ? 64 : 32;
  const p = await pagedCore('nop', { kind, regs: { rbx: TARGET }, map: (pt) => pt.map(TARGET, FRAME, { flags: W | U }) });
  p.t.phys.load(ENTRY.read, await asm(`mov al, [${r}]\nint3`, bits, ENTRY.read));
  p.t.phys.load(ENTRY.write, await asm(`mov byte ptr [${r}], 0x5a\nint3`, bits, ENTRY.write));
  p.t.phys.load(ENTRY.fetch, await asm(`jmp ${r}`, bits, ENTRY.fetch));
  p.t.phys.write8(Number(FRAME), 0xcc); // INT3 at the target, for fetches
  return p;
}

interface Combo { us: boolean; rw: boolean; xd: boolean; wp: boolean; smep: boolean; smap: boolean; nxe: boolean; cpl: 0 | 3; ac: boolean; access: Kind; upper: boolean }

function* combos(kind: PagingKind): Generator<Combo> {
  const tf = [false, true];
  const xdOpts = kind === '32' ? [false] : tf;
  for (const us of tf) for (const rw of tf) for (const xd of xdOpts) for (const wp of tf) for (const smep of tf)
    for (const smap of tf) for (const nxe of xdOpts) for (const cpl of [0, 3] as const) for (const ac of tf)
      for (const access of ['read', 'write', 'fetch'] as Kind[]) for (const upper of tf) {
        yield { us, rw, xd, wp, smep, smap, nxe, cpl, ac, access, upper };
      }
}

describe('access rights matrix (SDM Vol. 3A §4.6.1, §4.7)', () => {
  for (const kind of ['4level', 'pae', '32'] as PagingKind[]) {
    it(`${kind} paging: every U/S, R/W, XD, WP, SMEP, SMAP, NXE, CPL, AC and access kind`, async () => {
      const p = await rightsCore(kind);
      const { cpu: c, pt, t } = p;
      const leafLevel = pt.levels().length - 1;
      // PAE PDPTEs carry no rights: the restricting upper entry is the one just above the leaf.
      const upperLevel = leafLevel - 1;
      let checked = 0;
      for (const x of combos(kind)) {
        const restrict = P | (x.rw ? W : 0n) | (x.us ? U : 0n) | (x.xd ? XD : 0n);
        const open = P | W | U;
        const leafAddr = pt.entryAddress(TARGET, leafLevel);
        pt.write(pt.entryAddress(TARGET, upperLevel), (pt.entry(TARGET, upperLevel) & ~0xfffn & ~XD) | (x.upper ? restrict : open));
        pt.write(leafAddr, FRAME | (x.upper ? open : restrict));
        pt.setEntry(BigInt(ENTRY.read), leafLevel, BigInt(ENTRY.read & ~0xfff) | P | (x.cpl === 3 ? U : 0n));
        c.cr0 = CR0_PE | CR0_PG | 0x10 | (x.wp ? CR0_WP : 0);
        c.cr4 = (kind === '32' ? CR4_PSE : CR4_PAE) | (x.smep ? CR4_SMEP : 0) | (x.smap ? CR4_SMAP : 0);
        c.efer = (kind === '4level' ? EFER_LME | EFER_LMA : 0) | (x.nxe ? EFER_NXE : 0);
        c.cpl = x.cpl;
        c.eflags = x.ac ? c.eflags | AC : c.eflags & ~AC;
        pagingStateChanged(c);
        writeCr3(c, TABLES_BASE, 0);
        t.phys.write8(Number(FRAME) + 1, 0);
        c.rip = ENTRY[x.access];
        const stop = t.run(10);
        const ref = refTranslate((pa, size) => pt.read(pa) & (size === 4 ? 0xffffffffn : ~0n),
          { kind, cr3: BigInt(TABLES_BASE), wp: x.wp, pse: kind === '32', smep: x.smep, smap: x.smap, nxe: x.nxe, cpl: x.cpl, ac: x.ac },
          TARGET, x.access);
        const what = JSON.stringify(x);
        if (ref.fault) {
          expect(stop, what).toMatchObject({ kind: 'exception', vector: 14, errorCode: ref.errorCode });
          expect(c.cr2, what).toBe(Number(TARGET));
          expect(stop.kind === 'exception' && stop.rip, what).toBe(x.access === 'fetch' ? Number(TARGET) : ENTRY[x.access]);
        } else {
          expect(stop, what).toMatchObject({ kind: "exception", vector: 3 });
          if (x.access === 'read') expect(t.reg('rax') & 0xffn, what).toBe(0xccn);
          if (x.access === 'write') expect(t.phys.read8(Number(FRAME)), what).toBe(0x5a);
          if (x.access === 'fetch') expect(c.rip, what).toBe(Number(TARGET) + 1);
          t.phys.write8(Number(FRAME), 0xcc);
        }
        checked++;
      }
      expect(checked).toBe(kind === '32' ? 768 : 3072);
    });
  }

  it('an implicit supervisor-mode access at CPL 3 is a supervisor access (U/S = 0 in the error code)', async () => {
    const p = await rightsCore('4level');
    const { cpu: c, pt } = p;
    pt.setEntry(TARGET, 3, FRAME | P | W); // supervisor page
    c.cpl = 3;
    pagingStateChanged(c);
    // An explicit user read faults with U/S = 1 ...
    expect(() => c.mmu.read8(Number(TARGET))).toThrow(CpuException);
    let e = catchPf(() => c.mmu.read8(Number(TARGET)));
    expect(e.errorCode).toBe(0b101);
    // ... an implicit one reads the supervisor page.
    implicitSupervisor(c, true);
    expect(c.mmu.read8(Number(TARGET))).toBe(0xcc);
    // and a write to a read-only page faults without U/S (WP = 1).
    c.cr0 |= CR0_WP;
    pagingStateChanged(c);
    pt.setEntry(TARGET, 3, FRAME | P);
    writeCr3(c, TABLES_BASE, 0);
    e = catchPf(() => c.mmu.write8(Number(TARGET), 1));
    expect(e.errorCode).toBe(0b011);
    implicitSupervisor(c, false);
    // Back to explicit user accesses: the supervisor page is out of reach again.
    e = catchPf(() => c.mmu.read8(Number(TARGET)));
    expect(e.errorCode).toBe(0b101);
  });

  it('SMAP applies to implicit supervisor-mode accesses whatever RFLAGS.AC, also after user accesses cached the page', async () => {
    const p = await rightsCore('4level');
    const { cpu: c } = p;
    c.cr4 |= CR4_SMAP;
    c.cpl = 3;
    c.eflags |= AC;
    pagingStateChanged(c);
    expect(c.mmu.read8(Number(TARGET))).toBe(0xcc); // user access to a user page: cached for CPL 3
    implicitSupervisor(c, true);
    expect(catchPf(() => c.mmu.read8(Number(TARGET))).errorCode).toBe(0b001);
    implicitSupervisor(c, false);
    expect(c.mmu.read8(Number(TARGET))).toBe(0xcc);
    // At CPL 0 with AC = 1 explicit accesses may, implicit ones may not.
    c.cpl = 0;
    pagingStateChanged(c);
    expect(c.mmu.read8(Number(TARGET))).toBe(0xcc);
    implicitSupervisor(c, true);
    expect(catchPf(() => c.mmu.read8(Number(TARGET))).errorCode).toBe(0b001);
    implicitSupervisor(c, false);
  });
});
