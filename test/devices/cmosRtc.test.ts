/**
 * The CMOS RTC (Motorola MC146818 datasheet; PC/AT register layout) on
 * machine time from the fixed start 2026-01-01 00:00:00, a Thursday.
 * Dates below were worked out by hand (2026 is not a leap year, 2028 is,
 * 2100 is not).
 */
import { describe, expect, it } from 'vitest';
import { makeMachine } from './harness.ts';

const S = 1_000_000_000;

function setup() {
  const m = makeMachine(1);
  m.time.manual = 0;
  const at = (t: number) => {
    m.time.manual = t;
    m.timers.runDue(t);
  };
  const rd = (reg: number) => { m.io.write(0x70, 1, reg); return m.io.read(0x71, 1); };
  const wr = (reg: number, v: number) => { m.io.write(0x70, 1, reg); m.io.write(0x71, 1, v); };
  const clock = () => [rd(9), rd(8), rd(7), rd(4), rd(2), rd(0)];
  return { m, at, rd, wr, clock };
}

describe('MC146818 time and date registers', () => {
  it('start: 2026-01-01 00:00:00 Thursday (day 5), BCD, 24-hour; century 20; A 26H, B 02H, D 80H', () => {
    const { rd, clock } = setup();
    expect(clock()).toEqual([0x26, 0x01, 0x01, 0x00, 0x00, 0x00]);
    expect(rd(6)).toBe(5);
    expect(rd(0x32)).toBe(0x20);
    expect([rd(0x0a), rd(0x0b), rd(0x0d)]).toEqual([0x26, 0x02, 0x80]);
  });

  it('advances with machine time: 3723.5 s later it is 01:02:03', () => {
    const { at, clock } = setup();
    at(3723 * S + S / 2);
    expect(clock()).toEqual([0x26, 0x01, 0x01, 0x01, 0x02, 0x03]);
  });

  it('binary mode (B bit 2) and 12-hour mode (B bit 1 clear: hours 1-12, bit 7 PM)', () => {
    const { at, rd, wr } = setup();
    wr(0x0b, 0x06);
    at(59 * S);
    expect(rd(0)).toBe(59);
    wr(0x0b, 0x00); // BCD, 12-hour
    at((13 * 3600 + 5 * 60) * S);
    expect(rd(4)).toBe(0x81); // 1 PM
    expect(rd(2)).toBe(0x05);
    at((24 * 3600 + 30 * 60) * S);
    expect(rd(4)).toBe(0x12); // 12 AM, the next day
    expect(rd(7)).toBe(0x02);
    expect(rd(6)).toBe(6); // Friday
  });

  it('SET (B bit 7) stops updates so software can write the time; the clock resumes from it', () => {
    const { at, rd, wr, clock } = setup();
    at(10 * S + 300);
    wr(0x0b, 0x82);
    at(20 * S);
    expect(rd(0)).toBe(0x10); // held at 10 s
    wr(9, 0x28); wr(8, 0x02); wr(7, 0x28); wr(4, 0x23); wr(2, 0x59); wr(0, 0x59);
    wr(0x0b, 0x02); // resume at 20 s: the next update one second later
    at(21 * S - 1);
    expect(clock()).toEqual([0x28, 0x02, 0x28, 0x23, 0x59, 0x59]);
    at(21 * S);
    expect(clock()).toEqual([0x28, 0x02, 0x29, 0x00, 0x00, 0x00]); // 2028 is a leap year
    expect(rd(6)).toBe(3); // 2028-02-29 is a Tuesday
  });

  it('month and year roll over; 2100 is not a leap year (century register 21H)', () => {
    const { at, wr, clock } = setup();
    wr(0x0b, 0x82);
    wr(0x32, 0x21); wr(9, 0x00); wr(8, 0x02); wr(7, 0x28); wr(4, 0x23); wr(2, 0x59); wr(0, 0x59);
    wr(0x0b, 0x02);
    at(S);
    expect(clock()).toEqual([0x00, 0x03, 0x01, 0x00, 0x00, 0x00]);
    wr(0x0b, 0x82);
    wr(0x32, 0x20); wr(9, 0x26); wr(8, 0x12); wr(7, 0x31); wr(4, 0x23); wr(2, 0x59); wr(0, 0x59);
    wr(0x0b, 0x02);
    at(2 * S);
    expect(clock()).toEqual([0x27, 0x01, 0x01, 0x00, 0x00, 0x00]);
  });

  it('a written day of week is kept relative to the date', () => {
    const { at, rd, wr } = setup();
    wr(6, 1);
    expect(rd(6)).toBe(1);
    at(86400 * S);
    expect(rd(6)).toBe(2);
  });
});

describe('register A: update in progress and the divider', () => {
  it('UIP is set during the 244 us before each update, deterministically', () => {
    const { at, rd } = setup();
    at(S - 244_001);
    expect(rd(0x0a) & 0x80).toBe(0);
    at(S - 244_000);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    expect(rd(0)).toBe(0x00); // the update has not happened yet
    at(S);
    expect(rd(0x0a) & 0x80).toBe(0);
    expect(rd(0)).toBe(0x01);
  });

  it('a divider reset (DV = 11xB) holds the time; restarting it gives the first update 500 ms later', () => {
    const { at, rd, wr } = setup();
    at(3 * S + 100);
    wr(0x0a, 0x76);
    at(50 * S);
    expect(rd(0)).toBe(0x03);
    expect(rd(0x0a)).toBe(0x76);
    wr(0x0a, 0x26);
    at(50 * S + S / 2 - 1);
    expect(rd(0)).toBe(0x03);
    at(50 * S + S / 2);
    expect(rd(0)).toBe(0x04);
  });
});

describe('register C flags and IRQ 8', () => {
  it('UF sets at an update; reading C clears it', () => {
    const { at, rd } = setup();
    expect(rd(0x0c)).toBe(0);
    at(S);
    expect(rd(0x0c) & 0x10).toBe(0x10);
    expect(rd(0x0c)).toBe(0);
  });

  it('PF sets at the periodic rate of RS (6: 1024 Hz) whether or not PIE is set', () => {
    const { at, rd } = setup();
    at(976_562); // just before 1/1024 s
    expect(rd(0x0c) & 0x40).toBe(0);
    at(976_563);
    expect(rd(0x0c) & 0x40).toBe(0x40);
  });

  it('AF sets when an update lands on the alarm time; C0H-FFH alarm fields match anything', () => {
    const { at, rd, wr } = setup();
    wr(1, 0x05); wr(3, 0x00); wr(5, 0x00);
    at(4 * S);
    expect(rd(0x0c) & 0x20).toBe(0);
    at(5 * S);
    expect(rd(0x0c) & 0x20).toBe(0x20);
    wr(1, 0x30); wr(3, 0xc0); wr(5, 0xff); // every minute at 30 s
    at(29 * S);
    expect(rd(0x0c) & 0x20).toBe(0);
    at(30 * S);
    expect(rd(0x0c) & 0x20).toBe(0x20);
    at(89 * S);
    expect(rd(0x0c) & 0x20).toBe(0);
    at(90 * S);
    expect(rd(0x0c) & 0x20).toBe(0x20);
  });

  it('with UIE, IRQ 8 rises at the next update (through the slave 8259) and IRQF is set; reading C drops it', () => {
    const { m, at, rd, wr } = setup();
    wr(0x0b, 0x12);
    expect(m.timers.nextDue()).toBe(S);
    at(S - 1);
    expect(m.ctl.pic.slave.irr & 1).toBe(0);
    at(S);
    expect(m.ctl.pic.slave.irr & 1).toBe(1);
    expect(rd(0x0c)).toBe(0xd0); // IRQF, UF, and PF (the 1024 Hz flag sets even without PIE)
    expect(m.timers.nextDue()).toBe(2 * S);
  });

  it('with PIE at 2 Hz (RS = 15), IRQ 8 comes every 500 ms', () => {
    const { m, at, rd, wr } = setup();
    wr(0x0a, 0x2f);
    wr(0x0b, 0x42);
    expect(m.timers.nextDue()).toBe(S / 2);
    at(S / 2);
    expect(rd(0x0c)).toBe(0xc0);
    expect(m.timers.nextDue()).toBe(S);
  });

  it('setting SET clears UIE', () => {
    const { rd, wr } = setup();
    wr(0x0b, 0x92);
    expect(rd(0x0b)).toBe(0x82);
  });
});

describe('ports 70H/71H', () => {
  it('bit 7 of the index disables NMI; bits 6:0 select one of 128 bytes of RAM; C and D are read-only', () => {
    const { m, rd, wr } = setup();
    m.io.write(0x70, 1, 0x80 | 0x40);
    m.io.write(0x71, 1, 0x5a);
    expect(m.ctl.rtc.nmiDisabled).toBe(true);
    expect(rd(0x40)).toBe(0x5a);
    expect(m.ctl.rtc.nmiDisabled).toBe(false);
    wr(0x0d, 0);
    expect(rd(0x0d)).toBe(0x80);
    expect(m.io.read(0x70, 1)).toBe(0xff);
  });
});
