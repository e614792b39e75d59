/**
 * Where VMX plugs into the core (DESIGN "Shape": cpu/ never imports vmx/).
 * The core decodes the VMX instructions (cpu/exec/vmx.ts) and hands each to
 * the core's VmxUnit, which vmx/ implements; a core without one raises #UD,
 * as a processor without VMX does. The unit's operations are the same
 * functions the TypeScript hypervisor calls (DESIGN decision 1).
 */
import type { Cpu } from './cpu.ts';
import type { Insn } from './decode/insn.ts';
import type { MsrDef } from './msr/msrDef.ts';
import type { EventKind } from './system/eventKind.ts';

export const enum VmxInstruction {
  Vmxon, Vmxoff, Vmclear, Vmptrld, Vmptrst, Vmread, Vmwrite,
  Vmlaunch, Vmresume, Vmcall, Invept, Invvpid, Vmfunc,
}

/**
 * Instructions that may cause a VM exit in VMX non-root operation (SDM
 * Vol. 3C §26.1.2 unconditional, §26.1.3 conditional on controls). The
 * instruction's exec calls VmxUnit.intercept with one of these after its
 * own #UD and CPL checks that take priority over the exit (§26.1.1) and
 * before it changes anything; the unit reads the operands it needs for the
 * exit qualification from the decoded instruction.
 */
export const enum Intercept {
  Cpuid, Getsec, Hlt, Invd, Invlpg, Invpcid, Rdpmc, Rdtsc, Rdtscp, Rsm,
  /** MOV to CR0/CR3/CR4/CR8, MOV from CR3/CR8, CLTS, LMSW (access type in the qualification, §28.2.1 Table 28-3). */
  MovToCr, MovFromCr, Clts, Lmsw,
  MovDr,
  /** IN, OUT, INS, OUTS (I/O bitmaps, §26.1.3). */
  Io,
  Rdmsr, Wrmsr, Monitor, Mwait, Pause,
  /** LGDT, LIDT, SGDT, SIDT (exit 46) and LLDT, LTR, SLDT, STR (exit 47). */
  DescriptorTable,
  Wbinvd, Xsetbv, Rdrand, Rdseed,
  /** RDPID never exits; with "enable RDTSCP" = 0 it raises #UD in non-root operation, as RDTSCP does. */
  Rdpid,
}

/**
 * Thrown, instead of completing an access, by a part of VMX that has
 * arranged a VM exit in the middle of an instruction (an EPT violation or
 * misconfiguration: cpu/memory/physicalStage.ts). The run loop backs the
 * instruction out as for a fault and calls VmxUnit.completeExit.
 */
export class VmExitTaken {}
export const VM_EXIT_TAKEN = new VmExitTaken();

export interface VmxUnit {
  /** MSRs the VMX unit adds to the machine's table (the IA32_VMX_* capability MSRs), by index. */
  findMsr(index: number): MsrDef | undefined;
  /** INIT is blocked in VMX root operation (SDM Vol. 3C §24.8); a pending INIT waits until this is false. */
  readonly blocksInit: boolean;
  /**
   * Executes VMX instruction `op` in its decoded form `i` on core `c`:
   * raises the SDM's exceptions by throwing, and reports VMsucceed /
   * VMfailInvalid / VMfailValid(n) through RFLAGS and the VMCS as the
   * instruction's pseudocode says.
   */
  execute(c: Cpu, i: Insn, op: VmxInstruction): void;
  /**
   * In VMX non-root operation (c.nonRoot): instruction `i`, whose RIP has
   * been advanced past it, is `what`. Returns true when it caused a VM exit
   * (the core now holds host state and the instruction must return at
   * once), false when it runs normally.
   */
  intercept(c: Cpu, i: Insn, what: Intercept): boolean;
  /**
   * In VMX non-root operation: MOV from CR0/CR4 and SMSW read `value` (CR
   * `n`, 0 or 4) through the guest/host mask: bits set in the mask come
   * from the read shadow (SDM Vol. 3C §26.3). Returns bits 31:0 and leaves
   * bits 63:32 in c.opHi.
   */
  shadowCr(c: Cpu, n: number, value: number): number;
  /**
   * In VMX non-root operation: the TSC hi:lo as RDTSC, RDTSCP and RDMSR of
   * IA32_TSC return it, after TSC offsetting and scaling (SDM Vol. 3C
   * §26.3). Returns bits 31:0 and leaves bits 63:32 in c.opHi.
   */
  guestTsc(c: Cpu, lo: number, hi: number): number;
  /**
   * CLTS, LMSW or MOV to CR0/CR4 (`n`) that did not exit is about to load
   * hi:lo. In VMX non-root operation the bits set in the guest/host mask
   * keep their current value (§26.3); in VMX operation a bit set to a value
   * not supported there (IA32_VMX_CR0/CR4_FIXED0/1) raises #GP(0) (§24.8).
   * Returns bits 31:0 to load, bits 63:32 in c.opHi (the caller checks them).
   */
  loadCr(c: Cpu, n: number, lo: number, hi: number): number;
  /**
   * In VMX non-root operation: event `vector` of `kind` (errorCode < 0:
   * none) is about to be delivered through the guest's IDT. `during` is the
   * kind of the event whose delivery raised it (-1 for none; its vector and
   * error code in duringVector/duringError), for IDT-vectoring information.
   * Returns true when the event caused a VM exit instead.
   */
  eventExit(c: Cpu, vector: number, kind: EventKind, errorCode: number, during: number, duringVector: number, duringError: number): boolean;
  /**
   * Completes the VM exit arranged before VM_EXIT_TAKEN was thrown: RIP is
   * the instruction's (or the fetch's) address, which the exit saves. When
   * it was thrown while delivering an event, `during` is that event's kind
   * (its vector and error code follow), for IDT-vectoring information.
   */
  completeExit(c: Cpu, during?: number, duringVector?: number, duringError?: number): void;
  /** In VMX non-root operation: a triple fault. Returns true when it caused a VM exit (it always does, §26.2). */
  tripleFaultExit(c: Cpu): boolean;
  /**
   * Work due at an instruction boundary that the unit asked for by setting
   * c.vmxBoundary: a native host handler to run (DESIGN decision 2), and
   * the exits that happen between instructions (VMX-preemption timer,
   * MTF, interrupt and NMI windows).
   */
  atBoundary(c: Cpu): void;
  /**
   * In VMX non-root operation: a task switch to the TSS `selector` is about
   * to begin, the checks that come before it having passed (SDM Vol. 3C
   * §26.4.2). It always causes a VM exit (basic reason 9, §26.2). For CALL,
   * IRET and JMP, `i` is the instruction (RIP is past it); for a task gate
   * in the IDT, `i` is null and `vector`, `kind` and `errorCode` (< 0:
   * none) name the event being delivered, RIP being its return address (a
   * software event's instruction in c.sys.softwareRip). RFLAGS.RF holds
   * what the RFLAGS image saved in the old TSS would have (§28.3.3).
   */
  taskSwitchExit(c: Cpu, selector: number, source: TaskSwitchSource, i: Insn | null, vector: number, kind: EventKind, errorCode: number): void;
}

/** What initiated a task switch, numbered as bits 31:30 of its exit qualification (SDM Vol. 3C §28.2.1 Table 28-2). */
export const enum TaskSwitchSource { Call = 0, Iret = 1, Jmp = 2, IdtGate = 3 }
