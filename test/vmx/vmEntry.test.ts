/**
 * VM entries and VM exits end to end, through the TypeScript root-mode
 * harness (test/support/vmxHarness.ts) and short root-mode programs on the
 * harness's core: the checks of the VMLAUNCH/VMRESUME page and §27.1, the
 * VMfailValid of the checks on controls and host state (§27.2), the
 * VM-entry failures of §27.8 (basic reasons 33 and 34 with their
 * qualifications), the MSR areas (§27.4, §28.4, §28.6), guest state saved
 * at a VM exit (§28.3) and host state loaded (§28.5), VMCALL in root
 * operation, and native host handlers that misbehave. SDM Vol. 3C, 2023+
 * numbering (ch. 26 non-root operation, ch. 27 VM entries, ch. 28 VM exits).
 *
 * Expected values come from the SDM: error numbers of Table 31-1, exit
 * reasons of Appendix C, access rights in the VMX format of §25.4.1
 * (type | S << 4 | DPL << 5 | P << 7 | L << 13 | D/B << 14 | G << 15 |
 * unusable << 16), and from the values the tests write themselves.
 */
import { describe, expect, it } from 'vitest';
import { Activity, type StopReason } from '../../cpu/cpu.ts';
import { CpuException } from '../../cpu/exceptions.ts';
import { mapIdentity } from '../../cpu/memory/identityMap.ts';
import { findMsr } from '../../cpu/msr/index.ts';
import { Seg, toBigInt } from '../../cpu/registers.ts';
import { readRflags } from '../../cpu/flags.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel } from '../../vmx/model/vmxModel.ts';
import { nativeHandlerAddress } from '../../vmx/transition/nativeHandlers.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { VMCS_FIELDS } from '../../vmx/vmcs/fields.ts';
import { asm } from '../support/asm.ts';
import { runAsm } from '../support/machine.ts';
import { CPU_VMX, GUEST_CODE, GUEST_STACK, SCRATCH, VMCS_REGION, VmxHarness, type FieldName } from '../support/vmxHarness.ts';

const ROOT_CODE = 0x300000, ROOT_DATA = 0x3f0000;
const CF = 0x1, ZF = 0x40, ARITH = 0x8d5;
const EXIT_STOPPED = { kind: 'stop', why: 'harness handler stopped' };
/** VMCS field encodings the root programs use (Appendix B). */
const VM_INSTRUCTION_ERROR = 0x4400;
/** Pin-based controls with only the default1 bits 1, 2, 4 set (Appendix A.3.1). */
const PIN_DEFAULT1 = 0x16;
const IA32_KERNEL_GS_BASE = 0xc0000102, IA32_TSC_AUX = 0xc0000103, IA32_FS_BASE = 0xc0000100;
const u64 = (x: number): bigint => BigInt.asUintN(64, BigInt(x));

/**
 * Runs `source` and HLT in VMX root operation on the harness's core, at
 * ROOT_CODE. The program finds ROOT_DATA in rbp, for m64 operands.
 */
async function inRoot(h: VmxHarness, source: string): Promise<StopReason> {
  h.t.phys.load(ROOT_CODE, await asm(`mov rbp, ${ROOT_DATA}\n${source}\nhlt`, 64, ROOT_CODE));
  h.t.cpu.rip = ROOT_CODE;
  h.t.cpu.activity = Activity.Active; // after an earlier program's HLT
  return h.run(10_000);
}

/** `insn`, then its RFLAGS in r8 and the VM-instruction error in r9 (VMREAD of field 4400H). */
const reported = (insn: string): string => `${insn}\npushfq\npop r8\nmov eax, ${VM_INSTRUCTION_ERROR}\nvmread r9, rax`;
const flagsOf = (h: VmxHarness): number => Number(h.reg('r8')) & ARITH;

/** Every guest-state field the model has (§25.4), by name. */
function guestArea(h: VmxHarness): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const f of VMCS_FIELDS) {
    if (!f.name.startsWith('guest') || f.name === 'guestLinearAddress' || f.name === 'guestPhysicalAddress') continue;
    try {
      out[f.name] = h.read(f.name as FieldName);
    } catch {
      // A field of a feature the model lacks.
    }
  }
  return out;
}

function msr(h: VmxHarness, index: number): bigint {
  const c = h.t.cpu, lo = (findMsr(index) ?? h.core.findMsr(index))!.read(c);
  return toBigInt(lo, c.opHi);
}

/** Writes a 16-byte MSR-area entry (§25.7.2): index, reserved bits 63:32, value. */
function msrEntry(h: VmxHarness, at: number, index: number, value: bigint, reserved = 0): void {
  const p = h.t.phys;
  p.writeSized(at, 4, index);
  p.writeSized(at + 4, 4, reserved);
  p.writeSized(at + 8, 4, Number(value & 0xffffffffn) | 0);
  p.writeSized(at + 12, 4, Number(value >> 32n) | 0);
}
const msrStored = (h: VmxHarness, at: number): bigint => toBigInt(h.t.phys.readSized(at + 8, 4), h.t.phys.readSized(at + 12, 4));

describe('VMLAUNCH/VMRESUME: the instruction checks (SDM Vol. 3C ch. 31 VMLAUNCH/VMRESUME, §27.1)', () => {
  it('VMLAUNCH with a launched VMCS: VMfailValid(4), still in root operation', async () => {
    const h = await VmxHarness.create('cpuid');
    expect(h.launch()).toEqual(EXIT_STOPPED);
    expect(await inRoot(h, reported('vmlaunch'))).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(ZF);
    expect(h.reg('r9')).toBe(4n);
    expect(h.t.cpu.nonRoot).toBe(false);
    expect(h.trace.map((r) => r.kind)).toEqual(['vmentry', 'vmexit']);
  });

  it('VMRESUME with a clear VMCS: VMfailValid(5), no transition', async () => {
    const h = await VmxHarness.create('cpuid');
    expect(await inRoot(h, reported('vmresume'))).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(ZF);
    expect(h.reg('r9')).toBe(5n);
    expect(h.trace).toEqual([]);
  });

  it('VMRESUME of the launched VMCS from root code enters the guest again', async () => {
    const h = await VmxHarness.create('cpuid\nhlt', { controls: { proc: ['hltExiting'] } });
    h.launch();
    // The guest RIP is still the CPUID's (the exit saved it, §28.3.3): step past it by hand.
    h.write('guestRip', GUEST_CODE + 2);
    expect(await inRoot(h, 'vmresume')).toEqual(EXIT_STOPPED);
    expect(h.exits.map((e) => e.reason)).toEqual([10, 12]);
  });

  /** A GDT at ROOT_DATA + 0x100 with a flat data segment at selector 10H, for MOV SS. */
  const loadGdt = (h: VmxHarness): string => {
    const gdt = ROOT_DATA + 0x100;
    h.t.phys.writeSized(gdt + 0x10, 4, 0x0000ffff);
    h.t.phys.writeSized(gdt + 0x14, 4, 0x00cf9300);
    h.t.phys.writeSized(ROOT_DATA, 2, 0x17);
    h.t.phys.writeSized(ROOT_DATA + 2, 4, gdt);
    return 'lgdt [rbp]\nmov ax, 0x10';
  };

  it('VM entry blocked by MOV SS: VMfailValid(26), which comes before the launch-state check', async () => {
    const h = await VmxHarness.create('cpuid');
    h.launch();
    expect(await inRoot(h, `${loadGdt(h)}\nmov ss, ax\n${reported('vmlaunch')}`)).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(ZF);
    expect(h.reg('r9')).toBe(26n);
  });

  it('one instruction after MOV SS the blocking is over and VMLAUNCH enters the guest', async () => {
    const h = await VmxHarness.create('cpuid');
    expect(await inRoot(h, `${loadGdt(h)}\nmov ss, ax\nnop\nvmlaunch`)).toEqual(EXIT_STOPPED);
    expect(h.exits.map((e) => e.reason)).toEqual([10]);
  });

  it('no current VMCS (after VMCLEAR of the current one): VMfailInvalid for VMLAUNCH and VMRESUME', async () => {
    const h = await VmxHarness.create('cpuid');
    const clear = `mov rax, ${VMCS_REGION}\nmov qword ptr [rbp], rax\nvmclear [rbp]`;
    expect(await inRoot(h, `${clear}\nvmlaunch\npushfq\npop r8\nvmresume\npushfq\npop r10`)).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(CF);
    expect(Number(h.reg('r10')) & ARITH).toBe(CF);
    expect(h.trace).toEqual([]);
  });
});

describe('checks on VMX controls and host state (§27.2): VMfailValid, nothing loaded', () => {
  const cases: [string, number, Partial<Record<FieldName, bigint | number>>][] = [
    ['an undefined pin-based control bit (31) set (§27.2.1.1)', 7, { pinBasedVmExecutionControls: PIN_DEFAULT1 | 0x80000000 }],
    ['a VM-entry MSR-load address with bits 3:0 set (§27.2.1.3)', 7, { vmEntryMsrLoadCount: 1, vmEntryMsrLoadAddress: SCRATCH + 8 }],
    ['HOST_CS selector 0000H (§27.2.3)', 8, { hostCsSelector: 0 }],
    ['a non-canonical HOST_RIP with a 64-bit host (§27.2.4)', 8, { hostRip: 0x0000800000000000n }],
  ];
  for (const [what, error, fields] of cases) {
    it(`${what}: VMfailValid(${error}), the core stays in root operation at the same RIP`, async () => {
      const h = await VmxHarness.create('cpuid', { fields });
      const before = guestArea(h), rip = h.t.cpu.rip;
      expect(() => h.launch()).toThrow(`VMfailValid(${error})`);
      expect(h.t.flags() & ARITH).toBe(ZF);
      expect(h.read('vmInstructionError')).toBe(BigInt(error));
      expect(h.t.cpu.nonRoot).toBe(false);
      expect(h.t.cpu.rip).toBe(rip);
      expect(h.trace).toEqual([]);
      expect(guestArea(h)).toEqual(before);
    });
  }
});

describe('VM-entry failures during or after loading guest state (§27.8)', () => {
  it('an invalid guest field (RFLAGS bit 1 clear, §27.3.1.4): exit reason 80000021H, qualification 0, host state, guest-state area unmodified', async () => {
    // An external interrupt to inject: the failure must leave the valid bit of the entry field alone (§27.8).
    const injection = 0x80000020;
    const h = await VmxHarness.create('cpuid', { fields: { guestRflags: 0, vmEntryInterruptionInformationField: injection } });
    const before = guestArea(h);
    expect(h.launch()).toEqual(EXIT_STOPPED);
    expect(h.exits).toEqual([{ reason: 0x80000021, qualification: 0n, guestRip: BigInt(GUEST_CODE), instructionLength: 0 }]);
    expect(h.trace).toMatchObject([{ kind: 'entry-failure', reason: 0x80000021, reasonName: 'VmentryFailureGuestState', qualification: '0000000000000000' }]);
    expect(h.t.cpu.nonRoot).toBe(false);
    expect(h.t.cpu.rip).toBe(nativeHandlerAddress(0));
    expect(h.reg('rsp')).toBe(0x70000n);
    expect(guestArea(h)).toEqual(before);
    expect(h.read('vmEntryInterruptionInformationField')).toBe(BigInt(injection));
  });

  it('the VMCS stays clear after a VM-entry failure: VMRESUME fails with 5, a corrected VMLAUNCH enters (§27.8, VMLAUNCH page)', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { guestRflags: 0 } });
    h.launch();
    expect(await inRoot(h, reported('vmresume'))).toEqual({ kind: 'halt' });
    expect(h.reg('r9')).toBe(5n);
    h.write('guestRflags', 2);
    expect(await inRoot(h, 'vmlaunch')).toEqual(EXIT_STOPPED);
    expect(h.exits.map((e) => e.reason)).toEqual([0x80000021, 10]);
  });

  it('a failed VMRESUME leaves the other exit-information fields as the last VM exit wrote them, and the VMCS launched (§27.8)', async () => {
    const h = await VmxHarness.create('cpuid\ncpuid', { fields: { vmExitMsrStoreAddress: SCRATCH, vmExitMsrStoreCount: 1 } });
    msrEntry(h, SCRATCH, IA32_TSC_AUX, 0x1234n);
    h.launch();
    expect(msrStored(h, SCRATCH)).toBe(0n);
    const guest = guestArea(h);
    h.write('guestRflags', 0);
    msrEntry(h, SCRATCH, IA32_TSC_AUX, 0x1234n);
    expect(await inRoot(h, 'vmresume')).toEqual(EXIT_STOPPED);
    expect(h.exits[1]).toEqual({ reason: 0x80000021, qualification: 0n, guestRip: BigInt(GUEST_CODE), instructionLength: 2 });
    expect(guestArea(h)).toEqual({ ...guest, guestRflags: 0n });
    // No MSR store at a VM-entry failure (§27.8).
    expect(msrStored(h, SCRATCH)).toBe(0x1234n);
    // Still launched: VMRESUME (not VMLAUNCH) enters once the field is fixed.
    h.write('guestRflags', 2);
    h.write('guestRip', GUEST_CODE + 2);
    expect(await inRoot(h, 'vmresume')).toEqual(EXIT_STOPPED);
    expect(h.exits[2]).toMatchObject({ reason: 10, guestRip: BigInt(GUEST_CODE + 2) });
  });

  it('an invalid VMCS link pointer (revision identifier 0 at it, §27.3.1.5): exit 33 with qualification 4', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { vmcsLinkPointer: SCRATCH } });
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 0x80000021, qualification: 4n }]);
  });

  it('a VMCS link pointer to a region with the right revision identifier is accepted (§27.3.1.5)', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { vmcsLinkPointer: SCRATCH } });
    h.t.phys.writeSized(SCRATCH, 4, Number(msr(h, 0x480) & 0x7fffffffn));
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 10, qualification: 0n }]);
  });

  /**
   * A 32-bit PAE guest (IA-32e mode guest 0, CR0.PG = 1, CR4.PAE = 1 as the
   * host has them) whose CR3 points at a PDPT in SCRATCH: PDPTE 0 maps the
   * first GByte through a page directory of 2-MByte pages; PDPTE 2 is
   * `pdpte2` (§27.3.1.6: entries with P = 1 must have reserved bits clear).
   */
  async function paeGuest(pdpte2: bigint): Promise<VmxHarness> {
    const h = await VmxHarness.create('cpuid', { ia32eModeGuest: false, fields: { guestCr3: SCRATCH } });
    const pd = SCRATCH + 0x1000, p = h.t.phys;
    p.writeSized(SCRATCH, 4, pd | 1);
    p.writeSized(SCRATCH + 16, 4, Number(pdpte2 & 0xffffffffn) | 0);
    p.writeSized(SCRATCH + 20, 4, Number(pdpte2 >> 32n) | 0);
    p.writeSized(pd, 4, 0x83); // 2-MByte page at 0: P, R/W, PS
    return h;
  }

  it('a 32-bit PAE guest with valid PDPTEs enters and exits on CPUID in 32-bit mode (§27.3.1.6)', async () => {
    const h = await paeGuest(0n);
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 10, guestRip: BigInt(GUEST_CODE), instructionLength: 2 }]);
    expect(h.trace.map((r) => r.kind)).toEqual(['vmentry', 'vmexit']);
    expect(h.read('guestCsAccessRights')).toBe(0xc09bn);
    // Back in the 64-bit host (§28.5.1: host address-space size sets EFER.LMA/LME).
    expect(h.t.cpu.codeSize).toBe(64);
  });

  for (const [what, pdpte2] of [['reserved bit 2', 0x5n], ['reserved bit 6', 0x41n], ['bit 46 (beyond the 46-bit physical-address width)', (1n << 46n) | 1n]] as const) {
    it(`a PDPTE with ${what} set: exit 33 with qualification 2 (§27.3.1.6, §27.8)`, async () => {
      const h = await paeGuest(pdpte2);
      const before = guestArea(h);
      h.launch();
      expect(h.exits).toMatchObject([{ reason: 0x80000021, qualification: 2n }]);
      expect(guestArea(h)).toEqual(before);
    });
  }

  it('a not-present PDPTE with reserved bits set is not checked (§27.3.1.6)', async () => {
    const h = await paeGuest(0x1e0n);
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 10 }]);
  });

  const badSecond: [string, (h: VmxHarness, at: number) => void][] = [
    ['IA32_FS_BASE (§27.4)', (h, at) => msrEntry(h, at, IA32_FS_BASE, 0n)],
    ['reserved bits 63:32 set (§27.4)', (h, at) => msrEntry(h, at, IA32_TSC_AUX, 1n, 1)],
    ['an x2APIC MSR (808H, §27.4)', (h, at) => msrEntry(h, at, 0x808, 0n)],
    ['a value WRMSR would refuse (non-canonical IA32_KERNEL_GS_BASE)', (h, at) => msrEntry(h, at, IA32_KERNEL_GS_BASE, 0x0000800000000000n)],
  ];
  for (const [what, write] of badSecond) {
    it(`a VM-entry MSR-load area whose entry 2 is ${what}: exit 34, qualification 2, entry 1 loaded, entry 3 not`, async () => {
      const h = await VmxHarness.create('cpuid', { fields: { vmEntryMsrLoadAddress: SCRATCH, vmEntryMsrLoadCount: 3 } });
      msrEntry(h, SCRATCH, IA32_KERNEL_GS_BASE, 0x123456789abcn);
      write(h, SCRATCH + 16);
      msrEntry(h, SCRATCH + 32, IA32_TSC_AUX, 7n);
      const before = guestArea(h);
      expect(h.launch()).toEqual(EXIT_STOPPED);
      expect(h.exits).toMatchObject([{ reason: 0x80000022, qualification: 2n }]);
      expect(h.trace).toMatchObject([{ kind: 'entry-failure', reason: 0x80000022, reasonName: 'VmentryFailureMsrLoading', qualification: '0000000000000002' }]);
      expect(msr(h, IA32_KERNEL_GS_BASE)).toBe(0x123456789abcn);
      expect(msr(h, IA32_TSC_AUX)).toBe(0n);
      // Host state as at a VM exit; the guest-state area unmodified; no MSR store (§27.8).
      expect(h.t.cpu.rip).toBe(nativeHandlerAddress(0));
      expect(h.t.cpu.codeSize).toBe(64);
      expect(guestArea(h)).toEqual(before);
    });
  }

  it('a VM-entry failure still loads the VM-exit MSR-load area (§27.8 step 4, §28.6)', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { guestRflags: 0, vmExitMsrLoadAddress: SCRATCH, vmExitMsrLoadCount: 1 } });
    msrEntry(h, SCRATCH, IA32_TSC_AUX, 0x55n);
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 0x80000021 }]);
    expect(msr(h, IA32_TSC_AUX)).toBe(0x55n);
  });
});

describe('MSR areas at VM entry and VM exit (§27.4, §28.4, §28.6)', () => {
  it('entry loads, the guest changes, exit stores the guest value then loads the host values', async () => {
    const store = SCRATCH, exitLoad = SCRATCH + 0x100, entryLoad = SCRATCH + 0x200;
    // SWAPGS exchanges GS.base (guestGsBase) with IA32_KERNEL_GS_BASE (the entry-loaded value).
    const h = await VmxHarness.create('swapgs\ncpuid', {
      fields: {
        guestGsBase: 0x4444000n,
        vmEntryMsrLoadAddress: entryLoad, vmEntryMsrLoadCount: 1,
        vmExitMsrStoreAddress: store, vmExitMsrStoreCount: 2,
        vmExitMsrLoadAddress: exitLoad, vmExitMsrLoadCount: 2,
      },
    });
    msrEntry(h, entryLoad, IA32_KERNEL_GS_BASE, 0x1111000n);
    msrEntry(h, store, IA32_KERNEL_GS_BASE, 0n);
    msrEntry(h, store + 16, IA32_TSC_AUX, 0n);
    msrEntry(h, exitLoad, IA32_KERNEL_GS_BASE, 0x2222000n);
    msrEntry(h, exitLoad + 16, IA32_TSC_AUX, 0x99n);
    expect(h.launch()).toEqual(EXIT_STOPPED);
    expect(h.exits).toMatchObject([{ reason: 10, guestRip: BigInt(GUEST_CODE + 3) }]);
    expect(msrStored(h, store)).toBe(0x4444000n);
    expect(msrStored(h, store + 16)).toBe(0n);
    expect(h.read('guestGsBase')).toBe(0x1111000n);
    expect(msr(h, IA32_KERNEL_GS_BASE)).toBe(0x2222000n);
    expect(msr(h, IA32_TSC_AUX)).toBe(0x99n);
  });

  it('the VM-exit MSR-store area is written at every exit, with the value at that exit', async () => {
    const h = await VmxHarness.create('swapgs\ncpuid\nswapgs\ncpuid', {
      fields: { guestGsBase: 0xaaa000n, vmExitMsrStoreAddress: SCRATCH, vmExitMsrStoreCount: 1 },
      onExit: (_e, h) => {
        seen.push(msrStored(h, SCRATCH));
        return h.exits.length < 2 ? 'skip' : 'stop';
      },
    });
    const seen: bigint[] = [];
    msrEntry(h, SCRATCH, IA32_KERNEL_GS_BASE, 0n);
    h.launch();
    // KERNEL_GS_BASE is 0 at launch: after one SWAPGS it holds the guest GS base, after two 0 again.
    expect(seen).toEqual([0xaaa000n, 0n]);
  });
});

describe('VMX aborts (§28.7): a failure while saving or loading MSRs at a VM exit', () => {
  for (const [what, area, index, indicator] of [
    ['storing IA32_SMBASE (9EH) from the VM-exit MSR-store area (§28.4)', 'store', 0x9e, 1],
    ['loading IA32_FS_BASE from the VM-exit MSR-load area (§28.6)', 'load', IA32_FS_BASE, 4],
  ] as const) {
    it(`${what}: abort indicator ${indicator} at byte 4 of the VMCS region, the core shuts down`, async () => {
      const fields = area === 'store'
        ? { vmExitMsrStoreAddress: SCRATCH, vmExitMsrStoreCount: 1 }
        : { vmExitMsrLoadAddress: SCRATCH, vmExitMsrLoadCount: 1 };
      const h = await VmxHarness.create('cpuid', { fields });
      msrEntry(h, SCRATCH, index, 0n);
      expect(h.launch()).toMatchObject({ kind: 'stop', why: expect.stringMatching(`VMX abort ${indicator}`) });
      expect(h.t.phys.readSized(VMCS_REGION + 4, 4)).toBe(indicator);
      expect(h.t.cpu.activity).toBe(Activity.Shutdown);
      expect(h.t.cpu.nonRoot).toBe(false);
      expect(h.exits).toEqual([]);
    });
  }
});

describe('VMCALL in VMX root operation (VMCALL page: no dual-monitor treatment → VMfail(1))', () => {
  it('with a current VMCS: VMfailValid(1)', async () => {
    const h = await VmxHarness.create('cpuid');
    expect(await inRoot(h, reported('vmcall'))).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(ZF);
    expect(h.reg('r9')).toBe(1n);
  });

  it('with a launched current VMCS: still VMfailValid(1), not 19', async () => {
    const h = await VmxHarness.create('cpuid');
    h.launch();
    expect(await inRoot(h, reported('vmcall'))).toEqual({ kind: 'halt' });
    expect(h.reg('r9')).toBe(1n);
  });

  it('without a current VMCS: VMfailInvalid', async () => {
    const h = await VmxHarness.create('cpuid');
    expect(await inRoot(h, `mov rax, ${VMCS_REGION}\nmov qword ptr [rbp], rax\nvmclear [rbp]\n${reported('vmcall')}`)).toEqual({ kind: 'halt' });
    expect(flagsOf(h)).toBe(CF);
  });

  it('outside VMX operation: #UD, even with CR4.VMXE set', async () => {
    const enable = 'mov rax, cr4\nor eax, 0x2000\nmov cr4, rax';
    const t = await runAsm(`${enable}\nvmcall`, {
      setup: (t) => {
        t.cpu.model = CPU_VMX;
        mapIdentity(t.cpu, 0x40000);
        t.cpu.vmx = new VmxCore(new VmxModel(DEFAULT_VMX_MODEL, { cr4Settable: cr4Settable(CPU_VMX), vmcsHighestIndex: 0x1d }));
      },
    });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 6, rip: 0x1000 + (await asm(enable, 64, 0x1000)).length });
  });
});

describe('native host handlers that misbehave (DESIGN decision 2, vmxCore.ts runNative)', () => {
  const slot = (k: number): bigint => u64(nativeHandlerAddress(k));

  it('a handler that returns without entering a guest or halting stops the run with the reason', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { hostRip: slot(1) } });
    h.core.registerNative(nativeHandlerAddress(1), () => {});
    expect(h.launch()).toMatchObject({ kind: 'stop', why: expect.stringMatching(/returned in root operation without entering a guest/) });
  });

  it('a handler that raises an exception as root software stops the run naming it', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { hostRip: slot(2) } });
    h.core.registerNative(nativeHandlerAddress(2), () => {
      throw new CpuException(13, 0);
    });
    expect(h.launch()).toMatchObject({ kind: 'stop', why: expect.stringMatching(/raised/) });
  });

  it('a HOST_RIP in the native region with no handler stops the run naming the address', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { hostRip: slot(3) } });
    expect(h.launch()).toMatchObject({ kind: 'stop', why: expect.stringMatching(/no handler is registered/) });
  });
});

describe('state at a VM exit: guest state saved (§28.3), host state loaded (§28.5)', () => {
  /**
   * The guest changes RSP, RFLAGS, CR0, CR4, DR7, ES (selector 28H from a
   * GDT at 0) and FS (null selector), then exits on CPUID. The exit lands
   * on a native handler of the test's own, which records the core's state
   * before anything else runs.
   */
  const BEFORE_CPUID = `
    push 0x1234
    mov rax, cr4
    or eax, 0x4
    mov cr4, rax
    mov rax, cr0
    or eax, 0x8
    mov cr0, rax
    mov rax, 0x401
    mov dr7, rax
    mov ax, 0x28
    mov es, ax
    xor eax, eax
    mov fs, ax
    stc
    std`;
  const GUEST = `${BEFORE_CPUID}\ncpuid`;
  interface Seen { rflags: number; rsp: bigint; rip: number; dr7: number; cr0: number; cr4: number; cpl: number; efer: number }
  async function run(): Promise<{ h: VmxHarness; seen: Seen; hostCr0: bigint; hostCr4: bigint }> {
    const h = await VmxHarness.create(GUEST, {
      controls: { entry: ['loadDebugControls'], exit: ['saveDebugControls'] },
      fields: {
        hostRip: u64(nativeHandlerAddress(1)),
        hostFsBase: 0x11000, hostGsBase: 0xffff800000000000n, hostTrBase: 0x7000, hostGdtrBase: 0x5000, hostIdtrBase: 0x6000,
        hostDsSelector: 0x10, hostEsSelector: 0, hostGsSelector: 0x10, hostTrSelector: 0x20,
      },
    });
    // Descriptor 28H: data, read/write accessed, DPL 0, present, base 0, limit FFFFFH, G = 1, D/B = 1.
    h.t.phys.writeSized(0x28, 4, 0x0000ffff);
    h.t.phys.writeSized(0x2c, 4, 0x00cf9300);
    let seen!: Seen;
    h.core.registerNative(nativeHandlerAddress(1), (c) => {
      seen = {
        rflags: readRflags(c), rsp: toBigInt(c.r[8]!, c.r[9]!), rip: c.rip, dr7: c.sys.dr[14]!,
        cr0: c.cr0, cr4: c.cr4, cpl: c.cpl, efer: c.efer,
      };
      c.stopReason = { kind: 'stop', why: 'seen' };
    });
    const hostCr0 = h.read('hostCr0'), hostCr4 = h.read('hostCr4');
    expect(h.launch()).toEqual({ kind: 'stop', why: 'seen' });
    return { h, seen, hostCr0, hostCr4 };
  }

  it('guest RIP (the exiting CPUID), RSP, RFLAGS, CR0, CR4, DR7 and segments are saved (§28.3.1-§28.3.3)', async () => {
    const { h, hostCr0, hostCr4 } = await run();
    expect(h.read('guestRip')).toBe(BigInt(GUEST_CODE + (await asm(BEFORE_CPUID, 64, GUEST_CODE)).length));
    expect(h.read('guestRsp')).toBe(BigInt(GUEST_STACK - 8));
    // XOR EAX, EAX left ZF and PF set; STC, STD: CF, DF; bit 1 always 1.
    expect(h.read('guestRflags')).toBe(0x2n | 0x1n | 0x4n | 0x40n | 0x400n);
    expect(h.read('guestCr0')).toBe(hostCr0 | 0x8n);
    expect(h.read('guestCr4')).toBe(hostCr4 | 0x4n);
    expect(h.read('guestCr3')).toBe(h.read('hostCr3'));
    expect(h.read('guestDr7')).toBe(0x401n);
    expect([h.read('guestEsSelector'), h.read('guestEsAccessRights'), h.read('guestEsLimit'), h.read('guestEsBase')]).toEqual([0x28n, 0xc093n, 0xffffffffn, 0n]);
    expect(h.read('guestFsSelector')).toBe(0n);
    expect(h.read('guestFsAccessRights') & 0x10000n).toBe(0x10000n);
    expect([h.read('guestCsSelector'), h.read('guestCsAccessRights')]).toEqual([8n, 0xa09bn]);
    expect([h.read('guestTrSelector'), h.read('guestTrAccessRights'), h.read('guestTrLimit')]).toEqual([0x18n, 0x8bn, 0x67n]);
    expect(h.read('guestActivityState')).toBe(0n);
    expect(h.read('guestInterruptibilityState')).toBe(0n);
  });

  it('guest DR7 loads with bits 12 and 15:14 clear and bit 10 set, whatever the field holds (§27.3.2.1)', async () => {
    const h = await VmxHarness.create('mov rax, dr7\ncpuid', { controls: { entry: ['loadDebugControls'], exit: ['saveDebugControls'] }, fields: { guestDr7: 0xd0ff } });
    h.launch();
    expect(h.reg('rax')).toBe(0x04ffn);
    expect(h.read('guestDr7')).toBe(0x04ffn);
  });

  it('an unusable DS loads and saves its base with bits 63:32 clear; FS keeps its whole base (§27.3.2.2, §28.3.2)', async () => {
    const h = await VmxHarness.create('cpuid', {
      fields: { guestDsAccessRights: 0x10000, guestDsBase: 0x100002000n, guestFsAccessRights: 0x10000, guestFsBase: 0x123456789000n },
    });
    h.launch();
    expect(h.exits).toMatchObject([{ reason: 10 }]);
    expect(h.read('guestDsBase')).toBe(0x2000n);
    expect(h.read('guestDsAccessRights') & 0x10000n).toBe(0x10000n);
    expect(h.read('guestFsBase')).toBe(0x123456789000n);
  });

  /** A GDT at physical 0 (the guest's GDTR base) with a flat data segment at selector 10H. */
  const guestGdt = (h: VmxHarness): void => {
    h.t.phys.writeSized(0x10, 4, 0x0000ffff);
    h.t.phys.writeSized(0x14, 4, 0x00cf9300);
  };
  for (const [what, guest, blocking] of [
    ['an exit right after STI with IF = 0 saves blocking by STI', 'sti\ncpuid', 1n],
    ['an exit right after MOV SS saves blocking by MOV SS', 'mov ax, 0x10\nmov ss, ax\ncpuid', 2n],
    ['one instruction later the blocking is over', 'sti\nnop\ncpuid', 0n],
  ] as const) {
    it(`interruptibility state (§28.3.4, Table 25-3): ${what}`, async () => {
      const h = await VmxHarness.create(guest);
      guestGdt(h);
      h.launch();
      expect(h.exits).toMatchObject([{ reason: 10 }]);
      expect(h.read('guestInterruptibilityState')).toBe(blocking);
    });
  }

  it('host state: RIP, RSP, RFLAGS = 2, DR7 = 400H, CR0/CR4 from the host fields, CPL 0, EFER.LMA/LME (§28.5.1, §28.5.3)', async () => {
    const { seen, hostCr0, hostCr4 } = await run();
    expect(seen.rip).toBe(nativeHandlerAddress(1));
    expect(seen.rsp).toBe(0x70000n);
    expect(seen.rflags).toBe(0x2);
    expect(seen.dr7).toBe(0x400);
    expect(BigInt(seen.cr0 >>> 0)).toBe(hostCr0);
    expect(BigInt(seen.cr4 >>> 0)).toBe(hostCr4);
    expect(seen.cpl).toBe(0);
    expect(seen.efer & 0x500).toBe(0x500);
  });

  it('host segments: CS 64-bit code, SS/DS/GS flat data, null ES/FS unusable, FS/GS bases from the host fields (§28.5.2)', async () => {
    const { h } = await run();
    const c = h.t.cpu;
    const seg = (s: Seg): [number, number, number, number] => [c.segSel[s]!, c.segAttr[s]!, c.segLimit[s]! >>> 0, c.sys.descBase[s]!];
    expect(seg(Seg.CS)).toEqual([0x08, 0xa09b, 0xffffffff, 0]);
    expect(seg(Seg.SS)).toEqual([0x10, 0xc093, 0xffffffff, 0]);
    expect(seg(Seg.DS)).toEqual([0x10, 0xc093, 0xffffffff, 0]);
    expect(seg(Seg.GS).slice(0, 2)).toEqual([0x10, 0xc093]);
    expect(c.sys.descBase[Seg.GS]).toBe(-(2 ** 47));
    expect(c.sys.descBase[Seg.FS]).toBe(0x11000);
    expect(c.segSel[Seg.ES]).toBe(0);
    expect(c.segAttr[Seg.ES]! & 0x10000).toBe(0x10000);
    expect(c.segAttr[Seg.FS]! & 0x10000).toBe(0x10000);
  });

  it('host TR (limit 67H, busy TSS), LDTR unusable, GDTR/IDTR limit FFFFH with the host bases (§28.5.2)', async () => {
    const { h } = await run();
    const s = h.t.cpu.sys;
    expect([s.trSel, s.trBase, s.trLimit, s.trAttr]).toEqual([0x20, 0x7000, 0x67, 0x8b]);
    expect(s.ldtrSel).toBe(0);
    expect(s.ldtrAttr & 0x10000).toBe(0x10000);
    expect([s.gdtrBase, s.gdtrLimit, s.idtrBase, s.idtrLimit]).toEqual([0x5000, 0xffff, 0x6000, 0xffff]);
  });
});
