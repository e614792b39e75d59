/**
 * The two ways of driving VMX agree (issue 4): the same guest under the
 * TypeScript harness (native host handler, test/support/vmxHarness.ts) and
 * under the x86 root-mode program (test/support/vmxAsmDriver.ts) gives the
 * same exit trace, record for record, once `icount` (which includes the
 * host's own instructions) is replaced by the guest time of
 * vmx/transition/transitionRecord.ts (GuestClock). The handlers also log the
 * same exits, leave the guest the same registers, and leave the same VMCS
 * behind but for HOST_RIP and HOST_RSP, which are each driver's own.
 *
 * Each case also states the exit reasons it must produce (SDM Vol. 3C
 * Appendix C numbers, bit 31 for VM-entry failures, §27.8), so that two
 * drivers that were wrong the same way would still fail.
 */
import { describe, expect, it } from 'vitest';
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { REG64_NAMES } from '../../cpu/registers.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { withGuestTime, type TransitionRecord } from '../../vmx/transition/transitionRecord.ts';
import { VMCS_FIELDS } from '../../vmx/vmcs/fields.ts';
import { policyHandler, VmxAsmDriver, type AsmDriverOptions, type DriverOutcome } from '../support/vmxAsmDriver.ts';
import { GUEST_CODE, SCRATCH, VmxHarness, type Exit, type FieldName } from '../support/vmxHarness.ts';

interface Case {
  name: string;
  guest: string;
  options?: AsmDriverOptions;
  /** Memory the case needs (MSR areas, page tables), written under both drivers before the run. */
  memory?: (p: PhysicalMemory) => void;
  /** The exit-reason fields the run must log, in order, and (where stated) their qualifications. */
  reasons: number[];
  qualifications?: bigint[];
  /** How the run must end under the asm driver: stopped by the policy, or a VMX operation failing. */
  outcome?: DriverOutcome;
  /** Guest time at each record, where the case states it. */
  guestIcounts?: number[];
}

/** A PDPT at SCRATCH for a 32-bit PAE guest (§27.3.1.6): PDPTE 0 → a page directory mapping 0-2 MByte; `pdpte1` second. */
const pdpt = (pdpte1: number) => (p: PhysicalMemory): void => {
  p.writeSized(SCRATCH, 4, (SCRATCH + 0x1000) | 1);
  p.writeSized(SCRATCH + 8, 4, pdpte1);
  p.writeSized(SCRATCH + 0x1000, 4, 0x83);
};

/** 16-byte MSR-area entries (§25.7.2) at `at`: [index, value] pairs. */
const msrArea = (at: number, entries: [number, number][]) => (p: PhysicalMemory): void => {
  entries.forEach(([index, value], k) => {
    p.writeSized(at + 16 * k, 4, index);
    p.writeSized(at + 16 * k + 8, 4, value);
  });
};

const CASES: Case[] = [
  {
    name: 'CPUID exits unconditionally (§26.1.2): skipped three times in a loop, then HLT exiting (§26.1.3) stops',
    guest: 'mov ecx, 3\nl: cpuid\ndec ecx\njnz l\nhlt',
    options: { controls: { proc: ['hltExiting'] }, policy: { on: { 10: 'skip' } } },
    reasons: [10, 10, 10, 12],
    // MOV; then DEC, JNZ after each skipped CPUID; the last JNZ falls through to HLT.
    guestIcounts: [0, 1, 1, 3, 3, 5, 5, 7],
  },
  {
    name: 'VMCALL exits (§26.1.2, VMCALL page) and the guest keeps its registers across exits',
    guest: 'mov eax, 1\nvmcall\nadd eax, 2\nmov r15, 0x1234\nvmcall\nlea rbx, [rax + r15]\nhlt',
    options: { controls: { proc: ['hltExiting'] }, policy: { on: { 18: 'skip' } } },
    reasons: [18, 18, 12],
  },
  {
    name: 'HLT with HLT exiting, skipped twice, then CPUID stops (default action)',
    guest: 'hlt\nhlt\ncpuid',
    options: { controls: { proc: ['hltExiting'] }, policy: { on: { 12: 'skip' } } },
    reasons: [12, 12, 10],
  },
  {
    name: 'TRUE controls (IA32_VMX_BASIC bit 55, Appendix A.2): must-be-1 bits from the TRUE MSRs, secondary controls from 48BH',
    guest: 'cpuid\nhlt',
    options: {
      features: FULL_VMX_MODEL,
      controls: { proc: ['hltExiting', 'activateSecondaryControls'], proc2: ['enableRdtscp'] },
      policy: { on: { 10: 'skip' } },
    },
    reasons: [10, 12],
  },
  {
    name: 'the VMX instructions exit in non-root operation with their own reasons (ch. 31, §26.1.2)',
    guest: 'vmread rax, rbx\nvmwrite rbx, rax\nvmptrst [rsp - 8]\nvmclear [rsp - 8]\nvmptrld [rsp - 8]\nvmlaunch\nvmresume\nvmxoff\nvmxon [rsp - 8]\ncpuid',
    options: { policy: { on: { 23: 'skip', 25: 'skip', 22: 'skip', 19: 'skip', 21: 'skip', 20: 'skip', 24: 'skip', 26: 'skip', 27: 'skip' } } },
    reasons: [23, 25, 22, 19, 21, 20, 24, 26, 27, 10],
  },
  {
    name: 'MOV from/to CR3 with CR3-store/CR3-load exiting (§26.1.3): exit 28, qualifications of §28.2.1 Table 28-3',
    guest: 'mov rax, cr3\nmov cr3, rax\nmov rbx, rax\nmov cr3, rbx\nhlt',
    options: { controls: { proc: ['hltExiting', 'cr3LoadExiting', 'cr3StoreExiting'] }, policy: { on: { 28: 'skip' } } },
    reasons: [28, 28, 28, 12],
    // CR 3 in bits 3:0, access type (0 MOV to CR, 1 MOV from CR) in bits 5:4, the register in bits 11:8 (RAX 0, RBX 3).
    qualifications: [0x13n, 0x3n, 0x303n, 0n],
  },
  {
    name: 'RDMSR and WRMSR exit unconditionally without MSR bitmaps (§26.1.3): exits 31, 32',
    guest: 'mov ecx, 0x10\nrdmsr\nwrmsr\nhlt',
    options: { controls: { proc: ['hltExiting'] }, policy: { on: { 31: 'skip', 32: 'skip' } } },
    reasons: [31, 32, 12],
  },
  {
    name: 'OUT imm8 and IN DX with unconditional I/O exiting: exit 30, qualifications of §28.2.1 Table 28-5',
    guest: 'out 0x80, al\nmov dx, 0x3f8\nin al, dx\nhlt',
    options: { features: FULL_VMX_MODEL, controls: { proc: ['hltExiting', 'unconditionalIoExiting'] }, policy: { on: { 30: 'skip' } } },
    reasons: [30, 30, 12],
    // Size - 1 in bits 2:0, IN in bit 3, immediate operand in bit 6, the port in bits 31:16.
    qualifications: [0x800040n, 0x3f80008n, 0n],
  },
  {
    name: 'RDTSC, PAUSE, MOV DR and INVLPG exiting (§26.1.3): exits 16, 40, 29 (Table 28-4), 14 (the linear address)',
    guest: 'rdtsc\npause\nmov rax, dr7\nmov rbx, 0x5000\ninvlpg [rbx]\nhlt',
    options: {
      features: FULL_VMX_MODEL,
      controls: { proc: ['hltExiting', 'rdtscExiting', 'pauseExiting', 'movDrExiting', 'invlpgExiting'] },
      policy: { on: { 16: 'skip', 40: 'skip', 29: 'skip', 14: 'skip' } },
    },
    reasons: [16, 40, 29, 14, 12],
    // MOV from DR7 into RAX: DR number 7, direction 1 (from DR) in bit 4, register 0 in bits 11:8.
    qualifications: [0n, 0n, 0x17n, 0x5000n, 0n],
  },
  {
    name: 'INT3 with bit 3 of the exception bitmap: exit 0 (§26.2), skipped by its instruction length',
    guest: 'int3\nhlt',
    options: { events: true, controls: { proc: ['hltExiting'] }, fields: { exceptionBitmap: 1 << 3 }, policy: { on: { 0: 'skip' } } },
    reasons: [0, 12],
    guestIcounts: [0, 0, 0, 0],
  },
  {
    name: 'a triple fault (#UD with an empty IDT) exits with reason 2 (§26.2)',
    guest: 'nop\nud2',
    options: { events: true, fields: { guestIdtrLimit: 0 } },
    reasons: [2],
    guestIcounts: [0, 1],
  },
  {
    name: 'a VM-entry failure from a bad guest field (RFLAGS bit 1 clear, §27.3.1.4): exit reason 80000021H',
    guest: 'cpuid',
    options: { fields: { guestRflags: 0 } },
    reasons: [0x80000021],
  },
  {
    name: 'VMRESUME after a VM-entry failure fails with VMfailValid(5): the VMCS was never launched',
    guest: 'cpuid',
    options: { fields: { guestRflags: 0 }, policy: { otherwise: 'resume' } },
    reasons: [0x80000021],
    outcome: { kind: 'vmfail', op: 'VMRESUME', error: 5 },
  },
  {
    name: 'a bad VMCS link pointer: exit 33, qualification 4 (§27.3.1.5, §27.8)',
    guest: 'cpuid',
    options: { fields: { vmcsLinkPointer: SCRATCH } },
    reasons: [0x80000021],
  },
  {
    name: 'a 32-bit PAE guest runs CPUID (§27.3.1.6: valid PDPTEs)',
    guest: 'mov eax, 5\ncpuid\nhlt',
    options: { ia32eModeGuest: false, controls: { proc: ['hltExiting'] }, fields: { guestCr3: SCRATCH }, policy: { on: { 10: 'skip' } } },
    memory: pdpt(0),
    reasons: [10, 12],
  },
  {
    name: 'a 32-bit PAE guest with a PDPTE with reserved bits: exit 33, qualification 2 (§27.3.1.6, §27.8)',
    guest: 'cpuid',
    options: { ia32eModeGuest: false, fields: { guestCr3: SCRATCH } },
    memory: pdpt(0x7),
    reasons: [0x80000021],
  },
  {
    name: 'a VM-entry MSR-load area with IA32_FS_BASE second: exit 34, qualification 2 (§27.4, §27.8)',
    guest: 'cpuid',
    options: { fields: { vmEntryMsrLoadAddress: SCRATCH, vmEntryMsrLoadCount: 2 } },
    memory: msrArea(SCRATCH, [[0xc0000103, 7], [0xc0000100, 0]]),
    reasons: [0x80000022],
  },
  {
    name: 'MSR areas: entry load, exit store, exit load (§27.4, §28.4, §28.6)',
    guest: 'swapgs\ncpuid\nswapgs\ncpuid\nhlt',
    options: {
      fields: {
        guestGsBase: 0x5000, vmEntryMsrLoadAddress: SCRATCH, vmEntryMsrLoadCount: 1,
        vmExitMsrStoreAddress: SCRATCH + 0x100, vmExitMsrStoreCount: 1, vmExitMsrLoadAddress: SCRATCH + 0x200, vmExitMsrLoadCount: 1,
      },
      policy: { on: { 10: 'skip' } },
      controls: { proc: ['hltExiting'] },
    },
    memory: (p) => {
      msrArea(SCRATCH, [[0xc0000102, 0x6000]])(p);
      msrArea(SCRATCH + 0x100, [[0xc0000102, 0]])(p);
      msrArea(SCRATCH + 0x200, [[0xc0000103, 0x77]])(p);
    },
    reasons: [10, 10, 12],
  },
  {
    name: 'a bad control (undefined pin-based bit 31, §27.2.1.1): VMfailValid(7), no transition',
    guest: 'cpuid',
    options: { fields: { pinBasedVmExecutionControls: 0x80000016 } },
    reasons: [],
    outcome: { kind: 'vmfail', op: 'VMLAUNCH', error: 7 },
  },
  {
    name: 'a bad host field (HOST_CS selector 0, §27.2.3): VMfailValid(8), no transition',
    guest: 'cpuid',
    options: { fields: { hostCsSelector: 0 } },
    reasons: [],
    outcome: { kind: 'vmfail', op: 'VMLAUNCH', error: 8 },
  },
];

/** A trace without `icount`, with guest time: what two hosts must agree on. */
const comparable = (trace: readonly TransitionRecord[]) => withGuestTime(trace).map(({ icount: _, ...r }) => r);

/** Every VMCS field both can read, but the host's own RIP and RSP. */
function vmcsImage(read: (name: FieldName) => bigint): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const f of VMCS_FIELDS) {
    if (f.name === 'hostRip' || f.name === 'hostRsp') continue;
    try {
      out[f.name] = read(f.name as FieldName);
    } catch {
      // not in this model
    }
  }
  return out;
}

const GPRS = REG64_NAMES.filter((r) => r !== 'rsp');

interface Run {
  trace: TransitionRecord[];
  exits: Exit[];
  outcome: DriverOutcome;
  regs: bigint[];
  vmcs: Record<string, bigint>;
  /** The scratch page: MSR areas, page tables. */
  scratch: Uint8Array;
}

async function viaHarness(c: Case): Promise<Run> {
  const h = await VmxHarness.create(c.guest, { ...c.options, onExit: policyHandler(c.options?.policy ?? {}) });
  c.memory?.(h.t.phys);
  let outcome: DriverOutcome = { kind: 'stopped' };
  try {
    const stop = h.launch();
    // A handler that resumed and failed returns in root operation: the VMRESUME's VMfail is in the VMCS and RFLAGS.
    if (stop.kind === 'stop' && /without entering a guest/.test(stop.why)) {
      outcome = { kind: 'vmfail', op: 'VMRESUME', error: (h.t.flags() & 1) !== 0 ? null : Number(h.read('vmInstructionError')) };
    }
  } catch (e) {
    const m = /VMLAUNCH failed: VMfail(Invalid|Valid\((\d+)\))/.exec((e as Error).message);
    if (!m) throw e;
    outcome = { kind: 'vmfail', op: 'VMLAUNCH', error: m[2] === undefined ? null : Number(m[2]) };
  }
  return {
    trace: h.trace, exits: h.exits, outcome, regs: GPRS.map((r) => h.reg(r)), vmcs: vmcsImage((n) => h.read(n)),
    scratch: h.t.phys.readBytes(SCRATCH, 0x1000),
  };
}

async function viaAsm(c: Case): Promise<Run> {
  const d = await VmxAsmDriver.create(c.guest, c.options);
  c.memory?.(d.t.phys);
  expect(d.run()).toEqual({ kind: 'halt' });
  return {
    trace: d.trace, exits: d.exits, outcome: d.outcome, regs: GPRS.map((r) => d.reg(r)), vmcs: vmcsImage((n) => d.read(n)),
    scratch: d.t.phys.readBytes(SCRATCH, 0x1000),
  };
}

describe('native handler and x86 root-mode program give the same exit trace', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const native = await viaHarness(c), x86 = await viaAsm(c);
      expect(native.exits.map((e) => e.reason)).toEqual(c.reasons);
      if (c.qualifications) expect(native.exits.map((e) => e.qualification)).toEqual(c.qualifications);
      expect(x86.outcome).toEqual(c.outcome ?? { kind: 'stopped' });
      expect(native.outcome).toEqual(x86.outcome);
      expect(comparable(x86.trace)).toEqual(comparable(native.trace));
      expect(x86.exits).toEqual(native.exits);
      expect(x86.vmcs).toEqual(native.vmcs);
      expect(x86.scratch).toEqual(native.scratch);
      if (x86.outcome.kind === 'stopped') expect(x86.regs).toEqual(native.regs);
      if (c.guestIcounts) expect(withGuestTime(native.trace).map((r) => r.guestIcount)).toEqual(c.guestIcounts);
      // The raw instruction counts do differ once the host has run: that is what guest time is for.
      if (native.trace.length > 2) expect(x86.trace.map((r) => r.icount)).not.toEqual(native.trace.map((r) => r.icount));
    });
  }

  it('the program reports a VMWRITE that fails, naming the field: VMfailValid(12) for a field the model lacks (§31.4; the TPR threshold exists only with "use TPR shadow", Appendix B.3.1, which DEFAULT_VMX_MODEL lacks)', async () => {
    const d = await VmxAsmDriver.create('cpuid', { fields: { tprThreshold: 1 } });
    expect(d.run()).toEqual({ kind: 'halt' });
    expect(d.outcome).toEqual({ kind: 'vmfail', op: 'VMWRITE', error: 12, field: 'tprThreshold' });
    expect(d.trace).toEqual([]);
    await expect(VmxHarness.create('cpuid', { fields: { tprThreshold: 1 } })).rejects.toThrow('VMWRITE tprThreshold failed: VMfailValid(12)');
  });

  it('the guest sees its own registers across exits under both drivers (VMCALL case: rax = 3, rbx = 3 + 1234H)', async () => {
    const c = CASES[1]!;
    for (const run of [await viaHarness(c), await viaAsm(c)]) {
      expect(run.regs[GPRS.indexOf('rax')]).toBe(3n);
      expect(run.regs[GPRS.indexOf('rbx')]).toBe(0x1237n);
    }
  });

  it('the exits are logged with the guest RIP of the exiting instruction and its length (§28.2.5, §28.3.3)', async () => {
    const x86 = await viaAsm(CASES[0]!);
    const cpuid = BigInt(GUEST_CODE + 5); // after MOV ECX, imm32 (5 bytes)
    expect(x86.exits.slice(0, 3)).toEqual(Array(3).fill({ reason: 10, qualification: 0n, guestRip: cpuid, instructionLength: 2 }));
    expect(x86.exits[3]).toEqual({ reason: 12, qualification: 0n, guestRip: cpuid + 2n + 2n + 2n, instructionLength: 1 });
  });
});
