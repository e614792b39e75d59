/**
 * Where the machine meets the parts built alongside it: the system
 * architecture (cpu/system/: event delivery, IDT, triple fault) and the
 * interrupt controllers (cpu/devices/apic/, ioapic, pic8259, pit8254,
 * cmosRtc). Everything the Machine needs from them goes through the two
 * functions below, so connecting them is a change to this file only.
 */
import type { Cpu } from '../cpu.ts';
import { applyBiosState, attachInterruptControllers } from '../devices/interruptControllers.ts';
import { attachSystem } from '../system/events.ts';
import type { PhysicalMemory } from '../memory/physical.ts';
import type { PortBus } from '../portIo.ts';
import type { TimerQueue } from '../time/timerQueue.ts';

/** What the interrupt controllers are attached with. */
export interface ControllerContext {
  cpus: readonly Cpu[];
  phys: PhysicalMemory;
  io: PortBus;
  /** The machine's global timer queue, due times in machine time (ticks). */
  timers: TimerQueue;
  /** Machine time now: the running core's clock while a core runs, the round boundary between rounds. */
  now: () => number;
}

/** What the machine needs back from the controllers. */
export interface PlatformControllers {
  /** Drives ISA IRQ line `irq` (0-15) to `level` (the PIC and the IOAPIC see it). */
  setIrq(irq: number, level: boolean): void;
}

/**
 * Installs a core's event and exception hooks from the system part
 * (cpu/system/events.ts): NMI, INIT, SIPI and maskable-interrupt delivery,
 * IDT delivery of exceptions, #DF and triple fault (activity Shutdown with
 * a 'stop' reason naming the fault chain, which the machine reports).
 */
export function installCoreHooks(c: Cpu): void {
  attachSystem(c);
}

/**
 * Attaches the local APICs (c.interruptSource, the xAPIC page, x2APIC MSRs),
 * the IOAPIC, the 8259 pair, the 8254 PIT and the CMOS RTC, and leaves them
 * as a PC BIOS hands them to a kernel (PICs initialised and masked, the
 * BSP's APIC in virtual-wire mode), since QEMU's -kernel boots after SeaBIOS.
 */
export function attachControllers(ctx: ControllerContext): PlatformControllers | null {
  const ctl = attachInterruptControllers({ ...ctx, cpus: [...ctx.cpus] });
  applyBiosState(ctl);
  return { setIrq: (irq, level) => ctl.irq(irq, level) };
}
