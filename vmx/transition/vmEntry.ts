/**
 * VMLAUNCH and VMRESUME in VMX root operation (SDM Vol. 3C ch. 31, their
 * instruction page; ch. 27 "VM Entries"), in the SDM's order:
 *
 *   1. the instruction's checks (§27.1): #UD/#GP(0); VMfailInvalid with no
 *      current VMCS or a shadow VMCS current; VMfailValid(26) when events
 *      are blocked by MOV SS; VMfailValid(4)/(5) for the launch state;
 *   2. the checks on VMX controls (VMfailValid(7)) and on the host-state
 *      area (VMfailValid(8)) (§27.2);
 *   3. the checks on the guest-state area and the PDPTEs (§27.3.1), whose
 *      failure is a VM-entry failure with basic reason 33;
 *   4. loading guest state (§27.3.2), then the VM-entry MSR-load area
 *      (§27.4, failure: basic reason 34);
 *   5. the launch state, non-root operation, the activity and
 *      interruptibility state (§27.7), and event injection (§27.6).
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { loadPdptes, pdpteRegisters } from '../../cpu/memory/paging.ts';
import { pdptesValid } from '../../cpu/memory/pagingPdpte.ts';
import { EFER_LMA, PagingMode, pagingMode } from '../../cpu/memory/pagingUnit.ts';
import { joinSigned } from '../../cpu/registers.ts';
import { checkVmxControls, type ControlCheckContext } from '../entry/controlChecks.ts';
import { checkGuestState, type GuestCheckContext } from '../entry/guestStateChecks.ts';
import { checkHostState } from '../entry/hostStateChecks.ts';
import { ia32eModeGuest, injectedType, INTERRUPTION_OTHER } from '../entry/guestCheckSupport.ts';
import { secondaryControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import { VmInstructionError } from '../instructionError.ts';
import { controlMask } from '../model/controls.ts';
import { requireVmxRootCpl0 } from '../unit/checks.ts';
import { vmFailInvalid, vmFailValid } from '../unit/conventions.ts';
import { INVALID_POINTER, type VmxState } from '../unit/vmxState.ts';
import { guestEvents, holdsNmiBlocking } from '../exit/eventState.ts';
import { startMtf } from '../exit/monitorTrap.ts';
import { startPreemptionTimer } from '../exit/preemptionTimer.ts';
import { PDPTE_FIELDS } from './guestState.ts';
import { BLOCKING_BY_MOV_SS, BLOCKING_BY_NMI, BLOCKING_BY_STI, loadGuestState, natural } from './guestState.ts';
import { injectEvent } from './injection.ts';
import { loadMsrArea } from './msrLists.ts';
import { transitionRecord } from './transitionRecord.ts';
import { vmEntryFailure } from './vmExit.ts';

const ENABLE_EPT = controlMask('proc2', ['enableEpt']);
const pdptes = new Int32Array(8);

/** Exit qualifications of basic reason 33 (§27.8). */
const enum GuestStateFailure { Default = 0, Pdptes = 2, VmcsLinkPointer = 4 }

/** What the checks read beyond the VMCS: the physical-address width, the host's mode, two values in memory. */
class CoreEntryContext implements ControlCheckContext, GuestCheckContext {
  /** Set by vmEntry before the guest-state checks. */
  currentVmcs = INVALID_POINTER;
  constructor(private readonly c: Cpu) {}
  get physAddrBits(): number { return this.c.model.physAddrBits; }
  get hostInIa32eMode(): boolean { return (this.c.efer & EFER_LMA) !== 0; }
  readonly readVtpr = (low: number, high: number): number => this.c.phys.read8(joinSigned(low, high) + 0x80);
  readonly readLinkRevision = (low: number, high: number): number => this.c.phys.readSized(joinSigned(low, high), 4);
}
const contexts = new WeakMap<Cpu, CoreEntryContext>();
function contextOf(c: Cpu): CoreEntryContext {
  let x = contexts.get(c);
  if (!x) contexts.set(c, (x = new CoreEntryContext(c)));
  return x;
}

/**
 * The guest's PDPTEs under PAE paging without EPT (§27.3.1.6): loaded from
 * the guest CR3 before any guest state, false if one is invalid.
 */
function guestPdptesLoad(s: VmxState, c: Cpu): boolean {
  const v = s.vmcs;
  const efer = ia32eModeGuest(v) ? EFER_LMA : 0;
  if (pagingMode(lo(v, SLOT.guestCr0), lo(v, SLOT.guestCr4), efer) !== PagingMode.Pae) return true;
  if ((secondaryControls(v) & ENABLE_EPT) === 0) return loadPdptes(c, natural(v, SLOT.guestCr3));
  // With EPT the PDPTEs come from the guest PDPTE fields, checked like loaded ones (§27.3.1.6, §27.3.2.4).
  for (let i = 0; i < 4; i++) {
    pdptes[2 * i] = v.lo[PDPTE_FIELDS[i]!]!;
    pdptes[2 * i + 1] = v.hi[PDPTE_FIELDS[i]!]!;
  }
  if (!pdptesValid(pdptes, c.model.physAddrBits)) return false;
  pdpteRegisters(c).set(pdptes);
  return true;
}

/**
 * §27.7 for a successful entry: the activity and interruptibility state
 * (§27.7.1, §27.7.2), then what the VMX unit keeps for this stay in
 * non-root operation: the VMX-preemption timer (§27.7.4), the monitor trap
 * flag (§26.5.2) and blocking by NMI that IRET must not end (§26.3). The
 * unit looks at the boundary before the first guest instruction (pending
 * events, the windows of §27.7.5 and §27.7.6). `vectoring`: the entry
 * injects an event through the IDT.
 */
function enterGuestEventState(s: VmxState, c: Cpu): void {
  const v = s.vmcs;
  const blocking = lo(v, SLOT.guestInterruptibilityState);
  const vectoring = injectedType(v) >= 0 && injectedType(v) !== INTERRUPTION_OTHER;
  // A vectoring entry leaves the processor active, whatever the activity-state field says (§27.7.2).
  c.activity = vectoring ? Activity.Active : lo(v, SLOT.guestActivityState) as Activity;
  // Blocking by STI or MOV SS covers the guest's first instruction, unless the entry injects an event (§27.7.1).
  if (!vectoring && (blocking & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS)) !== 0) {
    c.inhibitUntil = c.icount + 2;
    c.inhibitByMovSs = (blocking & BLOCKING_BY_MOV_SS) !== 0;
  } else {
    c.inhibitUntil = 0;
  }
  // With "virtual NMIs" the flag is virtual-NMI blocking; NMIs themselves are then never blocked by NMI.
  c.sys.nmiBlocked = (blocking & BLOCKING_BY_NMI) !== 0;
  const g = guestEvents(s);
  g.stay++;
  g.holdNmiBlocking = c.sys.nmiBlocked && holdsNmiBlocking(s);
  startPreemptionTimer(s, c, g);
  startMtf(s, c, g, vectoring);
  // Whatever is pending is looked at again in the guest's context.
  c.eventsPending = true;
  c.vmxBoundary = true;
}

/**
 * VMLAUNCH (`launch`) or VMRESUME of the current VMCS. On success the core
 * is in non-root operation with the guest's state; on VMfail the flags say
 * so and nothing else changed; on a VM-entry failure the core is back in
 * root operation with host state (vmExit.ts).
 */
export function vmEntry(s: VmxState, c: Cpu, launch: boolean): void {
  requireVmxRootCpl0(s, c);
  const v = s.vmcs;
  if (s.currentVmcs === INVALID_POINTER || s.currentIsShadow) {
    vmFailInvalid(c);
    return;
  }
  if (c.inhibitUntil > c.icount && c.inhibitByMovSs) {
    vmFailValid(s, c, VmInstructionError.VmentryEventsBlockedByMovSs);
    return;
  }
  if (launch && v.launched) {
    vmFailValid(s, c, VmInstructionError.VmlaunchNonClearVmcs);
    return;
  }
  if (!launch && !v.launched) {
    vmFailValid(s, c, VmInstructionError.VmresumeNonLaunchedVmcs);
    return;
  }
  const ctx = contextOf(c);
  const hostIa32e = ctx.hostInIa32eMode;
  if (!s.controlHostMemo.passed(v, s.model, hostIa32e)) {
    s.lastFailedCheck = checkVmxControls(v, s.model, ctx);
    if (s.lastFailedCheck) {
      vmFailValid(s, c, VmInstructionError.VmentryInvalidControlFields);
      return;
    }
    s.lastFailedCheck = checkHostState(v, s.model, ctx);
    if (s.lastFailedCheck) {
      vmFailValid(s, c, VmInstructionError.VmentryInvalidHostStateFields);
      return;
    }
    s.controlHostMemo.remember(v, s.model, hostIa32e);
  }
  ctx.currentVmcs = s.currentVmcs;
  const failed = (s.lastFailedCheck = checkGuestState(v, s.model, ctx));
  if (failed) {
    const qual = failed.check.startsWith('vmcsLinkPointer') ? GuestStateFailure.VmcsLinkPointer : GuestStateFailure.Default;
    vmEntryFailure(s, c, ExitReason.VmentryFailureGuestState, qual);
    return;
  }
  if (!guestPdptesLoad(s, c)) {
    vmEntryFailure(s, c, ExitReason.VmentryFailureGuestState, GuestStateFailure.Pdptes);
    return;
  }
  loadGuestState(s, c);
  const badEntry = loadMsrArea(c, natural(v, SLOT.vmEntryMsrLoadAddress), lo(v, SLOT.vmEntryMsrLoadCount));
  if (badEntry !== 0) {
    vmEntryFailure(s, c, ExitReason.VmentryFailureMsrLoading, badEntry);
    return;
  }
  if (launch) v.launched = true;
  c.nonRoot = true;
  enterGuestEventState(s, c);
  if (s.onTransition) {
    s.onTransition(transitionRecord('vmentry', c.id, c.icount, 0, 0, 0, v.lo[SLOT.guestRip]!, v.hi[SLOT.guestRip]!));
  }
  // Last (§27.6), and after the entry's record: the delivery may end in a VM exit.
  injectEvent(s, c);
}
