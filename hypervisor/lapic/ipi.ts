/**
 * Interprocessor interrupts between the vCPUs of one VM: a write of the
 * virtual x2APIC's ICR (SDM Vol. 3A §11.6.1, x2APIC format §11.12.9:
 * destination in bits 63:32) picks its targets among the VM's vCPUs —
 * shorthand, else physical destination (x2APIC ID, FFFFFFFFH broadcast) or
 * logical (x2APIC cluster model, §11.12.10.2) — and makes the event pending
 * on each: fixed and lowest-priority interrupts in the IRR, NMI, INIT and
 * SIPI as pending events. A target on another core is kicked (l1/hostApic.ts)
 * so that its core sees the event at once, as KVM's kvm_vcpu_kick does.
 *
 * Lowest-priority arbitration (§11.6.2.4) is left to the platform by the
 * SDM; L1 gives the interrupt to the target with the lowest x2APIC ID.
 * SMI and ExtINT have nothing to reach (no SMM, no 8259) and are dropped,
 * as is INIT level de-assert, which newer processors ignore (§11.6.1).
 */
import { DeliveryMode, ESR_SEND_ILLEGAL_VECTOR, ICR_ASSERT, ICR_DEST_LOGICAL, ICR_SHORTHAND_SHIFT, Shorthand } from '../../cpu/devices/apic/registers.ts';
import { kickCore } from '../l1/hostApic.ts';
import type { Vcpu } from '../vcpu.ts';

const BROADCAST = 0xffffffff;

/** Whether the APIC of `t` is a destination of `dest` (physical or logical, §11.12.10). */
function addressed(t: Vcpu, dest: number, logical: boolean): boolean {
  if (dest === BROADCAST) return true;
  if (!logical) return t.lapic.id === dest;
  const ldr = t.lapic.ldr;
  return ldr >>> 16 === dest >>> 16 && (ldr & dest & 0xffff) !== 0;
}

function targets(from: Vcpu, lo: number, dest: number): Vcpu[] {
  switch ((lo >>> ICR_SHORTHAND_SHIFT) & 3) {
    case Shorthand.Self: return [from];
    case Shorthand.AllIncludingSelf: return [...from.vm.vcpus];
    case Shorthand.AllExcludingSelf: return from.vm.vcpus.filter((t) => t !== from);
    default: return from.vm.vcpus.filter((t) => addressed(t, dest, (lo & ICR_DEST_LOGICAL) !== 0));
  }
}

/** Makes the event of `mode` pending on `t`; false for the modes that reach nobody. */
function deliver(t: Vcpu, mode: number, vector: number): boolean {
  const a = t.lapic;
  switch (mode) {
    case DeliveryMode.Fixed: case DeliveryMode.LowestPriority: a.acceptFixed(vector); return true;
    case DeliveryMode.Nmi: a.nmiPending = true; return true;
    case DeliveryMode.Init: a.initPending = true; return true;
    case DeliveryMode.StartUp: a.sipiVector = vector; return true;
    default: return false;
  }
}

/** The guest of `from` wrote hi:lo (already checked for reserved bits) to its ICR. */
export function sendIpi(from: Vcpu, lo: number, hi: number): void {
  const a = from.lapic;
  a.icrLo = lo;
  a.icrHi = hi;
  const mode = (lo >>> 8) & 7, vector = lo & 0xff;
  if ((mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority) && vector < 16) {
    a.logError(ESR_SEND_ILLEGAL_VECTOR);
    return;
  }
  if (mode === DeliveryMode.Init && (lo & ICR_ASSERT) === 0) return;
  let to = targets(from, lo, hi >>> 0);
  if (mode === DeliveryMode.LowestPriority) to = to.slice(0, 1);
  for (const t of to) {
    if (deliver(t, mode, vector) && t.host !== from.host) kickCore(from.host, t.host.c.id);
  }
}

/** SELF IPI register (§11.12.11): a fixed, edge-triggered interrupt to the sender's own APIC. */
export function selfIpi(from: Vcpu, vector: number): void {
  if (vector < 16) from.lapic.logError(ESR_SEND_ILLEGAL_VECTOR);
  else from.lapic.acceptFixed(vector);
}
