/**
 * What L1 keeps about running one vCPU beside its VMCS: its multiprocessor
 * state (KVM's mp_state), its turn on its core, and which of the controls
 * L1 switches per entry its VMCS holds now (so that only changes are
 * written).
 */

/** KVM's KVM_MP_STATE_RUNNABLE, _HALTED and _INIT_RECEIVED (the wait-for-SIPI state, SDM Vol. 3A §9.4.2). */
export const enum MpState { Runnable, Halted, WaitForSipi }

export class RunState {
  mp = MpState.Runnable;
  /** RFLAGS.IF when the vCPU halted: only then does an interrupt wake it (SDM Vol. 2A HLT); and whether NMIs were blocked (in an NMI handler), so that none does. */
  haltedWithIf = false;
  haltedBlockingNmi = false;
  /** A SIPI started the vCPU with this vector; L1 sets it up at its next entry (-1: none). */
  startVector = -1;
  /** TSC at which the vCPU's turn on its core ends. */
  sliceEnd = 0;
  /** The VMCS has "activate VMX-preemption timer", "interrupt-window exiting", guest activity state HLT. */
  preemptionTimerOn = false;
  interruptWindowOn = false;
  activityHlt = false;

  /** The VMCS was written anew (Vcpu.setupLongMode): it holds none of the switched controls. */
  vmcsReset(): void {
    this.preemptionTimerOn = this.interruptWindowOn = this.activityHlt = false;
  }
}
