/**
 * The 8259A pair (Intel 8259A datasheet: ICW1-4, OCW1-3, priority
 * resolution, EOI, cascade, automatic EOI, poll, special mask mode) and
 * its output to the BSP's LINT0 as ExtINT (SDM Vol. 3A §11.5.1, virtual-
 * wire mode), including the path through a running core.
 */
import { describe, expect, it } from 'vitest';
import { ApicReg, DeliveryMode } from '../../cpu/devices/apic/registers.ts';
import { xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { applyBiosState } from '../../cpu/devices/interruptControllers.ts';
import { wrmsr } from '../msr/msrAccess.ts';
import { makeMachine } from './harness.ts';

/** The initialisation Linux and most kernels do: master at 20H, slave at 28H on IR2, 8086 mode. */
function initPics(m: ReturnType<typeof makeMachine>, icw4 = 0x01): void {
  const p = m.ctl.pic;
  for (const [port, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, icw4], [0xa0, 0x11], [0xa1, 0x28], [0xa1, 0x02], [0xa1, icw4]] as const) {
    p.write(port, 1, v);
  }
}

function setup(icw4 = 0x01) {
  const m = makeMachine(1);
  initPics(m, icw4);
  const p = m.ctl.pic;
  const irr = () => { p.write(0x20, 1, 0x0a); return p.read(0x20); };
  const isr = () => { p.write(0x20, 1, 0x0b); return p.read(0x20); };
  const pulse = (irq: number) => { m.ctl.irq(irq, true); m.ctl.irq(irq, false); };
  return { m, p, irr, isr, pulse };
}

describe('8259A initialisation (ICW1-ICW4) and OCW1', () => {
  it('the init sequence from a core; the mask reads back (how kernels probe for the PIC)', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov al, 0x11
      out 0x20, al
      mov al, 0x20
      out 0x21, al
      mov al, 4
      out 0x21, al
      mov al, 1
      out 0x21, al
      in al, 0x21
      mov bl, al
      mov al, 0xfb
      out 0x21, al
      in al, 0x21
      mov cl, al
      hlt`);
    const c = m.cpus[0]!;
    c.rip = 0x1000;
    c.run(100);
    expect(c.r[6]! & 0xff).toBe(0); // ICW1 cleared the mask
    expect(c.r[2]! & 0xff).toBe(0xfb);
    expect(m.ctl.pic.master.vectorBase).toBe(0x20);
  });

  it('ICW1 without IC4 leaves ICW4 functions zero and skips ICW4; with SNGL, ICW3 is skipped', () => {
    const m = makeMachine(1);
    const p = m.ctl.pic;
    p.write(0x20, 1, 0x12); // single, no ICW4
    p.write(0x21, 1, 0x48);
    p.write(0x21, 1, 0x5a); // already operational: OCW1
    expect(p.read(0x21)).toBe(0x5a);
    expect(p.master.vectorBase).toBe(0x48);
    expect(p.master.autoEoi).toBe(false);
  });
});

describe('8259A interrupt sequence', () => {
  it('INTA gives base + IR, moves IRR to ISR; OCW3 selects IRR or ISR for reads', () => {
    const { p, irr, isr, pulse } = setup();
    pulse(1);
    expect(irr()).toBe(0x02);
    expect(p.intr()).toBe(true);
    expect(p.inta()).toBe(0x21);
    expect([irr(), isr()]).toEqual([0, 0x02]);
    expect(p.intr()).toBe(false);
  });

  it('fully nested priority: IR0 highest; a lower request waits while a higher one is in service', () => {
    const { p, pulse } = setup();
    pulse(3);
    pulse(1);
    expect(p.inta()).toBe(0x21);
    expect(p.intr()).toBe(false); // IR3 waits for IR1's EOI
    pulse(0);
    expect(p.inta()).toBe(0x20); // IR0 preempts IR1
    p.write(0x20, 1, 0x20); // non-specific EOI: IR0
    p.write(0x20, 1, 0x20); // IR1
    expect(p.inta()).toBe(0x23);
  });

  it('specific EOI clears the named ISR bit only', () => {
    const { p, isr, pulse } = setup();
    pulse(4);
    p.inta();
    pulse(3); // IR3 is higher than IR4: nested
    p.inta();
    expect(isr()).toBe(0x18);
    p.write(0x20, 1, 0x64); // specific EOI, level 4
    expect(isr()).toBe(0x08);
  });

  it('cascade: a slave request arrives through master IR2 and the slave supplies the vector', () => {
    const { p, pulse } = setup();
    pulse(9);
    expect(p.intr()).toBe(true);
    expect(p.inta()).toBe(0x29);
    p.write(0xa0, 1, 0x0b);
    expect(p.read(0xa0)).toBe(0x02);
    p.write(0x20, 1, 0x0b);
    expect(p.read(0x20)).toBe(0x04);
  });

  it('a request that goes away before INTA gives the spurious IR7 vector and nothing in service', () => {
    const { p, isr, pulse } = setup();
    pulse(1);
    p.write(0x21, 1, 0x02); // masked before the acknowledge
    expect(p.inta()).toBe(0x27);
    expect(isr()).toBe(0);
  });

  it('a slave request masked after the master latched IR2: the slave\'s IR7 vector, the cascade bit in service', () => {
    const { p, isr, pulse } = setup();
    pulse(10);
    p.write(0xa1, 1, 0x04);
    expect(p.inta()).toBe(0x2f);
    expect(isr()).toBe(0x04);
  });

  it('automatic EOI (ICW4 bit 1): nothing stays in service', () => {
    const { p, isr, pulse } = setup(0x03);
    pulse(5);
    expect(p.inta()).toBe(0x25);
    expect(isr()).toBe(0);
  });

  it('OCW2 rotate on non-specific EOI makes the serviced IR the lowest priority', () => {
    const { p, pulse } = setup();
    pulse(1);
    p.inta();
    p.write(0x20, 1, 0xa0);
    pulse(0);
    pulse(3);
    expect(p.inta()).toBe(0x23); // priority now 2, 3, ..., 7, 0, 1 (IR2 is the cascade)
  });

  it('OCW2 set priority: level 4 lowest makes 5 highest', () => {
    const { p, pulse } = setup();
    p.write(0x20, 1, 0xc4);
    pulse(3);
    pulse(6);
    expect(p.inta()).toBe(0x26);
  });

  it('OCW3 poll: the read returns 80H | level and acknowledges', () => {
    const { p, isr, pulse } = setup();
    pulse(6);
    p.write(0x20, 1, 0x0c);
    expect(p.read(0x20)).toBe(0x86);
    expect(isr()).toBe(0x40);
    p.write(0x20, 1, 0x0c);
    expect(p.read(0x20)).toBe(0); // nothing pending
  });

  it('special mask mode: a masked in-service level no longer blocks lower priorities', () => {
    const { p, pulse } = setup();
    pulse(3);
    p.inta();
    pulse(5);
    expect(p.intr()).toBe(false);
    p.write(0x21, 1, 0x08);
    p.write(0x20, 1, 0x68); // ESMM | SMM
    expect(p.inta()).toBe(0x25);
  });

  it('level triggering (ELCR 4D0H): IRR follows the line; an EOI with the line still high interrupts again', () => {
    const { m, p, irr } = setup();
    p.write(0x4d0, 1, 0xff);
    expect(p.read(0x4d0)).toBe(0xf8); // IRQ 0-2 cannot be level-triggered
    m.ctl.irq(3, true);
    expect(p.inta()).toBe(0x23);
    p.write(0x20, 1, 0x20);
    expect(p.intr()).toBe(true);
    expect(p.inta()).toBe(0x23);
    m.ctl.irq(3, false);
    p.write(0x20, 1, 0x20);
    expect(irr()).toBe(0);
    expect(p.intr()).toBe(false);
  });

  it('edge triggering: a line held high interrupts once', () => {
    const { m, p } = setup();
    m.ctl.irq(4, true);
    expect(p.inta()).toBe(0x24);
    p.write(0x20, 1, 0x20);
    m.ctl.irq(4, true);
    expect(p.intr()).toBe(false);
  });
});

describe('§11.5.1 the PIC behind LINT0 (ExtINT, virtual-wire mode)', () => {
  it('with LINT0 masked (reset) the PIC cannot interrupt; programmed ExtINT, the core\'s INTA takes the PIC vector', () => {
    const { m, pulse } = setup();
    const a = m.lapics[0]!, c = m.cpus[0]!;
    pulse(1);
    expect(a.hasInterrupt()).toBe(false);
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_LINT0, (DeliveryMode.ExtInt << 8) | (1 << 15));
    expect(a.hasInterrupt()).toBe(true);
    expect(c.eventsPending).toBe(true);
    expect(a.acknowledge()).toBe(0x21);
    expect(a.readRegister(ApicReg.ISR + 1)).toBe(0); // ExtINT bypasses IRR/ISR
  });

  it('the PIC raising INTR later tells the core', () => {
    const { m, pulse } = setup();
    const a = m.lapics[0]!, c = m.cpus[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_LINT0, DeliveryMode.ExtInt << 8);
    c.eventsPending = false;
    pulse(7);
    expect(c.eventsPending).toBe(true);
    expect(a.acknowledge()).toBe(0x27);
  });

  it('with the APIC globally disabled, the PIC drives the core\'s INTR directly (§11.4.3)', () => {
    const { m, pulse } = setup();
    expect(wrmsr(m.cpus[0]!, 0x1b, 0xfee00100n)).toBe('ok');
    pulse(5);
    expect(m.lapics[0]!.hasInterrupt()).toBe(true);
    expect(m.lapics[0]!.acknowledge()).toBe(0x25);
  });

  it('a running core with the BIOS state takes IRQ 4 as vector 0CH', async () => {
    const m = makeMachine(1);
    applyBiosState(m.ctl);
    await m.load(0x1000, `
      mov al, 0xeb
      out 0x21, al
      sti
      hlt
      cli
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.run(5);
    expect(m.events).toEqual([]);
    m.ctl.irq(4, true);
    m.run(5);
    expect(m.events.map((e) => [e.kind, 'vector' in e ? e.vector : -1])).toEqual([['interrupt', 0x0c]]);
    expect(m.ctl.pic.read(0x21)).toBe(0xeb);
  });
});
