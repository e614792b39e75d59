/**
 * The 8254 PIT (Intel 8254 datasheet: control word, modes 0, 2 and 3,
 * counter latch, read-back, gate) counting against machine time at
 * 1.193182 MHz. Reference times are computed here with BigInt:
 * CLK edges by machine time t (ns) = floor(t × 1193182 / 10^9).
 */
import { describe, expect, it } from 'vitest';
import { applyBiosState } from '../../cpu/devices/interruptControllers.ts';
import { makeMachine } from './harness.ts';

const HZ = 1_193_182n, NS = 1_000_000_000n;
const edgesBy = (t: number) => Number((BigInt(t) * HZ) / NS);
const timeOfEdge = (k: number) => Number((BigInt(k) * NS + HZ - 1n) / HZ);

function setup(t0 = 0) {
  const m = makeMachine(1);
  m.time.manual = t0;
  const pit = m.ctl.pit;
  const at = (t: number) => {
    m.time.manual = t;
    m.timers.runDue(t);
  };
  const out = (port: number, v: number) => m.io.write(port, 1, v);
  const count16 = (port: number) => pit.read(port) | (pit.read(port) << 8);
  return { m, pit, at, out, count16 };
}

describe('clock derivation', () => {
  it('CLK edges and their times match the exact ratio far into machine time (no drift)', async () => {
    const { edgesBy: e, timeOfEdge: tt } = await import('../../cpu/devices/clockRatio.ts');
    for (const t of [0, 1, 837, 838, 1_000_000_000, 123_456_789_012, 2 ** 52 + 12345]) {
      expect(e(t, 1_193_182)).toBe(edgesBy(t));
    }
    for (const k of [1, 2, 1_193_181, 1_193_182, 1_193_183, 987_654_321_123]) {
      expect(tt(k, 1_193_182)).toBe(timeOfEdge(k));
      expect(e(tt(k, 1_193_182), 1_193_182)).toBe(k);
      expect(e(tt(k, 1_193_182) - 1, 1_193_182)).toBe(k - 1);
    }
  });
});

describe('mode 0: interrupt on terminal count', () => {
  it('OUT goes low on the control word and high N + 1 CLK edges after the count is written (IRQ 0)', () => {
    const { m, at, out, count16 } = setup(5000);
    const w = edgesBy(5000); // 5
    out(0x43, 0x30); // counter 0, LSB then MSB, mode 0, binary
    out(0x40, 100);
    out(0x40, 0);
    expect(m.timers.nextDue()).toBe(timeOfEdge(w + 1 + 100));
    at(timeOfEdge(w + 1)); // loaded: counting starts
    expect(count16(0x40)).toBe(100);
    at(timeOfEdge(w + 1 + 40));
    expect(count16(0x40)).toBe(60);
    expect(m.ctl.pic.master.irr & 1).toBe(0);
    at(timeOfEdge(w + 1 + 100) - 1);
    expect(m.ctl.pic.master.irr & 1).toBe(0);
    at(timeOfEdge(w + 1 + 100));
    expect(m.ctl.pic.master.irr & 1).toBe(1); // OUT rose: IRQ 0 latched by the 8259
    expect(count16(0x40)).toBe(0);
    at(timeOfEdge(w + 1 + 103));
    expect(count16(0x40)).toBe(0xfffd); // the counter keeps counting down, wrapping
    expect(m.timers.nextDue()).toBe(Infinity); // one interrupt only
  });
});

describe('mode 2: rate generator', () => {
  it('counts N..1 and reloads; IRQ 0 rises every N edges, exactly', () => {
    const { m, at, out, count16 } = setup(0);
    out(0x43, 0x34); // counter 0, LSB/MSB, mode 2
    out(0x40, 1000 & 0xff);
    out(0x40, 1000 >> 8);
    const dues: number[] = [];
    for (let k = 1; k <= 3; k++) {
      const due = m.timers.nextDue();
      dues.push(due);
      at(due);
    }
    expect(dues).toEqual([timeOfEdge(1 + 1000), timeOfEdge(1 + 2000), timeOfEdge(1 + 3000)]);
    at(timeOfEdge(1 + 3000 + 250));
    expect(count16(0x40)).toBe(750);
  });

  it('a new count written while counting takes effect at the end of the current period', () => {
    const { m, at, out } = setup(0);
    out(0x43, 0x34);
    out(0x40, 100);
    out(0x40, 0);
    at(timeOfEdge(50));
    out(0x40, 10);
    out(0x40, 0);
    expect(m.timers.nextDue()).toBe(timeOfEdge(101)); // the running period ends as programmed
    at(timeOfEdge(101));
    expect(m.timers.nextDue()).toBe(timeOfEdge(111));
  });
});

describe('mode 3: square wave on counter 2 (gate and OUT through port 61H)', () => {
  it('OUT is high for the first half of each period, low for the second', () => {
    const { m, at, out } = setup(0);
    out(0x61, 0x01); // gate 2 on
    out(0x43, 0xb6); // counter 2, LSB/MSB, mode 3
    out(0x42, 10);
    out(0x42, 0);
    const out2 = () => (m.ctl.portB.read() & 0x20) !== 0;
    const seen: boolean[] = [];
    for (let k = 1; k <= 21; k++) {
      at(timeOfEdge(k));
      seen.push(out2());
    }
    // Loaded at edge 1; high for edges 1-5, low 6-10, high 11-15, low 16-20, high 21.
    const expected = Array.from({ length: 21 }, (_, i) => ((i + 1 - 1) % 10) < 5);
    expect(seen).toEqual(expected);
  });

  it('gate low holds OUT high and stops counting; a rising gate restarts from the initial count', () => {
    const { m, at, out } = setup(0);
    out(0x61, 0x01);
    out(0x43, 0xb6);
    out(0x42, 10);
    out(0x42, 0);
    at(timeOfEdge(7)); // low half
    expect(m.ctl.portB.read() & 0x20).toBe(0);
    out(0x61, 0x00);
    expect(m.ctl.portB.read() & 0x20).toBe(0x20);
    at(timeOfEdge(30));
    out(0x61, 0x01); // restarts: loads at edge 31
    at(timeOfEdge(36));
    expect(m.ctl.portB.read() & 0x20).toBe(0);
  });
});

describe('counter 2 calibration, as kernels do it (mode 0, polling port 61H bit 5)', () => {
  it('OUT2 rises N + 1 edges after the count; a polling core measures it with RDTSC', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      in al, 0x61
      and al, 0xfd
      or al, 1
      out 0x61, al
      mov al, 0xb0
      out 0x43, al
      mov al, 0x9b
      out 0x42, al
      mov al, 0x2e
      out 0x42, al
      rdtsc
      mov esi, eax
    poll:
      in al, 0x61
      test al, 0x20
      jz poll
      rdtsc
      sub eax, esi
      hlt`);
    const c = m.cpus[0]!;
    c.rip = 0x1000;
    m.run(20_000, 1000);
    expect(c.activity).toBe(1);
    // The MSB write is the 10th instruction (clock 9); RDTSC at clock 10 reads TSC 10.
    const rise = timeOfEdge(edgesBy(9) + 1 + 0x2e9b);
    const elapsed = c.r[0]! >>> 0;
    // The poll loop (3 instructions) sees OUT2 at its first IN at or after the rise, then RDTSC reads one later.
    expect(elapsed).toBeGreaterThanOrEqual(rise - 10);
    expect(elapsed).toBeLessThanOrEqual(rise - 10 + 4);
    expect(Math.round(elapsed / 1e4) / 100).toBe(10); // 11931 edges: 10.0 ms
  });
});

describe('latch, read-back and byte sequencing', () => {
  it('the counter latch command freezes the count until both bytes are read; a second latch is ignored', () => {
    const { at, out, count16 } = setup(0);
    out(0x43, 0x30);
    out(0x40, 0);
    out(0x40, 0x10); // 1000H
    at(timeOfEdge(1 + 0x100));
    out(0x43, 0x00); // latch counter 0
    at(timeOfEdge(1 + 0x200));
    out(0x43, 0x00); // ignored: a latch is pending
    expect(count16(0x40)).toBe(0x1000 - 0x100);
    expect(count16(0x40)).toBe(0x1000 - 0x200); // unlatched again
  });

  it('read-back: status (OUT, null count, RW, mode, BCD) before the count, then the latched count', () => {
    const { pit, at, out } = setup(0);
    out(0x61, 1);
    out(0x43, 0xb0); // counter 2, LSB/MSB, mode 0
    out(0x42, 0x34);
    out(0x42, 0x12);
    out(0x43, 0xc8); // read-back, count and status, counter 2
    expect(pit.read(0x42)).toBe(0x70); // OUT low, null count (not yet loaded), RW 11, mode 0, binary
    at(timeOfEdge(5));
    expect(pit.read(0x42) | (pit.read(0x42) << 8)).toBe(0x1234); // latched at the read-back
    out(0x43, 0xe8); // status only
    expect(pit.read(0x42)).toBe(0x30); // loaded: null count clear
  });

  it('RW = LSB only and MSB only; BCD counting', () => {
    const { pit, at, out } = setup(0);
    out(0x43, 0x50); // counter 1, LSB only, mode 0
    out(0x41, 0x80); // written at edge 0: loaded at edge 1
    at(timeOfEdge(1 + 0x10));
    expect(pit.read(0x41)).toBe(0x70);
    out(0x43, 0x60); // MSB only
    out(0x41, 0x02); // 0200H, written at edge 11H: loaded at 12H
    at(timeOfEdge(0x12 + 0x101));
    expect(pit.read(0x41)).toBe(0x00); // 200H - 101H = 0FFH: MSB 0
    out(0x43, 0x71); // LSB/MSB, mode 0, BCD
    out(0x41, 0x34);
    out(0x41, 0x12); // 1234 decimal, written at edge 113H: loaded at 114H
    at(timeOfEdge(0x114 + 34));
    expect(pit.read(0x41) | (pit.read(0x41) << 8)).toBe(0x1200);
  });
});

describe('IRQ 0 to a running core', () => {
  it('mode 2 at count 1193 through the BIOS-initialised 8259: a halted core wakes at each rising edge', async () => {
    const m = makeMachine(1);
    applyBiosState(m.ctl);
    await m.load(0x1000, `
      mov al, 0xfa
      out 0x21, al
      mov al, 0x34
      out 0x43, al
      mov al, 0xa9
      out 0x40, al
      mov al, 0x04
      out 0x40, al
      sti
    idle:
      hlt
      mov al, 0x20
      out 0x20, al
      jmp idle`);
    m.cpus[0]!.rip = 0x1000;
    m.run(40);
    const w = edgesBy(7); // the MSB write is the 8th instruction
    const clocks = m.events.slice(0, 3).map((e) => e.clock);
    expect(clocks).toEqual([1, 2, 3].map((k) => timeOfEdge(w + 1 + k * 0x4a9)));
    expect(m.events.every((e) => e.kind === 'interrupt' && e.vector === 0x08)).toBe(true);
  });
});
