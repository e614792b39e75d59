/**
 * L1 on one core (DESIGN decision 2): the native handlers at this core's
 * HOST_RIP. At start it launches the first of the core's vCPUs; at each VM
 * exit it reads the exit, lets the handler of its reason decide
 * (exits/dispatch.ts), records it, carries the decision out and enters a
 * vCPU again — the one the scheduler picks (scheduler.ts: the same one
 * while its turn lasts, else the next runnable one, else one parked in
 * HLT), switching VMCS and general-purpose registers as KVM does on a vCPU
 * switch. With none left, the core halts with interrupts off.
 */
import { Activity } from '../../cpu/cpu.ts';
import { IF } from '../../cpu/flags.ts';
import { joinSigned } from '../../cpu/registers.ts';
import { nativeHandlerAddress } from '../../vmx/transition/nativeHandlers.ts';
import { type CodeBits, guestInstruction } from '../disassemble.ts';
import { dispatchExit } from '../exits/dispatch.ts';
import { requeueInterruptedEvent } from '../exits/reinject.ts';
import { traceEvent, type L1TraceEvent } from '../trace.ts';
import type { Vcpu } from '../vcpu.ts';
import type { Vm, VmOutcome } from '../vm.ts';
import { kickCore } from './hostApic.ts';
import { MpState } from './runState.ts';
import { CoreScheduler } from './scheduler.ts';
import { type HostCore, vmreadNumber } from './vmxOps.ts';

/** HOST_RIP of every VMCS L1 writes, and the address a core starts L1 at. */
export const EXIT_HANDLER_RIP = nativeHandlerAddress(0);
export const START_RIP = nativeHandlerAddress(1);

const AR_L = 1 << 13, AR_DB = 1 << 14;

/** The instruction at the exit, for the trace: decoded in the guest's code size (CS.L, CS.D/B) at CS base + RIP. */
function exitingInstruction(v: Vcpu, rip: number): string {
  const ar = vmreadNumber(v.host, 'guestCsAccessRights');
  const bits: CodeBits = (ar & AR_L) !== 0 ? 64 : (ar & AR_DB) !== 0 ? 32 : 16;
  return guestInstruction(v.vm, bits === 64 ? rip : vmreadNumber(v.host, 'guestCsBase') + rip, bits);
}

export class CoreRunner {
  readonly vcpus: Vcpu[] = [];
  private current = -1;
  private readonly scheduler: CoreScheduler;

  constructor(readonly host: HostCore, private readonly record: (e: L1TraceEvent) => void) {
    this.scheduler = new CoreScheduler(host, this.vcpus);
    host.unit.registerNative(EXIT_HANDLER_RIP, () => this.onExit());
    host.unit.registerNative(START_RIP, () => this.runNext(-1));
  }

  /** Starts L1 on this core at the next instruction boundary. */
  start(): void {
    this.host.c.rip = START_RIP;
    this.host.c.vmxBoundary = true;
  }

  private onExit(): void {
    const v = this.vcpus[this.current]!;
    const exit = v.readExit();
    requeueInterruptedEvent(v, exit);
    const d = dispatchExit(v, exit);
    const c = this.host.c;
    this.record(traceEvent(c.icount, c.id, v.name, exit.reason, exit.qualLo, exit.qualHi, exit.ripLo, exit.ripHi,
      d.handler, d.kind, exitingInstruction(v, joinSigned(exit.ripLo, exit.ripHi))));
    if (d.kind === 'skip') v.skipInstruction(exit);
    if (d.kind === 'stop') this.stopVm(v.vm, d.outcome);
    this.runNext(this.current);
  }

  /**
   * Ends `vm` with `outcome`. Its runnable vCPUs on other cores may be
   * running guest code that never exits: their cores are kicked
   * (hostApic.ts), as KVM kicks the vCPUs of a VM it stops, so that they
   * leave the VM at their next instruction boundary (an external-interrupt
   * exit, after which the scheduler no longer enters them) instead of
   * running on to the end of the run. A halted one runs no guest code.
   */
  private stopVm(vm: Vm, outcome: VmOutcome): void {
    vm.outcome = outcome;
    for (const other of vm.vcpus) {
      other.stopped = true;
      if (other.host !== this.host && other.runState.mp === MpState.Runnable) kickCore(this.host, other.host.c.id);
    }
  }

  /**
   * Enters the vCPU the scheduler picks after `from` (scheduler.ts): the
   * same one while its turn lasts, else the next runnable one, else one
   * parked in HLT; halts the core when no vCPU is left.
   */
  private runNext(from: number): void {
    const now = this.scheduler.now();
    const turn = this.scheduler.pickTurn(from, now);
    if (!turn) {
      const c = this.host.c;
      c.eflags &= ~IF;
      c.activity = Activity.Hlt;
      return;
    }
    const v = this.vcpus[turn.index]!;
    if (turn.index !== this.current) {
      if (this.current >= 0) this.vcpus[this.current]!.saveGprs();
      v.restoreGprs();
      v.load();
      this.current = turn.index;
    }
    this.scheduler.enterTurn(turn, now, EXIT_HANDLER_RIP);
  }
}
