/**
 * L1 on one core (DESIGN decision 2): the native handlers at this core's
 * HOST_RIP. At start it launches the first of the core's vCPUs; at each VM
 * exit it reads the exit, lets the handler of its reason decide
 * (exits/dispatch.ts), records it, carries the decision out and enters a
 * vCPU again — the same one while it can run, else the next runnable one
 * on this core, switching VMCS and general-purpose registers as KVM does on
 * a vCPU switch. With none left, the core halts with interrupts off.
 */
import { Activity } from '../../cpu/cpu.ts';
import { IF } from '../../cpu/flags.ts';
import { nativeHandlerAddress } from '../../vmx/transition/nativeHandlers.ts';
import { dispatchExit } from '../exits/dispatch.ts';
import { traceEvent, type L1TraceEvent } from '../trace.ts';
import type { Vcpu } from '../vcpu.ts';
import type { HostCore } from './vmxOps.ts';

/** HOST_RIP of every VMCS L1 writes, and the address a core starts L1 at. */
export const EXIT_HANDLER_RIP = nativeHandlerAddress(0);
export const START_RIP = nativeHandlerAddress(1);

export class CoreRunner {
  readonly vcpus: Vcpu[] = [];
  private current = -1;

  constructor(readonly host: HostCore, private readonly record: (e: L1TraceEvent) => void) {
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
    const d = dispatchExit(v, exit);
    this.record(traceEvent(this.host.c.icount, this.host.c.id, v.name, exit.reason, exit.qualification, exit.guestRip, d.handler, d.kind));
    if (d.kind === 'skip') v.skipInstruction(exit);
    if (d.kind === 'stop') {
      v.vm.outcome = d.outcome;
      for (const other of v.vm.vcpus) other.stopped = true;
    }
    this.runNext(this.current);
  }

  /** Enters `from` again if it can run, else the next runnable vCPU after it; halts the core if there is none. */
  private runNext(from: number): void {
    const n = this.vcpus.length;
    for (let step = from < 0 ? 1 : 0; step <= n; step++) {
      const k = ((from < 0 ? -1 : from) + step + n) % n;
      const v = this.vcpus[k];
      if (!v || v.stopped) continue;
      if (k !== this.current) {
        if (this.current >= 0) this.vcpus[this.current]!.saveGprs();
        v.restoreGprs();
        v.load();
        this.current = k;
      }
      v.enter();
      return;
    }
    const c = this.host.c;
    c.eflags &= ~IF;
    c.activity = Activity.Hlt;
  }
}
