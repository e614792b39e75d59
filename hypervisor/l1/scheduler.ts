/**
 * Which vCPU a core runs next, and for how long (L1's share of what KVM
 * leaves to the host scheduler, kvm_vcpu_halt and the hv timer): at every
 * exit the core's runner (coreRunner.ts) asks `pickTurn`, then `enterTurn`.
 *
 * Time is the core's TSC (DESIGN decision 3). Before choosing, each vCPU
 * of the core takes its APIC timer's expiries and its pending INIT/SIPI
 * (mpState.ts); a halted vCPU with an event that wakes it becomes
 * runnable.
 *
 * Turns: the running vCPU keeps the core while it is runnable and its
 * slice (SLICE_TIMER_TICKS ticks of the VMX-preemption timer) lasts, or
 * while no other vCPU of the core is runnable; otherwise the next runnable
 * one after it, in the core's order, gets a new slice. A vCPU that exits
 * for other reasons keeps its slice's end, so exits do not stretch turns.
 * A vCPU that an event wakes (or a SIPI starts) takes the core at once.
 *
 * Every entry sets a deadline: the first of the end of the slice if
 * another vCPU of the core waits for its turn, the vCPU's own APIC timer,
 * and the APIC timers of the core's halted vCPUs that they would wake up
 * for. It arms the VMX-preemption timer (pin control, SDM Vol. 3C §26.5.1;
 * exit reason 52), switched off when there is no deadline. The timer
 * counts down each time TSC bit X changes (X = IA32_VMX_MISC[4:0]), so it
 * expires at the first multiple of 2^X at or after the deadline: value
 * ceil(deadline / 2^X) - floor(now / 2^X). A processor without the timer
 * gets L1's own APIC timer instead (hostApic.ts), whose interrupt exits
 * as an external interrupt (reason 1).
 *
 * With no runnable vCPU, the core is parked in one of its vCPUs entered
 * with guest activity state HLT (§25.4.2): the guest does nothing, the
 * preemption timer still counts (and HLT time skips ahead to it), and a
 * kick from another core exits as an external interrupt — whereas L1
 * halting the core itself could not be woken. With no vCPU left at all,
 * the core halts.
 */
import { readMsr } from '../../cpu/exec/msr.ts';
import { readTsc } from '../../cpu/tsc.ts';
import { controlMask } from '../../vmx/model/controls.ts';
import { chooseControls } from '../controls.ts';
import type { Vcpu } from '../vcpu.ts';
import { injectPendingEvent } from './eventInjection.ts';
import { armHostTimer } from './hostApic.ts';
import { acceptInitSipi, hasWakeEvent, startAtSipi } from './mpState.ts';
import { MpState } from './runState.ts';
import { type HostCore, vmreadNumber, vmwriteField } from './vmxOps.ts';

/** A turn's length in VMX-preemption-timer ticks. */
export const SLICE_TIMER_TICKS = 256;

const IA32_VMX_MISC = 0x485;
const ACTIVATE_PREEMPTION_TIMER = controlMask('pin', ['activatePreemptionTimer']);
const MAX_TIMER_VALUE = 0xffffffff;
const ACTIVITY_ACTIVE = 0, ACTIVITY_HLT = 1;

/** The vCPU a core enters next; `parked`: none is runnable, it is entered in HLT to wait. */
export interface Turn {
  readonly index: number;
  readonly parked: boolean;
}

export class CoreScheduler {
  /** The processor has the VMX-preemption timer (allowed-1 setting of its pin control, Appendix A.3.1). */
  readonly preemptionTimer: boolean;
  /** TSC ticks per VMX-preemption-timer tick: 2^IA32_VMX_MISC[4:0]. */
  readonly timerPeriod: number;
  /** The deadline L1's APIC timer is armed for, without the preemption timer. */
  private hostTimerDeadline = Infinity;

  constructor(readonly host: HostCore, private readonly vcpus: readonly Vcpu[]) {
    this.preemptionTimer = (chooseControls(host.c, 'pin', [], ['activatePreemptionTimer']) & ACTIVATE_PREEMPTION_TIMER) !== 0;
    this.timerPeriod = 2 ** (readMsr(host.c, IA32_VMX_MISC) & 0x1f);
  }

  get sliceTicks(): number {
    return SLICE_TIMER_TICKS * this.timerPeriod;
  }

  /** The core's TSC, as L1 reads it (RDTSC in root operation). */
  now(): number {
    return readTsc(this.host.c);
  }

  /**
   * Takes each vCPU's events up to `now`, waking the halted vCPUs they are
   * for and starting those a SIPI is for; returns the first vCPU after
   * `current`, in the core's order, that became runnable so, or -1.
   */
  private takeEvents(current: number, now: number): number {
    const n = this.vcpus.length;
    let woken = -1;
    for (let step = 1; step <= n; step++) {
      const k = (current + step + n) % n, v = this.vcpus[k]!, r = v.runState;
      if (v.stopped) continue;
      const before = r.mp;
      v.lapic.pollTimer(now);
      acceptInitSipi(v);
      if (r.mp === MpState.Halted && hasWakeEvent(v)) r.mp = MpState.Runnable;
      if (woken < 0 && before !== MpState.Runnable && r.mp === MpState.Runnable) woken = k;
    }
    return woken;
  }

  private runnable(k: number): boolean {
    const v = this.vcpus[k];
    return v !== undefined && !v.stopped && v.runState.mp === MpState.Runnable;
  }

  /** Another vCPU of the core than `k` is runnable. */
  private othersRunnable(k: number): boolean {
    return this.vcpus.some((_, j) => j !== k && this.runnable(j));
  }

  /** A new turn for vCPU `k` from `now`. */
  private newTurn(k: number, now: number): Turn {
    this.vcpus[k]!.runState.sliceEnd = now + this.sliceTicks;
    return { index: k, parked: false };
  }

  /**
   * The vCPU to enter after `current` (-1 at start) at TSC `now`, or null
   * when none is left. A vCPU that an event just woke takes the core at
   * once, as a woken vCPU thread preempts under the host scheduler KVM
   * relies on, so that a halted guest's interrupt is not held back by a
   * turn; the vCPU it preempts waits for its next turn.
   */
  pickTurn(current: number, now: number): Turn | null {
    const woken = this.takeEvents(current, now);
    if (woken >= 0 && woken !== current) return this.newTurn(woken, now);
    if (this.runnable(current)) {
      const r = this.vcpus[current]!.runState;
      if (now < r.sliceEnd) return { index: current, parked: false };
      if (!this.othersRunnable(current)) return this.newTurn(current, now);
    }
    const n = this.vcpus.length;
    for (let step = 1; step <= n; step++) {
      const k = (current + step + n) % n;
      if (this.runnable(k)) return this.newTurn(k, now);
    }
    const stay = current >= 0 && !this.vcpus[current]!.stopped ? current : this.vcpus.findIndex((v) => !v.stopped);
    return stay < 0 ? null : { index: stay, parked: true };
  }

  /** The TSC (after now: timers are polled, slices renewed) at which the core must leave `t`'s vCPU to look at its vCPUs again, or Infinity. */
  private deadline(t: Turn): number {
    let d = !t.parked && this.othersRunnable(t.index) ? this.vcpus[t.index]!.runState.sliceEnd : Infinity;
    this.vcpus.forEach((v, k) => {
      const wakes = v.runState.mp === MpState.Halted && v.runState.haltedWithIf;
      if (!v.stopped && ((k === t.index && !t.parked) || wakes)) d = Math.min(d, v.lapic.timer.nextExpiry());
    });
    return d;
  }

  /** Arms the VMX-preemption timer of `v` (its VMCS current) to expire at TSC `deadline`, or switches it off for Infinity. */
  private armPreemptionTimer(v: Vcpu, deadline: number, now: number): void {
    const r = v.runState, on = deadline !== Infinity;
    if (r.preemptionTimerOn !== on) {
      const pin = vmreadNumber(this.host, 'pinBasedVmExecutionControls');
      vmwriteField(this.host, 'pinBasedVmExecutionControls', (on ? pin | ACTIVATE_PREEMPTION_TIMER : pin & ~ACTIVATE_PREEMPTION_TIMER) >>> 0);
      r.preemptionTimerOn = on;
    }
    if (!on) return;
    const p = this.timerPeriod;
    vmwriteField(this.host, 'vmxPreemptionTimerValue', Math.min(Math.ceil(deadline / p) - Math.floor(now / p), MAX_TIMER_VALUE));
  }

  /** Brings L1 back at TSC `deadline` (Infinity: no need) while `v` runs from `now`. */
  private armDeadline(v: Vcpu, deadline: number, now: number): void {
    if (this.preemptionTimer) {
      this.armPreemptionTimer(v, deadline, now);
    } else if (deadline !== this.hostTimerDeadline) {
      armHostTimer(this.host, deadline);
      this.hostTimerDeadline = deadline;
    }
  }

  /** Guest activity state HLT for a parked vCPU, active for one that runs (§25.4.2). */
  private setActivity(v: Vcpu, hlt: boolean): void {
    if (v.runState.activityHlt === hlt) return;
    vmwriteField(this.host, 'guestActivityState', hlt ? ACTIVITY_HLT : ACTIVITY_ACTIVE);
    v.runState.activityHlt = hlt;
  }

  /** Enters the vCPU of turn `t` (its VMCS current on this core and its GPRs in the core) at TSC `now`. */
  enterTurn(t: Turn, now: number, hostRip: number): void {
    const v = this.vcpus[t.index]!;
    if (v.runState.startVector >= 0) startAtSipi(v, hostRip);
    this.setActivity(v, t.parked);
    if (!t.parked) injectPendingEvent(v);
    this.armDeadline(v, this.deadline(t), now);
    v.enter();
  }
}
