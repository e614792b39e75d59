/**
 * The I/O APIC (Intel 82093AA datasheet §3: IOREGSEL/IOWIN, ID, version,
 * arbitration, redirection table) and its routing to local APICs (SDM
 * Vol. 3A §11.6.2 destinations, §11.8.5 EOI for level-triggered vectors).
 */
import { describe, expect, it } from 'vitest';
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { makeMachine } from './harness.ts';

const MASK = 1 << 16, LEVEL = 1 << 15, REMOTE_IRR = 1 << 14, LOW = 1 << 13, LOGICAL = 1 << 11;

function setup(n = 2) {
  const m = makeMachine(n);
  for (const a of m.lapics) xapicWrite(a, ApicReg.SVR, 0x1ff);
  const io = m.ctl.ioapic;
  const route = (pin: number, lo: number, dest = 0) => {
    io.writeRegister(0x11 + 2 * pin, dest << 24);
    io.writeRegister(0x10 + 2 * pin, lo);
  };
  const irr = (k: number, v: number) => ((m.lapics[k]!.readRegister(ApicReg.IRR + (v >> 5))! >>> (v & 31)) & 1) === 1;
  return { m, io, route, irr };
}

describe('82093AA registers', () => {
  it('after reset: ID 0, version 11H with 24 entries (00170011H), arbitration ID 0, every entry masked', () => {
    const { io } = setup();
    expect(io.readRegister(0x00)).toBe(0);
    expect(io.readRegister(0x01)).toBe(0x00170011);
    expect(io.readRegister(0x02)).toBe(0);
    for (let pin = 0; pin < 24; pin++) {
      expect(io.readRegister(0x10 + 2 * pin)).toBe(MASK);
      expect(io.readRegister(0x11 + 2 * pin)).toBe(0);
    }
    expect(io.readRegister(0x40)).toBe(0); // beyond the table
  });

  it('ID keeps bits 27:24; version and arbitration ID are read-only', () => {
    const { io } = setup();
    io.writeRegister(0x00, 0xffffffff);
    expect(io.readRegister(0x00)).toBe(0x0f000000);
    expect(io.readRegister(0x02)).toBe(0x0f000000); // arbitration ID follows the ID
    io.writeRegister(0x01, 0);
    expect(io.readRegister(0x01)).toBe(0x00170011);
  });

  it('redirection entries keep their writable bits; delivery status and remote IRR are read-only; high half keeps bits 63:56', () => {
    const { io } = setup();
    io.writeRegister(0x10 + 2 * 5, 0xffffffff);
    io.writeRegister(0x11 + 2 * 5, 0xffffffff);
    expect(io.readRegister(0x10 + 2 * 5)).toBe(0x1afff);
    expect(io.readRegister(0x11 + 2 * 5)).toBe(0xff000000);
  });

  it('IOREGSEL (FEC00000H) and IOWIN (FEC00010H) from a core', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov rbx, 0xfec00000
      mov dword ptr [rbx], 1
      mov eax, [rbx + 0x10]
      mov dword ptr [rbx], 0x12
      mov dword ptr [rbx + 0x10], 0x8931
      mov ecx, [rbx + 0x10]
      mov edx, [rbx]
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.cpus[0]!.run(100);
    const c = m.cpus[0]!;
    expect([c.r[0]! >>> 0, c.r[2]! >>> 0, c.r[4]! >>> 0]).toEqual([0x00170011, 0x8931, 0x12]);
  });
});

describe('edge-triggered pins', () => {
  it('an assertion edge sends the entry\'s vector to the destination APIC (physical), TMR clear', () => {
    const { m, route, irr } = setup();
    route(4, 0x34, 1);
    m.ctl.irq(4, true);
    expect([irr(0, 0x34), irr(1, 0x34)]).toEqual([false, true]);
    expect(m.lapics[1]!.readRegister(ApicReg.TMR + 1)).toBe(0);
    expect(m.lapics[1]!.acknowledge()).toBe(0x34);
    m.ctl.irq(4, true); // no new edge while the line stays high
    expect(irr(1, 0x34)).toBe(false);
    m.ctl.irq(4, false);
    m.ctl.irq(4, true);
    expect(irr(1, 0x34)).toBe(true);
  });

  it('an edge on a masked pin is lost, not held', () => {
    const { m, route, irr } = setup();
    route(3, MASK | 0x33, 0);
    m.ctl.irq(3, true);
    m.ctl.irq(3, false);
    route(3, 0x33, 0);
    expect(irr(0, 0x33)).toBe(false);
  });

  it('ISA IRQ 0 (the PIT) arrives on pin 2; other ISA IRQs on their own pin', () => {
    const { m, route, irr } = setup();
    route(2, 0x30);
    route(0, 0x31);
    m.ctl.irq(0, true);
    expect([irr(0, 0x30), irr(0, 0x31)]).toEqual([true, false]);
  });

  it('logical destination and lowest-priority delivery (§11.6.2.2, §11.6.2.4)', () => {
    const { m, route, irr } = setup(3);
    m.lapics.forEach((a, k) => xapicWrite(a, ApicReg.LDR, (1 << k) << 24));
    route(6, LOGICAL | 0x36, 0x06);
    m.ctl.irq(6, true);
    expect([irr(0, 0x36), irr(1, 0x36), irr(2, 0x36)]).toEqual([false, true, true]);
    xapicWrite(m.lapics[0]!, ApicReg.TPR, 0x80);
    route(7, LOGICAL | 0x100 | 0x37, 0x05); // lowest priority among APICs 0 and 2
    m.ctl.irq(7, true);
    expect([irr(0, 0x37), irr(1, 0x37), irr(2, 0x37)]).toEqual([false, false, true]);
  });

  it('NMI delivery mode raises NMI on the target core', () => {
    const { m, route } = setup();
    route(9, 0x400, 1);
    m.ctl.irq(9, true);
    expect(m.cpus[1]!.nmiPending).toBe(true);
  });
});

describe('level-triggered pins: remote IRR and EOI (§11.8.5)', () => {
  it('remote IRR is set on delivery; the local APIC\'s EOI clears it and the still-asserted pin is sent again', () => {
    const { m, io, route, irr } = setup();
    route(10, LEVEL | 0x5a, 0);
    m.ctl.irq(10, true);
    expect(io.readRegister(0x10 + 20)).toBe(LEVEL | REMOTE_IRR | 0x5a);
    const a = m.lapics[0]!;
    expect(a.readRegister(ApicReg.TMR + 2)).toBe(1 << 26);
    expect(a.acknowledge()).toBe(0x5a);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(irr(0, 0x5a)).toBe(true); // redelivered: still asserted
    expect(io.readRegister(0x10 + 20) & REMOTE_IRR).toBe(REMOTE_IRR);
    m.ctl.irq(10, false);
    expect(a.acknowledge()).toBe(0x5a);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(io.readRegister(0x10 + 20)).toBe(LEVEL | 0x5a);
    expect(irr(0, 0x5a)).toBe(false);
  });

  it('an active-low level pin is asserted when its line is low; unmasking an asserted pin delivers', () => {
    const { m, route, irr } = setup();
    route(11, MASK | LEVEL | LOW | 0x5b, 1);
    m.ctl.irq(11, true);
    m.ctl.irq(11, false); // asserted, but masked
    expect(irr(1, 0x5b)).toBe(false);
    route(11, LEVEL | LOW | 0x5b, 1);
    expect(irr(1, 0x5b)).toBe(true);
  });

  it('an EOI for another vector leaves remote IRR alone', () => {
    const { m, io, route } = setup();
    route(12, LEVEL | 0x5c, 0);
    m.ctl.irq(12, true);
    const a = m.lapics[0]!;
    a.acceptFixed(0x90, true);
    expect(a.acknowledge()).toBe(0x90);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(io.readRegister(0x10 + 24) & REMOTE_IRR).toBe(REMOTE_IRR);
  });
});

describe('ExtINT delivery mode', () => {
  it('sends the 8259\'s vector: the target\'s INTA goes to the PIC', () => {
    const { m, route } = setup();
    const pic = m.ctl.pic;
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0x21, 0x00]] as const) pic.write(port, 1, v);
    route(1, 0x700, 0);
    m.ctl.irq(1, true);
    const a = m.lapics[0]!;
    expect(a.hasInterrupt()).toBe(true);
    expect(a.acknowledge()).toBe(0x21);
    expect(pic.read(0x20)).toBe(0); // IRR: taken
  });
});
