/**
 * EPT end to end, as a property (fast-check, fixed seed): random EPT
 * paging structures — random permissions, 4-KByte / 2-MByte / 1-GByte
 * pages, entries not present or misconfigured, ignored bits set — and a
 * random guest read, write or instruction fetch through the guest's own
 * 4-level paging. What the guest sees (the value read or written, the
 * CPUID exit after a fetch) or the VM exit it causes (EPT violation with
 * its qualification, guest-physical and guest-linear addresses; EPT
 * misconfiguration with its guest-physical address), and the EPT accessed
 * and dirty flags, must match a BigInt reference written here from SDM
 * Vol. 3C §29.3.2 (translation), §29.3.3 (misconfigurations, violations),
 * §29.3.5 (A/D flags) and §28.2.1 Table 28-7 (exit qualification).
 *
 * The reference walks the abstract description the test generates, not
 * the tables in memory; the tables are written from the same description
 * with test/support/eptBuilder.ts.
 *
 * Layout (guest-physical = host-physical outside the random region):
 *   0x1000              guest code: read, write and fetch entry points
 *   0x110000-0x114fff   the guest's page tables; the data path's PDPT
 *                       (0x113000) and PD (0x114000) get random EPT entries
 *   1 GiB + 4..8 MiB    the random EPT region (PDPTE 1, PDEs 2 and 3, a
 *                       few PTEs), reached from linear 512 GiB + 4..8 MiB
 *   0x400000-0x7fffff   host pages the random region maps to, each
 *                       quadword filled with CPUID + its own address
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { invept } from '../../vmx/unit/invept.ts';
import { A, D, P, PageTables, U, W } from '../memory/pageTables.ts';
import { EPT_A, EPT_D, EptBuilder, type EptLevel } from '../support/eptBuilder.ts';
import { EPT_TABLES, EPT_TABLES_END, VmxHarness } from '../support/vmxHarness.ts';

const EPT_VIOLATION = 48, EPT_MISCONFIG = 49, CPUID = 10;
const GIB = 1n << 30n, MIB2 = 1n << 21n, MIB4 = 1n << 22n;
/** Guest code: read at +0 (mov rax,[rsi]; cpuid), write at +5 (mov [rsi],rdx; cpuid), fetch at +10 (jmp rsi). */
const CODE = 0x1000n;
const ENTRY = { read: CODE, write: CODE + 5n, fetch: CODE + 10n } as const;
const GUEST_CODE = [0x48, 0x8b, 0x06, 0x0f, 0xa2, 0x48, 0x89, 0x16, 0x0f, 0xa2, 0xff, 0xe6];
/** The guest's page tables: code path PML4/PDPT/PD, data path PDPT and PD. */
const GPML4 = 0x110000n, GPDPT_DATA = 0x113000n, GPD_DATA = 0x114000n;
const LINEAR = 512n * GIB, REGION = GIB;
const WINDOW = 0x400000n, WINDOW_END = 0x800000n;
/** What each host quadword of the window holds: CPUID (0F A2) and its own address. */
const fill = (hpa: bigint): bigint => (hpa << 16n) | 0xa20fn;
const MT_RESERVED = new Set([2, 3, 7]);

type Access = 'read' | 'write' | 'fetch';
const NEED: Record<Access, number> = { read: 1, write: 2, fetch: 4 };

/** One EPT entry of the description: bits 2:0, stray bits (reserved or ignored), memory type of a leaf. */
interface Entry {
  perms: number;
  /** Bits ORed in besides address, permissions and memory type. */
  extra: bigint;
  /** Whether `extra` holds a reserved bit (the generator knows which bits it picked). */
  reserved: boolean;
  mt: number;
}
type Node =
  | (Entry & { kind: 'leaf'; hpa: bigint })
  | (Entry & { kind: 'table'; children: Record<number, Node> });

interface Scenario {
  pdpte: Node;
  /** EPT PTEs of the guest's data-path page tables (pages 0x113000, 0x114000). */
  gpdptPage: Entry;
  gpdPage: Entry;
  /** A and D of the guest's leaf PDE used (others have both). */
  guestA: boolean;
  guestD: boolean;
  eptAd: boolean;
  access: Access;
  /** PDE index (2 or 3), PTE index and 8-aligned offset of the access in the random region. */
  pde: number;
  pte: number;
  off: number;
  value: bigint;
}

// ---- generators ----------------------------------------------------------------

const bitsIn = (lo: number, hi: number): fc.Arbitrary<bigint> => fc.integer({ min: lo, max: hi }).map((b) => 1n << BigInt(b));
/** Bits every entry ignores without the features that define them: 11, 52-62, 63 (suppress #VE). */
const ignoredBit = fc.oneof(bitsIn(52, 63), fc.constant(1n << 11n));
const perms = fc.oneof(
  { weight: 8, arbitrary: fc.constant(7) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 7 }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

/** Stray bits for an entry: none, ignored ones, or one reserved bit out of `reserved`. */
function stray(reserved: fc.Arbitrary<bigint>): fc.Arbitrary<{ extra: bigint; reserved: boolean }> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant({ extra: 0n, reserved: false }) },
    { weight: 2, arbitrary: ignoredBit.map((extra) => ({ extra, reserved: false })) },
    { weight: 1, arbitrary: reserved.map((extra) => ({ extra, reserved: true })) },
  );
}
const memoryType = fc.oneof({ weight: 8, arbitrary: fc.constant(6) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }) });
/** Bits 51:46 are beyond MAXPHYADDR (46) in every entry (§29.3.3.1). */
const beyondWidth = bitsIn(46, 51);

function leaf(level: 1 | 2 | 3, hpa: fc.Arbitrary<bigint>): fc.Arbitrary<Node> {
  // Tables 29-2, 29-4, 29-6: 1-GByte pages reserve 29:12, 2-MByte pages 20:12; PTE bit 7 is ignored.
  const rsvd = level === 3 ? fc.oneof(bitsIn(12, 29), beyondWidth) : level === 2 ? fc.oneof(bitsIn(12, 20), beyondWidth) : beyondWidth;
  return fc.record({ perms, s: stray(rsvd), mt: memoryType, hpa })
    .map(({ perms: p, s, mt, hpa: h }) => ({ kind: 'leaf' as const, perms: p, extra: s.extra, reserved: s.reserved, mt, hpa: h }));
}

function table(children: fc.Arbitrary<Record<number, Node>>): fc.Arbitrary<Node> {
  // Tables 29-3, 29-5: bits 7:3 reserved in an entry that references a table.
  return fc.record({ perms, s: stray(fc.oneof(bitsIn(3, 7), beyondWidth)), children })
    .map(({ perms: p, s, children: ch }) => ({ kind: 'table' as const, perms: p, extra: s.extra, reserved: s.reserved, mt: 0, children: ch }));
}

const PTE_INDICES = [0, 1, 2, 511];
const page4K = fc.integer({ min: Number(WINDOW >> 12n), max: Number((WINDOW_END >> 12n) - 1n) }).map((n) => BigInt(n) << 12n);
const ptes = fc.tuple(...PTE_INDICES.map(() => fc.option(leaf(1, page4K), { freq: 4 })))
  .map((xs) => Object.fromEntries(xs.flatMap((x, k) => (x ? [[PTE_INDICES[k]!, x]] : []))) as Record<number, Node>);
const pde = fc.oneof(leaf(2, fc.constantFrom(0x400000n, 0x600000n)), table(ptes));
const pdes = fc.tuple(fc.option(pde, { freq: 6 }), fc.option(pde, { freq: 6 }))
  .map(([a, b]) => ({ ...(a ? { 2: a } : {}), ...(b ? { 3: b } : {}) }) as Record<number, Node>);
const pageEntry = (hpa: bigint): fc.Arbitrary<Entry> =>
  fc.oneof({ weight: 6, arbitrary: fc.constant({ kind: 'leaf' as const, perms: 7, extra: 0n, reserved: false, mt: 6, hpa }) },
    { weight: 2, arbitrary: leaf(1, fc.constant(hpa)) });

const scenario: fc.Arbitrary<Scenario> = fc.record({
  pdpte: fc.oneof({ weight: 1, arbitrary: leaf(3, fc.constant(0n)) }, { weight: 4, arbitrary: table(pdes) }),
  gpdptPage: pageEntry(GPDPT_DATA),
  gpdPage: pageEntry(GPD_DATA),
  guestA: fc.boolean(),
  guestD: fc.boolean(),
  eptAd: fc.boolean(),
  access: fc.constantFrom<Access>('read', 'write', 'fetch'),
  pde: fc.constantFrom(2, 3),
  pte: fc.constantFrom(0, 1, 2, 511, 7),
  off: fc.integer({ min: 0, max: 511 }).map((q) => q * 8),
  value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

// ---- the reference ----------------------------------------------------------------

type Outcome =
  | { kind: 'ok'; hpa: bigint; path: Entry[] }
  | { kind: 'violation'; qual: bigint; gpa: bigint; gla: bigint }
  | { kind: 'misconfig'; gpa: bigint };

/** An entry with bits 2:0 other than 000b that the processor will not use (§29.3.3.1; execute-only is supported). */
function misconfigured(e: Entry, isLeaf: boolean): boolean {
  return (e.perms & 3) === 2 || e.reserved || (isLeaf && MT_RESERVED.has(e.mt));
}

/**
 * The EPT translation of the entries `path` (top level first; the walk
 * stops at a not-present one): 'ok' with the rights ANDed, or the
 * violation / misconfiguration.
 */
function eptCheck(path: Entry[], leafAt: number, need: number): { kind: 'ok' | 'violation' | 'misconfig'; rights: number } {
  let rights = 7;
  for (let k = 0; k < path.length; k++) {
    const e = path[k]!;
    if (e.perms === 0) return { kind: 'violation', rights: 0 };
    if (misconfigured(e, k === leafAt)) return { kind: 'misconfig', rights: 0 };
    rights &= e.perms;
  }
  return { kind: (rights & need) === need ? 'ok' : 'violation', rights };
}

const RWX: Entry = { perms: 7, extra: 0n, reserved: false, mt: 6 };

/** The guest access of scenario `s` as the SDM has it. */
function reference(s: Scenario): Outcome {
  const la = LINEAR + BigInt(s.pde) * MIB2 + BigInt(s.pte) * 0x1000n + BigInt(s.off);
  const gpa = REGION + (la - LINEAR);
  // Guest paging-structure accesses (§29.3.3.2): reads, or writes with EPT A/D (§29.3.5) — bits 0 and 1 then.
  const structure = (page: Entry, entryGpa: bigint, write: boolean): Outcome | null => {
    const need = s.eptAd ? 3 : write ? 2 : 1;
    const r = eptCheck([RWX, RWX, RWX, page], 3, need);
    if (r.kind === 'misconfig') return { kind: 'misconfig', gpa: entryGpa };
    if (r.kind === 'violation') return { kind: 'violation', qual: BigInt(need | (r.rights << 3)) | 0x80n, gpa: entryGpa, gla: la };
    return null;
  };
  const gpde = GPD_DATA + BigInt(s.pde) * 8n;
  // The walk: PML4E (fixed page, all rights), the data path's PDPTE, then its PDE (a 2-MByte guest page).
  const walk = structure(s.gpdptPage, GPDPT_DATA, false) ?? structure(s.gpdPage, gpde, false);
  if (walk) return walk;
  // §4.8: A, and D for a write, are set in the PDE — a write to it — before the access.
  if (!s.guestA || (s.access === 'write' && !s.guestD)) {
    const ad = structure(s.gpdPage, gpde, true);
    if (ad) return ad;
  }
  // The access itself, through the random region: PML4E 0 (all rights), PDPTE 1, PDE, PTE.
  const path: Entry[] = [RWX];
  let node: Node | undefined = s.pdpte;
  let level = 3;
  for (;;) {
    if (!node) {
      path.push({ ...RWX, perms: 0 });
      break;
    }
    path.push(node);
    if (node.kind === 'leaf' || node.perms === 0) break;
    level--;
    node = node.children[level === 2 ? s.pde : s.pte];
  }
  const need = NEED[s.access];
  const leafAt = node?.kind === 'leaf' ? path.length - 1 : -1;
  const r = eptCheck(path, leafAt, need);
  if (r.kind === 'misconfig') return { kind: 'misconfig', gpa };
  if (r.kind === 'violation') return { kind: 'violation', qual: BigInt(need | (r.rights << 3)) | 0x180n, gpa, gla: la };
  const size = 1n << BigInt(12 + 9 * (level - 1));
  return { kind: 'ok', hpa: (node as { hpa: bigint }).hpa + (gpa % size), path };
}

// ---- the machine ----------------------------------------------------------------

let h: VmxHarness;
let launched = false;
let seen: { reason: number; qual: bigint; gpa: bigint; gla: bigint; rip: bigint } | null = null;
const phys = (): VmxHarness['t']['phys'] => h.t.phys;
const read64 = (pa: bigint): bigint => phys().ramPage(Number(pa >> 12n))!.getBigUint64(Number(pa & 0xfffn), true);
const write64 = (pa: bigint, v: bigint): void => phys().ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), v, true);

/** Writes the entry `e` (its address bits `address`) at `pa`. */
function put(b: EptBuilder, pa: bigint, e: Entry, address: bigint, bigPage: boolean): void {
  const isLeaf = (e as Partial<Node>).kind === 'leaf';
  b.write(pa, address | BigInt(e.perms) | e.extra | (isLeaf ? BigInt(e.mt) << 3n : 0n) | (bigPage ? 0x80n : 0n));
}

function writeNode(b: EptBuilder, pa: bigint, n: Node, level: EptLevel): void {
  if (n.kind === 'leaf') return put(b, pa, n, n.hpa, level > 1);
  const t = b.newTable();
  put(b, pa, n, t, false);
  for (const [k, child] of Object.entries(n.children)) writeNode(b, t + BigInt(k) * 8n, child, (level - 1) as EptLevel);
}

/** Builds the scenario's EPT and guest flags, runs the access to its first exit. */
function run(s: Scenario): void {
  const b = new EptBuilder(phys(), EPT_TABLES, EPT_TABLES_END);
  b.map(CODE, CODE, 0x1000n);
  b.identity(GPML4, GPDPT_DATA); // the code path's PML4, PDPT, PD
  put(b, b.entryAddress(GPDPT_DATA, 1, true), s.gpdptPage, GPDPT_DATA, false);
  put(b, b.entryAddress(GPD_DATA, 1, true), s.gpdPage, GPD_DATA, false);
  writeNode(b, b.entryAddress(REGION, 3, true), s.pdpte, 3);
  const gpde = GPD_DATA + BigInt(s.pde) * 8n;
  write64(gpde, (REGION + BigInt(s.pde) * MIB2) | P | W | U | 0x80n | (s.guestA ? A : 0n) | (s.guestD ? D : 0n));
  h.write('eptp', b.eptp({ accessedDirty: s.eptAd }));
  // The tables were rewritten in place: INVEPT all-context, as root software must (§29.4.3.4), or cached guest-physical mappings may be used.
  invept(h.core, h.t.cpu, 2, new Int32Array(4));
  h.write('guestRip', ENTRY[s.access]);
  h.t.setReg('rsi', LINEAR + BigInt(s.pde) * MIB2 + BigInt(s.pte) * 0x1000n + BigInt(s.off));
  h.t.setReg('rdx', s.value);
  seen = null;
  if (!launched) {
    launched = true;
    h.launch(100);
  } else {
    h.resume(100);
  }
}

function check(s: Scenario): void {
  const expected = reference(s);
  run(s);
  const e = seen!;
  const la = LINEAR + BigInt(s.pde) * MIB2 + BigInt(s.pte) * 0x1000n + BigInt(s.off);
  const rip = s.access === 'fetch' ? la : ENTRY[s.access];
  if (expected.kind === 'misconfig') {
    expect([e.reason, e.qual, e.gpa, e.rip]).toEqual([EPT_MISCONFIG, 0n, expected.gpa, rip]);
    return;
  }
  if (expected.kind === 'violation') {
    expect([e.reason, e.qual.toString(16), e.gpa, e.gla, e.rip]).toEqual([EPT_VIOLATION, expected.qual.toString(16), expected.gpa, expected.gla, rip]);
    return;
  }
  // Success: a CPUID exit after the access (a fetch executes the CPUID the window holds).
  expect([e.reason, e.rip]).toEqual([CPUID, s.access === 'fetch' ? la : rip + 3n]);
  if (s.access === 'read') expect(h.reg('rax')).toBe(fill(expected.hpa));
  if (s.access === 'write') {
    expect(read64(expected.hpa)).toBe(s.value);
    write64(expected.hpa, fill(expected.hpa));
  }
  // §29.3.5: with EPTP bit 6, A in every entry of the access's path, D in its leaf for a write; without it, none.
  const leafPa = leafAddress(s);
  const flags = read64(leafPa) & (EPT_A | EPT_D);
  expect(flags).toBe(!s.eptAd ? 0n : s.access === 'write' ? EPT_A | EPT_D : EPT_A);
}

/** Host-physical address of the EPT entry that maps the access's page (found in memory by the description's shape). */
function leafAddress(s: Scenario): bigint {
  let pa = EptBuilder.slot(BigInt(EPT_TABLES), REGION, 4);
  pa = EptBuilder.slot(read64(pa) & 0xffffffffff000n, REGION, 3);
  let n = s.pdpte;
  for (const idx of [s.pde, s.pte]) {
    if (n.kind === 'leaf') break;
    pa = (read64(pa) & 0xffffffffff000n) + BigInt(idx) * 8n;
    n = n.children[idx]!;
  }
  return pa;
}

describe('EPT end to end: random EPT structures and guest accesses agree with a BigInt reference (SDM Vol. 3C §29.3, §28.2.1)', () => {
  beforeAll(async () => {
    h = await VmxHarness.create('cpuid', {
      features: FULL_VMX_MODEL,
      ept: () => {},
      onExit: (_e, hh) => {
        seen = {
          reason: Number(hh.read('exitReason')),
          qual: hh.read('exitQualification'),
          gpa: hh.read('guestPhysicalAddress'),
          gla: hh.read('guestLinearAddress'),
          rip: hh.read('guestRip'),
        };
        return 'stop';
      },
    });
    phys().load(Number(CODE), new Uint8Array(GUEST_CODE));
    for (let a = WINDOW; a < WINDOW_END; a += 8n) write64(a, fill(a));
    // The guest's tables: code (linear 0-2 MiB, one 2-MByte page) and the data path (linear 512 GiB + 4-8 MiB).
    const pt = new PageTables(phys(), '4level', Number(GPML4));
    const upper = P | W | U | A;
    pt.map(0n, 0n, { size: MIB2, flags: W | A | D, upper });
    pt.map(LINEAR + MIB4, REGION + MIB4, { size: MIB2, flags: W | A | D, upper });
    expect([pt.entryAddress(LINEAR, 1) & ~0xfffn, pt.entryAddress(LINEAR, 2) & ~0xfffn]).toEqual([GPDPT_DATA, GPD_DATA]);
    h.write('guestCr3', GPML4);
  });

  it('reference and machine agree on 2000 random scenarios (fixed seed)', () => {
    fc.assert(fc.property(scenario, (s) => check(s)), { seed: 0x5e7, numRuns: 2000 });
  });

  it('the generator reaches every outcome (violation, misconfiguration, success for each access)', () => {
    const kinds = new Set<string>();
    fc.assert(fc.property(scenario, (s) => {
      const o = reference(s);
      kinds.add(o.kind === 'ok' ? `ok-${s.access}` : o.kind);
      if (o.kind === 'violation') kinds.add((o.qual & 0x100n) ? 'violation-translation' : 'violation-structure');
    }), { seed: 0x5e7, numRuns: 800 });
    expect([...kinds].sort()).toEqual(['misconfig', 'ok-fetch', 'ok-read', 'ok-write', 'violation', 'violation-structure', 'violation-translation']);
  });
});
