/**
 * VM exits (SDM Vol. 3C ch. 28 "VM Exits"), and the VM-entry failures that
 * end the same way (§27.8): record the exit information (§28.2), save guest
 * state and MSRs (§28.3, §28.4), load host state and MSRs (§28.5, §28.6);
 * a failure on the way is a VMX abort (§28.7). The core is then in VMX root
 * operation at HOST_RIP; if that is a native handler's address, the handler
 * runs at the next instruction boundary (nativeHandlers.ts).
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { EFER_LMA } from '../../cpu/system/mode.ts';
import { bit, pinControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { savePreemptionTimer } from '../exit/preemptionTimer.ts';
import { ExitReason } from '../exitReason.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import { ABORT_OFFSET } from '../unit/vmcsRegion.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { natural, saveGuestState, setNatural } from './guestState.ts';
import { loadHostState } from './hostState.ts';
import { loadMsrArea, storeMsrArea } from './msrLists.ts';
import { inNativeRegion } from './nativeHandlers.ts';
import { transitionRecord } from './transitionRecord.ts';

/** VMX-abort indicators (§28.7). */
export const enum VmxAbort { SavingGuestMsrs = 1, HostPdptes = 2, LoadingHostMsrs = 4 }

const VALID = 0x80000000;
const VIRTUAL_NMIS = bit('pin', 'virtualNmis');
const ENTRY_IA32E = bit('entry', 'ia32eModeGuest');
/** IA32_VMX_MISC bit 5: VM exits store IA32_EFER.LMA into the "IA-32e mode guest" VM-entry control (Appendix A.6). */
const MISC_STORE_LMA = 1 << 5;

function setField(s: VmxState, slot: number, low: number, high = 0): void {
  s.vmcs.lo[slot] = low | 0;
  s.vmcs.hi[slot] = high | 0;
}

/**
 * A VMX abort (§28.7): the indicator goes to the VMCS region and the
 * core enters the shutdown state, outside non-root operation; the run
 * stops with a report.
 */
function vmxAbort(s: VmxState, c: Cpu, indicator: VmxAbort): void {
  c.phys.writeSized(s.currentVmcs + ABORT_OFFSET, 4, indicator);
  c.nonRoot = false;
  c.activity = Activity.Shutdown;
  c.stopReason = { kind: 'stop', why: `VMX abort ${indicator} (SDM Vol. 3C §28.7)` };
  c.exitBlock = true;
}

/** Host state and the VM-exit MSR-load area, then root operation at HOST_RIP (§28.5, §28.6). */
function enterHost(s: VmxState, c: Cpu): void {
  const v = s.vmcs;
  c.nonRoot = false;
  c.activity = Activity.Active;
  c.inhibitUntil = 0;
  if (!loadHostState(v, c)) {
    vmxAbort(s, c, VmxAbort.HostPdptes);
    return;
  }
  if (loadMsrArea(c, natural(v, SLOT.vmExitMsrLoadAddress), lo(v, SLOT.vmExitMsrLoadCount)) !== 0) {
    vmxAbort(s, c, VmxAbort.LoadingHostMsrs);
    return;
  }
  c.exitBlock = true;
  if (inNativeRegion(c.rip)) c.vmxBoundary = true;
}

function trace(s: VmxState, c: Cpu, kind: 'vmexit' | 'entry-failure', reason: number, qualLo: number, qualHi: number): void {
  const v = s.vmcs;
  s.onTransition!(transitionRecord(kind, c.id, c.icount, reason, qualLo, qualHi, v.lo[SLOT.guestRip]!, v.hi[SLOT.guestRip]!));
}

/**
 * A VM exit from non-root operation with basic reason `reason` and exit
 * qualification qualHi:qualLo; `rip` is the guest RIP to save (§28.3.3).
 * The other information comes from s.exitInfo, which is reset.
 */
export function vmExit(s: VmxState, c: Cpu, reason: ExitReason, qualLo: number, qualHi: number, rip: number): void {
  const v = s.vmcs, x = s.exitInfo;
  setField(s, SLOT.exitReason, reason);
  setField(s, SLOT.exitQualification, qualLo, qualHi);
  setField(s, SLOT.vmExitInterruptionInformation, x.interruptionInfo);
  if ((x.interruptionInfo & VALID) !== 0) setField(s, SLOT.vmExitInterruptionErrorCode, x.interruptionErrorCode);
  setField(s, SLOT.idtVectoringInformationField, x.vectoringInfo);
  if ((x.vectoringInfo & VALID) !== 0) setField(s, SLOT.idtVectoringErrorCode, x.vectoringErrorCode);
  if (x.instructionLength >= 0) setField(s, SLOT.vmExitInstructionLength, x.instructionLength);
  if (x.instructionInfo >= 0) setField(s, SLOT.vmExitInstructionInformation, x.instructionInfo);
  if (!Number.isNaN(x.guestLinearAddress)) setNatural(v, SLOT.guestLinearAddress, x.guestLinearAddress);
  if (!Number.isNaN(x.guestPhysicalAddress)) setNatural(v, SLOT.guestPhysicalAddress, x.guestPhysicalAddress);
  x.reset();
  // VM exits also update VM-entry control fields (§28.2): the valid bit of the VM-entry interruption
  // information, and, when IA32_VMX_MISC bit 5 says so (Appendix A.6), "IA-32e mode guest" := IA32_EFER.LMA.
  v.lo[SLOT.vmEntryInterruptionInformationField] = v.lo[SLOT.vmEntryInterruptionInformationField]! & ~VALID;
  if ((s.model.read(VMX_MSR.MISC)!.lo & MISC_STORE_LMA) !== 0) {
    const entry = v.lo[SLOT.vmEntryControls]!;
    v.lo[SLOT.vmEntryControls] = (c.efer & EFER_LMA) !== 0 ? entry | ENTRY_IA32E : entry & ~ENTRY_IA32E;
  }
  saveGuestState(v, c, rip);
  savePreemptionTimer(s, c);
  // With "virtual NMIs" the core's NMI flag held virtual-NMI blocking: NMIs themselves are not blocked in
  // non-root operation (§27.7.1), so the host starts without blocking by NMI (an NMI exit sets it afterwards).
  if ((pinControls(v) & VIRTUAL_NMIS) !== 0) c.sys.nmiBlocked = false;
  if (storeMsrArea(c, natural(v, SLOT.vmExitMsrStoreAddress), lo(v, SLOT.vmExitMsrStoreCount)) !== 0) {
    vmxAbort(s, c, VmxAbort.SavingGuestMsrs);
    return;
  }
  if (s.onTransition) trace(s, c, 'vmexit', reason, qualLo, qualHi);
  enterHost(s, c);
}

/**
 * A VM entry that fails after the checks on controls and host state
 * (§27.8): exit reason `reason` with bit 31 set and qualification `qual`;
 * no other information field, no guest state, no MSR store and no change to
 * the VM-entry interruption information. Blocking by NMI stays as before.
 */
export function vmEntryFailure(s: VmxState, c: Cpu, reason: ExitReason, qual: number): void {
  const field = (reason | VALID) >>> 0;
  setField(s, SLOT.exitReason, field);
  setField(s, SLOT.exitQualification, qual);
  if (s.onTransition) trace(s, c, 'entry-failure', field, qual, 0);
  enterHost(s, c);
}
