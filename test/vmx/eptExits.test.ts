/**
 * EPT end to end: a guest running under EPT (SDM Vol. 3C §29.3, 2023+
 * numbering: ch. 28 "VM exits", ch. 29 "VMX support for address
 * translation") takes the VM exits of §29.3.3 with the exit qualification
 * of §28.2.1 Table 28-7 and the guest-physical / guest-linear address
 * fields of §28.2.1; EPT accessed and dirty flags (§29.3.5); the caching
 * rules of §29.4. The EPT tables come from test/support/eptBuilder.ts
 * (written from the entry formats, not from vmx/ept/), the guest's own
 * paging structures from test/memory/pageTables.ts; every expected value
 * is worked out here from the SDM's text.
 */
import { describe, expect, it } from 'vitest';
import type { StopReason } from '../../cpu/cpu.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { invept } from '../../vmx/unit/invept.ts';
import { A, D, P, PageTables, U, W } from '../memory/pageTables.ts';
import {
  EPT_A, EPT_D, EPT_R, EPT_RWX, EPT_W, EPT_X, EptBuilder, type EptLevel,
} from '../support/eptBuilder.ts';
import { type ExitAction, type HarnessOptions, VmxHarness } from '../support/vmxHarness.ts';

const EPT_VIOLATION = 48, EPT_MISCONFIG = 49, CPUID = 10, EXCEPTION_OR_NMI = 0;
/** Table 28-7: bits 2:0 the access, 5:3 the translation's R/W/X, 7 linear address valid, 8 access to the translation. */
const Q_READ = 1n, Q_WRITE = 2n, Q_FETCH = 4n, Q_LINEAR = 0x80n, Q_TRANSLATION = 0x100n;
const perms = (p: bigint): bigint => p << 3n;

/** The guest's own 4-level paging structures (CR3), and the data window the tests access. */
const GUEST_TABLES = 0x110000n, DATA = 0x400000n;
/** A recognisable quadword at each host-physical address a test reads. */
const marker = (hpa: bigint): bigint => 0x5a5a000000000000n | hpa;

/** Everything a test looks at after one exit, read with VMREAD in the handler. */
interface Seen {
  reason: number;
  qual: bigint;
  rip: bigint;
  gpa: bigint;
  gla: bigint;
  intInfo: bigint;
}

interface EptRun {
  h: VmxHarness;
  exits: Seen[];
  stop: StopReason;
  /** The guest's page tables. */
  pt: PageTables;
}

interface RunOptions extends Omit<HarnessOptions, 'onExit' | 'ept'> {
  /** Changes to the standard EPT layout. */
  ept?: (b: EptBuilder) => void;
  /** Changes to the guest's page tables. */
  tables?: (pt: PageTables) => void;
  regs?: Record<string, bigint>;
  /** Default: stop at the first exit. */
  onExit?: (seen: Seen, h: VmxHarness, n: number) => ExitAction;
  /** EPTP bit 6 (EPT accessed and dirty flags). */
  accessedDirty?: boolean;
  /** Extra secondary controls. */
  proc2?: NonNullable<HarnessOptions['controls']>['proc2'];
  max?: number;
  /** Runs just before VMLAUNCH (memory contents, say). */
  before?: (h: VmxHarness, pt: PageTables) => void;
}

/**
 * EPT identity over the 8 MiB of RAM: 4-KByte pages for 0-2 MiB (code,
 * stack, the guest's page tables) and for the data window 4-8 MiB, 2-MByte
 * pages between (VMXON region, VMCS, EPT tables).
 */
function standardEpt(b: EptBuilder): void {
  b.identity(0, 0x200000);
  b.identity(0x200000, 0x400000, { size: '2M' });
  b.identity(0x400000, 0x800000);
}

/**
 * The guest's paging structures at GUEST_TABLES: 0-4 MiB with 2-MByte
 * pages, the data window 4-8 MiB with 4-KByte pages (one page table per
 * 2 MiB), all writable, A and D preset in every entry (so no walk writes
 * them unless a test clears them).
 */
function guestTables(h: VmxHarness): PageTables {
  const pt = new PageTables(h.t.phys, '4level', Number(GUEST_TABLES));
  const upper = P | W | U | A;
  for (let a = 0n; a < DATA; a += 1n << 21n) pt.map(a, a, { size: 1n << 21n, flags: W | A | D, upper });
  for (let a = DATA; a < 2n * DATA; a += 0x1000n) pt.map(a, a, { flags: W | A | D, upper });
  return pt;
}

async function eptRun(guest: string, o: RunOptions = {}): Promise<EptRun> {
  const exits: Seen[] = [];
  const onExit = o.onExit ?? (() => 'stop' as const);
  const h = await VmxHarness.create(guest, {
    features: FULL_VMX_MODEL,
    ...o,
    controls: { ...o.controls, proc2: [...(o.controls?.proc2 ?? []), ...(o.proc2 ?? [])] },
    ept: (b) => {
      standardEpt(b);
      o.ept?.(b);
    },
    onExit: (_e, hh) => {
      const seen: Seen = {
        reason: Number(hh.read('exitReason')),
        qual: hh.read('exitQualification'),
        rip: hh.read('guestRip'),
        gpa: hh.read('guestPhysicalAddress'),
        gla: hh.read('guestLinearAddress'),
        intInfo: hh.read('vmExitInterruptionInformation'),
      };
      exits.push(seen);
      return onExit(seen, hh, exits.length);
    },
  });
  const pt = guestTables(h);
  o.tables?.(pt);
  h.write('guestCr3', GUEST_TABLES);
  if (o.accessedDirty) h.write('eptp', h.ept!.eptp({ accessedDirty: true }));
  for (const [k, v] of Object.entries(o.regs ?? {})) h.t.setReg(k as never, v);
  o.before?.(h, pt);
  const stop = h.launch(o.max ?? 100_000);
  return { h, exits, stop, pt };
}

const read64 = (h: VmxHarness, pa: bigint): bigint => h.t.phys.ramPage(Number(pa >> 12n))!.getBigUint64(Number(pa & 0xfffn), true);
const write64 = (h: VmxHarness, pa: bigint, v: bigint): void => h.t.phys.ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), v, true);

/** One exit expected: an EPT violation with this qualification at these addresses, at guest RIP `rip`. */
function expectViolation(r: EptRun, qual: bigint, gpa: bigint, gla: bigint | null, rip: bigint): void {
  expect(r.exits.length).toBe(1);
  const e = r.exits[0]!;
  expect(e.reason).toBe(EPT_VIOLATION);
  expect(e.qual.toString(16)).toBe(qual.toString(16));
  expect(e.gpa.toString(16)).toBe(gpa.toString(16));
  if (gla !== null) expect(e.gla.toString(16)).toBe(gla.toString(16));
  expect(e.rip.toString(16)).toBe(rip.toString(16));
}

const CODE = 0x1000n;

describe('EPT violations: the access, bits 2:0 (SDM Vol. 3C §28.2.1 Table 28-7, §29.3.3.2)', () => {
  it('a data read of a not-present page: bit 0, translation bits 5:3 = 0 (not present), bits 7 and 8', async () => {
    const gpa = DATA + 0x1010n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.unmap(gpa, 1) });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('a data write to a read-only page: bit 1, bits 5:3 = R (the entries\' R/W/X ANDed)', async () => {
    const gpa = DATA + 0x2ff8n;
    const r = await eptRun('mov [rsi], rax\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.protect(gpa, 1, EPT_R) });
    expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('an instruction fetch from a read/write page: bit 2, bits 5:3 = RW; guest RIP and the linear address are the target', async () => {
    const target = DATA + 0x3000n;
    const r = await eptRun('jmp rsi', { regs: { rsi: target }, ept: (b) => b.protect(target, 1, EPT_R | EPT_W) });
    expectViolation(r, Q_FETCH | perms(EPT_R | EPT_W) | Q_LINEAR | Q_TRANSLATION, target, target, target);
  });

  it('a read of an execute-only page (IA32_VMX_EPT_VPID_CAP bit 0): bit 0, bits 5:3 = X', async () => {
    const gpa = DATA + 0x4000n;
    const r = await eptRun('mov eax, [rsi]\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.protect(gpa, 1, EPT_X) });
    expectViolation(r, Q_READ | perms(EPT_X) | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('a write to an execute-only page: bit 1, bits 5:3 = X', async () => {
    const gpa = DATA + 0x4008n;
    const r = await eptRun('mov byte ptr [rsi], 1\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.protect(gpa, 1, EPT_X) });
    expectViolation(r, Q_WRITE | perms(EPT_X) | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('a read-modify-write of a read-only page sets bit 1 (bit 0 is implementation-specific)', async () => {
    const gpa = DATA + 0x5000n;
    const r = await eptRun('add [rsi], rax\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.protect(gpa, 1, EPT_R | EPT_X) });
    expect(r.exits.map((e) => e.reason)).toEqual([EPT_VIOLATION]);
    expect(r.exits[0]!.qual & ~Q_READ).toBe(Q_WRITE | perms(EPT_R | EPT_X) | Q_LINEAR | Q_TRANSLATION);
    expect(r.exits[0]!.gpa).toBe(gpa);
  });

  it('a read of a read-only page and a fetch from an execute-only page do not exit', async () => {
    const gpa = DATA + 0x6010n, code = DATA + 0x7000n;
    const r = await eptRun('mov rax, [rsi]\njmp rdi', {
      regs: { rsi: gpa, rdi: code },
      ept: (b) => b.protect(gpa, 1, EPT_R).protect(code, 1, EPT_X),
      before: (h) => {
        write64(h, gpa, marker(gpa));
        h.t.phys.load(Number(code), new Uint8Array([0x0f, 0xa2])); // cpuid
      },
    });
    expect(r.exits.map((e) => [e.reason, e.rip])).toEqual([[CPUID, code]]);
    expect(r.h.reg('rax')).toBe(marker(gpa));
  });
});

describe('EPT violations: bits 5:3 are the logical AND over every EPT entry used (Table 28-7, §29.3.3.2)', () => {
  const cases: [string, EptLevel, bigint, bigint, string][] = [
    ['PDE R|X over a RWX PTE, write', 2, EPT_R | EPT_X, Q_WRITE, 'mov [rsi], rax'],
    ['PDPTE R|W over RWX, fetch', 3, EPT_R | EPT_W, Q_FETCH, 'jmp rsi'],
    ['PML4E R over RWX, write', 4, EPT_R, Q_WRITE, 'mov [rsi], rax'],
  ];
  for (const [what, level, p, access, code] of cases) {
    it(what, async () => {
      const gpa = DATA + 0x7000n;
      // A PML4E covers 512 GiB and a PDPTE 1 GiB, code and page tables included: the access goes through
      // an entry of its own at 512 GiB or 1 GiB (mapped to the data window), the one whose rights are cut.
      const far = level === 2 ? gpa : level === 3 ? (1n << 30n) + 0x7000n : (1n << 39n) + 0x7000n;
      const r = await eptRun(`${code}\ncpuid`, {
        regs: { rsi: far },
        ept: (b) => {
          b.map(far, gpa, 0x1000n);
          b.protect(far, level, p);
        },
        tables: (pt) => pt.map(far, far, { flags: W | A | D, upper: P | W | U | A }),
      });
      const fetch = access === Q_FETCH;
      expectViolation(r, access | perms(p) | Q_LINEAR | Q_TRANSLATION, far, far, fetch ? far : CODE);
    });
  }

  it('a not-present entry above the leaf gives 0 in bits 5:3, at each level', async () => {
    for (const level of [4, 3, 2] as const) {
      const far = level === 2 ? DATA + 0x200000n : level === 3 ? (1n << 30n) + 0x8000n : (1n << 39n) + 0x8000n;
      const r = await eptRun('mov rax, [rsi]\ncpuid', {
        regs: { rsi: far },
        ept: (b) => {
          if (level !== 2) b.map(far, DATA, 0x1000n);
          b.unmap(far, level);
        },
        tables: (pt) => { if (level !== 2) pt.map(far, far, { flags: W | A | D, upper: P | W | U | A }); },
      });
      expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, far, far, CODE);
    }
  });
});

describe('EPT violations on guest paging-structure accesses: bit 8 = 0 (Table 28-7, §29.3.3.2)', () => {
  // The PTE for DATA + 0x1000 is in the guest's page table of the data window (4-KByte pages).
  const la = DATA + 0x1000n;

  it('the walk reads a page-table entry whose page is not present in EPT: a read, at the entry\'s guest-physical address', async () => {
    let pteGpa = 0n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => (pteGpa = pt.entryAddress(la, 3)),
      ept: (b) => b.unmap(0x113000n, 1),
    });
    expect(pteGpa & ~0xfffn).toBe(0x113000n); // the page table of 4-6 MiB
    expectViolation(r, Q_READ | Q_LINEAR, pteGpa, la, CODE);
  });

  for (const [name, level] of [['PML4', 0], ['PDPT', 1], ['page directory', 2]] as const) {
    it(`a ${name} entry whose page is not present: the entry's address; code fetches walk it first`, async () => {
      let gpa = 0n;
      const r = await eptRun('mov rax, [rsi]\ncpuid', {
        regs: { rsi: la },
        before: (h, pt) => {
          gpa = pt.entryAddress(CODE, level);
          h.ept!.unmap(gpa & ~0xfffn, 1);
        },
      });
      // The first instruction's fetch walks the same upper structures: the exit is the fetch's walk, a data read.
      expectViolation(r, Q_READ | Q_LINEAR, gpa, CODE, CODE);
    });
  }

  it('a guest page table whose EPT page is execute-only: the walk\'s read violates, bits 5:3 = X', async () => {
    let pteGpa = 0n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => (pteGpa = pt.entryAddress(la, 3)),
      ept: (b) => b.protect(0x113000n, 1, EPT_X),
    });
    expectViolation(r, Q_READ | perms(EPT_X) | Q_LINEAR, pteGpa, la, CODE);
  });

  it('setting the accessed flag of a guest PTE is a write: a read-only EPT page table violates with bit 1 (§4.8)', async () => {
    let pteGpa = 0n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => {
        pteGpa = pt.entryAddress(la, 3);
        pt.setEntry(la, 3, pt.entry(la, 3) & ~(A | D));
      },
      ept: (b) => b.protect(0x113000n, 1, EPT_R),
    });
    expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR, pteGpa, la, CODE);
    expect(read64(r.h, pteGpa) & A).toBe(0n); // nothing written
  });

  it('setting the dirty flag of a guest PTE on a write is a write to the PTE: violates on a read-only EPT page table', async () => {
    let pteGpa = 0n;
    const r = await eptRun('mov rax, [rsi]\nmov [rsi], rax\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => {
        pteGpa = pt.entryAddress(la, 3);
        pt.setEntry(la, 3, pt.entry(la, 3) & ~D);
      },
      ept: (b) => b.protect(0x113000n, 1, EPT_R | EPT_X),
    });
    // The read needs no flag update and succeeds; the write (3 bytes further) needs D.
    expectViolation(r, Q_WRITE | perms(EPT_R | EPT_X) | Q_LINEAR, pteGpa, la, CODE + 3n);
  });

  it('with A and D already set, a read-only EPT page table is enough for reads and writes', async () => {
    const r = await eptRun('mov rax, [rsi]\nmov [rsi], rax\ncpuid', {
      regs: { rsi: la }, ept: (b) => b.protect(0x113000n, 1, EPT_R),
    });
    expect(r.exits.map((e) => e.reason)).toEqual([CPUID]);
  });

  it('with EPT A/D flags (EPTP bit 6) walks are writes: a read-only EPT page table violates with bits 0 and 1 (§29.3.5)', async () => {
    let pteGpa = 0n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la }, accessedDirty: true,
      tables: (pt) => (pteGpa = pt.entryAddress(la, 3)),
      ept: (b) => b.protect(0x113000n, 1, EPT_R),
    });
    expectViolation(r, Q_READ | Q_WRITE | perms(EPT_R) | Q_LINEAR, pteGpa, la, CODE);
  });
});

describe('guest RIP is the faulting instruction, which re-executes after the handler fixes EPT (§28.2.1, §29.4.3.1)', () => {
  it('a not-present page made present: the read completes on resume with the page\'s value', async () => {
    const gpa = DATA + 0x9020n;
    const r = await eptRun('mov rax, [rsi]\nmov rbx, [rsi+8]\ncpuid', {
      regs: { rsi: gpa },
      ept: (b) => b.unmap(gpa, 1),
      onExit: (e, h) => {
        if (e.reason !== EPT_VIOLATION) return 'stop';
        h.ept!.protect(gpa, 1, EPT_RWX);
        return 'resume';
      },
      before: (h) => {
        write64(h, gpa, marker(gpa));
        write64(h, gpa + 8n, marker(gpa + 8n));
      },
    });
    expect(r.exits.map((e) => [e.reason, e.rip])).toEqual([[EPT_VIOLATION, CODE], [CPUID, CODE + 7n]]);
    expect([r.h.reg('rax'), r.h.reg('rbx')]).toEqual([marker(gpa), marker(gpa + 8n)]);
  });

  for (const vpid of [false, true]) {
    it(`a read-only page made writable without INVEPT: the write completes (an EPT violation invalidates the mappings it used)${vpid ? ', with VPID' : ''}`, async () => {
      const gpa = DATA + 0xa000n;
      const r = await eptRun('mov rax, [rsi]\nmov qword ptr [rsi], 0x1234\ncpuid', {
        regs: { rsi: gpa },
        proc2: vpid ? ['enableVpid'] : [],
        fields: vpid ? { vpid: 1 } : {},
        ept: (b) => b.protect(gpa, 1, EPT_R),
        onExit: (e, h) => {
          if (e.reason !== EPT_VIOLATION) return 'stop';
          h.ept!.protect(gpa, 1, EPT_R | EPT_W);
          return 'resume';
        },
      });
      expect(r.exits.map((e) => [e.reason, e.rip])).toEqual([[EPT_VIOLATION, CODE + 3n], [CPUID, CODE + 10n]]);
      expect(read64(r.h, gpa)).toBe(0x1234n);
    });
  }
});


describe('the guest-linear and guest-physical address fields (§28.2.1)', () => {
  it('a linear address that is not the guest-physical one: each field gets its own', async () => {
    const la = 0x7f0000401238n, gpa = DATA + 0xc238n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => pt.map(la & ~0xfffn, gpa & ~0xfffn, { flags: W | A | D, upper: P | W | U | A }),
      ept: (b) => b.unmap(gpa, 1),
    });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, gpa, la, CODE);
  });

  it('an access crossing into a not-present page reports the first byte on that page', async () => {
    const gpa = DATA + 0xdffcn; // 8 bytes: 4 on a present page, 4 on the next, not present
    const r = await eptRun('mov rax, [rsi]\ncpuid', { regs: { rsi: gpa }, ept: (b) => b.unmap(DATA + 0xe000n, 1) });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, DATA + 0xe000n, DATA + 0xe000n, CODE);
  });
});

describe('accesses that span pages or iterate (§28.2.1; SDM Vol. 1 §6.5 REP restart)', () => {
  it('a write crossing into a read-only page writes nothing on the writable page', async () => {
    const gpa = DATA + 0x1dffcn;
    const r = await eptRun('mov qword ptr [rsi], -1\ncpuid', {
      regs: { rsi: gpa },
      ept: (b) => b.protect(DATA + 0x1e000n, 1, EPT_R),
      before: (h) => write64(h, gpa - 4n, 0n),
    });
    expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, DATA + 0x1e000n, DATA + 0x1e000n, CODE);
    expect(read64(r.h, gpa - 4n)).toBe(0n);
  });

  it('an instruction that straddles into a page without execute access: RIP its first byte, addresses the second page', async () => {
    // cpuid (0F A2) with its second byte on the next page.
    const target = DATA + 0x1ffffn, next = DATA + 0x20000n;
    const r = await eptRun('jmp rsi', {
      regs: { rsi: target },
      ept: (b) => b.protect(next, 1, EPT_R | EPT_W),
      before: (h) => h.t.phys.load(Number(target), new Uint8Array([0x0f, 0xa2])),
    });
    expectViolation(r, Q_FETCH | perms(EPT_R | EPT_W) | Q_LINEAR | Q_TRANSLATION, next, next, target);
  });

  it('code running off the end of an executable page: the instructions before retire, RIP is the first on the next page', async () => {
    const start = DATA + 0x21ffcn, next = DATA + 0x22000n;
    const r = await eptRun('jmp rsi', {
      regs: { rsi: start, rax: 0n },
      ept: (b) => b.protect(next, 1, EPT_R),
      before: (h) => h.t.phys.load(Number(start), new Uint8Array([0xff, 0xc0, 0xff, 0xc0, 0x0f, 0xa2])), // inc eax; inc eax; cpuid
    });
    expectViolation(r, Q_FETCH | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, next, next, next);
    expect(r.h.reg('rax')).toBe(2n);
  });

  it('REP MOVSB into a not-present page: the iterations before it completed, RIP the instruction, RCX/RDI at the first byte refused', async () => {
    const src = DATA + 0x23000n, dst = DATA + 0x24ff0n, next = DATA + 0x25000n;
    const r = await eptRun('rep movsb\ncpuid', {
      regs: { rsi: src, rdi: dst, rcx: 0x40n },
      ept: (b) => b.unmap(next, 1),
      before: (h) => h.t.phys.load(Number(src), new Uint8Array(0x40).map((_, k) => k + 1)),
    });
    expectViolation(r, Q_WRITE | Q_LINEAR | Q_TRANSLATION, next, next, CODE);
    expect([r.h.reg('rcx'), r.h.reg('rdi'), r.h.reg('rsi')]).toEqual([0x30n, next, src + 0x10n]);
    expect(read64(r.h, dst + 8n)).toBe(0x100f0e0d0c0b0a09n);
  });

  it('a PUSH to a read-only stack page: a write at RSP - 8', async () => {
    const top = DATA + 0x26000n;
    const r = await eptRun('push rax\ncpuid', { fields: { guestRsp: top }, ept: (b) => b.protect(top - 8n, 1, EPT_R) });
    expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, top - 8n, top - 8n, CODE);
    expect(r.h.read('guestRsp')).toBe(top); // saved unchanged (the exit's RSP is the host's)
  });
});

describe('2-MByte and 1-GByte EPT pages (§29.3.2, Tables 29-2 and 29-4)', () => {
  const GIB = 1n << 30n, MIB2 = 1n << 21n;
  // Guest-linear = guest-physical above 1 GiB too: the guest maps 1-3 GiB with its own 1-GByte pages.
  const guestHigh = (pt: PageTables): void => {
    for (const g of [GIB, 2n * GIB]) pt.map(g, g, { size: GIB, flags: W | A | D, upper: P | W | U | A });
  };

  it('a 2-MByte page: bits 20:0 of the guest-physical address are the offset in the page', async () => {
    const gpa = GIB + MIB2 + 0x1238n, hpa = 0x600000n + 0x1238n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: gpa }, tables: guestHigh,
      ept: (b) => b.map(GIB + MIB2, 0x600000n, MIB2, { size: '2M' }),
      before: (h) => write64(h, hpa, marker(hpa)),
    });
    expect(r.exits.map((e) => e.reason)).toEqual([CPUID]);
    expect(r.h.reg('rax')).toBe(marker(hpa));
  });

  it('a 1-GByte page: bits 29:0 of the guest-physical address are the offset in the page', async () => {
    const gpa = 2n * GIB + 0x654320n, hpa = 0x654320n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: gpa }, tables: guestHigh,
      ept: (b) => b.map(2n * GIB, 0n, GIB, { size: '1G' }),
      before: (h) => write64(h, hpa, marker(hpa)),
    });
    expect(r.exits.map((e) => e.reason)).toEqual([CPUID]);
    expect(r.h.reg('rax')).toBe(marker(hpa));
  });

  it('a 4-KByte page mapped elsewhere: bits 11:0 are the offset', async () => {
    const gpa = DATA + 0xf018n, hpa = 0x7ff018n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: gpa },
      ept: (b) => b.setEntry(gpa, 1, EptBuilder.leaf(hpa & ~0xfffn)),
      before: (h) => write64(h, hpa, marker(hpa)),
    });
    expect(r.h.reg('rax')).toBe(marker(hpa));
  });

  it('a write to a read-only 2-MByte page: the exact guest-physical address, bits 5:3 = R|X', async () => {
    const gpa = GIB + 3n * MIB2 + 0x1ffff8n;
    const r = await eptRun('mov [rsi], rax\ncpuid', {
      regs: { rsi: gpa }, tables: guestHigh,
      ept: (b) => b.map(GIB + 3n * MIB2, 0x600000n, MIB2, { size: '2M', perms: EPT_R | EPT_X }),
    });
    expectViolation(r, Q_WRITE | perms(EPT_R | EPT_X) | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('a fetch from a 1-GByte page without execute access: bit 2, bits 5:3 = R|W, RIP the target', async () => {
    const target = 2n * GIB + 0x601000n;
    const r = await eptRun('jmp rsi', {
      regs: { rsi: target }, tables: guestHigh,
      ept: (b) => b.map(2n * GIB, 0n, GIB, { size: '1G', perms: EPT_R | EPT_W }),
    });
    expectViolation(r, Q_FETCH | perms(EPT_R | EPT_W) | Q_LINEAR | Q_TRANSLATION, target, target, target);
  });

  it('guest 4-KByte pages inside one EPT 2-MByte page each reach their own host page', async () => {
    const base = GIB + 4n * MIB2;
    const r = await eptRun('mov rax, [rsi]\nmov rbx, [rsi+0x1000]\nmov rcx, [rsi+0x1ff000]\ncpuid', {
      regs: { rsi: base + 8n },
      tables: (pt) => {
        for (let off = 0n; off < MIB2; off += 0x1000n) pt.map(base + off, base + off, { flags: W | A | D, upper: P | W | U | A });
      },
      ept: (b) => b.map(base, 0x600000n, MIB2, { size: '2M' }),
      before: (h) => {
        for (const off of [8n, 0x1008n, 0x1ff008n]) write64(h, 0x600000n + off, marker(0x600000n + off));
      },
    });
    expect([r.h.reg('rax'), r.h.reg('rbx'), r.h.reg('rcx')]).toEqual([8n, 0x1008n, 0x1ff008n].map((o) => marker(0x600000n + o)));
  });
});

describe('EPT misconfigurations: exit 49 with the guest-physical address (§29.3.3.1, §28.2.1)', () => {
  const gpa = DATA + 0x10ff0n;
  const cases: [string, (b: EptBuilder) => void][] = [
    ['a write-only leaf (bits 2:0 = 010b)', (b) => b.protect(gpa, 1, EPT_W)],
    ['a write/execute leaf (110b)', (b) => b.protect(gpa, 1, EPT_W | EPT_X)],
    ['a write-only PDE above a good PTE', (b) => b.protect(gpa, 2, EPT_W)],
    ['reserved bit 3 in a PDE that references a page table (bits 7:3)', (b) => b.edit(gpa, 2, 0n, 1n << 3n)],
    ['bit 50, beyond MAXPHYADDR (46), in a PTE', (b) => b.edit(gpa, 1, 0n, 1n << 50n)],
    ['memory type 2 (reserved) in a PTE', (b) => b.edit(gpa, 1, 0x38n, 2n << 3n)],
    ['memory type 3 (reserved) in a PTE', (b) => b.edit(gpa, 1, 0x38n, 3n << 3n)],
    ['memory type 7 (reserved) in a PTE', (b) => b.edit(gpa, 1, 0x38n, 7n << 3n)],
    ['a misconfigured PTE under a PDE without read access: the misconfiguration, not a violation (§29.3.3.2)',
      (b) => { b.protect(gpa, 2, EPT_X); b.protect(gpa, 1, EPT_W); }],
    ['a misconfigured PTE under a page the access may not read (execute-only PDE and read)',
      (b) => { b.protect(gpa, 2, EPT_X); b.edit(gpa, 1, 0x38n, 7n << 3n); }],
  ];
  for (const [what, ept] of cases) {
    it(`${what}: qualification cleared, guest RIP the instruction`, async () => {
      const r = await eptRun('mov rax, [rsi]\ncpuid', { regs: { rsi: gpa }, ept });
      expect(r.exits.map((e) => [e.reason, e.qual, e.gpa, e.rip])).toEqual([[EPT_MISCONFIG, 0n, gpa, CODE]]);
    });
  }

  // The PML4E and PDPTE for the data window also map the code and the guest's page tables: these use their own.
  const farCases: [string, bigint, EptLevel, bigint][] = [
    ['reserved bit 7 (page size) in a PML4E (Table 29-1)', 1n << 39n, 4, 1n << 7n],
    ['bit 46 (= MAXPHYADDR) in a PDPTE that references a table (Table 29-3)', 1n << 30n, 3, 1n << 46n],
    ['reserved bit 6 in a PDPTE that references a table (Table 29-3)', 1n << 30n, 3, 1n << 6n],
  ];
  for (const [what, region, level, bit] of farCases) {
    it(`${what}: qualification cleared, guest RIP the instruction`, async () => {
      const g = region + 0x1238n;
      const r = await eptRun('mov rax, [rsi]\ncpuid', {
        regs: { rsi: g },
        tables: (pt) => pt.map(region, region, { size: 1n << 30n, flags: W | A | D, upper: P | W | U | A }),
        ept: (b) => {
          b.map(region, DATA, 0x1000n);
          b.edit(region, level, 0n, bit);
        },
      });
      expect(r.exits.map((e) => [e.reason, e.qual, e.gpa, e.rip])).toEqual([[EPT_MISCONFIG, 0n, g, CODE]]);
    });
  }

  it('reserved bits 20:12 of a PDE that maps a 2-MByte page (Table 29-4)', async () => {
    const g = (1n << 30n) + 0x1238n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: g },
      tables: (pt) => pt.map(1n << 30n, 1n << 30n, { size: 1n << 30n, flags: W | A | D, upper: P | W | U | A }),
      ept: (b) => b.map(1n << 30n, 0x600000n, 1n << 21n, { size: '2M', extra: 1n << 12n }),
    });
    expect(r.exits.map((e) => [e.reason, e.gpa])).toEqual([[EPT_MISCONFIG, g]]);
  });

  it('reserved bits 29:12 of a PDPTE that maps a 1-GByte page (Table 29-2)', async () => {
    const g = (1n << 30n) + 0x1238n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: g },
      tables: (pt) => pt.map(1n << 30n, 1n << 30n, { size: 1n << 30n, flags: W | A | D, upper: P | W | U | A }),
      ept: (b) => b.map(1n << 30n, 0n, 1n << 30n, { size: '1G', extra: 1n << 29n }),
    });
    expect(r.exits.map((e) => [e.reason, e.gpa])).toEqual([[EPT_MISCONFIG, g]]);
  });

  it('a misconfigured EPT entry for a guest page table: the guest-physical address of the guest\'s entry', async () => {
    let pteGpa = 0n;
    const la = DATA + 0x1000n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la },
      tables: (pt) => (pteGpa = pt.entryAddress(la, 3)),
      ept: (b) => b.edit(0x113000n, 1, 0x38n, 7n << 3n),
    });
    expect(r.exits.map((e) => [e.reason, e.gpa, e.rip])).toEqual([[EPT_MISCONFIG, pteGpa, CODE]]);
  });

  it('a fetch from a misconfigured page: guest RIP is the target', async () => {
    const target = DATA + 0x11000n;
    const r = await eptRun('jmp rsi', { regs: { rsi: target }, ept: (b) => b.protect(target, 1, EPT_W) });
    expect(r.exits.map((e) => [e.reason, e.gpa, e.rip])).toEqual([[EPT_MISCONFIG, target, target]]);
  });

  it('a write to a misconfigured page, fixed by the handler, then completes', async () => {
    const g = DATA + 0x12000n;
    const r = await eptRun('mov qword ptr [rsi], 0x77\ncpuid', {
      regs: { rsi: g },
      ept: (b) => b.protect(g, 1, EPT_W),
      onExit: (e, h) => {
        if (e.reason !== EPT_MISCONFIG) return 'stop';
        h.ept!.protect(g, 1, EPT_RWX);
        return 'resume';
      },
    });
    expect(r.exits.map((e) => e.reason)).toEqual([EPT_MISCONFIG, CPUID]);
    expect(read64(r.h, g)).toBe(0x77n);
  });
});

describe('the guest\'s own paging comes first: its page faults are not EPT exits (§29.3.3, §26.2)', () => {
  const PF_INFO = 0x80000000n | 0x800n | (3n << 8n) | 14n; // valid, error code valid, hardware exception, #PF

  it('a guest PTE not present, EPT not present either: #PF (exception-bitmap exit), qualification = the linear address', async () => {
    const la = DATA + 0x13008n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la }, events: true, fields: { exceptionBitmap: 1 << 14 },
      tables: (pt) => pt.setEntry(la, 3, 0n),
      ept: (b) => b.unmap(la, 1),
    });
    expect(r.exits.map((e) => [e.reason, e.qual, e.intInfo, e.rip])).toEqual([[EXCEPTION_OR_NMI, la, PF_INFO, CODE]]);
    expect(r.h.read('vmExitInterruptionErrorCode')).toBe(0n); // not present, read, supervisor
  });

  for (const wp of [true, false]) {
    it(`a supervisor write to a read-only guest page whose EPT page is read-only, CR0.WP = ${wp ? 1 : 0}: ${wp ? '#PF, error code P | W/R' : 'the guest allows it (§4.6.1), EPT refuses it'}`, async () => {
      const la = DATA + 0x14000n;
      const r = await eptRun('mov [rsi], rax\ncpuid', {
        regs: { rsi: la }, events: true, fields: { exceptionBitmap: 1 << 14 },
        tables: (pt) => pt.setEntry(la, 3, pt.entry(la, 3) & ~W),
        ept: (b) => b.protect(la, 1, EPT_R),
        before: (h) => h.write('guestCr0', wp ? BigInt(h.t.cpu.cr0) | 0x10000n : BigInt(h.t.cpu.cr0) & ~0x10000n),
      });
      if (!wp) return expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, la, la, CODE);
      expect(r.exits.map((e) => [e.reason, e.qual, e.intInfo])).toEqual([[EXCEPTION_OR_NMI, la, PF_INFO]]);
      expect(r.h.read('vmExitInterruptionErrorCode')).toBe(3n);
    });
  }

  it('but a guest walk that cannot read its own page table through EPT exits before finding the PTE not present', async () => {
    let pteGpa = 0n;
    const la = DATA + 0x15000n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la }, events: true, fields: { exceptionBitmap: 1 << 14 },
      tables: (pt) => {
        pteGpa = pt.entryAddress(la, 3);
        pt.setEntry(la, 3, 0n);
      },
      ept: (b) => b.unmap(0x113000n, 1),
    });
    expectViolation(r, Q_READ | Q_LINEAR, pteGpa, la, CODE);
  });
});

describe('EPT accessed and dirty flags, EPTP bit 6 (§29.3.5)', () => {
  const la = DATA + 0x16010n;
  const flagsOf = (b: EptBuilder, gpa: bigint): bigint[] =>
    ([4, 3, 2, 1] as const).map((l) => b.entry(gpa, l) & (EPT_A | EPT_D));

  it('a read sets A in every EPT entry used and D in none; a write then sets D in the PTE', async () => {
    let afterRead: bigint[] = [];
    const r = await eptRun('mov rax, [rsi]\ncpuid\nmov [rsi], rax\ncpuid', {
      regs: { rsi: la }, accessedDirty: true,
      onExit: (e, h, n) => {
        if (n === 1) afterRead = flagsOf(h.ept!, la);
        return n === 1 ? 'skip' : 'stop';
      },
    });
    expect(afterRead).toEqual([EPT_A, EPT_A, EPT_A, EPT_A]);
    expect(flagsOf(r.h.ept!, la)).toEqual([EPT_A, EPT_A, EPT_A, EPT_A | EPT_D]);
  });

  it('the guest\'s paging-structure reads are writes: the EPT PTEs of its page tables get A and D', async () => {
    const r = await eptRun('mov rax, [rsi]\ncpuid', { regs: { rsi: la }, accessedDirty: true });
    for (const table of [0x110000n, 0x111000n, 0x112000n, 0x113000n]) expect(r.h.ept!.entry(table, 1) & (EPT_A | EPT_D)).toBe(EPT_A | EPT_D);
    // A page the guest only fetched from: A, not D.
    expect(r.h.ept!.entry(CODE, 1) & (EPT_A | EPT_D)).toBe(EPT_A);
  });

  it('without EPTP bit 6 no flag is written', async () => {
    const r = await eptRun('mov rax, [rsi]\nmov [rsi], rax\ncpuid', { regs: { rsi: la } });
    expect(flagsOf(r.h.ept!, la)).toEqual([0n, 0n, 0n, 0n]);
    expect(r.h.ept!.entry(0x113000n, 1) & (EPT_A | EPT_D)).toBe(0n);
  });

  it('a violation sets no flag', async () => {
    const r = await eptRun('mov [rsi], rax\ncpuid', {
      regs: { rsi: la }, accessedDirty: true, ept: (b) => b.protect(la, 1, EPT_R),
    });
    expect(r.exits[0]!.reason).toBe(EPT_VIOLATION);
    // The PML4E and PDPTE also serve the code and page tables, whose accesses set their A; the data window's PDE and PTE stay clear.
    expect(flagsOf(r.h.ept!, la)).toEqual([EPT_A, EPT_A, 0n, 0n]);
  });
});

describe('stale EPT translations (§29.4.3): an EPT entry changed between exits without INVEPT', () => {
  const gpa = DATA + 0x17008n, OLD = DATA + 0x17000n, NEW = DATA + 0x18000n;
  const GUEST = 'mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid\nmov rcx, [rsi]\ncpuid';

  async function staleRun(vpid: boolean, flush: 'invept' | 'none'): Promise<EptRun> {
    return eptRun(GUEST, {
      regs: { rsi: gpa },
      proc2: vpid ? ['enableVpid'] : [],
      fields: vpid ? { vpid: 1 } : {},
      before: (h) => {
        write64(h, gpa, marker(gpa));
        write64(h, NEW + 8n, marker(NEW + 8n));
      },
      onExit: (e, h, n) => {
        if (e.reason !== CPUID) return 'stop';
        if (n === 1) h.ept!.setEntry(OLD, 1, EptBuilder.leaf(NEW)); // remap, no INVEPT
        if (n === 2 && flush === 'invept') {
          const eptp = h.read('eptp');
          const d = new Int32Array([Number(eptp & 0xffffffffn) | 0, Number(eptp >> 32n), 0, 0]);
          invept(h.core, h.t.cpu, 1, d); // single-context
        }
        return n === 3 ? 'stop' : 'skip';
      },
    });
  }

  for (const vpid of [false, true]) {
    const who = vpid ? 'with VPID the combined mapping survives the exit and entry' :
      'without VPID the exit and entry invalidate VPID 0000H\'s combined mappings (§29.4.3.3), not the guest-physical one: the walk finds it';
    it(`${who}: the old page is used until INVEPT single-context, the new one after`, async () => {
      const r = await staleRun(vpid, 'invept');
      expect(r.exits.map((e) => e.reason)).toEqual([CPUID, CPUID, CPUID]);
      expect([r.h.reg('rax'), r.h.reg('rbx'), r.h.reg('rcx')]).toEqual([marker(gpa), marker(gpa), marker(NEW + 8n)]);
    });

    it(`${vpid ? 'with' : 'without'} VPID and no INVEPT the old page stays in use (§29.4.3.2: VM exits and entries need not invalidate guest-physical mappings)`, async () => {
      const r = await staleRun(vpid, 'none');
      expect([r.h.reg('rax'), r.h.reg('rbx'), r.h.reg('rcx')]).toEqual([marker(gpa), marker(gpa), marker(gpa)]);
    });
  }
});

describe('combined mappings are tagged by the EPTP (§29.4.2: EP4TA)', () => {
  it('with VPID, a VMWRITE of another EPTP between exits gives the other EPT\'s pages at once, and back', async () => {
    const gpa = DATA + 0x2a008n, OTHER = DATA + 0x2b000n;
    let first = 0n, second = 0n;
    const r = await eptRun('mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid\nmov rcx, [rsi]\ncpuid', {
      regs: { rsi: gpa }, proc2: ['enableVpid'], fields: { vpid: 1 },
      before: (h) => {
        first = h.read('eptp');
        // A second EPT, in the upper half of the harness's table area: the same, but gpa's page is OTHER.
        const b2 = new EptBuilder(h.t.phys, 0x380000, 0x400000);
        standardEpt(b2);
        b2.setEntry(gpa, 1, EptBuilder.leaf(OTHER));
        second = b2.eptp();
        write64(h, gpa, marker(gpa));
        write64(h, OTHER + 8n, marker(OTHER + 8n));
      },
      onExit: (e, h, n) => {
        if (e.reason !== CPUID || n === 3) return 'stop';
        h.write('eptp', n === 1 ? second : first);
        return 'skip';
      },
    });
    expect([r.h.reg('rax'), r.h.reg('rbx'), r.h.reg('rcx')]).toEqual([marker(gpa), marker(OTHER + 8n), marker(gpa)]);
  });
});

describe('a guest with paging off under "unrestricted guest" (§29.3.3, §26.6)', () => {
  const CR0_PG = 0x80000000n;

  async function pagingOff(guest: string, ept: (b: EptBuilder) => void, regs: Record<string, bigint>): Promise<EptRun> {
    return eptRun(guest, {
      ia32eModeGuest: false, proc2: ['unrestrictedGuest'], regs, ept,
      before: (h) => h.write('guestCr0', BigInt(h.t.cpu.cr0) & ~CR0_PG),
    });
  }

  it('a read of a not-present page: the linear address is the guest-physical one, bit 8 = 1', async () => {
    const gpa = DATA + 0x19010n;
    const r = await pagingOff('mov eax, [esi]\ncpuid', (b) => b.unmap(gpa, 1), { rsi: gpa });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, gpa, gpa, CODE);
  });

  it('values come through EPT alone: guest-physical = linear', async () => {
    const gpa = DATA + 0x1a010n, hpa = DATA + 0x1b010n;
    const r = await eptRun('mov eax, [esi]\nmov edx, [esi+4]\ncpuid', {
      ia32eModeGuest: false, proc2: ['unrestrictedGuest'], regs: { rsi: gpa },
      ept: (b) => b.setEntry(gpa, 1, EptBuilder.leaf(hpa & ~0xfffn)),
      before: (h) => {
        h.write('guestCr0', BigInt(h.t.cpu.cr0) & ~CR0_PG);
        write64(h, hpa, marker(hpa));
      },
    });
    expect(r.exits.map((e) => e.reason)).toEqual([CPUID]);
    expect((r.h.reg('rdx') << 32n) | r.h.reg('rax')).toBe(marker(hpa));
  });

  it('a fetch from a page without execute access', async () => {
    const target = DATA + 0x1c000n;
    const r = await pagingOff('jmp esi', (b) => b.protect(target, 1, EPT_R | EPT_W), { rsi: target });
    expectViolation(r, Q_FETCH | perms(EPT_R | EPT_W) | Q_LINEAR | Q_TRANSLATION, target, target, target);
  });
});

describe('EPT exits met while delivering an event: IDT-vectoring information (§28.2.4, §29.3.3)', () => {
  const VALID = 0x80000000n, ERROR_VALID = 0x800n;
  const HW_EXCEPTION = 3n << 8n, SW_INTERRUPT = 4n << 8n;
  /** A 64-bit interrupt gate (Vol. 3A §6.14.1) to `handler` in the flat CS 08H. */
  const gate = (h: VmxHarness, vector: number, handler: bigint): void => {
    const lo = (handler & 0xffffn) | (0x08n << 16n) | (0x8en << 40n) | (((handler >> 16n) & 0xffffn) << 48n);
    write64(h, BigInt(vector) * 16n, lo);
    write64(h, BigInt(vector) * 16n + 8n, handler >> 32n);
  };

  it('INT 80H whose IDT page is not present: a read of the gate, the interrupt as IDT-vectoring information, RIP and length of the INT', async () => {
    const r = await eptRun('int 0x80\ncpuid', { events: true, ept: (b) => b.unmap(0n, 1) });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, 0x800n, 0x800n, CODE);
    expect(r.h.read('idtVectoringInformationField')).toBe(VALID | SW_INTERRUPT | 0x80n);
    expect(r.h.read('vmExitInstructionLength')).toBe(2n);
  });

  it('#UD whose IDT page is not present: the exception as IDT-vectoring information, RIP the UD2', async () => {
    const r = await eptRun('ud2', { events: true, ept: (b) => b.unmap(0n, 1) });
    expectViolation(r, Q_READ | Q_LINEAR | Q_TRANSLATION, 0x60n, 0x60n, CODE);
    expect(r.h.read('idtVectoringInformationField')).toBe(VALID | HW_EXCEPTION | 6n);
  });

  it('a guest #PF whose delivery pushes to a read-only EPT stack page: a write at RSP - 8, #PF and its error code as IDT-vectoring information', async () => {
    const la = DATA + 0x27000n, top = DATA + 0x29000n;
    const r = await eptRun('mov rax, [rsi]\ncpuid', {
      regs: { rsi: la }, events: true, fields: { guestRsp: top },
      tables: (pt) => pt.setEntry(la, 3, 0n),
      ept: (b) => b.protect(top - 8n, 1, EPT_R),
      before: (h) => {
        gate(h, 14, CODE + 0x800n);
        // A GDT with the flat 64-bit code segment the gate names (the default GDTR base 0 overlaps the IDT).
        write64(h, 0x2008n, 0x00af9b000000ffffn);
        h.write('guestGdtrBase', 0x2000n);
      },
    });
    expectViolation(r, Q_WRITE | perms(EPT_R) | Q_LINEAR | Q_TRANSLATION, top - 8n, top - 8n, CODE);
    expect(r.h.read('idtVectoringInformationField')).toBe(VALID | ERROR_VALID | HW_EXCEPTION | 14n);
    expect(r.h.read('idtVectoringErrorCode')).toBe(0n);
  });
});

describe('PAE paging under EPT: PDPTE loads by MOV to CR3 (§28.2.1 Table 28-7 bit 7, §29.3.3.2)', () => {
  const PAE_TABLES = 0x120000n, NEW_PDPT = 0x130000n;

  /** A 32-bit PAE guest whose tables (at PAE_TABLES) map 0-8 MiB with 2-MByte pages; the VMCS PDPTE fields hold them (§27.3.2.4). */
  async function paeRun(guest: string, o: { ept: (b: EptBuilder) => void; accessedDirty?: boolean }): Promise<EptRun> {
    return eptRun(guest, {
      ia32eModeGuest: false, regs: { rax: NEW_PDPT }, ept: o.ept, accessedDirty: o.accessedDirty,
      before: (h) => {
        const pt = new PageTables(h.t.phys, 'pae', Number(PAE_TABLES));
        for (let a = 0n; a < 2n * DATA; a += 1n << 21n) pt.map(a, a, { size: 1n << 21n, flags: W | A | D });
        // The PDPT MOV to CR3 will load: a copy of the first at NEW_PDPT.
        for (let i = 0n; i < 4n; i++) {
          const e = read64(h, PAE_TABLES + 8n * i);
          write64(h, NEW_PDPT + 8n * i, e);
          h.write(`guestPdpte${i}` as 'guestPdpte0', e);
        }
        h.write('guestCr3', PAE_TABLES);
      },
    });
  }

  it('a PDPT page not present in EPT: a read, bit 7 = 0 (no linear address), the first PDPTE\'s address, RIP the MOV', async () => {
    const r = await paeRun('mov cr3, eax\ncpuid', { ept: (b) => b.unmap(NEW_PDPT, 1) });
    expect(r.exits.map((e) => [e.reason, e.qual, e.gpa, e.rip])).toEqual([[EPT_VIOLATION, Q_READ, NEW_PDPT, CODE]]);
  });

  it('with EPT A/D flags the PDPTE loads are still reads: a read-only PDPT page is enough (§29.3.3.2)', async () => {
    const r = await paeRun('mov cr3, eax\nmov eax, [0x401000]\ncpuid', {
      accessedDirty: true, ept: (b) => b.protect(NEW_PDPT, 1, EPT_R),
    });
    expect(r.exits.map((e) => e.reason)).toEqual([CPUID]);
  });

  it('a PDPT page with a misconfigured EPT entry: exit 49 with the PDPTE\'s address', async () => {
    const r = await paeRun('mov cr3, eax\ncpuid', { ept: (b) => b.protect(NEW_PDPT, 1, EPT_W) });
    expect(r.exits.map((e) => [e.reason, e.gpa, e.rip])).toEqual([[EPT_MISCONFIG, NEW_PDPT, CODE]]);
  });
});
