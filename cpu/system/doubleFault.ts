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
 * unit chose to deliver).
 */
import { Activity, type Cpu, hex } from '../cpu.ts';
import { CpuException, Vector, VECTOR_NAMES } from '../exceptions.ts';
import { cpuLog } from '../log.ts';
import { deliverOnce } from './delivery.ts';
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

/**
 * Delivers an event (errorCode < 0: none pushed), applying Table 6-5 to
 * faults met on the way. `counted`: a software event's instruction was
 * counted as retired, and is uncounted when a fault reports it unretired.
 */
function deliver(c: Cpu, vector: number, kind: EventKind, errorCode: number, counted: boolean): void {
  let chain: string[] | null = null;
  for (;;) {
    try {
      deliverOnce(c, vector, kind, errorCode);
      return;
    } catch (e) {
      if (!(e instanceof CpuException)) throw e;
      const software = kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException || kind === EventKind.PrivilegedSoftware;
      if (software && counted) c.icount--;
      if (exits(c, e.vector, e.errorCode, kind, vector, errorCode)) return;
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
  deliver(c, vector, kind, errorCode, true);
}

/**
 * Delivers an event that VM entry injects (SDM Vol. 3C §27.6.1): for a
 * software one, c.rip is past it and c.sys.softwareRip the guest RIP, and
 * no instruction was counted.
 */
export function deliverInjectedEvent(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  deliver(c, vector, kind, errorCode, false);
}
