/**
 * Linear-address translation per paging mode and page size (SDM Vol. 3A
 * §4.3 32-bit, §4.4 PAE, §4.5 4-level), not-present and reserved-bit
 * faults (§4.7), CR2, page-crossing accesses, the PDPTE registers (§4.4.1)
 * and MOV to CR3's checks.
 */
import { CpuException } from '../../cpu/exceptions.ts';
import { describe, expect, it } from 'vitest';
import { Access } from '../../cpu/memory/access.ts';
import { mapIdentity, identityMapSize } from '../../cpu/memory/identityMap.ts';
import { checkPdptes, pagingStateChanged, probeTranslation, writeCr3 } from '../../cpu/memory/paging.ts';
import { asm } from '../support/asm.ts';
import { makeCore } from '../support/machine.ts';
import {
  CR0_PE, CR0_PG, CR4_PAE, CR4_PCIDE, CR4_PSE, EFER_NXE, catchPf, expectDone, GiB1, MiB2, MiB4, pagedCore, P, PS, TABLES_BASE, U, W, XD,
} from './pageTables.ts';

const FRAME = 0x300000;

function expectPf(stop: unknown, errorCode: number, rip: number): void {
  expect(stop).toEqual({ kind: 'exception', vector: 14, errorCode, rip });
}

describe('4-level paging (SDM Vol. 3A §4.5)', () => {
  it('translates 4-KByte, 2-MByte and 1-GByte pages', async () => {
    const p = await pagedCore(`
      mov rax, [rbx]
      mov rcx, [rdx]
      mov rsi, [rdi]
      mov qword ptr [rdi+8], rax`, {
      regs: { rbx: 0x400123n, rdx: 0x600000n + 0x12345n, rdi: 0x40000000n + 0x312340n },
      map: (pt) => {
        pt.map(0x400000n, BigInt(FRAME), { flags: W });
        pt.map(0x600000n, 0x400000n, { size: MiB2, flags: W }); // 2 MiB at physical 4 MiB
        pt.map(0x40000000n, 0n, { size: GiB1, flags: W }); // 1 GiB at physical 0
      },
    });
    p.t.phys.load(FRAME + 0x123, new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]));
    p.t.phys.load(0x412345, new Uint8Array([0xaa, 0xbb]));
    p.t.phys.load(0x312340, new Uint8Array([0x01, 0x02]));
    expectDone(p.run());
    expect(p.t.reg('rax')).toBe(0x8877665544332211n);
    expect(p.t.reg('rcx') & 0xffffn).toBe(0xbbaan);
    expect(p.t.reg('rsi') & 0xffffn).toBe(0x0201n);
    expect(p.t.phys.read8(0x312348)).toBe(0x11);
    expect(probeTranslation(p.cpu, 0x600000 + 0x1fffff)).toBe(0x5fffff);
    expect(probeTranslation(p.cpu, 0x40000000 + 0x3fffffff)).toBe(0x3fffffff);
  });

  it('translates upper-half (negative canonical) addresses; CR2 holds them sign-extended', async () => {
    const hi = 0xffff800000001000n;
    const p = await pagedCore('mov rax, [rbx]\nmov rax, [rbx+0x1000]', {
      regs: { rbx: hi },
      map: (pt) => pt.map(hi, BigInt(FRAME), { flags: W }),
    });
    p.t.phys.write8(FRAME, 0x5c);
    expectPf(p.run(), 0, 0x1000 + 3);
    expect(p.t.reg('rax')).toBe(0x5cn);
    expect(BigInt.asUintN(64, BigInt(p.cpu.cr2))).toBe(hi + 0x1000n);
  });

  it('a not-present entry at each level faults with P = 0 (§4.7), W/R and U/S from the access', async () => {
    const T = 0x8000400000n; // PML4 slot 1: paging structures apart from the code's
    for (let level = 0; level < 4; level++) {
      const p = await pagedCore('mov byte ptr [rbx], 1', {
        regs: { rbx: T },
        cpl: 3,
        map: (pt) => pt.map(T, BigInt(FRAME), { flags: W | U }),
      });
      p.pt.setEntry(T, level, p.pt.entry(T, level) & ~P);
      expectPf(p.run(), 0b110, 0x1000);
      expect(p.cpu.cr2).toBe(Number(T));
    }
  });

  it('reserved bits fault with P = 1 and RSVD = 1 (§4.5, Tables 4-14 to 4-20)', async () => {
    // The target has paging structures of its own (PML4 slot 1), apart from the code's.
    const T = 0x8000400000n;
    const cases: [string, bigint, number, (e: bigint) => bigint][] = [
      ['PML4E bit 51 (above MAXPHYADDR 46)', T, 0, (e) => e | (1n << 51n)],
      ['PDPTE bit 46', T, 1, (e) => e | (1n << 46n)],
      ['PDE bit 47', T, 2, (e) => e | (1n << 47n)],
      ['PTE bit 50', T, 3, (e) => e | (1n << 50n)],
      ['PML4E PS', T, 0, (e) => e | PS],
      ['XD without EFER.NXE', T, 3, (e) => e | XD],
      ['2-MByte PDE bit 13', T, 2, () => 0x400000n | P | W | PS | (1n << 13n)],
      ['1-GByte PDPTE bit 29', T, 1, () => P | W | PS | (1n << 29n)],
    ];
    for (const [name, la, level, corrupt] of cases) {
      const p = await pagedCore('mov rax, [rbx]', { regs: { rbx: la }, map: (pt) => pt.map(la, BigInt(FRAME)) });
      p.pt.setEntry(la, level, corrupt(p.pt.entry(la, level)));
      expectPf(p.run(), 0b1001, 0x1000);
      expect(p.cpu.cr2, name).toBe(Number(la));
    }
  });

  it('bits 62:52 are ignored; bit 63 is XD with EFER.NXE = 1', async () => {
    const p = await pagedCore('mov rax, [rbx]', {
      regs: { rbx: 0x400000n },
      efer: EFER_NXE,
      map: (pt) => pt.map(0x400000n, BigInt(FRAME), { flags: (0x7ffn << 52n) | XD }),
    });
    p.t.phys.write8(FRAME, 0x77);
    expectDone(p.run());
    expect(p.t.reg('rax') & 0xffn).toBe(0x77n);
  });

  it('an access crossing into a not-present page faults before any byte is written; CR2 is the second page', async () => {
    const p = await pagedCore('mov qword ptr [rbx], rcx', {
      regs: { rbx: 0x400ffcn, rcx: 0x1122334455667788n },
      map: (pt) => pt.map(0x400000n, BigInt(FRAME), { flags: W }),
    });
    expectPf(p.run(), 0b010, 0x1000);
    expect(p.cpu.cr2).toBe(0x401000);
    expect(p.t.phys.read8(FRAME + 0xffc)).toBe(0);
  });

  it('MOV to CR3 checks reserved bits 63:MAXPHYADDR (#GP(0)), bit 63 only with CR4.PCIDE = 1', async () => {
    const p = await pagedCore('nop');
    const c = p.cpu;
    expect(() => writeCr3(c, TABLES_BASE, 1 << 14)).toThrow(CpuException); // bit 46
    expect(() => writeCr3(c, TABLES_BASE, 0x80000000 | 0)).toThrow(CpuException); // bit 63, PCIDE = 0
    expect(c.cr3).toBe(TABLES_BASE);
    c.cr4 |= CR4_PCIDE;
    pagingStateChanged(c);
    writeCr3(c, TABLES_BASE + 5, 0x80000000 | 0);
    expect(c.cr3).toBe(TABLES_BASE + 5); // bit 63 is not written
  });

  it('instruction fetch goes through the walker: a not-present code page faults at the target', async () => {
    const p = await pagedCore('jmp rbx', { regs: { rbx: 0x7000n } });
    expectPf(p.run(), 0, 0x7000);
    expect(p.cpu.cr2).toBe(0x7000);
  });
});

describe('PAE paging (SDM Vol. 3A §4.4)', () => {
  it('translates 4-KByte and 2-MByte pages through the PDPTE registers', async () => {
    const p = await pagedCore('mov eax, [ebx]\nmov ecx, [edx]', {
      kind: 'pae',
      regs: { rbx: 0x40400010n, rdx: 0x80612340n },
      map: (pt) => {
        pt.map(0x40400000n, BigInt(FRAME));
        pt.map(0x80600000n, 0x400000n, { size: MiB2 });
      },
    });
    p.t.phys.load(FRAME + 0x10, new Uint8Array([1, 2, 3, 4]));
    p.t.phys.load(0x412340, new Uint8Array([5, 6, 7, 8]));
    expectDone(p.run());
    expect(p.t.reg('rax')).toBe(0x04030201n);
    expect(p.t.reg('rcx')).toBe(0x08070605n);
  });

  it('bits 62:MAXPHYADDR of PDEs and PTEs are reserved (unlike 4-level paging)', async () => {
    const p = await pagedCore('mov eax, [ebx]', {
      kind: 'pae',
      regs: { rbx: 0x40400000n },
      map: (pt) => pt.map(0x40400000n, BigInt(FRAME), { flags: 1n << 52n }),
    });
    expectPf(p.run(), 0b1001, 0x1000);
  });

  it('PDPTEs are loaded at MOV to CR3 and paging enable, not read at each walk (§4.4.1)', async () => {
    const p = await pagedCore('mov eax, [ebx]', {
      kind: 'pae',
      regs: { rbx: 0x40400000n },
      map: (pt) => pt.map(0x40400000n, BigInt(FRAME)),
    });
    const pdpte1 = p.pt.entryAddress(0x40400000n, 0);
    const saved = p.pt.read(pdpte1);
    p.pt.write(pdpte1, 0n); // not present in memory, still present in the register
    p.t.phys.write8(FRAME, 0x3c);
    expectDone(p.run());
    expect(p.t.reg('rax') & 0xffn).toBe(0x3cn);
    writeCr3(p.cpu, TABLES_BASE, 0); // reloads: now not present
    p.cpu.rip = 0x1000;
    expectPf(p.run(), 0, 0x1000);
    p.pt.write(pdpte1, saved);
  });

  it('a present PDPTE with reserved bits makes MOV to CR3 raise #GP(0) and leaves CR3 alone', async () => {
    for (const bad of [1n << 1n, 1n << 2n, 1n << 5n, 1n << 8n, 1n << 46n, XD]) {
      const p = await pagedCore('nop', { kind: 'pae', map: (pt) => pt.map(0x40400000n, BigInt(FRAME)) });
      const pdpte1 = p.pt.entryAddress(0x40400000n, 0);
      p.pt.write(pdpte1, p.pt.read(pdpte1) | bad);
      expect(() => writeCr3(p.cpu, TABLES_BASE, 0), bad.toString(16)).toThrow(CpuException);
      expect(p.cpu.cr3).toBe(TABLES_BASE);
      // Not-present PDPTEs may hold anything.
      p.pt.write(pdpte1, bad);
      writeCr3(p.cpu, TABLES_BASE, 0);
    }
  });

  it('MOV to CR0 enabling PAE paging checks the PDPTEs first (checkPdptes → #GP(0))', async () => {
    const p = await pagedCore('nop', { kind: 'pae', map: (pt) => pt.map(0x40400000n, BigInt(FRAME)) });
    const c = p.cpu;
    c.cr0 &= ~CR0_PG;
    pagingStateChanged(c);
    const pdpte1 = p.pt.entryAddress(0x40400000n, 0);
    p.pt.write(pdpte1, p.pt.read(pdpte1) | (1n << 5n));
    expect(() => checkPdptes(c, c.cr0 | CR0_PG, c.cr4)).toThrow(CpuException);
    // With paging staying off, nothing is loaded and nothing is checked.
    expect(() => checkPdptes(c, c.cr0, c.cr4)).not.toThrow();
  });
});

describe('32-bit paging (SDM Vol. 3A §4.3)', () => {
  it('translates 4-KByte pages and, with CR4.PSE, 4-MByte pages', async () => {
    const p = await pagedCore('mov eax, [ebx]\nmov ecx, [edx]', {
      kind: '32',
      cr4: CR4_PSE,
      regs: { rbx: 0x80000040n, rdx: 0xc0123450n },
      map: (pt) => {
        pt.map(0x80000000n, BigInt(FRAME));
        pt.map(0xc0000000n, 0x400000n, { size: MiB4 });
      },
    });
    p.t.phys.load(FRAME + 0x40, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    p.t.phys.load(0x523450, new Uint8Array([0xca, 0xfe, 0xba, 0xbe]));
    expectDone(p.run());
    expect(p.t.reg('rax')).toBe(0xefbeadden);
    expect(p.t.reg('rcx')).toBe(0xbebafecan);
  });

  it('without CR4.PSE a PDE with PS = 1 still references a page table', async () => {
    const p = await pagedCore('mov eax, [ebx]', {
      kind: '32',
      regs: { rbx: 0x80000040n },
      map: (pt) => pt.map(0x80000000n, BigInt(FRAME)),
    });
    p.pt.setEntry(0x80000000n, 0, p.pt.entry(0x80000000n, 0) | PS);
    p.t.phys.write8(FRAME + 0x40, 0x99);
    expectDone(p.run());
    expect(p.t.reg('rax')).toBe(0x99n);
  });

  it('PSE-36: bits 20:13 of a 4-MByte PDE give physical bits 39:32; bit 21 is reserved', async () => {
    const p = await pagedCore('mov eax, [ebx]', {
      kind: '32',
      cr4: CR4_PSE,
      regs: { rbx: 0xc0000000n },
      map: (pt) => pt.map(0xc0000000n, 0x400000n | (0x81n << 13n), { size: MiB4 }),
    });
    expect(probeTranslation(p.cpu, 0xc0001234)).toBe(0x81 * 2 ** 32 + 0x401234);
    p.pt.setEntry(0xc0000000n, 0, p.pt.entry(0xc0000000n, 0) | (1n << 21n));
    writeCr3(p.cpu, TABLES_BASE, 0);
    expectPf(p.run(), 0b1001, 0x1000);
  });

  it('has no XD bit and no I/D error-code bit without SMEP (§4.7)', async () => {
    const p = await pagedCore('jmp ebx', { kind: '32', efer: EFER_NXE, regs: { rbx: 0x7000n } });
    expectPf(p.run(), 0, 0x7000);
  });
});

describe('paging entry points', () => {
  it('paging off is the identity, and the probe never faults', async () => {
    const p = await pagedCore('nop');
    expect(probeTranslation(p.cpu, 0x7000, Access.Write)).toBe(-1);
    expect(() => catchPf(() => p.cpu.mmu.read8(0x7000))).not.toThrow();
    p.cpu.cr0 = CR0_PE | 0x10;
    p.cpu.cr4 = CR4_PAE;
    p.cpu.efer = 0;
    pagingStateChanged(p.cpu);
    expect(probeTranslation(p.cpu, 0x7000, Access.Write)).toBe(0x7000);
  });
});

describe('identity-mapping paging structures for flat 64-bit mode (cpu/memory/identityMap.ts)', () => {
  for (const page1gb of [true, false]) {
    it(`map max(4 GiB, RAM) linear = physical with ${page1gb ? '1-GByte' : '2-MByte'} pages`, async () => {
      const t = makeCore(64);
      const c = t.cpu;
      c.model = c.model.with({ features: { page1gb } });
      expect(identityMapSize(c)).toBe(page1gb ? 0x2000 : 0x6000);
      t.phys.load(0x1000, await asm('mov rax, [rbx]\nmov qword ptr [rbx+8], rax\nint3', 64, 0x1000));
      t.phys.write8(0x9000, 0x5a);
      mapIdentity(c, 0xf0000);
      expect(c.cr3).toBe(0xf0000);
      t.setReg('rbx', 0x9000n);
      expectDone(t.run());
      expect(t.reg('rax')).toBe(0x5an);
      expect(t.phys.read8(0x9008)).toBe(0x5a);
      for (const la of [0, 0x7fffffff, 0xfee00000, 0xffffffff]) expect(probeTranslation(c, la, Access.Write)).toBe(la);
      expect(probeTranslation(c, 2 ** 32)).toBe(-1);
    });
  }
});
