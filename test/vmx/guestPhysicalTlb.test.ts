/**
 * Guest-physical mappings (SDM Vol. 3C §29.4, 2023+ numbering): what the
 * core caches of EPT translations, tagged by EPT root (EPTP bits 51:12),
 * and which operations invalidate them — INVEPT only (§29.4.3.1), not VM
 * entries and exits, INVVPID, MOV to CR3, INVLPG or INVPCID (§29.4.3.2),
 * which invalidate linear and combined mappings. A cached mapping whose
 * rights refuse an access, or that lacks the EPT dirty flag a write must
 * set, is walked again from memory (§29.3.3.2, §29.3.5), and an EPT
 * violation drops it (§29.4.3.1).
 *
 * The end-to-end tests use test/support/eptGuest.ts, whose header says how
 * they see which cache served an access. Expected values come from the SDM
 * text and the tests' own layout.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../cpu/memory/access.ts';
import {
  ALL_ROOTS, GP_SLOTS, GuestPhysicalMappings, GuestPhysicalTlb, guestPhysicalMappings, MAX_ROOTS,
} from '../../vmx/ept/guestPhysicalTlb.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { EptStage } from '../../vmx/transition/eptStage.ts';
import { invept } from '../../vmx/unit/invept.ts';
import { invvpid } from '../../vmx/unit/invvpid.ts';
import { EPT_A, EPT_D, EPT_R, EPT_RWX, EptBuilder } from '../support/eptBuilder.ts';
import {
  accessedFlag, clearAccessed, descriptor, eptGuest, marker, NEW, OLD, read64, remap, X,
} from '../support/eptGuest.ts';
import { VmxHarness } from '../support/vmxHarness.ts';

const EPT_VIOLATION = 48, CPUID = 10;
const Q_WRITE = 2n, Q_LINEAR = 0x80n, Q_TRANSLATION = 0x100n;

describe('GuestPhysicalTlb: a direct-mapped array of 4-KByte guest-physical pages', () => {
  it('a mapping serves every address of its 4-KByte page and no other, with what was cached', () => {
    const t = new GuestPhysicalTlb();
    const k = t.insert(0x12345678, 0x9abc000, 21, 5, 6);
    expect(t.find(0x12345000)).toBe(k);
    expect(t.find(0x12345fff)).toBe(k);
    expect(t.find(0x12346000)).toBe(-1);
    expect(t.find(0x12344fff)).toBe(-1);
    expect([t.frame[k], t.shift[k], t.flags[k], t.memoryType[k]]).toEqual([0x9abc000, 21, 5, 6]);
  });

  it('pages above 4 GiB keep their own tags (bits 51:12)', () => {
    const t = new GuestPhysicalTlb();
    const high = 2 ** 40 + 0x5000;
    t.insert(high, 0x1000, 12, 7, 6);
    expect(t.find(0x5000)).toBe(-1);
    expect(t.find(high + 0xabc)).toBeGreaterThanOrEqual(0);
  });

  it('pages GP_SLOTS apart share a slot: the later insert replaces the earlier (deterministic, bounded)', () => {
    const t = new GuestPhysicalTlb();
    const a = 0x40000, b = a + GP_SLOTS * 4096, next = a + 4096;
    t.insert(a, 0x1000, 12, 7, 6);
    t.insert(next, 0x2000, 12, 7, 6);
    t.insert(b, 0x3000, 12, 7, 6);
    expect([t.find(a), t.find(b) >= 0, t.find(next) >= 0]).toEqual([-1, true, true]);
  });

  it('drop removes one page, flush all', () => {
    const t = new GuestPhysicalTlb();
    t.insert(0x1000, 0x1000, 12, 7, 6);
    t.insert(0x2000, 0x2000, 12, 7, 6);
    t.drop(0x1fff);
    expect([t.find(0x1000), t.find(0x2000) >= 0]).toEqual([-1, true]);
    t.flush();
    expect(t.find(0x2000)).toBe(-1);
  });
});

describe('GuestPhysicalMappings: one array per EPT root, at most MAX_ROOTS, replaced in round-robin order', () => {
  it('a root keeps its mappings; invalidate(root) drops only that root\'s, ALL_ROOTS every root\'s', () => {
    const m = new GuestPhysicalMappings();
    const r1 = m.select(0x300000), r2 = m.select(0x380000);
    expect(m.select(0x300000)).toBe(r1);
    r1.insert(0x5000, 0x5000, 12, 7, 6);
    r2.insert(0x5000, 0x6000, 12, 7, 6);
    m.invalidate(0x380000);
    expect([r1.find(0x5000) >= 0, r2.find(0x5000)]).toEqual([true, -1]);
    r2.insert(0x5000, 0x6000, 12, 7, 6);
    m.invalidate(ALL_ROOTS);
    expect([r1.find(0x5000), r2.find(0x5000)]).toEqual([-1, -1]);
  });

  it(`root ${MAX_ROOTS + 1} takes the place of the first, empty; root ${MAX_ROOTS + 2} that of the second; the rest keep theirs`, () => {
    const m = new GuestPhysicalMappings();
    const roots = Array.from({ length: MAX_ROOTS + 2 }, (_, k) => 0x1000000 + k * 0x1000);
    const tlbs = roots.slice(0, MAX_ROOTS).map((r) => m.select(r));
    tlbs.forEach((t) => t.insert(0x7000, 0x7000, 12, 7, 6));
    const ninth = m.select(roots[MAX_ROOTS]!);
    expect(ninth).toBe(tlbs[0]);
    expect(ninth.find(0x7000)).toBe(-1);
    expect(m.select(roots[MAX_ROOTS + 1]!)).toBe(tlbs[1]);
    expect(tlbs.slice(2).every((t) => t.find(0x7000) >= 0)).toBe(true);
    // The first root comes back in the third place, empty.
    expect(m.select(roots[0]!)).toBe(tlbs[2]);
    expect(tlbs[2]!.find(0x7000)).toBe(-1);
  });
});

/** The EPT stage on its own (as VM entry installs it), translating with fault = false: -1 for a refusal. */
async function stageOn(build: (b: EptBuilder) => void, o: { accessedDirty?: boolean } = {}) {
  const h = await VmxHarness.create('cpuid', { features: FULL_VMX_MODEL, ept: build });
  const stage = new EptStage(h.core, h.t.cpu);
  const eptp = h.ept!.eptp(o);
  stage.setEptp(Number(eptp & 0xffffffffn) | 0, Number(eptp >> 32n));
  const translate = (gpa: number, access: Access, pagingStructure = false): number => stage.translate(gpa, access, gpa, pagingStructure, false);
  return { h, b: h.ept!, stage, translate, eptp };
}

describe('the EPT stage through the guest-physical mappings (§29.4.1, §29.3.7)', () => {
  it('a 2-MByte EPT page is cached per 4-KByte part, each with the page size 2 MiB; another part is walked', async () => {
    const { b, stage, translate } = await stageOn((b) => b.map(0x600000, 0x400000, 0x200000, { size: '2M' }));
    expect([translate(0x601234, Access.Read), stage.shift]).toEqual([0x401234, 21]);
    b.setEntry(0x600000n, 2, EptBuilder.leaf(0x200000n, { size: '2M' })); // changed in memory, no INVEPT
    expect(translate(0x601ff8, Access.Read)).toBe(0x401ff8); // the cached part
    expect(translate(0x602008, Access.Read)).toBe(0x202008); // another part: a walk
  });

  it('the memory type and ignore-PAT flag come with the mapping, cached as walked', async () => {
    const { b, stage, translate } = await stageOn((b) => b.map(0x600000, 0x600000, 0x1000, { memoryType: 0, ignorePat: true }));
    translate(0x600010, Access.Read);
    expect([stage.memoryType, stage.ignorePat]).toEqual([0, true]);
    b.setEntry(0x600000n, 1, EptBuilder.leaf(0x600000n, { memoryType: 6 }));
    translate(0x600020, Access.Read);
    expect([stage.memoryType, stage.ignorePat]).toEqual([0, true]);
  });

  it('a cached read-only mapping refuses a write from memory: a walk, which finds the page writable now', async () => {
    const { b, translate } = await stageOn((b) => b.map(0x600000, 0x600000, 0x1000, { perms: EPT_R }));
    expect(translate(0x600008, Access.Read)).toBe(0x600008);
    b.protect(0x600000n, 1, EPT_RWX);
    expect(translate(0x600008, Access.Write)).toBe(0x600008);
    b.protect(0x600000n, 1, EPT_R); // read-only again in memory; the write-capable mapping is cached
    expect(translate(0x600008, Access.Write)).toBe(0x600008);
  });

  it('INVEPT single-context of the stage\'s EPTP, or all-context, drops the cached mappings: the walk finds the change', async () => {
    for (const type of [1, 2]) {
      const { h, b, translate, eptp } = await stageOn((b) => b.map(0x600000, 0x600000, 0x1000));
      translate(0x600008, Access.Read);
      b.setEntry(0x600000n, 1, EptBuilder.leaf(0x700000n));
      expect(translate(0x600008, Access.Read)).toBe(0x600008);
      invept(h.core, h.t.cpu, type, descriptor(eptp));
      expect(translate(0x600008, Access.Read)).toBe(0x700008);
    }
  });

  it('the mappings belong to the core: another core\'s INVEPT leaves them', async () => {
    const one = await stageOn((b) => b.map(0x600000, 0x600000, 0x1000));
    const two = await stageOn((b) => b.map(0x600000, 0x600000, 0x1000));
    expect(guestPhysicalMappings(one.h.t.cpu)).not.toBe(guestPhysicalMappings(two.h.t.cpu));
    one.translate(0x600008, Access.Read);
    one.b.setEntry(0x600000n, 1, EptBuilder.leaf(0x700000n));
    invept(two.h.core, two.h.t.cpu, 2, descriptor(0n));
    expect(one.translate(0x600008, Access.Read)).toBe(0x600008);
  });
});

describe('what invalidates guest-physical mappings and what does not (§29.4.3.1, §29.4.3.2)', () => {
  /** [what, guest instructions between the reads, host action at the first exit, VPID, old page still read, guest walked again]. */
  const cases: [string, string, ((h: VmxHarness) => void) | null, boolean, boolean, boolean][] = [
    ['nothing, with VPID: the combined mapping serves the read', 'nop', null, true, true, false],
    ['a VM exit and entry without VPID (the VPID-0000H flush)', 'nop', null, false, true, true],
    ['MOV to CR3 of the same value', 'mov rdx, cr3\nmov cr3, rdx', null, true, true, true],
    ['INVLPG of the address', 'invlpg [rsi]', null, true, true, true],
    ['INVPCID type 2 (all PCIDs, globals included)', 'mov edx, 2\ninvpcid rdx, [rdi]', null, true, true, true],
    ['INVVPID single-context of VPID 1', 'nop', (h) => invvpid(h.core, h.t.cpu, 1, descriptor(1n)), true, true, true],
    ['INVVPID all-context', 'nop', (h) => invvpid(h.core, h.t.cpu, 2, descriptor(0n)), true, true, true],
    ['INVEPT single-context of the guest\'s EPTP', 'nop', (h) => invept(h.core, h.t.cpu, 1, descriptor(h.read('eptp'))), true, false, true],
    ['INVEPT all-context', 'nop', (h) => invept(h.core, h.t.cpu, 2, descriptor(0n)), true, false, true],
  ];
  for (const [what, between, host, vpid, stale, walked] of cases) {
    const effect = `${stale ? 'the old page is read (guest-physical mapping kept)' : 'the new page is read (guest-physical mapping dropped)'}` +
      `, the guest PTE's A is ${walked ? 'set again (combined mapping dropped)' : 'still 0'}`;
    it(`${what}: ${effect}`, async () => {
      const r = await eptGuest(`mov rax, [rsi]\ncpuid\n${between}\nmov rbx, [rsi]\ncpuid`, {
        vpid: vpid ? 1 : undefined, invpcid: between.includes('invpcid'), regs: { rdi: 0x470000n }, // RDI: a zeroed INVPCID descriptor
        onExit: (n, h, pt) => {
          if (n === 1) {
            remap(h.ept!);
            clearAccessed(pt);
            host?.(h);
          }
          return n === 1 ? 'skip' : 'stop';
        },
      });
      expect(r.h.exits.map((e) => e.reason)).toEqual([CPUID, CPUID]);
      expect(r.h.reg('rax')).toBe(marker(X));
      expect(r.h.reg('rbx')).toBe(stale ? marker(X) : marker(NEW + 8n));
      expect(accessedFlag(r.pt) !== 0n).toBe(walked);
    });
  }
});

describe('cached rights are not trusted to refuse (§29.3.3.2), and an EPT violation drops the mapping (§29.4.3.1)', () => {
  it('a read-only mapping, then the page made not present without INVEPT: reads go on from the cache; a write walks and violates with bits 5:3 = 0, from memory; the violation drops the mapping', async () => {
    // mov rax, [rsi] (+0); cpuid (+3); mov rcx, [rsi] (+5); mov [rsi], rdx (+8); mov rbx, [rsi] (+11); cpuid (+14).
    const CODE = 0x1000n;
    const r = await eptGuest('mov rax, [rsi]\ncpuid\nmov rcx, [rsi]\nmov [rsi], rdx\nmov rbx, [rsi]\ncpuid', {
      regs: { rdx: 0x1122334455667788n },
      ept: (b) => b.protect(OLD, 1, EPT_R),
      onExit: (n, h) => {
        if (n === 1) {
          h.ept!.unmap(OLD, 1);
          return 'skip';
        }
        if (n === 2) {
          expect([Number(h.read('exitReason')), h.read('exitQualification'), h.read('guestPhysicalAddress'), h.read('guestRip')])
            .toEqual([EPT_VIOLATION, Q_WRITE | Q_LINEAR | Q_TRANSLATION, X, CODE + 8n]);
          // Read-only at NEW, no INVEPT; the write is skipped: the read after it shows which mapping is used.
          h.ept!.setEntry(OLD, 1, EptBuilder.leaf(NEW, { perms: EPT_R }));
          h.write('guestRip', CODE + 11n);
          return 'resume';
        }
        return 'stop';
      },
    });
    expect(r.h.exits.map((e) => e.reason)).toEqual([CPUID, EPT_VIOLATION, CPUID]);
    expect(r.h.reg('rcx')).toBe(marker(X)); // the stale read-only mapping served the read
    expect(r.h.reg('rbx')).toBe(marker(NEW + 8n)); // the violation dropped it: the read walked to NEW
    expect([read64(r.h, X), read64(r.h, NEW + 8n)]).toEqual([marker(X), marker(NEW + 8n)]); // nothing written
  });
});

describe('EPT accessed and dirty flags through cached mappings (§29.3.5)', () => {
  it('a mapping cached by a read serves reads without setting A again, but a write walks and sets A and D', async () => {
    const flags: bigint[] = [];
    await eptGuest('mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid\nmov [rsi], rbx\ncpuid', {
      accessedDirty: true,
      onExit: (n, h) => {
        flags.push(h.ept!.entry(X, 1) & (EPT_A | EPT_D));
        if (n === 1) h.ept!.edit(X, 1, EPT_A, 0n); // A cleared in memory, no INVEPT
        return n === 3 ? 'stop' : 'skip';
      },
    });
    expect(flags).toEqual([EPT_A, 0n, EPT_A | EPT_D]);
  });
});
