/**
 * Delivering an event with the double-fault rules (SDM Vol. 3A §6.15,
 * Interrupt 8, Table 6-5). A fault met while delivering an event is
 * combined with it by class: benign (everything not listed below,
 * external interrupts, NMI and software interrupts), contributory (#DE,
 * #TS, #NP, #SS, #GP, #CP) and page faults (#PF, #VE):
 *
 *   first \ second   benign    contributory   page fault
 *   benign           serial    serial         serial
 *   contributory     serial    #DF            serial
 *   page fault       serial    #DF            #DF
 *   double fault     serial    shutdown       shutdown
 *
 * "Serial" delivers the second event instead (the first is lost; a fault
 * re-executes its instruction later). A fault while delivering a software
 * interrupt is reported at the INT instruction itself, which then did not
 * retire. Shutdown (triple fault) stops the core with a report.
 *
 * In VMX non-root operation each fault met on the way is first offered to
 * the VMX unit, with the event it interrupted as IDT-vectoring information
 * (SDM Vol. 3C §28.2.3): only a fault that does not exit is combined. A
 * #DF so produced may exit too, without IDT-vectoring information, and
 * one that does not, met by another fault, is a triple fault, which exits
 * (§26.2). The event itself was offered before delivery began (events.ts),
 * or cannot exit (injected by VM entry, §27.6.1.2; an NMI or interrupt the
 * unit chose to deliver). A task gate in the IDT exits too, once the checks
 * before the task switch pass (§26.4.2), with the event as IDT-vectoring
 * information.
 *
 * A #PF or #DB changes CR2, or DR6 and DR7, only when it does not exit
 * directly (§28.1): in non-root operation these writes wait until the
 * exception is known to go on, to its delivery or to be combined with
 * the event it interrupted (outside it, the fault made them when raised).
 */
import { Activity, type Cpu, hex } from '../cpu.ts';
import { CpuException, Vector, VECTOR_NAMES } from '../exceptions.ts';
import { RF } from '../flags.ts';
import { cpuLog } from '../log.ts';
import { TaskSwitchSource, VmExitTaken } from '../vmxPort.ts';
import { debugExceptionState } from './debugRegs.ts';
import { deliverOnce, flagsImage } from './delivery.ts';
import { EventKind } from './eventKind.ts';

const enum Class { Benign, Contributory, PageFault, DoubleFault }

function classOf(vector: number, kind: EventKind): Class {
  if (kind !== EventKind.Hardware) return Class.Benign;
  switch (vector) {
    case Vector.DF: return Class.DoubleFault;
    case Vector.PF: case Vector.VE: return Class.PageFault;
    case Vector.DE: case Vector.TS: case Vector.NP: case Vector.SS: case Vector.GP: case Vector.CP:
      return Class.Contributory;
    default: return Class.Benign;
  }
}

function nameOf(vector: number, kind: EventKind): string {
  return kind === EventKind.Hardware ? (VECTOR_NAMES[vector] ?? `vector ${vector}`) : `vector ${vector}`;
}

/**
 * Shutdown after a triple fault: the core stops and the run reports the
 * state and the vector chain. In VMX non-root operation a triple fault is
 * a VM exit instead (SDM Vol. 3C §26.2).
 */
function tripleFault(c: Cpu, chain: string[]): void {
  if (c.nonRoot && c.vmx!.tripleFaultExit(c)) return;
  c.activity = Activity.Shutdown;
  const why = `triple fault (${chain.join(' → ')}) at rip=${hex(BigInt.asUintN(64, BigInt(c.rip)))}` +
    ` cr0=${hex(c.cr0, 8)} cr3=${hex(c.cr3)} cr4=${hex(c.cr4, 8)}`;
  cpuLog.debug(`core ${c.id}: ${why}`);
  c.stopReason = { kind: 'stop', why };
}

/** In VMX non-root operation, exception `vector` (raised delivering event `during`, or -1) exits instead. */
function exits(c: Cpu, vector: number, errorCode: number, during: number, duringVector: number, duringError: number): boolean {
  return c.nonRoot && c.vmx!.eventExit(c, vector, EventKind.Hardware, errorCode, during, duringVector, duringError);
}

const isSoftware = (kind: EventKind): boolean =>
  kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException || kind === EventKind.PrivilegedSoftware;

/** In VMX non-root operation: hardware exception `vector`, which did not exit directly, now writes CR2 or DR6/DR7. */
function faultState(c: Cpu, vector: number): void {
  if (!c.nonRoot) return;
  if (vector === Vector.PF) c.cr2 = c.faultPayload;
  else if (vector === Vector.DB) debugExceptionState(c, c.faultPayload);
}

/**
 * In VMX non-root operation a task gate in the IDT would switch to task
 * `tss`: the VM exit. A software event's instruction has not retired; RF
 * is what the RFLAGS image saved in the old TSS would have (§28.3.3).
 */
function taskGateExit(c: Cpu, tss: number, vector: number, kind: EventKind, errorCode: number, injected: boolean): void {
  if (isSoftware(kind) && !injected) c.icount--;
  c.eflags = (c.eflags & ~RF) | (flagsImage(c, kind, injected) & RF);
  c.vmx!.taskSwitchExit(c, tss, TaskSwitchSource.IdtGate, null, vector, kind, errorCode);
}

/**
 * Delivers an event (errorCode < 0: none pushed), applying Table 6-5 to
 * faults met on the way. `injected`: VM entry injects it (§27.6.1), so no
 * instruction was counted as retired; otherwise a software event's
 * instruction was, and is uncounted when a fault reports it unretired.
 */
function deliver(c: Cpu, vector: number, kind: EventKind, errorCode: number, injected: boolean): void {
  let chain: string[] | null = null;
  for (;;) {
    try {
      const tss = deliverOnce(c, vector, kind, errorCode, injected);
      if (tss >= 0) taskGateExit(c, tss, vector, kind, errorCode, injected);
      return;
    } catch (e) {
      if (e instanceof VmExitTaken) {
        // A VM exit met on the way (EPT): the event is the exit's IDT-vectoring information.
        if (isSoftware(kind) && !injected) c.icount--;
        c.vmx!.completeExit(c, kind, vector, errorCode);
        return;
      }
      if (!(e instanceof CpuException)) throw e;
      const software = isSoftware(kind);
      if (software && !injected) c.icount--;
      if (exits(c, e.vector, e.errorCode, kind, vector, errorCode)) return;
      faultState(c, e.vector);
      chain ??= [nameOf(vector, kind)];
      chain.push(nameOf(e.vector, EventKind.Hardware));
      if (software) c.rip = c.sys.softwareRip;
      const first = classOf(vector, kind), second = classOf(e.vector, EventKind.Hardware);
      if (first === Class.DoubleFault && second !== Class.Benign) {
        tripleFault(c, chain);
        return;
      }
      const double = second !== Class.Benign && (first === Class.PageFault || (first === Class.Contributory && second === Class.Contributory));
      kind = EventKind.Hardware;
      injected = false;
      if (double) {
        chain.push('#DF');
        vector = Vector.DF;
        errorCode = 0;
        if (exits(c, vector, errorCode, -1, 0, 0)) return;
      } else {
        vector = e.vector;
        errorCode = e.errorCode;
      }
    }
  }
}

/** Delivers an event raised at a boundary or by an instruction (a software one counted as retired by the run loop). */
export function deliverEvent(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  if (kind === EventKind.Hardware) faultState(c, vector);
  deliver(c, vector, kind, errorCode, false);
}

/**
 * Delivers an event that VM entry injects (SDM Vol. 3C §27.6.1): for a
 * software one, c.rip is past it and c.sys.softwareRip the guest RIP, and
 * no instruction was counted. An injected #PF or #DB writes neither CR2
 * nor DR6/DR7 (§27.6.1.1).
 */
export function deliverInjectedEvent(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  deliver(c, vector, kind, errorCode, true);
}
