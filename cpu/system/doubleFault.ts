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

/** Delivers an event (errorCode < 0: none pushed), applying Table 6-5 to faults met on the way. */
export function deliverEvent(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  let chain: string[] | null = null;
  for (;;) {
    try {
      deliverOnce(c, vector, kind, errorCode);
      return;
    } catch (e) {
      if (!(e instanceof CpuException)) throw e;
      chain ??= [nameOf(vector, kind)];
      chain.push(nameOf(e.vector, EventKind.Hardware));
      if (kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException || kind === EventKind.PrivilegedSoftware) {
        c.rip = c.sys.softwareRip;
        c.icount--;
      }
      const first = classOf(vector, kind), second = classOf(e.vector, EventKind.Hardware);
      if (first === Class.DoubleFault && second !== Class.Benign) {
        tripleFault(c, chain);
        return;
      }
      const double = second !== Class.Benign && (first === Class.PageFault || (first === Class.Contributory && second === Class.Contributory));
      if (double) {
        chain.push('#DF');
        vector = Vector.DF;
        errorCode = 0;
      } else {
        vector = e.vector;
        errorCode = e.errorCode;
      }
      kind = EventKind.Hardware;
    }
  }
}
