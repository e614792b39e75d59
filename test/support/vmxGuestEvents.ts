/**
 * Fixtures for the VMX event tests on the harness: descriptor tables in
 * guest memory so that events reach the guest's IDT (SDM Vol. 3A §6.14,
 * 64-bit gates Figure 6-8, descriptors Figure 3-8), an interrupt-controller
 * stand-in, and a run loop that runs the core's timers between runs and
 * skips halted time to the next one, as the machine's scheduler does
 * (cpu/machine/scheduler.ts).
 *
 * Guest layout (identity-mapped like the rest of the harness memory):
 *   0x300000 GDT: null, 0x08 64-bit code, 0x10 data, 0x18 64-bit TSS
 *   0x301000 IDT: 256 interrupt gates (DPL 0) to the handlers
 *   0x302000 TSS          0x303000 handlers, 16 bytes each
 * The handler of vector v is `mov eax, v; vmcall`: VMCALL exits
 * unconditionally (basic reason 18), with RAX naming the vector and the
 * event's frame on the guest stack.
 */
import { Activity, type StopReason } from '../../cpu/cpu.ts';
import type { InterruptSource } from '../../cpu/interrupts/source.ts';
import { attachSystem } from '../../cpu/system/events.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { GUEST_STACK, type HarnessOptions, modelWith, VmxHarness } from './vmxHarness.ts';

export const GUEST_GDT = 0x300000, GUEST_IDT = 0x301000, GUEST_TSS = 0x302000, GUEST_HANDLERS = 0x303000;
export const VMCALL = 18;

export const handlerOf = (vector: number): number => GUEST_HANDLERS + 16 * vector;

/** A 64-bit IDT gate: `type` 0xE interrupt gate, 0xF trap gate (Figure 6-8); present unless `present` is false. */
export function writeGate(h: VmxHarness, vector: number, o: { type?: number; present?: boolean; offset?: number } = {}): void {
  const offset = o.offset ?? handlerOf(vector), p = h.t.phys, at = GUEST_IDT + 16 * vector;
  p.writeSized(at, 4, ((0x08 << 16) | (offset & 0xffff)) >>> 0);
  p.writeSized(at + 4, 4, ((offset & 0xffff0000) | ((o.present ?? true) ? 0x8000 : 0) | ((o.type ?? 0xe) << 8)) >>> 0);
  p.writeSized(at + 8, 4, 0);
  p.writeSized(at + 12, 4, 0);
}

/** Gives the guest of `h` the tables above and the core IDT delivery (attachSystem). Call before launch(). */
export function installGuestIdt(h: VmxHarness): void {
  const p = h.t.phys;
  const gdt = [0, 0, 0x0000ffff, 0x00af9b00, 0x0000ffff, 0x00cf9300,
    ((GUEST_TSS & 0xffff) << 16) | 0x67, ((GUEST_TSS >>> 16) & 0xff) | 0x8b00 | (GUEST_TSS & 0xff000000), 0, 0];
  gdt.forEach((d, k) => p.writeSized(GUEST_GDT + 4 * k, 4, d >>> 0));
  for (let v = 0; v < 256; v++) {
    p.load(handlerOf(v), Uint8Array.of(0xb8, v, 0, 0, 0, 0x0f, 0x01, 0xc1));
    writeGate(h, v);
  }
  h.write('guestGdtrBase', GUEST_GDT);
  h.write('guestGdtrLimit', gdt.length * 4 - 1);
  h.write('guestIdtrBase', GUEST_IDT);
  h.write('guestIdtrLimit', 0xfff);
  h.write('guestTrBase', GUEST_TSS);
  attachSystem(h.t.cpu);
}

/** The model with every control the event tests use, and the inactive activity states. */
export const EVENT_FEATURES: VmxFeatures = {
  ...modelWith({
    pin: ['externalInterruptExiting', 'nmiExiting', 'virtualNmis', 'activatePreemptionTimer'],
    proc: ['interruptWindowExiting', 'nmiWindowExiting', 'monitorTrapFlag'],
    exit: ['acknowledgeInterruptOnExit', 'savePreemptionTimer'],
  }),
  activityStates: ['hlt', 'shutdown', 'waitForSipi'],
};

/** A guest with these tables on a model with EVENT_FEATURES; exits stop the run unless `onExit` says otherwise. */
export async function eventGuest(source: string, o: HarnessOptions = {}): Promise<VmxHarness> {
  const h = await VmxHarness.create(source, { features: EVENT_FEATURES, ...o });
  installGuestIdt(h);
  return h;
}

/** The 64-bit value the guest pushed `slot` quadwords above its stack pointer at the last exit. */
export function stackSlot(h: VmxHarness, slot: number): bigint {
  const at = Number(h.read('guestRsp')) + 8 * slot;
  return (BigInt(h.t.phys.readSized(at + 4, 4) >>> 0) << 32n) | BigInt(h.t.phys.readSized(at, 4) >>> 0);
}

/** The guest stack pointer after one 64-bit delivery from GUEST_STACK: five quadwords, six with an error code. */
export const frameRsp = (withErrorCode: boolean): bigint => BigInt(GUEST_STACK - (withErrorCode ? 48 : 40));

/** An interrupt controller stand-in: a queue of vectors. */
export class FakeSource implements InterruptSource {
  readonly queue: number[] = [];
  acknowledged = 0;
  hasInterrupt(): boolean { return this.queue.length > 0; }
  acknowledge(): number { this.acknowledged++; return this.queue.shift()!; }
}

/** Gives the core a FakeSource holding `vectors`, raised. */
export function interruptSource(h: VmxHarness, ...vectors: number[]): FakeSource {
  const src = new FakeSource();
  src.queue.push(...vectors);
  h.t.cpu.interruptSource = src;
  h.t.cpu.eventsPending = true;
  return src;
}

/**
 * Runs the core as the scheduler runs one core: its due timers first, each
 * run ending at the next timer, halted time skipped to that timer. Returns
 * when the handler stops the run, an exception stops it, `max`
 * instructions retire, or the core is halted with no timer left.
 */
export function runTimed(h: VmxHarness, max = 100_000): StopReason {
  const c = h.t.cpu;
  const end = c.icount + max;
  for (;;) {
    c.timers.runDue(c.clock);
    const due = c.timers.nextDue();
    const before = c.icount;
    const idle = c.activity !== Activity.Active && !c.eventsPending && !c.vmxBoundary;
    const r: StopReason = idle ? { kind: 'halt' } : c.run(Math.min(end - c.icount, due - c.clock));
    if (r.kind === 'stop' || r.kind === 'exception' || c.icount >= end) return r;
    if (r.kind === 'halt' && c.icount === before) {
      if (due === Infinity) return r;
      c.idleTicks += due - c.clock;
    }
  }
}
