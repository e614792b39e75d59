/**
 * The EPT page walk (SDM Vol. 3C §29.3, 2023+ numbering): translation
 * (§29.3.2, Tables 29-1 to 29-6), misconfigurations and violations
 * (§29.3.3), accessed and dirty flags (§29.3.5), memory type (§29.3.7),
 * and the EPT-violation exit qualification (§28.2.1, Table 28-7). Expected
 * values are worked out by hand from the tables; the property test at the
 * end compares random walks with a BigInt reference written from the same
 * text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { DEFAULT_VMX_MODEL, FULL_VMX_MODEL, MINIMAL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { eptCapsOf } from '../../vmx/ept/eptCaps.ts';
import { eptViolationQualification } from '../../vmx/ept/eptViolation.ts';
import { EptAccess, type EptCaps, EptOutcome, EptWalker } from '../../vmx/ept/eptWalk.ts';
import { rng } from '../support/smallRng.ts';

const R = 1n, W = 2n, X = 4n, RWX = 7n;
const PS = 0x80n, A = 0x100n, D = 0x200n, IPAT = 0x40n;
const mt = (type: number): bigint => BigInt(type) << 3n;
const WB = mt(6);
const bit = (n: number): bigint => 1n << BigInt(n);

const CAPS: EptCaps = { executeOnly: true, page2M: true, page1G: true, accessedDirty: true, physAddrBits: 46 };
const ROOT = 0x10000n;
/** EPTP: WB paging-structure memory type, page-walk length 4 (bits 5:3 = 3), bit 6 = A/D enable. */
const eptp = (ad: boolean): number => Number(ROOT) | 6 | (3 << 3) | (ad ? 0x40 : 0);
/** Levels as the SDM names them: 4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE. */
type Level = 1 | 2 | 3 | 4;
const PAGE: Record<1 | 2 | 3, bigint> = { 1: 1n << 12n, 2: 1n << 21n, 3: 1n << 30n };

/** EPT paging structures in a machine's memory, built with BigInt from the tables of §29.3.2. */
class Ept {
  readonly phys = new PhysicalMemory(16 << 20);
  private next = ROOT + 0x1000n;

  read(pa: bigint): bigint {
    return this.phys.ramPage(Number(pa >> 12n))!.getBigUint64(Number(pa & 0xfffn), true);
  }

  write(pa: bigint, v: bigint): void {
    this.phys.ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), v, true);
  }

  /** Address of the entry for `gpa` at `level` in the table at `table`. */
  static slot(table: bigint, gpa: bigint, level: Level): bigint {
    return table + ((gpa >> BigInt(3 + 9 * level)) & 0x1ffn) * 8n;
  }

  /**
   * Maps `gpa` with the entry `leaf` at `leafLevel` (3: 1-GByte PDPTE, 2: 2-MByte PDE, 1: PTE), creating
   * tables referenced by entries with bits 2:0 = RWX. Returns the entry addresses, PML4E first.
   */
  map(gpa: bigint, leaf: bigint, leafLevel: 1 | 2 | 3 = 1): bigint[] {
    const path: bigint[] = [];
    let table = ROOT;
    for (let level = 4; level > leafLevel; level--) {
      const pa = Ept.slot(table, gpa, level as Level);
      path.push(pa);
      let e = this.read(pa);
      if (e === 0n) {
        e = this.next | RWX;
        this.next += 0x1000n;
        this.write(pa, e);
      }
      table = e & 0xffffffffff000n;
    }
    const pa = Ept.slot(table, gpa, leafLevel);
    this.write(pa, leaf);
    path.push(pa);
    return path;
  }

  /** Replaces bits `clear` by `set` in the entry at `pa`. */
  edit(pa: bigint, clear: bigint, set: bigint): void {
    this.write(pa, (this.read(pa) & ~clear) | set);
  }
}

interface Setup { ept: Ept; w: EptWalker }

function setup(caps: Partial<EptCaps> = {}, ad = false): Setup {
  const ept = new Ept();
  const w = new EptWalker(ept.phys, { ...CAPS, ...caps });
  w.setEptp(eptp(ad), 0);
  return { ept, w };
}

/** The walk's outcome and result fields, for one expect. */
function walk(w: EptWalker, gpa: bigint, access: EptAccess, pagingStructure = false): Record<string, unknown> {
  const o = w.walk(Number(gpa), access, pagingStructure);
  if (o === EptOutcome.Ok) {
    return { outcome: 'ok', hpa: BigInt(w.hpa), shift: w.shift, perms: w.perms, memoryType: w.memoryType, ignorePat: w.ignorePat };
  }
  return o === EptOutcome.Violation ? { outcome: 'violation', perms: w.perms } : { outcome: 'misconfig' };
}

const GPA = 0x8040201234n; // PML4 index 1, PDPT index 1, PD index 1, PT index 1, offset 0x234
const FRAME = 0x345000n;

describe('EPT translation (SDM Vol. 3C §29.3.2)', () => {
  it('a 4-KByte page: PML4E, PDPTE, PDE, PTE; bits 11:0 from the guest-physical address (Table 29-6)', () => {
    const { ept, w } = setup();
    ept.map(GPA, FRAME | WB | RWX);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'ok', hpa: 0x345234n, shift: 12, perms: 7, memoryType: 6, ignorePat: false });
  });

  it('a 2-MByte page: EPT PDE with bit 7 = 1, bits 20:0 from the guest-physical address (Table 29-4)', () => {
    const { ept, w } = setup();
    ept.map(GPA, 0x1800000n | PS | WB | RWX, 2);
    // GPA bits 20:0 = 0x001234; 0x1fe000 further stays in the same 2-MByte page.
    expect(walk(w, GPA + 0x1fe000n, EptAccess.Write)).toMatchObject({ outcome: 'ok', hpa: 0x19ff234n, shift: 21, perms: 7 });
  });

  it('a 1-GByte page: EPT PDPTE with bit 7 = 1, bits 29:0 from the guest-physical address, frame above 4 GiB (Table 29-2)', () => {
    const { ept, w } = setup();
    ept.map(GPA, 0x3fc0000000n | PS | WB | RWX, 3);
    // GPA bits 29:0 = 0x00201234.
    expect(walk(w, GPA, EptAccess.Fetch)).toMatchObject({ outcome: 'ok', hpa: 0x3fc0201234n, shift: 30, perms: 7 });
  });

  it('frame address bits up to MAXPHYADDR-1 are used (Table 29-6: bits N-1:12)', () => {
    const { ept, w } = setup();
    ept.map(GPA, bit(45) | 0xabcde000n | WB | R);
    expect(walk(w, GPA, EptAccess.Read)).toMatchObject({ outcome: 'ok', hpa: bit(45) | 0xabcde234n });
  });

  it('only bits 47:0 of the guest-physical address are translated (§29.3.2)', () => {
    const { ept, w } = setup();
    ept.map(GPA, FRAME | WB | RWX);
    expect(walk(w, GPA | bit(51) | bit(48), EptAccess.Read)).toMatchObject({ outcome: 'ok', hpa: 0x345234n });
  });

  it('with MAXPHYADDR = 52, bit 51 is an address bit (§29.3.2)', () => {
    const { ept, w } = setup({ physAddrBits: 52 });
    ept.map(GPA, bit(51) | FRAME | WB | RWX);
    expect(walk(w, GPA, EptAccess.Read)).toMatchObject({ outcome: 'ok', hpa: bit(51) | 0x345234n });
  });

  it('the PML4 table comes from the EPTP, including its address bits above 4 GiB (§25.6.11)', () => {
    const phys = new PhysicalMemory(16 << 20);
    const w = new EptWalker(phys, CAPS);
    // EPTP naming 0x1_0001_0000: beyond this machine's RAM, so entries read as all ones.
    w.setEptp(eptp(false), 1);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });

  it('EPT paging structures outside RAM read as all ones: reserved bits set, a misconfiguration (§29.3.3.1)', () => {
    const { ept, w } = setup();
    const [pml4e] = ept.map(GPA, FRAME | WB | RWX);
    ept.write(pml4e!, 0x7000000n | RWX); // 112 MiB: beyond the 16 MiB machine
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });
});

describe('EPT violations (SDM Vol. 3C §29.3.3.2)', () => {
  const kinds: [string, EptAccess, bigint][] = [['read', EptAccess.Read, R], ['write', EptAccess.Write, W], ['fetch', EptAccess.Fetch, X]];
  // Bits 2:0 that are not misconfigurations (with execute-only support): 001, 011, 101, 111, 100.
  for (const perms of [R, R | W, R | X, RWX, X]) {
    for (const [name, access, needs] of kinds) {
      const allowed = (perms & needs) !== 0n;
      it(`a ${name} of a page with bits 2:0 = ${perms.toString(2).padStart(3, '0')}b is ${allowed ? 'allowed' : 'an EPT violation'}`, () => {
        const { ept, w } = setup();
        ept.map(GPA, FRAME | WB | perms);
        expect(walk(w, GPA, access)).toMatchObject(allowed ? { outcome: 'ok', perms: Number(perms) } : { outcome: 'violation', perms: Number(perms) });
      });
    }
  }

  for (const level of [4, 3, 2, 1] as const) {
    it(`the rights are ANDed over the entries: no write access in the level-${level} entry denies writes only`, () => {
      const { ept, w } = setup();
      const path = ept.map(GPA, FRAME | WB | RWX);
      ept.edit(path[4 - level]!, W, 0n);
      expect(walk(w, GPA, EptAccess.Write)).toEqual({ outcome: 'violation', perms: 5 });
      expect(walk(w, GPA, EptAccess.Read)).toMatchObject({ outcome: 'ok', perms: 5 });
      expect(walk(w, GPA, EptAccess.Fetch)).toMatchObject({ outcome: 'ok', perms: 5 });
    });

    it(`a not-present level-${level} entry (bits 2:0 = 000b) is a violation whatever its other bits, with rights 0`, () => {
      const { ept, w } = setup();
      const path = ept.map(GPA, FRAME | WB | RWX);
      ept.write(path[4 - level]!, 0xfff0000000fffff8n); // reserved bits, PS, bad memory type: all ignored
      expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'violation', perms: 0 });
    });
  }

  it('rights of an upper entry do not stop the walk: a misconfiguration below wins over the violation (§29.3.3.2 "may occur ... does not cause an EPT misconfiguration")', () => {
    const { ept, w } = setup();
    const path = ept.map(GPA, FRAME | mt(2) | RWX);
    ept.edit(path[0]!, RWX, R);
    expect(walk(w, GPA, EptAccess.Write)).toEqual({ outcome: 'misconfig' });
  });

  it('execute-only (100b) with the capability (IA32_VMX_EPT_VPID_CAP bit 0): fetches allowed, reads and writes violate', () => {
    const { ept, w } = setup({ executeOnly: true });
    const path = ept.map(GPA, FRAME | WB | X);
    ept.edit(path[1]!, RWX, X);
    expect(walk(w, GPA, EptAccess.Fetch)).toMatchObject({ outcome: 'ok', perms: 4 });
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'violation', perms: 4 });
    expect(walk(w, GPA, EptAccess.Write)).toEqual({ outcome: 'violation', perms: 4 });
  });
});

describe('EPT misconfigurations (SDM Vol. 3C §29.3.3.1)', () => {
  for (const level of [4, 3, 2, 1] as const) {
    for (const rwx of [W, W | X]) {
      it(`bits 2:0 = ${rwx.toString(2).padStart(3, '0')}b (${rwx === W ? 'write-only' : 'write/execute'}) in the level-${level} entry`, () => {
        const { ept, w } = setup();
        const path = ept.map(GPA, FRAME | WB | RWX);
        ept.edit(path[4 - level]!, RWX, rwx);
        expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
      });
    }

    it(`execute-only (100b) in the level-${level} entry without the capability`, () => {
      const { ept, w } = setup({ executeOnly: false });
      const path = ept.map(GPA, FRAME | WB | RWX);
      ept.edit(path[4 - level]!, RWX, X);
      expect(walk(w, GPA, EptAccess.Fetch)).toEqual({ outcome: 'misconfig' });
    });

    for (const b of [46, 50, 51]) {
      it(`reserved bit ${b} (bits 51:MAXPHYADDR, MAXPHYADDR = 46) in the level-${level} entry`, () => {
        const { ept, w } = setup();
        const path = ept.map(GPA, FRAME | WB | RWX);
        ept.edit(path[4 - level]!, 0n, bit(b));
        expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
      });
    }
  }

  for (const level of [4, 3, 2] as const) {
    for (const b of [3, 4, 5, 6]) {
      it(`reserved bit ${b} in a level-${level} entry that references a table (Tables 29-1, 29-3, 29-5: bits 7:3)`, () => {
        const { ept, w } = setup();
        const path = ept.map(GPA, FRAME | WB | RWX);
        ept.edit(path[4 - level]!, 0n, bit(b));
        expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
      });
    }
  }

  it('bit 7 of an EPT PML4E is reserved (Table 29-1)', () => {
    const { ept, w } = setup();
    const path = ept.map(GPA, FRAME | WB | RWX);
    ept.edit(path[0]!, 0n, PS);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });

  it('bit 7 of an EPT PDPTE is reserved without 1-GByte page support (IA32_VMX_EPT_VPID_CAP bit 17)', () => {
    const { ept, w } = setup({ page1G: false });
    ept.map(GPA, 0x40000000n | PS | WB | RWX, 3);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });

  it('bit 7 of an EPT PDE is reserved without 2-MByte page support (IA32_VMX_EPT_VPID_CAP bit 16)', () => {
    const { ept, w } = setup({ page2M: false });
    ept.map(GPA, 0x200000n | PS | WB | RWX, 2);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });

  for (const b of [12, 20, 29]) {
    it(`bit ${b} of a PDPTE that maps a 1-GByte page is reserved (Table 29-2: bits 29:12)`, () => {
      const { ept, w } = setup();
      ept.map(GPA, 0x40000000n | bit(b) | PS | WB | RWX, 3);
      expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
    });
  }

  for (const b of [12, 16, 20]) {
    it(`bit ${b} of a PDE that maps a 2-MByte page is reserved (Table 29-4: bits 20:12)`, () => {
      const { ept, w } = setup();
      ept.map(GPA, 0x200000n | bit(b) | PS | WB | RWX, 2);
      expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
    });
  }

  for (const type of [2, 3, 7]) {
    for (const leafLevel of [1, 2, 3] as const) {
      it(`memory type ${type} (reserved) in a level-${leafLevel} entry that maps a page`, () => {
        const { ept, w } = setup();
        ept.map(GPA, (leafLevel === 1 ? FRAME : PAGE[leafLevel]) | (leafLevel === 1 ? 0n : PS) | mt(type) | RWX, leafLevel);
        expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
      });
    }
  }

  it('a misconfiguration is reported whatever the access (fetch of a write-only leaf)', () => {
    const { ept, w } = setup();
    ept.map(GPA, FRAME | WB | W);
    expect(walk(w, GPA, EptAccess.Fetch)).toEqual({ outcome: 'misconfig' });
  });

  it('ignored bits are ignored: bits 11:8 and 63:52 of table entries, bit 7, 11:10 and 63:52 of a PTE (Tables 29-1..29-6)', () => {
    const { ept, w } = setup();
    const path = ept.map(GPA, FRAME | WB | RWX | PS | bit(10) | bit(11) | bit(52) | bit(62) | bit(63));
    for (const pa of path.slice(0, 3)) ept.edit(pa, 0n, A | D | bit(10) | bit(11) | bit(52) | bit(63));
    expect(walk(w, GPA, EptAccess.Write)).toMatchObject({ outcome: 'ok', hpa: 0x345234n });
  });

  it('with MAXPHYADDR = 39, bit 39 of an entry is reserved', () => {
    const { ept, w } = setup({ physAddrBits: 39 });
    ept.map(GPA, bit(39) | FRAME | WB | RWX);
    expect(walk(w, GPA, EptAccess.Read)).toEqual({ outcome: 'misconfig' });
  });
});

describe('EPT memory type (SDM Vol. 3C §29.3.7)', () => {
  for (const type of [0, 1, 4, 5, 6]) {
    it(`memory type ${type} from bits 5:3 of the leaf, ignore-PAT from bit 6`, () => {
      const { ept, w } = setup();
      ept.map(GPA, FRAME | mt(type) | RWX);
      ept.map(GPA + 0x1000n, FRAME | mt(type) | IPAT | RWX);
      expect(walk(w, GPA, EptAccess.Read)).toMatchObject({ outcome: 'ok', memoryType: type, ignorePat: false });
      expect(walk(w, GPA + 0x1000n, EptAccess.Read)).toMatchObject({ outcome: 'ok', memoryType: type, ignorePat: true });
    });
  }

  it('the memory type of 2-MByte and 1-GByte pages comes from their PDE and PDPTE', () => {
    const { ept, w } = setup();
    ept.map(GPA, 0x200000n | PS | mt(1) | IPAT | RWX, 2);
    ept.map(0x4000000000n, 0x40000000n | PS | mt(4) | RWX, 3);
    expect(walk(w, GPA, EptAccess.Read)).toMatchObject({ memoryType: 1, ignorePat: true, shift: 21 });
    expect(walk(w, 0x4000000000n, EptAccess.Read)).toMatchObject({ memoryType: 4, ignorePat: false, shift: 30 });
  });
});

describe('accessed and dirty flags for EPT (SDM Vol. 3C §29.3.5)', () => {
  /** 'A', 'AD' or '-' per entry on the path. */
  const flags = (ept: Ept, path: bigint[]): string[] =>
    path.map((pa) => (((ept.read(pa) & A) !== 0n ? 'A' : '') + ((ept.read(pa) & D) !== 0n ? 'D' : '')) || '-');

  it('a read sets the accessed flag (bit 8) in every entry used, and no dirty flag', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | RWX);
    expect(walk(w, GPA, EptAccess.Read).outcome).toBe('ok');
    expect(flags(ept, path)).toEqual(['A', 'A', 'A', 'A']);
  });

  it('a fetch sets accessed flags only', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | X);
    expect(walk(w, GPA, EptAccess.Fetch).outcome).toBe('ok');
    expect(flags(ept, path)).toEqual(['A', 'A', 'A', 'A']);
  });

  for (const leafLevel of [1, 2, 3] as const) {
    it(`a write sets the dirty flag (bit 9) in the entry that maps the page (level ${leafLevel})`, () => {
      const { ept, w } = setup({}, true);
      const path = ept.map(GPA, (leafLevel === 1 ? FRAME : PAGE[leafLevel] | PS) | WB | RWX, leafLevel);
      expect(walk(w, GPA, EptAccess.Write).outcome).toBe('ok');
      expect(flags(ept, path)).toEqual([...Array<string>(4 - leafLevel).fill('A'), 'AD']);
    });
  }

  it('a violation sets no flag, not even in the upper entries', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | R);
    expect(walk(w, GPA, EptAccess.Write).outcome).toBe('violation');
    expect(flags(ept, path)).toEqual(['-', '-', '-', '-']);
  });

  it('a not-present entry or a misconfiguration sets no flag', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | RWX);
    ept.edit(path[3]!, RWX, 0n);
    expect(walk(w, GPA, EptAccess.Read).outcome).toBe('violation');
    ept.edit(path[3]!, 0n, W);
    expect(walk(w, GPA, EptAccess.Read).outcome).toBe('misconfig');
    expect(flags(ept, path)).toEqual(['-', '-', '-', '-']);
  });

  it('without EPTP bit 6 no flag is set, and bits 8 and 9 are ignored', () => {
    const { ept, w } = setup({}, false);
    const path = ept.map(GPA, FRAME | WB | RWX);
    expect(walk(w, GPA, EptAccess.Write).outcome).toBe('ok');
    expect(flags(ept, path)).toEqual(['-', '-', '-', '-']);
  });

  it('EPTP bit 6 without the capability (IA32_VMX_EPT_VPID_CAP bit 21) sets no flag', () => {
    const { ept, w } = setup({ accessedDirty: false }, true);
    const path = ept.map(GPA, FRAME | WB | R);
    expect(walk(w, GPA, EptAccess.Read, true).outcome).toBe('ok');
    expect(flags(ept, path)).toEqual(['-', '-', '-', '-']);
  });

  it('flags already set stay set, other bits of the entries are unchanged', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | RWX | bit(63) | bit(11) | D);
    const before = path.map((pa) => ept.read(pa));
    expect(walk(w, GPA, EptAccess.Read).outcome).toBe('ok');
    expect(path.map((pa) => ept.read(pa))).toEqual(before.map((e) => e | A));
  });

  it('with A/D enabled, accesses to guest paging-structure entries are treated as writes: a read-only page violates', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | R);
    expect(walk(w, GPA, EptAccess.Read, true)).toEqual({ outcome: 'violation', perms: 1 });
    expect(w.accessBits).toBe(3);
    expect(flags(ept, path)).toEqual(['-', '-', '-', '-']);
  });

  it('with A/D enabled, a read of a guest paging-structure entry sets the dirty flag of the page that holds it', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, 0x200000n | PS | WB | R | W, 2);
    expect(walk(w, GPA, EptAccess.Read, true).outcome).toBe('ok');
    expect(flags(ept, path)).toEqual(['A', 'A', 'AD']);
  });

  it('without A/D, a read of a guest paging-structure entry is a read (§29.3.3.2)', () => {
    const { ept, w } = setup({}, false);
    ept.map(GPA, FRAME | WB | R);
    expect(walk(w, GPA, EptAccess.Read, true).outcome).toBe('ok');
    expect(w.accessBits).toBe(1);
  });

  it('setting a flag in an EPT table held on a page of decoded code is a write to that page (blocks invalidated)', () => {
    const { ept, w } = setup({}, true);
    const path = ept.map(GPA, FRAME | WB | RWX);
    const seen: number[] = [];
    ept.phys.onCodeWrite((ppn) => seen.push(ppn));
    const ptPage = Number(path[3]! >> 12n);
    ept.phys.retainCodePage(ptPage);
    const owner = { exitBlock: false };
    w.owner = owner;
    expect(walk(w, GPA, EptAccess.Read).outcome).toBe('ok');
    expect(seen).toEqual([ptPage]);
    expect(owner.exitBlock).toBe(true);
  });
});

describe('exit qualification for EPT violations (SDM Vol. 3C §28.2.1, Table 28-7)', () => {
  it('bits 2:0: data read, data write, instruction fetch', () => {
    expect(eptViolationQualification(EptAccess.Read, 0, false, false, false)).toBe(0x1);
    expect(eptViolationQualification(EptAccess.Write, 0, false, false, false)).toBe(0x2);
    expect(eptViolationQualification(EptAccess.Fetch, 0, false, false, false)).toBe(0x4);
  });

  it('bits 5:3: readable, writable, executable as the EPT entries allowed', () => {
    expect(eptViolationQualification(EptAccess.Write, 1, false, false, false)).toBe(0x2 | 0x8);
    expect(eptViolationQualification(EptAccess.Write, 5, false, false, false)).toBe(0x2 | 0x8 | 0x20);
    expect(eptViolationQualification(EptAccess.Read, 4, false, false, false)).toBe(0x1 | 0x20);
  });

  it('bit 7: guest-linear address valid; bit 8: access to the translation (1) or to a paging-structure entry (0)', () => {
    expect(eptViolationQualification(EptAccess.Read, 0, true, true, false)).toBe(0x1 | 0x80 | 0x100);
    expect(eptViolationQualification(EptAccess.Read, 0, true, false, false)).toBe(0x1 | 0x80);
  });

  it('bit 8 is 0 when bit 7 is 0', () => {
    expect(eptViolationQualification(EptAccess.Read, 0, false, true, false)).toBe(0x1);
  });

  it('bit 12: NMI unblocking due to IRET', () => {
    expect(eptViolationQualification(EptAccess.Read, 0, true, true, true)).toBe(0x1 | 0x80 | 0x100 | 0x1000);
  });

  it('bit 6 (user-mode execute, mode-based execute control) and bits 11:9 (advanced information) are 0', () => {
    expect(eptViolationQualification(7, 7, true, true, true) & 0xe40).toBe(0);
  });

  it('from a walk: a not-present entry gives bits 5:3 = 0', () => {
    const { ept, w } = setup();
    const path = ept.map(GPA, FRAME | WB | RWX);
    ept.edit(path[3]!, RWX, 0n);
    expect(w.walk(Number(GPA), EptAccess.Write, false)).toBe(EptOutcome.Violation);
    expect(eptViolationQualification(w.accessBits, w.perms, true, true, false)).toBe(0x2 | 0x80 | 0x100);
  });

  it('from a walk: a paging-structure access with A/D enabled sets bits 0 and 1', () => {
    const { ept, w } = setup({}, true);
    ept.map(GPA, FRAME | WB | R | X);
    expect(w.walk(Number(GPA), EptAccess.Read, true)).toBe(EptOutcome.Violation);
    expect(eptViolationQualification(w.accessBits, w.perms, true, false, false)).toBe(0x3 | 0x8 | 0x20 | 0x80);
  });
});

describe('EPT capabilities from the VMX model (IA32_VMX_EPT_VPID_CAP, Appendix A.10)', () => {
  it('the full and default models have execute-only, 2M and 1G pages and A/D; the minimal model none', () => {
    const all = { executeOnly: true, page2M: true, page1G: true, accessedDirty: true, physAddrBits: 46 };
    expect(eptCapsOf(FULL_VMX_MODEL.ept, 46)).toEqual(all);
    expect(eptCapsOf(DEFAULT_VMX_MODEL.ept, 46)).toEqual(all);
    expect(eptCapsOf(MINIMAL_VMX_MODEL.ept, 46)).toEqual({ executeOnly: false, page2M: false, page1G: false, accessedDirty: false, physAddrBits: 46 });
  });
});

// ---------------------------------------------------------------------------------------------
// Property test: a reference walk in BigInt, written from §29.3.2-§29.3.5 as a list of rules.

type RefResult =
  | { outcome: 'ok'; hpa: bigint; shift: number; perms: number; memoryType: number; ignorePat: boolean; entries: bigint[] }
  | { outcome: 'violation'; perms: number }
  | { outcome: 'misconfig' };

interface RefConfig { caps: EptCaps; root: bigint; ad: boolean }

const mask = (hi: number, lo: number): bigint => (bit(hi + 1) - 1n) & ~(bit(lo) - 1n);

/** Whether entry `e` at `level` is misconfigured (§29.3.3.1), given it is present. */
function refMisconfigured(c: RefConfig, e: bigint, level: Level): boolean {
  const rwx = e & 7n;
  if (rwx === 2n || rwx === 6n) return true;
  if (rwx === 4n && !c.caps.executeOnly) return true;
  let reserved = mask(51, c.caps.physAddrBits);
  const large = (e & PS) !== 0n;
  const mapsPage = level === 1 || (large && level !== 4);
  if (level === 4) reserved |= mask(7, 3);
  else if (level === 3 && large) reserved |= c.caps.page1G ? mask(29, 12) : PS;
  else if (level === 2 && large) reserved |= c.caps.page2M ? mask(20, 12) : PS;
  else if (level !== 1) reserved |= mask(7, 3);
  if ((e & reserved) !== 0n) return true;
  if (mapsPage) {
    const type = Number((e >> 3n) & 7n);
    if (type === 2 || type === 3 || type === 7) return true;
  }
  return false;
}

function refWalk(read: (pa: bigint) => bigint, c: RefConfig, gpa: bigint, access: bigint, pagingStructure: boolean): RefResult {
  const need = pagingStructure && c.ad ? R | W : access;
  const addrMask = mask(c.caps.physAddrBits - 1, 12);
  const entries: bigint[] = [];
  let rights = RWX;
  let table = c.root;
  for (let level = 4 as Level; ; level = (level - 1) as Level) {
    const shift = BigInt(3 + 9 * level);
    const pa = table + ((gpa >> shift) & 0x1ffn) * 8n;
    const e = read(pa);
    if ((e & 7n) === 0n) return { outcome: 'violation', perms: 0 };
    if (refMisconfigured(c, e, level)) return { outcome: 'misconfig' };
    rights &= e & 7n;
    entries.push(pa);
    if (level === 1 || (e & PS) !== 0n) {
      const size = bit(Number(shift));
      const hpa = (e & addrMask & ~(size - 1n)) | (gpa & (size - 1n));
      if ((rights & need) !== need) return { outcome: 'violation', perms: Number(rights) };
      return { outcome: 'ok', hpa, shift: Number(shift), perms: Number(rights), memoryType: Number((e >> 3n) & 7n), ignorePat: (e & IPAT) !== 0n, entries };
    }
    table = e & addrMask;
  }
}


const POOL = 0x20000n, POOL_PAGES = 6;
const INDEXES = [0n, 1n, 2n, 511n];
/** Bits that are reserved in some entries and ignored or meaningful in others. */
const EXTRA = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 29, 30, 38, 39, 45, 46, 51, 52, 62, 63].map(bit);

/**
 * A random entry: usually well formed, so that walks go deep (a table in the pool, or now and then a
 * 1-GByte-aligned page with a valid memory type); one entry in five gets one flaw or oddity.
 */
function randomEntry(r: (n: number) => number): bigint {
  if (r(14) === 0) return BigInt(r(0x10000)) << 3n; // bits 2:0 = 0: not present, junk elsewhere
  let e = [1n, 3n, 5n, 7n, 7n, 7n, 7n, 4n][r(8)]!;
  if (r(6) === 0) e |= PS | [0n, 0x40000000n, 0x3fc0000000n][r(3)]! | mt([0, 1, 4, 5, 6][r(5)]!) | (r(3) === 0 ? IPAT : 0n);
  else e |= POOL + 0x1000n * BigInt(r(POOL_PAGES));
  if (r(5) === 0) {
    switch (r(5)) {
      case 0: e = (e & ~7n) | [2n, 6n][r(2)]!; break; // write-only, write/execute
      case 1: e = (e & ~0x78n) | mt(r(8)) | (r(2) === 0 ? IPAT : 0n); break; // any memory type: reserved in tables
      case 2: e |= EXTRA[r(EXTRA.length)]!; break;
      case 3: e = (e & ~mask(51, 12)) | [0x200000n, 0xa00000n, bit(45)][r(3)]!; break; // 2-MByte-aligned, or beyond RAM
      default: e = (e & ~mask(51, 12)) | [0x200000n, 0x3fc0000000n, bit(45) | 0x1000n][r(3)]!; // zero-filled RAM, or beyond RAM
    }
  }
  if (r(6) === 0) e |= A;
  if (r(8) === 0) e |= D;
  return e;
}

function runScenario(seed: number): void {
  const r = rng(seed);
  const caps: EptCaps = {
    executeOnly: r(2) === 1, page2M: r(4) !== 0, page1G: r(4) !== 0, accessedDirty: r(3) !== 0, physAddrBits: [39, 46, 52][r(3)]!,
  };
  const ad = r(2) === 1;
  const phys = new PhysicalMemory(16 << 20);
  const page = (pa: bigint): DataView => phys.ramPage(Number(pa >> 12n))!;
  for (let p = 0; p < POOL_PAGES; p++) {
    for (const i of INDEXES) {
      const pa = POOL + 0x1000n * BigInt(p) + i * 8n;
      page(pa).setBigUint64(Number(pa & 0xfffn), randomEntry(r), true);
    }
  }
  const w = new EptWalker(phys, caps);
  w.setEptp(Number(POOL) | 6 | (3 << 3) | (ad ? 0x40 : 0), 0);
  const c: RefConfig = { caps, root: POOL, ad: ad && caps.accessedDirty };
  const poolBytes = (): Uint8Array => {
    const out = new Uint8Array(POOL_PAGES * 4096);
    for (let k = 0; k < POOL_PAGES; k++) out.set(new Uint8Array(page(POOL + BigInt(k) * 0x1000n).buffer), k * 4096);
    return out;
  };
  for (let n = 0; n < 40; n++) {
    let gpa = BigInt(r(0x1000));
    for (const shift of [39n, 30n, 21n, 12n]) gpa |= INDEXES[r(INDEXES.length)]! << shift;
    if (r(4) === 0) gpa |= BigInt(r(0x200)) << 12n;
    if (r(8) === 0) gpa |= BigInt(r(16)) << 48n;
    const access = [R, W, X][r(3)]!;
    const pagingStructure = access !== X && r(3) === 0;
    const before = poolBytes();
    const view = new DataView(before.buffer);
    const read = (pa: bigint): bigint => {
      const k = pa - POOL;
      // Outside the pool: zero-filled RAM (not present), or all ones beyond RAM.
      if (k < 0n || k >= BigInt(before.length)) return pa >= 16n << 20n ? (1n << 64n) - 1n : 0n;
      return view.getBigUint64(Number(k), true);
    };
    const ref = refWalk(read, c, gpa, access, pagingStructure);
    const what = `seed ${seed} walk ${n}: gpa 0x${gpa.toString(16)} access ${access} ps ${pagingStructure} ad ${ad} ${JSON.stringify(caps)}`;
    const got = walk(w, gpa, Number(access) as EptAccess, pagingStructure);
    if (ref.outcome === 'ok') {
      const { entries, ...rest } = ref;
      expect(got, what).toEqual(rest);
    } else {
      expect(got, what).toEqual(ref);
    }
    const expected = new Uint8Array(before);
    const expView = new DataView(expected.buffer);
    if (ref.outcome === 'ok' && c.ad) {
      const dirty = access === W || pagingStructure;
      ref.entries.forEach((pa, k) => {
        const off = Number(pa - POOL);
        expView.setBigUint64(off, expView.getBigUint64(off, true) | A | (dirty && k === ref.entries.length - 1 ? D : 0n), true);
      });
    }
    const after = poolBytes();
    const diff = after.findIndex((b, k) => b !== expected[k]);
    expect(diff < 0 ? 'none' : `pool+0x${diff.toString(16)}: 0x${after[diff]!.toString(16)}, expected 0x${expected[diff]!.toString(16)}`,
      `${what}: accessed/dirty flags`).toBe('none');
  }
}

describe('EPT walk property: the walker agrees with a BigInt reference (fast-check, fixed seed)', () => {
  it('random EPT structures, capabilities and accesses (§29.3.2, §29.3.3, §29.3.5)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => runScenario(seed)), { seed: 0xe9, numRuns: 150 });
  });
});
