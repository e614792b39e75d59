/**
 * A vCPU: its vmcs12 (a VMCS region in L1's memory, DESIGN "Levels"), set
 * up with VMWRITEs whose controls come from the capability MSRs
 * (controls.ts), the guest's general-purpose registers while another vCPU
 * has the core, and its per-reason exit counts. It always runs on one
 * core (`host`), which L1 drives through the VMX operations of vmxOps.ts.
 *
 * The VMCS L1 writes (SDM Vol. 3C ch. 25):
 *   pin-based   external-interrupt exiting (L1's own interrupts, exits/interrupts.ts);
 *               the VMX-preemption timer switched per entry (l1/scheduler.ts);
 *   primary     HLT exiting, CR8-load/store exiting (exits/cr8.ts),
 *               unconditional I/O exiting, MSR bitmaps (the
 *               MSRs of exits/msrPassthrough.ts run in the guest, the others
 *               exit to exits/msr.ts), secondary controls;
 *   secondary   EPT (ept12), VPID (one per vCPU), unrestricted guest when
 *               the guest starts outside paged protected mode;
 *   exit        64-bit host, save/load IA32_PAT and IA32_EFER, acknowledge
 *               interrupt on exit; the vCPU's MSR list as MSR-store area;
 *   entry       IA-32e mode guest, load IA32_PAT and IA32_EFER; the same
 *               MSR list as MSR-load area (exits/msrPassthrough.ts);
 *   exceptions  the VM's interceptExceptions (exits/exception.ts);
 *   CR0/CR4     guest/host masks own CR0.NE/CD/NW and CR4.VMXE (exits/cr.ts).
 */
import { readMsr } from '../cpu/exec/msr.ts';
import { hiOf, loOf, type Reg, toBigInt, TWO32 } from '../cpu/registers.ts';
import { exitReasonName } from '../vmx/exitReason.ts';
import { controlMask } from '../vmx/model/controls.ts';
import { vmEntry } from '../vmx/transition/vmEntry.ts';
import { chooseControls } from './controls.ts';
import { CR0_HOST_OWNED } from './exits/cr.ts';
import { exceptionBitmap } from './exits/exception.ts';
import { writeMsrPages } from './exits/msrPassthrough.ts';
import { VirtualMsrs } from './exits/virtualMsrs.ts';
import { HypervisorError } from './hypervisorError.ts';
import { VirtualLapic } from './lapic/virtualLapic.ts';
import type { HostPages } from './l1/hostPages.ts';
import { RunState } from './l1/runState.ts';
import { doVmclear, doVmptrld, type HostCore, vmreadNumber, vmwriteField, vmwriteHalves, type FieldName } from './l1/vmxOps.ts';
import { GUEST_PAGE_TABLES, type Vm } from './vm.ts';

const CR4_VMXE = 1 << 13, CR4_PAE = 1 << 5;
const CR0_PE = 1, CR0_ET = 1 << 4, CR0_NE = 1 << 5, CR0_PG = 1 << 31;
const GUEST_CR0 = (CR0_PE | CR0_ET | CR0_NE | CR0_PG) >>> 0;
/** IA32_PAT: L1's own, and the guest's at power-up (SDM Vol. 3A §13.12.4). */
const IA32_PAT = 0x277, PAT_RESET = 0x0007040600070406n;
const EFER_LME = 0x100, EFER_LMA = 0x400;
const BLOCKING_BY_STI_OR_MOV_SS = 0x3;
/** Guest segment access rights (§25.4.1): 64-bit code, 32-bit code, read/write data, busy TSS, unusable. */
const AR_CODE64 = 0xa09b, AR_CODE32 = 0xc09b, AR_DATA = 0xc093, AR_TSS = 0x8b, AR_UNUSABLE = 0x10000;

/** One exit as L1 reads it with VMREAD. */
export interface ExitEvent {
  /** The exit-reason field (basic reason in bits 15:0; bit 31 for a failed VM entry). */
  readonly reason: number;
  readonly qualification: bigint;
  readonly guestRip: bigint;
  readonly instructionLength: number;
}

/**
 * The exit as Vcpu.readExit reads it: its 64-bit fields as 32-bit halves,
 * so that the exit path (trace, RIP advance) needs no BigInt; a handler
 * that wants one of them whole gets a bigint.
 */
export class ExitRecord implements ExitEvent {
  constructor(
    readonly reason: number, readonly qualLo: number, readonly qualHi: number,
    readonly ripLo: number, readonly ripHi: number, readonly instructionLength: number,
  ) {}

  get qualification(): bigint {
    return toBigInt(this.qualLo, this.qualHi);
  }

  get guestRip(): bigint {
    return toBigInt(this.ripLo, this.ripHi);
  }
}

export class Vcpu {
  readonly vmcs: number;
  /** The host-physical addresses of the MSR bitmaps and of the MSR list switched on entry and exit. */
  private readonly msrBitmaps: number;
  private readonly msrList: number;
  /** The MSRs L1 emulates for this vCPU. */
  readonly virtualMsrs: VirtualMsrs;
  /** Its local APIC (lapic/virtualLapic.ts) and its state as L1 runs it (l1/runState.ts). */
  readonly lapic: VirtualLapic;
  readonly runState = new RunState();
  launched = false;
  /** The vCPU will not run again (its VM ended or it was stopped). */
  stopped = false;
  /** Exits taken, by basic reason. */
  readonly exitCounts = new Map<number, number>();
  /** The guest's GPRs (halves) while another vCPU has the core; all 0 before its first entry. */
  private readonly savedGprs = new Int32Array(32);

  constructor(readonly vm: Vm, readonly index: number, readonly host: HostCore, pages: HostPages, readonly vpid: number) {
    this.vmcs = pages.allocate();
    this.msrBitmaps = pages.allocate();
    this.msrList = pages.allocate();
    this.lapic = new VirtualLapic(index);
    this.virtualMsrs = new VirtualMsrs(index === 0);
    this.name = `${vm.name}/${index}`;
    pages.phys.writeSized(this.vmcs, 4, vmcsRevision(host));
  }

  /** "vm/index", as the trace names it. */
  readonly name: string;

  /** Makes this vCPU's VMCS current on its core (VMPTRLD). */
  load(): void {
    doVmptrld(this.host, this.vmcs);
  }

  /** Writes the whole VMCS for a 64-bit guest entered at `rip` with stack `rsp`; HOST_RIP is `hostRip` (L1's native handler). */
  setupLongMode(rip: number, rsp: number, hostRip: number): void {
    const h = this.host, c = h.c;
    doVmclear(h, this.vmcs);
    this.load();
    const w = (name: FieldName, value: number | bigint): void => vmwriteField(h, name, value);
    w('pinBasedVmExecutionControls', chooseControls(c, 'pin', ['externalInterruptExiting']));
    w('primaryProcessorBasedVmExecutionControls',
      chooseControls(c, 'proc', ['hltExiting', 'cr8LoadExiting', 'cr8StoreExiting', 'unconditionalIoExiting', 'useMsrBitmaps', 'activateSecondaryControls']));
    w('secondaryProcessorBasedVmExecutionControls', chooseControls(c, 'proc2', ['enableEpt', 'enableVpid']));
    w('vmExitControls', chooseControls(c, 'exit', ['hostAddressSpaceSize', 'savePat', 'loadPat', 'saveEfer', 'loadEfer', 'acknowledgeInterruptOnExit']));
    w('vmEntryControls', chooseControls(c, 'entry', ['ia32eModeGuest', 'loadPat', 'loadEfer']));
    w('exceptionBitmap', exceptionBitmap(this.vm));
    w('msrBitmapsAddress', this.msrBitmaps);
    const msrs = writeMsrPages(c, this.msrBitmaps, this.msrList);
    w('vmExitMsrStoreAddress', this.msrList);
    w('vmExitMsrStoreCount', msrs);
    w('vmEntryMsrLoadAddress', this.msrList);
    w('vmEntryMsrLoadCount', msrs);
    w('eptp', this.vm.ept.eptp);
    w('vpid', this.vpid);
    w('vmcsLinkPointer', -1n);
    w('cr0GuestHostMask', CR0_HOST_OWNED);
    w('cr0ReadShadow', GUEST_CR0);
    w('cr4GuestHostMask', CR4_VMXE);
    w('cr4ReadShadow', CR4_PAE);
    // Host state: the core as L1 runs it.
    w('hostCr0', c.cr0);
    w('hostCr3', c.cr3);
    w('hostCr4', c.cr4);
    w('hostCsSelector', 0x08);
    w('hostSsSelector', 0x10);
    w('hostDsSelector', 0x10);
    w('hostEsSelector', 0x10);
    w('hostTrSelector', 0x18);
    w('hostIa32Efer', c.efer);
    const patLo = readMsr(c, IA32_PAT);
    w('hostIa32Pat', (BigInt(c.opHi >>> 0) << 32n) | BigInt(patLo >>> 0));
    w('hostRsp', 0);
    w('hostRip', BigInt.asUintN(64, BigInt(hostRip)));
    // Guest state: flat 64-bit mode with the VM's identity page tables.
    w('guestCr0', GUEST_CR0);
    w('guestCr3', GUEST_PAGE_TABLES);
    w('guestCr4', CR4_PAE | CR4_VMXE);
    w('guestIa32Efer', EFER_LME | EFER_LMA);
    w('guestIa32Pat', PAT_RESET);
    w('guestDr7', 0x400);
    for (const s of ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const) {
      w(`guest${s}Selector`, s === 'Cs' ? 0x08 : 0x10);
      w(`guest${s}Limit`, 0xffffffff);
      w(`guest${s}AccessRights`, s === 'Cs' ? AR_CODE64 : AR_DATA);
    }
    w('guestLdtrAccessRights', AR_UNUSABLE);
    w('guestTrSelector', 0x18);
    w('guestTrLimit', 0x67);
    w('guestTrAccessRights', AR_TSS);
    w('guestGdtrLimit', 0xffff);
    w('guestIdtrLimit', 0xffff);
    w('guestRsp', rsp);
    w('guestRip', rip);
    w('guestRflags', 0x2);
  }

  /**
   * Writes the whole VMCS for a guest entered at `rip` in 32-bit protected
   * mode with paging off, as a multiboot kernel starts (Multiboot
   * Specification §3.2; hypervisor/loaders/): the 64-bit setup less CR0.PG,
   * CR4.PAE, IA32_EFER and "IA-32e mode guest", with a 32-bit code segment
   * (CS.L 0, CS.D 1) — flat 4-GiB segments either way. CR0.PG = 0 needs
   * "unrestricted guest" (SDM Vol. 3C §25.6.2, §27.3.1.1), which needs EPT;
   * a processor without it is a HypervisorError (controls.ts). `regs` are
   * the guest's first register values (multiboot's EAX and EBX), the others
   * 0, ESP included: the kernel makes its own stack.
   */
  setupProtectedMode(rip: number, regs: readonly { reg: Reg; value: number }[], hostRip: number): void {
    this.setupLongMode(rip, 0, hostRip);
    const h = this.host, w = (name: FieldName, value: number): void => vmwriteField(h, name, value);
    w('secondaryProcessorBasedVmExecutionControls',
      (vmreadNumber(h, 'secondaryProcessorBasedVmExecutionControls') | chooseControls(h.c, 'proc2', ['unrestrictedGuest'])) >>> 0);
    w('vmEntryControls', (vmreadNumber(h, 'vmEntryControls') & ~controlMask('entry', ['ia32eModeGuest'])) >>> 0);
    w('guestCr0', CR0_PE | CR0_ET | CR0_NE);
    w('cr0ReadShadow', CR0_PE | CR0_ET | CR0_NE);
    w('guestCr3', 0);
    w('guestCr4', CR4_VMXE);
    w('cr4ReadShadow', 0);
    w('guestIa32Efer', 0);
    w('guestCsAccessRights', AR_CODE32);
    for (const { reg, value } of regs) this.savedGprs[reg << 1] = value | 0;
  }

  /**
   * VMLAUNCH or VMRESUME of this vCPU's VMCS (current on its core). A VMfail
   * means L1 wrote a bad VMCS: a HypervisorError naming the check that
   * failed. A VM-entry failure (exit reason bit 31) comes back as an exit.
   */
  enter(): void {
    const h = this.host;
    vmEntry(h.unit, h.c, !this.launched);
    if (h.c.nonRoot) {
      this.launched = true;
      return;
    }
    if (h.c.vmxBoundary) return; // a VM-entry failure: an exit for L1's handler
    const failed = h.unit.lastFailedCheck;
    throw new HypervisorError(`VM entry of ${this.name} failed: VMfailValid(${vmreadNumber(h, 'vmInstructionError')})` +
      (failed ? ` at ${failed.check} (${failed.section})` : ''));
  }

  /** The exit just taken, read from the VMCS. */
  readExit(): ExitRecord {
    const h = this.host;
    const reason = vmreadNumber(h, 'exitReason');
    this.exitCounts.set(reason & 0xffff, (this.exitCounts.get(reason & 0xffff) ?? 0) + 1);
    const qualLo = vmreadNumber(h, 'exitQualification'), qualHi = h.c.opHi;
    const ripLo = vmreadNumber(h, 'guestRip'), ripHi = h.c.opHi;
    return new ExitRecord(reason, qualLo, qualHi, ripLo, ripHi, vmreadNumber(h, 'vmExitInstructionLength'));
  }

  /** Moves the guest RIP past the exiting instruction (adding to the halves, carrying into bits 63:32). */
  skipInstruction(exit: ExitRecord): void {
    const lo = (exit.ripLo >>> 0) + exit.instructionLength;
    this.setRipAfterInstruction(lo | 0, lo >= TWO32 ? (exit.ripHi + 1) | 0 : exit.ripHi);
  }

  /** The guest RIP after an emulated instruction of `length` bytes at `rip`. */
  advanceRip(rip: bigint, length: number): void {
    const next = BigInt.asUintN(64, rip + BigInt(length));
    this.setRipAfterInstruction(loOf(next), hiOf(next));
  }

  /**
   * Sets the guest RIP to hi:lo past an instruction L1 completed for the
   * guest; completing an instruction also ends blocking by STI or MOV SS
   * (interruptibility bits 1:0, §25.4.2), as KVM's skip_emulated_instruction does.
   */
  private setRipAfterInstruction(lo: number, hi: number): void {
    const h = this.host;
    vmwriteHalves(h, 'guestRip', lo, hi);
    const blocking = vmreadNumber(h, 'guestInterruptibilityState');
    if ((blocking & BLOCKING_BY_STI_OR_MOV_SS) !== 0) vmwriteField(h, 'guestInterruptibilityState', blocking & ~BLOCKING_BY_STI_OR_MOV_SS);
  }

  /** A guest GPR's low 32 bits (while the vCPU has its core: the core holds them, exits do not save GPRs). */
  gpr32(r: Reg): number {
    return this.host.c.r[r << 1]!;
  }

  setGpr32(r: Reg, v: number): void {
    this.host.c.r[r << 1] = v | 0;
    this.host.c.r[(r << 1) + 1] = 0;
  }

  /** A guest GPR as a number (below 2^53). */
  gpr(r: Reg): number {
    const c = this.host.c;
    return (c.r[(r << 1) + 1]! >>> 0) * 2 ** 32 + (c.r[r << 1]! >>> 0);
  }

  /** Parks the guest's GPRs while another vCPU uses the core, and brings them back. */
  saveGprs(): void {
    this.savedGprs.set(this.host.c.r);
  }

  restoreGprs(): void {
    this.host.c.r.set(this.savedGprs);
  }

  /** "reason name ×count" for the summary, in reason order. */
  exitSummary(): string {
    return [...this.exitCounts.entries()].sort((a, b) => a[0] - b[0])
      .map(([r, n]) => `${exitReasonName(r)} ×${n}`).join(', ');
  }
}

/** The VMCS revision identifier, IA32_VMX_BASIC[30:0], through RDMSR as root software reads it. */
function vmcsRevision(h: HostCore): number {
  return readMsr(h.c, 0x480) & 0x7fffffff;
}
