/**
 * The PC's interrupt controllers and timers, created and wired for one
 * machine: a local APIC per core (xAPIC page at 0xFEE00000, x2APIC MSRs),
 * the I/O APIC at 0xFEC00000, the 8259 pair (ports 20H/A0H, ELCR 4D0H) on
 * the BSP's LINT0, the 8254 PIT (40H-43H) with port 61H, and the CMOS RTC
 * (70H/71H).
 *
 * ISA IRQ routing, as on QEMU's PC machine: every ISA IRQ n goes to the
 * 8259 input n and to I/O APIC pin n, except IRQ 0 (the PIT), which is
 * I/O APIC pin 2; the MADT must carry the matching interrupt source
 * override (bus 0, IRQ 0 -> GSI 2). IRQs are edge-triggered, active high.
 */
import type { Cpu } from '../cpu.ts';
import type { PhysicalMemory } from '../memory/physical.ts';
import type { PortBus } from '../portIo.ts';
import type { TimerQueue } from '../time/timerQueue.ts';
import { ApicBus } from './apic/apicBus.ts';
import { ApicMode, LocalApic } from './apic/localApic.ts';
import { ApicReg, DEFAULT_APIC_BASE, DeliveryMode, LVT_LEVEL, SVR_ENABLE } from './apic/registers.ts';
import { registerLocalApic } from './apic/registry.ts';
import { XapicPages, xapicWrite } from './apic/xapicMmio.ts';
import { CmosRtc } from './cmosRtc.ts';
import { IOAPIC_BASE, IoApic } from './ioapic.ts';
import { PicPair } from './pic8259.ts';
import { Pit8254 } from './pit8254.ts';
import { PORT_B, PortB } from './portB.ts';

export interface InterruptControllerContext {
  cpus: Cpu[];
  phys: PhysicalMemory;
  io: PortBus;
  /** The machine's timer queue, at machine time. */
  timers: TimerQueue;
  /** Machine time in ticks of the nominal 1 GHz clock. */
  now(): number;
}

export interface InterruptControllers {
  bus: ApicBus;
  /** Local APICs in core order; lapics[0] is the BSP's. */
  lapics: LocalApic[];
  ioapic: IoApic;
  pic: PicPair;
  pit: Pit8254;
  portB: PortB;
  rtc: CmosRtc;
  /** Drives ISA IRQ line `line` (0-15) to electrical level `high`. */
  irq(line: number, high: boolean): void;
}

export function attachInterruptControllers(ctx: InterruptControllerContext): InterruptControllers {
  const bus = new ApicBus();
  const pages = new XapicPages(ctx.phys, bus.apics);
  ctx.cpus.forEach((c, k) => {
    const a = new LocalApic(c, bus, k === 0);
    a.onBaseChange = (x) => { if (x.mode === ApicMode.XApic) pages.ensure(x.base); };
    bus.apics.push(a);
    registerLocalApic(c, a);
    c.interruptSource = a;
  });
  pages.ensure(DEFAULT_APIC_BASE);

  const ioapic = new IoApic(bus);
  ctx.phys.addMmio(IOAPIC_BASE, 0x1000, ioapic);

  const pic = new PicPair();
  ctx.io.claim(0x20, 2, pic);
  ctx.io.claim(0xa0, 2, pic);
  ctx.io.claim(0x4d0, 2, pic);
  const bsp = bus.apics[0];
  if (bsp) {
    bsp.extInt = pic;
    pic.onOutput = (high) => bsp.setLint(0, high);
  }

  const irq = (line: number, high: boolean) => {
    pic.setIrq(line, high);
    ioapic.setPin(line === 0 ? 2 : line, high);
  };

  const pit = new Pit8254({ now: ctx.now, timers: ctx.timers, irq0: (high) => irq(0, high) });
  ctx.io.claim(0x40, 4, pit);
  const portB = new PortB(pit, ctx.now);
  ctx.io.claim(PORT_B, 1, portB);
  const rtc = new CmosRtc({ now: ctx.now, timers: ctx.timers, irq8: (high) => irq(8, high) });
  ctx.io.claim(0x70, 2, rtc);

  return { bus, lapics: bus.apics, ioapic, pic, pit, portB, rtc, irq };
}

/**
 * The state a PC BIOS leaves for a kernel it boots (what a multiboot
 * kernel finds under QEMU): the 8259s initialised with vector bases 08H
 * and 70H and every IRQ masked but the cascade; on the BSP the local APIC
 * software-enabled (spurious vector FFH) in virtual-wire mode, LINT0
 * ExtINT and LINT1 NMI. Without it the controllers are in their reset state.
 */
export function applyBiosState(ctl: InterruptControllers): void {
  const init = [[0x20, 0x08, 0x04, 0xfb], [0xa0, 0x70, 0x02, 0xff]] as const;
  for (const [port, base, icw3, mask] of init) {
    ctl.pic.write(port, 1, 0x11); // ICW1: edge, cascade, ICW4 follows
    ctl.pic.write(port + 1, 1, base);
    ctl.pic.write(port + 1, 1, icw3);
    ctl.pic.write(port + 1, 1, 0x01); // ICW4: 8086 mode
    ctl.pic.write(port + 1, 1, mask);
  }
  const bsp = ctl.lapics[0];
  if (!bsp) return;
  xapicWrite(bsp, ApicReg.SVR, SVR_ENABLE | 0xff);
  xapicWrite(bsp, ApicReg.LVT_LINT0, (DeliveryMode.ExtInt << 8) | LVT_LEVEL);
  xapicWrite(bsp, ApicReg.LVT_LINT1, DeliveryMode.Nmi << 8);
}
