/**
 * A minimal TypeScript root-mode harness (issue 4 "Native host code"): one
 * core in 64-bit mode and VMX root operation, a VMCS whose HOST_RIP is a
 * native handler, and a guest from inline assembly. The harness touches the
 * machine only as root software can (DESIGN decision 1): VMXON, VMPTRLD,
 * VMWRITE, VMREAD and VMLAUNCH/VMRESUME are the operations the decoded
 * instructions call, on the same core.
 *
 * Physical layout (identity-mapped, shared by host and guest):
 *   0x1000     guest code            0x80000  guest stack top
 *   0x100000   page tables           0x200000 VMXON region
 *   0x201000   the VMCS              0x202000 free pages for tests (bitmaps, MSR areas)
 */
import type { StopReason } from '../../cpu/cpu.ts';
import { mapIdentity } from '../../cpu/memory/identityMap.ts';
import { DEFAULT_CPU_MODEL } from '../../cpu/model/cpuidModel.ts';
import { storeMsr } from '../../cpu/msr/platformState.ts';
import { hiOf, loOf, toBigInt } from '../../cpu/registers.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import { updateMode } from '../../cpu/system/mode.ts';
import { DEFAULT_VMX_MODEL, VMCS_REVISION_ID } from '../../vmx/model/presets.ts';
import { VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { controlMask, type ControlGroup, type ControlKey } from '../../vmx/model/controls.ts';
import { attachSystem } from '../../cpu/system/events.ts';
import { nativeHandlerAddress } from '../../vmx/transition/nativeHandlers.ts';
import type { TransitionRecord } from '../../vmx/transition/transitionRecord.ts';
import { vmEntry } from '../../vmx/transition/vmEntry.ts';
import { readField, vmread, vmwrite } from '../../vmx/unit/vmcsAccess.ts';
import { vmclear, vmptrld } from '../../vmx/unit/vmcsPointer.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { vmxon } from '../../vmx/unit/vmxOperation.ts';
import { vmcs } from '../../vmx/vmcs/fields.ts';
import { asm } from './asm.ts';
import { EptBuilder } from './eptBuilder.ts';
import { makeCore, type TestCore } from './machine.ts';

export type FieldName = keyof typeof vmcs;

export const GUEST_CODE = 0x1000, GUEST_STACK = 0x80000, PAGE_TABLES = 0x100000;
export const VMXON_REGION = 0x200000, VMCS_REGION = 0x201000, SCRATCH = 0x202000;
/** EPT paging structures of the `ept` option: 0x300000-0x3fffff (memory above 0x400000 is free for tests' data). */
export const EPT_TABLES = 0x300000, EPT_TABLES_END = 0x400000;
/** SS:SP of a `guestMode: 'real'` guest: the stack's top is just below GUEST_STACK. */
export const REAL_STACK_SEGMENT = 0x7000, REAL_STACK_POINTER = 0xfffe;
const MEMORY = 8 << 20;

export const CPU_VMX = DEFAULT_CPU_MODEL.with({ features: { vmx: true } });

/** One VM exit as the handler sees it, read with VMREAD. */
export interface Exit {
  reason: number;
  qualification: bigint;
  guestRip: bigint;
  instructionLength: number;
}

/** What the handler wants after an exit: resume the guest (optionally past the exiting instruction) or stop the run. */
export type ExitAction = 'resume' | 'skip' | 'stop';
export type ExitHandler = (exit: Exit, h: VmxHarness) => ExitAction;

export interface HarnessOptions {
  features?: VmxFeatures;
  /** Controls to set beyond the model's must-be-1 bits, by group. */
  controls?: { [G in ControlGroup]?: ControlKey<G>[] };
  /** Fields to write after the defaults and before VMLAUNCH. */
  fields?: Partial<Record<FieldName, bigint | number>>;
  onExit?: ExitHandler;
  /**
   * VM-entry control "IA-32e mode guest" (default true). false: a 32-bit
   * protected-mode guest (assembled as 32-bit code, CS a 32-bit code
   * segment) with the host's CR0/CR4, so PAE paging through GUEST_CR3.
   */
  ia32eModeGuest?: boolean;
  /**
   * Exceptions and events are delivered as on the machine (cpu/system/events.ts
   * attachSystem), so they can exit (exception bitmap, triple fault); by
   * default an exception stops the run, as on a bare test core.
   */
  events?: boolean;
  /**
   * Runs the guest under EPT (SDM Vol. 3C §29.3): the callback builds the
   * EPT paging structures (test/support/eptBuilder.ts) at EPT_TABLES, then
   * "activate secondary controls" and "enable EPT" are set and the EPTP
   * (WB, 4 levels, no A/D) written; `fields` can still override the EPTP.
   * The model must support EPT (FULL_VMX_MODEL, say).
   */
  ept?: (b: EptBuilder) => void;
  /**
   * An unrestricted guest (SDM Vol. 3C §26.6): sets "unrestricted guest"
   * and EPT (`ept`, or an identity map of all memory with 2-MByte pages),
   * "IA-32e mode guest" 0 and guest CR0.PG 0. 'real': real-address mode
   * (CR0.PE 0), code assembled as 16-bit, CS:IP 0000:1000, SS:SP 7000:FFFE,
   * DS/ES/FS/GS 0000, bases = selector × 16, limits FFFFH, access rights
   * 9BH (CS) / 93H, IDTR the IVT (base 0, limit 3FFH). 'protected32':
   * protected mode without paging, the flat 32-bit segments of
   * `ia32eModeGuest: false`. The model must support both controls.
   */
  guestMode?: 'real' | 'protected32';
}

/** Guest segment access rights (VMX format, SDM Vol. 3C §25.4.1): 64-bit code, data, busy TSS. */
const CODE64 = 0xa09b, CODE32 = 0xc09b, DATA = 0xc093, TSS = 0x8b, UNUSABLE = 0x10000;

export class VmxHarness {
  readonly exits: Exit[] = [];
  readonly trace: TransitionRecord[] = [];
  onExit: ExitHandler;
  /** The EPT builder of the `ept` option, to edit entries between exits. */
  ept: EptBuilder | undefined;

  private constructor(readonly t: TestCore, readonly core: VmxCore, onExit: ExitHandler | undefined) {
    this.onExit = onExit ?? (() => 'stop');
  }

  /** A core in VMX root operation with a launched-ready VMCS for `guest` (64-bit assembly at GUEST_CODE). */
  static async create(guest: string, o: HarnessOptions = {}): Promise<VmxHarness> {
    const { t, core, model } = vmxTestCore(o);
    const ia32e = o.guestMode === undefined && (o.ia32eModeGuest ?? true);
    t.phys.load(GUEST_CODE, await asm(guest, o.guestMode === 'real' ? 16 : ia32e ? 64 : 32, GUEST_CODE));
    // Root software's part of §24.7: CR0.NE, CR4.VMXE, IA32_FEATURE_CONTROL, real page tables.
    t.cpu.cr0 = (t.cpu.cr0 | 0x20) >>> 0;
    t.cpu.cr4 |= 0x2000;
    mapIdentity(t.cpu, PAGE_TABLES);
    updateMode(t.cpu);
    storeMsr(t.cpu, 0x3a, 5, 0);
    t.phys.writeSized(VMXON_REGION, 4, VMCS_REVISION_ID);
    t.phys.writeSized(VMCS_REGION, 4, VMCS_REVISION_ID);
    const h = new VmxHarness(t, core, o.onExit);
    h.check('VMXON', () => vmxon(core, t.cpu, VMXON_REGION));
    h.check('VMCLEAR', () => vmclear(core, t.cpu, VMCS_REGION));
    h.check('VMPTRLD', () => vmptrld(core, t.cpu, VMCS_REGION));
    h.writeDefaults(model, o.controls ?? {}, ia32e);
    if (o.ept) h.useEpt(o.ept);
    if (o.guestMode) h.writeGuestMode(o.guestMode, o.ept === undefined);
    for (const [name, value] of Object.entries(o.fields ?? {})) h.write(name as FieldName, value);
    core.registerNative(nativeHandlerAddress(0), (c) => h.handle(c));
    core.onTransition = (r) => h.trace.push(r);
    return h;
  }

  /** Runs `op` (a VMX operation) and throws if it reported VMfail. */
  private check(what: string, op: () => void): void {
    op();
    const f = this.t.flags();
    if ((f & 0x41) !== 0) throw new Error(`${what} failed: ${(f & 1) !== 0 ? 'VMfailInvalid' : `VMfailValid(${this.read('vmInstructionError')})`}`);
  }

  write(name: FieldName, value: bigint | number): void {
    const v = BigInt.asUintN(64, BigInt(value));
    this.check(`VMWRITE ${name}`, () => vmwrite(this.core, this.t.cpu, vmcs[name].encoding, loOf(v), hiOf(v)));
  }

  read(name: FieldName): bigint {
    const c = this.t.cpu, enc = vmcs[name].encoding;
    if (!vmread(this.core, c, enc)) throw new Error(`VMREAD ${name} failed`);
    const lo = readField(this.core, c, enc);
    return toBigInt(lo, c.opHi);
  }

  /** The host state of this core as it is now, the guest state of a flat 64-bit guest, and the controls. */
  private writeDefaults(model: VmxModel, requested: NonNullable<HarnessOptions['controls']>, ia32e: boolean): void {
    const c = this.t.cpu;
    // A copy: the caller's options may serve another harness.
    const controls = {
      ...requested,
      exit: [...(requested.exit ?? []), 'hostAddressSpaceSize' as const],
      entry: [...(requested.entry ?? []), ...(ia32e ? ['ia32eModeGuest' as const] : [])],
    };
    const ctl = (g: ControlGroup, field: FieldName): void => {
      const keys = (controls[g] ?? []) as readonly ControlKey<typeof g>[];
      this.write(field, (model.allowedSettings(g).mustBe1 | controlMask(g, keys)) >>> 0);
    };
    ctl('pin', 'pinBasedVmExecutionControls');
    ctl('proc', 'primaryProcessorBasedVmExecutionControls');
    if (controls.proc2) ctl('proc2', 'secondaryProcessorBasedVmExecutionControls');
    ctl('exit', 'vmExitControls');
    ctl('entry', 'vmEntryControls');
    this.write('vmcsLinkPointer', -1n);
    this.write('hostCr0', c.cr0);
    this.write('hostCr3', c.cr3);
    this.write('hostCr4', c.cr4);
    this.write('hostCsSelector', 0x08);
    this.write('hostSsSelector', 0x10);
    this.write('hostDsSelector', 0x10);
    this.write('hostEsSelector', 0x10);
    this.write('hostTrSelector', 0x18);
    this.write('hostRsp', 0x70000);
    this.write('hostRip', BigInt.asUintN(64, BigInt(nativeHandlerAddress(0))));
    this.write('guestCr0', c.cr0);
    this.write('guestCr3', c.cr3);
    this.write('guestCr4', c.cr4);
    this.write('guestDr7', 0x400);
    for (const s of ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const) {
      this.write(`guest${s}Selector`, s === 'Cs' ? 0x08 : 0x10);
      this.write(`guest${s}Limit`, 0xffffffff);
      this.write(`guest${s}AccessRights`, s === 'Cs' ? (ia32e ? CODE64 : CODE32) : DATA);
    }
    this.write('guestLdtrAccessRights', UNUSABLE);
    this.write('guestTrSelector', 0x18);
    this.write('guestTrAccessRights', TSS);
    this.write('guestTrLimit', 0x67);
    this.write('guestGdtrLimit', 0xffff);
    this.write('guestIdtrLimit', 0xffff);
    this.write('guestRsp', GUEST_STACK);
    this.write('guestRip', GUEST_CODE);
    this.write('guestRflags', 0x2);
  }

  /** VMLAUNCH, then runs the core until the handler stops it, it halts in root, or `max` instructions retire. */
  launch(max = 1_000_000): StopReason {
    vmEntry(this.core, this.t.cpu, true);
    // VMLAUNCH retires as one instruction, as a native handler's VM entry does (VmxCore.runNative):
    // the guest's first instruction comes one tick after the entry's record (transitionRecord.ts GuestClock).
    this.t.cpu.icount++;
    if (!this.t.cpu.nonRoot && this.t.cpu.rip !== nativeHandlerAddress(0)) {
      const f = this.core.lastFailedCheck;
      throw new Error(`VMLAUNCH failed: ${(this.t.flags() & 1) !== 0 ? 'VMfailInvalid' : `VMfailValid(${this.read('vmInstructionError')})`}` +
        (f ? ` at ${f.check} (${f.section})` : ''));
    }
    return this.run(max);
  }

  run(max = 1_000_000): StopReason {
    return this.t.run(max);
  }

  /** The native handler: read the exit, ask the test's handler, and resume or stop. */
  private handle(c: TestCore['cpu']): void {
    const exit: Exit = {
      reason: Number(this.read('exitReason')),
      qualification: this.read('exitQualification'),
      guestRip: this.read('guestRip'),
      instructionLength: Number(this.read('vmExitInstructionLength')),
    };
    this.exits.push(exit);
    const action = this.onExit(exit, this);
    if (action === 'stop') {
      c.stopReason = { kind: 'stop', why: 'harness handler stopped' };
      return;
    }
    if (action === 'skip') this.write('guestRip', exit.guestRip + BigInt(exit.instructionLength));
    vmEntry(this.core, c, false);
  }

  /** Builds EPT tables with `build` and turns EPT on with their EPTP (HarnessOptions.ept). */
  private useEpt(build: (b: EptBuilder) => void): void {
    const b = (this.ept = new EptBuilder(this.t.phys, EPT_TABLES, EPT_TABLES_END));
    build(b);
    const or = (field: FieldName, mask: number): void => this.write(field, (Number(this.read(field)) | mask) >>> 0);
    or('primaryProcessorBasedVmExecutionControls', controlMask('proc', ['activateSecondaryControls']));
    or('secondaryProcessorBasedVmExecutionControls', controlMask('proc2', ['enableEpt']));
    this.write('eptp', b.eptp());
  }

  /** The controls and guest state of HarnessOptions.guestMode, after the defaults and `ept`. */
  private writeGuestMode(mode: 'real' | 'protected32', identityEpt: boolean): void {
    if (identityEpt) this.useEpt((b) => b.identity(0, MEMORY, { size: '2M' }));
    const proc2 = Number(this.read('secondaryProcessorBasedVmExecutionControls'));
    this.write('secondaryProcessorBasedVmExecutionControls', (proc2 | controlMask('proc2', ['unrestrictedGuest'])) >>> 0);
    const PE = 1, PG = 0x80000000;
    this.write('guestCr0', (Number(this.read('guestCr0')) & ~(mode === 'real' ? PE | PG : PG)) >>> 0);
    if (mode === 'protected32') return;
    for (const s of ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const) {
      const selector = s === 'Ss' ? REAL_STACK_SEGMENT : 0;
      this.write(`guest${s}Selector`, selector);
      this.write(`guest${s}Base`, selector * 16);
      this.write(`guest${s}Limit`, 0xffff);
      this.write(`guest${s}AccessRights`, s === 'Cs' ? 0x9b : 0x93);
    }
    this.write('guestRsp', REAL_STACK_POINTER);
    this.write('guestIdtrBase', 0);
    this.write('guestIdtrLimit', 0x3ff);
  }

  /**
   * VMRESUME after a handler stopped the run (the test may have changed
   * the VMCS, registers or memory meanwhile), then runs as launch does.
   */
  resume(max = 1_000_000): StopReason {
    vmEntry(this.core, this.t.cpu, false);
    this.t.cpu.icount++;
    if (!this.t.cpu.nonRoot && (this.t.flags() & 0x41) !== 0) throw new Error(`VMRESUME failed: VMfailValid(${this.read('vmInstructionError')})`);
    return this.run(max);
  }

  /** A guest general-purpose register as the last exit left it (the core holds it: VM exits do not save GPRs). */
  reg(name: Parameters<TestCore['reg']>[0]): bigint {
    return this.t.reg(name);
  }
}

/** DEFAULT_VMX_MODEL with the `extra` controls supported too (tests of controls not yet in the default model). */
export function modelWith(extra: HarnessOptions['controls'] & object): VmxFeatures {
  const d = DEFAULT_VMX_MODEL.controls;
  return {
    ...DEFAULT_VMX_MODEL,
    controls: {
      pin: [...d.pin, ...(extra.pin ?? [])],
      proc: [...d.proc, ...(extra.proc ?? [])],
      proc2: [...d.proc2, ...(extra.proc2 ?? [])],
      exit: [...d.exit, ...(extra.exit ?? [])],
      entry: [...d.entry, ...(extra.entry ?? [])],
    },
  };
}

/** Guest CS and SS at CPL 3 (RPL = DPL = 3, 64-bit code; SDM Vol. 3C §27.3.1.2), for exits that privilege faults pre-empt. */
export const CPL3_FIELDS = {
  guestCsSelector: 0x0b, guestCsAccessRights: 0xa0fb, guestSsSelector: 0x13, guestSsAccessRights: 0xc0f3,
} as const satisfies HarnessOptions['fields'];

/** An exit with its VM-exit instruction-information field (SDM Vol. 3C §28.2.5). */
export interface InformedExit extends Exit {
  information: bigint;
}

/**
 * Runs `guest` until its first VM exit, which stops the run, or `max`
 * instructions: the exit (with its instruction information) if there was
 * one, and why the run stopped (an exception no exit took, say).
 */
export async function firstExit(guest: string, o: HarnessOptions & { max?: number; before?: (h: VmxHarness) => void } = {}):
  Promise<{ h: VmxHarness; exit: InformedExit | undefined; stop: StopReason }> {
  let exit: InformedExit | undefined;
  const h = await VmxHarness.create(guest, {
    ...o,
    onExit: (e, hh) => {
      exit = { ...e, information: hh.read('vmExitInstructionInformation') };
      return 'stop';
    },
  });
  o.before?.(h);
  const stop = h.launch(o.max ?? 100_000);
  return { h, exit, stop };
}

/** Controls, fields, guest registers and extra guest CR4 bits of a controlledExit run. */
export interface ControlledRun {
  proc?: ControlKey<'proc'>[];
  proc2?: ControlKey<'proc2'>[];
  fields?: HarnessOptions['fields'];
  regs?: Partial<Record<Parameters<TestCore['setReg']>[0], bigint>>;
  cr4?: number;
}

/**
 * Runs `guest`, then CPUID, on model `features` to its first exit, with
 * secondary controls and MSR bitmaps on (a clear bitmap at SCRATCH: RDMSR
 * and WRMSR run) plus the controls of `r`; `setup` runs before VMLAUNCH.
 */
export function controlledExit(guest: string, features: VmxFeatures, r: ControlledRun = {}, setup?: (h: VmxHarness) => void):
  ReturnType<typeof firstExit> {
  return firstExit(`${guest}\ncpuid`, {
    features,
    controls: { proc: ['activateSecondaryControls', 'useMsrBitmaps', ...(r.proc ?? [])], proc2: r.proc2 ?? [] },
    fields: { msrBitmapsAddress: SCRATCH, ...r.fields },
    before: (h) => {
      setup?.(h);
      for (const [name, v] of Object.entries(r.regs ?? {})) h.t.setReg(name as Parameters<TestCore['setReg']>[0], v);
      if (r.cr4) h.write('guestCr4', h.t.cpu.cr4 | r.cr4);
    },
  });
}

/** A 64-bit core with a VMX unit of model `o.features` (default DEFAULT_VMX_MODEL): the harness's and the asm driver's machine. */
export function vmxTestCore(o: Pick<HarnessOptions, 'features' | 'events'>): { t: TestCore; core: VmxCore; model: VmxModel } {
  const t = makeCore(64, MEMORY);
  t.cpu.model = CPU_VMX;
  const model = new VmxModel(o.features ?? DEFAULT_VMX_MODEL, { cr4Settable: cr4Settable(CPU_VMX) });
  const core = new VmxCore(model);
  t.cpu.vmx = core;
  if (o.events) attachSystem(t.cpu);
  return { t, core, model };
}

/**
 * Runs `program` (64-bit assembly at GUEST_CODE, HLT appended) as root
 * software on a harness's core: in VMX root operation at CPL 0 with the
 * harness's VMCS current, before any VM entry. `setup` runs first
 * (registers, memory, CPL). For tests of VMX instructions in root operation.
 */
export async function runInRoot(program: string, o: HarnessOptions & { setup?: (h: VmxHarness) => void } = {}): Promise<VmxHarness> {
  const h = await VmxHarness.create(`${program}\nhlt`, o);
  o.setup?.(h);
  h.t.cpu.rip = GUEST_CODE;
  h.run(100_000);
  return h;
}

/** Linear addresses that only mapTestPage maps: PML4 entry 1 (512 GiB up), beyond the identity map. */
export const TEST_LINEAR = 0x8000000000;
const TEST_PDPT = SCRATCH + 0x30000, TEST_PD = TEST_PDPT + 0x1000, TEST_PT = TEST_PDPT + 0x2000;

/**
 * Maps the 4-KByte page TEST_LINEAR + n * 4096 (n < 512) to physical `pa`
 * with PTE `flags` (default P, R/W, A, D) in the paging structures host and
 * guest share, by plain stores to them: nothing is invalidated.
 */
export function mapTestPage(h: VmxHarness, n: number, pa: number, flags = 0x63): void {
  const p = h.t.phys;
  p.writeSized(PAGE_TABLES + 8, 4, TEST_PDPT | 0x23);
  p.writeSized(TEST_PDPT, 4, TEST_PD | 0x23);
  p.writeSized(TEST_PD, 4, TEST_PT | 0x23);
  p.writeSized(TEST_PT + 8 * n, 4, pa | flags);
  p.writeSized(TEST_PT + 8 * n + 4, 4, 0);
}

/** Physical address of the PTE mapTestPage writes for page n (for guests that change it themselves). */
export const testPte = (n: number): number => TEST_PT + 8 * n;
