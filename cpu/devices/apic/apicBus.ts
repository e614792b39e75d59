/**
 * The interrupt message path between local APICs and I/O APICs (the system
 * bus of SDM Vol. 3A §11.6): destination selection (§11.6.2: physical,
 * logical flat and cluster, x2APIC logical §11.12.10, shorthands), lowest-
 * priority arbitration (§11.6.2.4), and the EOI broadcast from local APICs
 * to I/O APICs for level-triggered interrupts (§11.8.5).
 *
 * Delivery is instantaneous: a message is accepted (or not) before the
 * sending write completes, so ICR delivery status always reads idle.
 */
import { DeliveryMode, Shorthand } from './registers.ts';
import type { LocalApic } from './localApic.ts';

export interface ApicMessage {
  vector: number;
  mode: DeliveryMode;
  logical: boolean;
  /** Destination: 8 bits in xAPIC format (broadcast FFH), 32 bits in x2APIC format (broadcast FFFFFFFFH). */
  dest: number;
  /** Level-triggered: the target's TMR bit is set and an EOI is broadcast when it is serviced. */
  level: boolean;
  /** ICR level flag: false only for INIT level de-assert. */
  assert: boolean;
  shorthand: Shorthand;
  /** The destination is in x2APIC format (sent by a local APIC in x2APIC mode). */
  x2: boolean;
  /** The sending local APIC (null for an I/O APIC). */
  from: LocalApic | null;
}

export type EoiListener = (vector: number) => void;

export class ApicBus {
  readonly apics: LocalApic[] = [];
  private readonly eoiListeners: EoiListener[] = [];

  onEoi(listener: EoiListener): void {
    this.eoiListeners.push(listener);
  }

  /** A local APIC's EOI of a level-triggered vector, to every I/O APIC (§11.8.5). */
  broadcastEoi(vector: number): void {
    for (const l of this.eoiListeners) l(vector);
  }

  /** Delivers a message; returns how many local APICs accepted it. */
  send(m: ApicMessage): number {
    const targets = this.targets(m);
    if (m.mode === DeliveryMode.LowestPriority) {
      const t = lowestPriority(targets);
      if (!t) return 0;
      t.acceptFixed(m.vector, m.level);
      return 1;
    }
    for (const t of targets) deliver(t, m);
    return targets.length;
  }

  private targets(m: ApicMessage): LocalApic[] {
    // A globally disabled local APIC takes no messages (§11.4.3).
    const live = this.apics.filter((a) => a.enabled);
    switch (m.shorthand) {
      case Shorthand.Self: return m.from && m.from.enabled ? [m.from] : [];
      case Shorthand.AllIncludingSelf: return live;
      case Shorthand.AllExcludingSelf: return live.filter((a) => a !== m.from);
      default: return live.filter((a) => (m.logical ? matchesLogical(a, m) : matchesPhysical(a, m)));
    }
  }
}

function deliver(t: LocalApic, m: ApicMessage): void {
  switch (m.mode) {
    case DeliveryMode.Fixed: t.acceptFixed(m.vector, m.level); break;
    case DeliveryMode.Nmi: t.acceptNmi(); break;
    // INIT level de-assert (level-triggered, level 0) only resynchronises arbitration IDs: nothing to do (§11.6.1).
    case DeliveryMode.Init: if (!(m.level && !m.assert)) t.acceptInit(); break;
    case DeliveryMode.StartUp: t.acceptSipi(m.vector); break;
    case DeliveryMode.ExtInt: t.acceptExtInt(); break;
    // SMI: system-management mode is not modelled; reserved modes are dropped.
    default: break;
  }
}

function broadcast(m: ApicMessage): number {
  return m.x2 ? 0xffffffff : 0xff;
}

/** Physical destination (§11.6.2.1): the APIC ID, or the broadcast ID. */
function matchesPhysical(a: LocalApic, m: ApicMessage): boolean {
  return m.dest >>> 0 === broadcast(m) || m.dest >>> 0 === a.apicId;
}

/**
 * Logical destination (§11.6.2.2): in x2APIC mode the destination is
 * cluster[31:16] and a 16-bit member mask (§11.12.10.2); in xAPIC mode the
 * DFR picks flat (an 8-bit mask against LDR[31:24]) or cluster (MDA[7:4]
 * the cluster, 0FH for all clusters, MDA[3:0] the member mask).
 */
function matchesLogical(a: LocalApic, m: ApicMessage): boolean {
  const dest = m.dest >>> 0;
  if (dest === broadcast(m)) return true;
  if (a.isX2) {
    return dest >>> 16 === a.ldr >>> 16 && (dest & a.ldr & 0xffff) !== 0;
  }
  const mda = dest & 0xff;
  const ldr = a.ldr >>> 24;
  if (a.dfr >>> 28 === 0xf) return (mda & ldr) !== 0;
  const cluster = mda >>> 4;
  return (cluster === 0xf || cluster === ldr >>> 4) && (mda & ldr & 0xf) !== 0;
}

/**
 * Lowest-priority arbitration (§11.6.2.4): on Pentium 4 and later the
 * chipset picks the processor with the lowest task priority. Ties go to the
 * lowest APIC ID, so the choice is deterministic.
 */
function lowestPriority(targets: LocalApic[]): LocalApic | undefined {
  let best: LocalApic | undefined;
  for (const t of targets) {
    if (!best || t.tpr < best.tpr || (t.tpr === best.tpr && t.apicId < best.apicId)) best = t;
  }
  return best;
}
