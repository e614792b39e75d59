/**
 * CPUID (SDM Vol. 2A CPUID) against the CPU model: identity and leaf
 * layouts checked against values worked out by hand from the SDM, and the
 * honesty rule checked by execution: every reported core feature has an
 * instruction (or behaviour) that works, and features the model does not
 * report raise #UD.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, type StopReason } from '../../cpu/cpu.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { CPUID_FEATURES, CpuModel, DEFAULT_CPU_MODEL, type FeatureName } from '../../cpu/model/cpuidModel.ts';
import { asm } from '../support/asm.ts';
import { attachInterruptControllers } from '../../cpu/devices/interruptControllers.ts';
import { TimerQueue } from '../../cpu/time/timerQueue.ts';
import { CODE_BASE, runAsm, type TestCore } from '../support/machine.ts';

const CR4_OSFXSR = 1 << 9, CR4_OSXSAVE = 1 << 18;
const UD = 6;

interface CpuidRun { eax: number; ebx: number; ecx: number; edx: number; stop: StopReason; rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint }

/** Executes CPUID on a fresh 64-bit core with id `id`; RAX..RDX start as all ones above the inputs. */
async function cpuid(leaf: number, sub = 0, opts: { id?: number; model?: CpuModel; cr4?: number; cpl?: number } = {}): Promise<CpuidRun> {
  const code = await asm(`
    mov rbx, -1
    mov rdx, -1
    mov r8, 0xffffffff00000000
    mov rax, rsi
    or rax, r8
    mov rcx, rdi
    or rcx, r8
    cpuid
    hlt`, 64, CODE_BASE);
  const phys = new PhysicalMemory(1 << 20);
  const c = new Cpu({ phys, id: opts.id ?? 0 });
  enterFlatMode(c, 64);
  if (opts.model) c.model = opts.model;
  c.cr4 |= opts.cr4 ?? 0;
  c.cpl = opts.cpl ?? 0;
  phys.load(CODE_BASE, code);
  c.rip = CODE_BASE;
  c.r[6 * 2] = leaf | 0; // rsi: the leaf, zero-extended
  c.r[7 * 2] = sub | 0; // rdi: the sub-leaf
  const stop = c.run(100);
  const big = (n: number) => (BigInt(c.r[n * 2 + 1]! >>> 0) << 32n) | BigInt(c.r[n * 2]! >>> 0);
  return { eax: c.r[0]! >>> 0, ebx: c.r[6]! >>> 0, ecx: c.r[2]! >>> 0, edx: c.r[4]! >>> 0, stop, rax: big(0), rbx: big(3), rcx: big(1), rdx: big(2) };
}

const bit = (v: number, n: number) => (v >>> n) & 1;
const ascii = (...regs: number[]) =>
  regs.map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24)).join('');

describe('CPUID identity leaves (SDM Vol. 2A CPUID, leaves 00H, 01H, 80000000H-80000008H)', () => {
  it('leaf 0: highest basic leaf 1FH and "GenuineIntel" in EBX, EDX, ECX', async () => {
    const r = await cpuid(0);
    expect(r.stop.kind).toBe('halt');
    expect(r.eax).toBe(0x1f);
    expect(ascii(r.ebx, r.edx, r.ecx)).toBe('GenuineIntel');
  });

  it('CPUID writes 32-bit results, clearing the upper halves of RAX/RBX/RCX/RDX in 64-bit mode', async () => {
    const r = await cpuid(0);
    expect(r.rax).toBe(0x1fn);
    expect(r.rbx).toBe(0x756e6547n); // "Genu"
    expect(r.rcx).toBe(0x6c65746en); // "ntel"
    expect(r.rdx).toBe(0x49656e69n); // "ineI"
  });

  it('leaf 1 EAX: family 6, model 8FH (extended model 8, model F), stepping 8 (Figure 3-6)', async () => {
    const r = await cpuid(1);
    expect(r.eax & 0xf).toBe(8);
    expect((r.eax >>> 8) & 0xf).toBe(6);
    expect((((r.eax >>> 16) & 0xf) << 4) | ((r.eax >>> 4) & 0xf)).toBe(0x8f);
    expect((r.eax >>> 20) & 0xff).toBe(0); // extended family is used only with family 0FH
    expect((r.eax >>> 12) & 3).toBe(0); // original OEM processor
    expect(r.eax).toBe(0x000806f8);
  });

  it('leaf 1 EBX: initial APIC ID = core id in [31:24], CLFLUSH line 8 x 8 = 64 bytes in [15:8]', async () => {
    for (const id of [0, 1, 5, 200]) {
      const r = await cpuid(1, 0, { id });
      expect(r.ebx >>> 24).toBe(id);
      expect((r.ebx >>> 8) & 0xff).toBe(8);
    }
  });

  it('leaf 1: the hypervisor bit (ECX[31]) is 0, VMX (ECX[5]) is off by default', async () => {
    const r = await cpuid(1);
    expect(bit(r.ecx, 31)).toBe(0);
    expect(bit(r.ecx, 5)).toBe(0);
  });

  it('leaf 1 ECX[27] OSXSAVE mirrors CR4.OSXSAVE', async () => {
    expect(bit((await cpuid(1)).ecx, 27)).toBe(0);
    expect(bit((await cpuid(1, 0, { cr4: CR4_OSXSAVE })).ecx, 27)).toBe(1);
  });

  it('leaf 1 EDX/ECX report exactly the model rows (SDM Tables 3-10, 3-11)', async () => {
    const r = await cpuid(1);
    // EDX: FPU PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT CLFSH FXSR SSE SSE2, nothing else (no HTT on one core).
    const edx = [0, 3, 4, 5, 6, 8, 9, 11, 12, 13, 15, 16, 19, 24, 25, 26].reduce((a, b) => a | (1 << b), 0) >>> 0;
    expect(r.edx).toBe(edx);
    // ECX: CX16(13) PCID(17) x2APIC(21) MOVBE(22) POPCNT(23) TSC-deadline(24) XSAVE(26) RDRAND(30); SSE3 etc. absent.
    const ecx = [13, 17, 21, 22, 23, 24, 26, 30].reduce((a, b) => a | (1 << b), 0) >>> 0;
    expect(r.ecx).toBe(ecx);
  });

  it('80000000H: highest extended leaf 80000008H; 80000001H: LAHF-LM, LZCNT, PREFETCHW, SYSCALL, NX, 1G pages, RDTSCP, LM', async () => {
    expect((await cpuid(0x80000000)).eax).toBe(0x80000008);
    const r = await cpuid(0x80000001);
    expect(r.eax).toBe(0);
    expect(r.ecx).toBe((1 << 0) | (1 << 5) | (1 << 8));
    expect(r.edx >>> 0).toBe(((1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29)) >>> 0);
  });

  it('80000002H-80000004H: brand string "turtles virtual x86-64 CPU", NUL-padded to 48 bytes', async () => {
    let s = '';
    for (const leaf of [0x80000002, 0x80000003, 0x80000004]) {
      const r = await cpuid(leaf);
      s += ascii(r.eax, r.ebx, r.ecx, r.edx);
    }
    expect(s).toBe('turtles virtual x86-64 CPU'.padEnd(48, '\0'));
  });

  it('80000007H: invariant TSC (EDX[8]); 80000008H: 46 physical and 48 linear address bits', async () => {
    expect((await cpuid(0x80000007)).edx).toBe(1 << 8);
    const r = await cpuid(0x80000008);
    expect(r.eax & 0xff).toBe(46);
    expect((r.eax >>> 8) & 0xff).toBe(48);
  });
});

describe('CPUID structured leaves (SDM Vol. 2A CPUID, leaves 07H, 0BH, 0DH, 1FH)', () => {
  it('leaf 7 sub-leaf 0: EAX = 0 sub-leaves; EBX TSC_ADJUST FDP_EXCPTN_ONLY SMEP INVPCID FCS/FDS-deprecated RDSEED SMAP CLFLUSHOPT; ECX RDPID; no BMI1', async () => {
    const r = await cpuid(7, 0);
    expect(r.eax).toBe(0);
    expect(r.ebx).toBe((1 << 1) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 13) | (1 << 18) | (1 << 20) | (1 << 23));
    expect(bit(r.ebx, 3)).toBe(0); // BMI1
    expect(r.ecx).toBe(1 << 22);
    expect(r.edx).toBe(0);
  });

  it('leaf 7 sub-leaf 1 and above are all zero', async () => {
    for (const sub of [1, 2, 0x80]) {
      const r = await cpuid(7, sub);
      expect([r.eax, r.ebx, r.ecx, r.edx]).toEqual([0, 0, 0, 0]);
    }
  });

  it('leaf 0DH sub-leaf 0: XCR0 may hold x87|SSE; area 512 + 64 = 576 bytes; sub-leaf 1 reports no XSAVEOPT/XSAVEC/XSAVES', async () => {
    const r = await cpuid(0xd, 0);
    expect([r.eax, r.ebx, r.ecx, r.edx]).toEqual([3, 576, 576, 0]);
    const s1 = await cpuid(0xd, 1);
    expect([s1.eax, s1.ebx, s1.ecx, s1.edx]).toEqual([0, 0, 0, 0]);
    const s2 = await cpuid(0xd, 2); // AVX state: not supported
    expect([s2.eax, s2.ebx, s2.ecx, s2.edx]).toEqual([0, 0, 0, 0]);
  });

  for (const leaf of [0xb, 0x1f]) {
    it(`leaf ${leaf.toString(16).toUpperCase()}H: SMT level (1 thread), core level, then invalid; EDX = x2APIC ID`, async () => {
      const id = 3;
      const smt = await cpuid(leaf, 0, { id });
      expect([smt.eax & 0x1f, smt.ebx & 0xffff, smt.ecx, smt.edx]).toEqual([0, 1, 0x100, id]);
      const core = await cpuid(leaf, 1, { id });
      expect([core.eax & 0x1f, core.ebx & 0xffff, core.ecx, core.edx]).toEqual([0, 1, 0x201, id]);
      const end = await cpuid(leaf, 2, { id });
      expect([end.eax, end.ebx, end.ecx, end.edx]).toEqual([0, 0, 2, id]);
    });
  }

  it('four cores per package: HTT, 4 addressable IDs in leaf 1 EBX[23:16], core level shift 2 in leaf 0BH', async () => {
    const model = new CpuModel({ coresPerPackage: 4 });
    const r1 = await cpuid(1, 0, { model, id: 2 });
    expect(bit(r1.edx, 28)).toBe(1);
    expect((r1.ebx >>> 16) & 0xff).toBe(4);
    const core = await cpuid(0xb, 1, { model, id: 2 });
    expect([core.eax, core.ebx, core.ecx, core.edx]).toEqual([2, 4, 0x201, 2]);
  });

  it('leaves above the highest basic leaf return the data of leaf 1FH for the same ECX (Intel behaviour)', async () => {
    for (const leaf of [0x20, 0x40000000, 0x7fffffff, 0x80000009, 0xffffffff]) {
      for (const sub of [0, 1, 5]) {
        const r = await cpuid(leaf, sub, { id: 7 });
        const ref = await cpuid(0x1f, sub, { id: 7 });
        expect([r.eax, r.ebx, r.ecx, r.edx]).toEqual([ref.eax, ref.ebx, ref.ecx, ref.edx]);
      }
    }
  });

  it('CPUID is not privileged: it runs at CPL 3 (the HLT after it is what faults)', async () => {
    const r = await cpuid(0, 0, { cpl: 3 });
    expect(r.stop).toMatchObject({ kind: 'exception', vector: 13 });
    expect(r.eax).toBe(0x1f);
    expect(ascii(r.ebx, r.edx, r.ecx)).toBe('GenuineIntel');
  });
});

describe('model switches (DESIGN "The CPU model")', () => {
  it('VMX is a switch: off by default, reported when switched on', async () => {
    expect(DEFAULT_CPU_MODEL.has('vmx')).toBe(false);
    const r = await cpuid(1, 0, { model: DEFAULT_CPU_MODEL.with({ features: { vmx: true } }) });
    expect(bit(r.ecx, 5)).toBe(1);
  });

  it('switching features off clears their bits and leaves the rest', async () => {
    const model = DEFAULT_CPU_MODEL.with({ features: { rdrand: false, nx: false, rdseed: false } });
    const base1 = await cpuid(1), r1 = await cpuid(1, 0, { model });
    expect(r1.ecx).toBe((base1.ecx & ~(1 << 30)) >>> 0);
    expect(r1.edx).toBe(base1.edx);
    const r81 = await cpuid(0x80000001, 0, { model }), b81 = await cpuid(0x80000001);
    expect(r81.edx).toBe((b81.edx & ~(1 << 20)) >>> 0);
    expect(bit((await cpuid(7, 0, { model })).ebx, 18)).toBe(0);
  });

  it('without XSAVE, OSXSAVE is not reported even with CR4.OSXSAVE set and leaf 0DH is empty', async () => {
    const model = DEFAULT_CPU_MODEL.with({ features: { xsave: false } });
    const r = await cpuid(1, 0, { model, cr4: CR4_OSXSAVE });
    expect(bit(r.ecx, 26)).toBe(0);
    expect(bit(r.ecx, 27)).toBe(0);
    const d = await cpuid(0xd, 0, { model });
    expect([d.eax, d.ebx, d.ecx, d.edx]).toEqual([0, 0, 0, 0]);
  });

  it('a model copy keeps the switches it was built from', () => {
    const a = DEFAULT_CPU_MODEL.with({ features: { vmx: true, smap: false } });
    const b = a.with({ coresPerPackage: 2 });
    expect(b.has('vmx')).toBe(true);
    expect(b.has('smap')).toBe(false);
    expect(b.coresPerPackage).toBe(2);
    expect(DEFAULT_CPU_MODEL.has('smap')).toBe(true);
  });

  it('a bad configuration is a clear one-line error', () => {
    expect(() => new CpuModel({ features: { bogus: true } as never })).toThrow(/unknown feature 'bogus'/);
    expect(() => new CpuModel({ coresPerPackage: 0 })).toThrow(/coresPerPackage/);
    expect(() => new CpuModel({ coresPerPackage: 1.5 })).toThrow(/coresPerPackage/);
  });

  it('the features promised to the system-architecture issue are exactly those the model documents', () => {
    const system = CPUID_FEATURES.filter((f) => f.source === 'system').map((f) => f.name).sort();
    expect(system).toEqual(['invpcid', 'nx', 'pae', 'page1gb', 'pcid', 'pge', 'pse', 'sep',
      'smap', 'smep', 'syscall'].sort());
  });
});

// ---- honesty: reported features work, unreported ones raise #UD -----------------------

const DATA = 0x20000; // 64-byte aligned scratch

function enableSse(t: TestCore): void {
  t.cpu.cr4 |= CR4_OSFXSR | CR4_OSXSAVE;
}

/** A program exercising each feature the core itself provides ('core' and 'state' rows). */
const PROBES: Partial<Record<FeatureName, string>> = {
  fpu: 'fninit\nfnstcw word ptr [rsi]\nfldcw word ptr [rsi]\nfnstsw ax',
  tsc: 'rdtsc',
  cx8: 'cmpxchg8b qword ptr [rsi]',
  cmov: 'cmovz eax, ebx',
  clfsh: 'clflush byte ptr [rsi]',
  clflushopt: '.byte 0x66, 0x0f, 0xae, 0x3e', // CLFLUSHOPT [RSI]
  prefetchw: 'prefetchw byte ptr [rsi]',
  fxsr: 'fxsave [rsi]\nfxrstor [rsi]',
  sse: 'movaps xmm0, xmm1\nmovups xmm2, [rsi]\nxorps xmm0, xmm2\nldmxcsr dword ptr [rsi + 512]\nstmxcsr dword ptr [rsi]',
  sse2: 'movdqa xmm3, [rsi]\npxor xmm3, xmm3\nmovq xmm4, rax\nmovd eax, xmm4\nmovntdq [rsi], xmm3',
  cx16: 'cmpxchg16b xmmword ptr [rsi]',
  movbe: 'movbe eax, dword ptr [rsi]',
  popcnt: 'popcnt eax, ebx',
  xsave: 'xor ecx, ecx\nxgetbv\nxsave [rsi]\nxrstor [rsi]',
  rdrand: 'rdrand eax',
  rdseed: 'rdseed eax',
  rdpid: '.byte 0xf3, 0x0f, 0xc7, 0xf8', // RDPID RAX (keystone has no mnemonic)
  lahfLm: 'lahf\nsahf',
  lzcnt: 'lzcnt eax, ebx',
  rdtscp: 'rdtscp',
  lm: 'mov rax, 0x123456789abc\nadd rax, rax',
  fdpExcptnOnly: 'fnstcw word ptr [rsi]',
  fcsFdsDeprecated: 'fxsave [rsi]',
  invariantTsc: 'rdtsc',
  // The platform MSRs and the local APIC (cpu/msr/platform.ts, cpu/devices/apic/); the APIC ones need the controllers attached.
  msr: 'mov ecx, 0x277\nrdmsr\nwrmsr',
  mtrr: 'mov ecx, 0xfe\nrdmsr\nmov ecx, 0x2ff\nxor eax, eax\nxor edx, edx\nwrmsr',
  pat: 'mov ecx, 0x277\nrdmsr\nwrmsr',
  tscAdjust: 'mov ecx, 0x3b\nrdmsr\nwrmsr',
  apic: 'mov ecx, 0x1b\nrdmsr\nmov rbx, 0xfee00000\nmov eax, [rbx + 0x30]\ncmp eax, 0x60014\nje apic_ok\nud2\napic_ok:',
  x2apic: 'mov ecx, 0x1b\nrdmsr\nor eax, 0x400\nwrmsr\nmov ecx, 0x802\nrdmsr',
  tscDeadline: 'mov rbx, 0xfee00000\nmov dword ptr [rbx + 0x320], 0x40040\nmov ecx, 0x6e0\nmov eax, 1\nxor edx, edx\nwrmsr\nrdmsr',
};

/** Probes that need the machine's interrupt controllers on the test core. */
const WITH_APIC: readonly FeatureName[] = ['apic', 'x2apic', 'tscDeadline'];

function attachApic(t: TestCore): void {
  attachInterruptControllers({ cpus: [t.cpu], phys: t.phys, io: t.cpu.io, timers: new TimerQueue(), now: () => 0 });
}

describe('every reported core feature works (the honesty rule)', () => {
  const reported = CPUID_FEATURES.filter((f) => DEFAULT_CPU_MODEL.has(f.name) && (f.source === 'core' || f.source === 'state'));

  it('each reported core/state feature has a probe here', () => {
    expect(reported.map((f) => f.name).filter((n) => PROBES[n] === undefined)).toEqual([]);
  });

  for (const f of reported) {
    it(`${f.name} (leaf ${f.leaf.toString(16).toUpperCase()}H bit ${f.bit}): its instructions execute without #UD`, async () => {
      const setup = (t: TestCore) => { enableSse(t); if (WITH_APIC.includes(f.name)) attachApic(t); };
      const t = await runAsm(PROBES[f.name] ?? 'ud2', { regs: { rsi: BigInt(DATA) }, setup });
      expect(t.stop).toEqual({ kind: 'halt' });
    });
  }

  it('FDP_EXCPTN_ONLY: an x87 instruction with a memory operand leaves FIP/FDP/FOP unchanged', async () => {
    const t = await runAsm('fnstcw word ptr [rsi]\nfldcw word ptr [rsi]', {
      regs: { rsi: BigInt(DATA) },
      setup: (t) => t.cpu.fpuLast.set([0x123, 0x1111, 0x2222, 0x3333, 0x4444]),
    });
    expect(Array.from(t.cpu.fpuLast)).toEqual([0x123, 0x1111, 0x2222, 0x3333, 0x4444]);
  });

  it('FCS/FDS deprecated: the 32-bit FXSAVE format stores FCS and FDS as 0 (bytes 12-13, 20-21)', async () => {
    const t = await runAsm('fxsave [rsi]', { regs: { rsi: BigInt(DATA) }, setup: (t) => {
      enableSse(t);
      t.cpu.fpuLast.set([0x123, 0x1111, 0x2222, 0x3333, 0x4444]); // FIP/FDP upper halves would land there
      t.phys.load(DATA, new Uint8Array(512).fill(0xcc));
    } });
    const b = t.phys.readBytes(DATA, 24);
    expect([b[12], b[13], b[20], b[21]]).toEqual([0, 0, 0, 0]);
  });

  it('invariant TSC: equal instruction runs take equal TSC intervals', async () => {
    const t = await runAsm(`
      rdtsc
      mov r8d, eax
      nop
      nop
      rdtsc
      mov r9d, eax
      nop
      nop
      rdtsc
      sub eax, r9d
      sub r9d, r8d`);
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rax') & 0xffffffffn).toBe(t.reg('r9') & 0xffffffffn);
    expect(t.reg('rax') & 0xffffffffn).not.toBe(0n);
  });
});

describe('unreported features raise #UD (the honesty rule, other direction)', () => {
  const cases: [string, string][] = [
    ['SSE3 (leaf 1 ECX[0]): MOVDDUP', 'movddup xmm0, xmm1'],
    ['SSSE3 (leaf 1 ECX[9]): PSHUFB', 'pshufb xmm0, xmm1'],
    ['SSE4.1 (leaf 1 ECX[19]): PMULLD', 'pmulld xmm0, xmm1'],
    ['PCLMULQDQ (leaf 1 ECX[1])', 'pclmulqdq xmm0, xmm1, 0'],
    ['AVX (leaf 1 ECX[28]): VEX VPXOR', 'vpxor xmm0, xmm1, xmm2'],
    ['BMI1 (leaf 7 EBX[3]): ANDN', 'andn eax, ebx, ecx'],
    ['MMX (leaf 1 EDX[23]): PXOR mm', 'pxor mm0, mm1'],
  ];
  for (const [what, src] of cases) {
    it(what, async () => {
      const t = await runAsm(src, { setup: enableSse });
      expect(t.stop).toMatchObject({ kind: 'exception', vector: UD, rip: CODE_BASE });
    });
  }
});
