/**
 * The 8254 programmable interval timer (Intel 8254 datasheet) at ports
 * 40H-43H: three 16-bit down-counters clocked at 1.193182 MHz, derived from
 * machine time with exact integer arithmetic (clockRatio.ts). Counter 0's
 * OUT drives ISA IRQ 0; counter 2's gate and OUT are reached through port
 * 61H (portB.ts), which is what calibration loops poll.
 *
 * Modelled: the control word (counter select, read/write LSB, MSB or both,
 * mode, BCD), the counter latch command, the read-back command (count and
 * status), modes 0 (interrupt on terminal count), 1 (hardware one-shot),
 * 2 (rate generator), 3 (square wave), 4 (software strobe) and 5 (hardware
 * strobe), the gate of counter 2 (counters 0 and 1 have theirs tied high).
 * A count written in mode 0/4 loads on the next CLK edge, so OUT rises
 * N + 1 edges after the write (datasheet, mode 0); in modes 2/3 a new count
 * written while counting takes effect at the end of the current period.
 * Counts and OUT are computed from the clock when read; only counter 0's
 * rising OUT edges are scheduled (on the machine's timer queue), one at a
 * time, and only once software has programmed it: the counters start
 * unprogrammed, as after a hardware reset.
 *
 * Approximation: in mode 3 an odd count reads back as the next even values
 * (the 8254 loads N-1 and counts by twos); OUT's timing is exact.
 */
import type { TimerHandle, TimerQueue } from '../time/timerQueue.ts';
import { edgesBy, timeOfEdge } from './clockRatio.ts';
import type { PortDevice } from '../portIo.ts';

export const PIT_HZ = 1_193_182;

const fromBcd = (v: number) => ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
const toBcd = (v: number) => (Math.floor(v / 1000) % 10 << 12) | (Math.floor(v / 100) % 10 << 8) | (Math.floor(v / 10) % 10 << 4) | (v % 10);

class PitCounter {
  /** Control word fields as written: access (RW1:RW0), mode bits (M2:M0), BCD. */
  access = 3;
  modeBits = 0;
  bcd = false;
  programmed = false;
  gate = true;
  /** The counting segment: the counting element held `n` at CLK edge `start` (-1: not counting). */
  n = 0;
  start = -1;
  /** The segment in force before `start` (a mode 2/3 count rewritten mid-period). */
  private prevN = 0;
  private prevStart = -1;
  /** Mode 0: terminal count reached (OUT stays high until reprogrammed); held across a gate-low pause. */
  private terminal = false;
  /** Edge at which the last written count reaches the counting element (null count until then), or -1. */
  private loadEdge = -1;
  private lowByte = -1;
  private readMsbNext = false;
  private latchedStatus = -1;
  private latchedBytes: number[] = [];

  get mode(): number {
    const m = this.modeBits;
    return m >= 6 ? m - 4 : m;
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** The segment covering edge t: [n, start], or the previous one before a pending reload. */
  private segmentAt(t: number): [number, number] {
    return this.start >= 0 && t < this.start && this.prevStart >= 0 ? [this.prevN, this.prevStart] : [this.n, this.start];
  }

  countAt(t: number): number {
    const [n, start] = this.segmentAt(t);
    if (start < 0 || t < start) return this.n % this.modulus;
    const e = t - start;
    switch (this.mode) {
      case 2: return n - (e % n);
      case 3: {
        const p = e % n, high = Math.ceil(n / 2);
        return (n & ~1) - 2 * (p < high ? p : p - high);
      }
      default: return (((n - e) % this.modulus) + this.modulus) % this.modulus;
    }
  }

  outAt(t: number): boolean {
    if (!this.programmed) return false;
    const [n, start] = this.segmentAt(t);
    const counting = start >= 0 && t >= start;
    const e = t - start;
    switch (this.mode) {
      case 0: return this.terminal || (counting && e >= n);
      case 1: return !counting || e >= n;
      case 2: return !counting || n < 2 || e % n !== n - 1;
      case 3: return !counting || e % n < Math.ceil(n / 2);
      default: return !counting || e !== n; // modes 4, 5: one CLK low at terminal count
    }
  }

  /** The first CLK edge after `t` at which OUT rises, or -1. */
  nextRise(t: number): number {
    if (!this.programmed || this.start < 0) return -1;
    switch (this.mode) {
      case 0: return !this.terminal && this.start + this.n > t ? this.start + this.n : -1;
      case 2: case 3: {
        const [n, start] = this.segmentAt(t);
        return t < start ? start + n : start + n * (Math.floor((t - start) / n) + 1);
      }
      case 4: case 5: return this.start + this.n + 1 > t ? this.start + this.n + 1 : -1;
      default: return -1; // mode 1: OUT rises at terminal count, once
    }
  }

  /** Control word for this counter: programming resets counting and the byte sequence. */
  control(cw: number): void {
    this.access = (cw >> 4) & 3;
    this.modeBits = (cw >> 1) & 7;
    this.bcd = (cw & 1) !== 0;
    this.programmed = true;
    this.start = this.prevStart = this.loadEdge = this.lowByte = -1;
    this.terminal = false;
    this.readMsbNext = false;
    this.latchedBytes = [];
    this.latchedStatus = -1;
  }

  /** A byte written to the counter's port at CLK edge t. */
  writeByte(v: number, t: number): void {
    if (!this.programmed) return;
    let value: number;
    if (this.access === 3) {
      if (this.lowByte < 0) {
        this.lowByte = v;
        if (this.mode === 0) { this.start = -1; this.terminal = false; } // writing the first byte stops mode 0
        return;
      }
      value = this.lowByte | (v << 8);
      this.lowByte = -1;
    } else {
      value = this.access === 1 ? v : v << 8;
    }
    const n = (this.bcd ? fromBcd(value) : value) || this.modulus;
    this.load(n, t);
  }

  private load(n: number, t: number): void {
    this.loadEdge = t + 1;
    const mode = this.mode;
    if ((mode === 2 || mode === 3) && this.start >= 0 && this.gate) {
      // Counting already: the new count is loaded at the end of the current period.
      const [pn, ps] = this.segmentAt(t);
      this.prevN = pn;
      this.prevStart = ps;
      this.start = t < ps ? ps + pn : ps + pn * (Math.floor((t - ps) / pn) + 1);
      this.loadEdge = this.start;
      this.n = n;
      return;
    }
    this.n = n;
    this.prevStart = -1;
    this.terminal = false;
    // Modes 1 and 5 wait for a gate trigger; the others count from the next CLK while the gate is high.
    this.start = mode === 1 || mode === 5 || !this.gate ? -1 : t + 1;
  }

  /** Gate input at CLK edge t (datasheet, "Gate" table per mode). */
  setGate(high: boolean, t: number): void {
    if (high === this.gate) return;
    this.gate = high;
    if (!this.programmed || this.loadEdge < 0) return;
    const mode = this.mode;
    if (!high) {
      if (mode === 0 || mode === 4) {
        // Counting pauses: hold the count (and whether terminal count was reached).
        if (this.start >= 0 && t >= this.start) {
          this.terminal = this.mode === 0 && this.outAt(t);
          this.n = this.countAt(t);
        }
        this.start = -1;
      } else if (mode === 2 || mode === 3) {
        this.start = this.prevStart = -1; // OUT goes high, counting stops
      }
      return;
    }
    // A rising gate resumes modes 0/4 and (re)triggers modes 1, 2, 3, 5 from the initial count.
    this.start = t + 1;
  }

  latchCount(t: number): void {
    if (this.latchedBytes.length) return; // a second latch before the read is ignored
    const c = this.countAt(t) & 0xffff;
    const v = this.bcd ? toBcd(c % 10000) : c;
    if (this.access === 1) this.latchedBytes = [v & 0xff];
    else if (this.access === 2) this.latchedBytes = [v >> 8];
    else this.latchedBytes = [v & 0xff, v >> 8];
  }

  /** Read-back status byte: OUT, null count, then the control word's RW, mode and BCD bits. */
  latchStatus(t: number): void {
    if (this.latchedStatus >= 0) return;
    const nullCount = this.loadEdge < 0 || t < this.loadEdge;
    this.latchedStatus = (this.outAt(t) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (this.access << 4) | (this.modeBits << 1) | (this.bcd ? 1 : 0);
  }

  readByte(t: number): number {
    if (this.latchedStatus >= 0) {
      const s = this.latchedStatus;
      this.latchedStatus = -1;
      return s;
    }
    const latched = this.latchedBytes.shift();
    if (latched !== undefined) return latched;
    const c = this.countAt(t) & 0xffff;
    const v = this.bcd ? toBcd(c % 10000) : c;
    if (this.access === 1) return v & 0xff;
    if (this.access === 2) return v >> 8;
    this.readMsbNext = !this.readMsbNext;
    return this.readMsbNext ? v & 0xff : v >> 8;
  }
}

export interface PitContext {
  /** Machine time (ticks of 1 ns at the nominal 1 GHz). */
  now(): number;
  /** The machine's timer queue, at machine time. */
  timers: TimerQueue;
  /** Counter 0's OUT, to ISA IRQ 0. */
  irq0(high: boolean): void;
}

export class Pit8254 implements PortDevice {
  readonly name = 'i8254 PIT';
  readonly counters = [new PitCounter(), new PitCounter(), new PitCounter()];
  /**
   * Counter 0's OUT as last driven. Taken as high before programming (what
   * firmware leaves), so that programming a periodic mode makes no edge.
   */
  private out0 = true;
  private event: TimerHandle | null = null;

  constructor(private readonly ctx: PitContext) {
    this.counters[2]!.gate = false; // port 61H bit 0 is clear after reset
  }

  /** CLK edges so far. */
  private edge(): number {
    return edgesBy(this.ctx.now(), PIT_HZ);
  }

  read(port: number): number {
    if (port === 0x43) return 0xff; // the control word register cannot be read
    return this.counters[port - 0x40]!.readByte(this.edge());
  }

  write(port: number, _size: number, value: number): void {
    const v = value & 0xff, t = this.edge();
    if (port !== 0x43) {
      this.counters[port - 0x40]!.writeByte(v, t);
      if (port === 0x40) this.counter0Changed(t);
      return;
    }
    const sc = v >> 6;
    if (sc === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 3:1 select counters 2..0.
      for (let k = 0; k < 3; k++) {
        if (!(v & (2 << k))) continue;
        if (!(v & 0x20)) this.counters[k]!.latchCount(t);
        if (!(v & 0x10)) this.counters[k]!.latchStatus(t);
      }
      return;
    }
    const c = this.counters[sc]!;
    if ((v & 0x30) === 0) {
      c.latchCount(t);
      return;
    }
    c.control(v);
    if (sc === 0) this.counter0Changed(t);
  }

  /** Counter 2's gate (port 61H bit 0). */
  setGate2(high: boolean): void {
    this.counters[2]!.setGate(high, this.edge());
  }

  /** Counter 2's OUT (port 61H bit 5). */
  out2(): boolean {
    return this.counters[2]!.outAt(this.edge());
  }

  /** Counter 0 was (re)programmed: drive OUT to its new level and schedule its next rising edge. */
  private counter0Changed(t: number): void {
    this.drive0(this.counters[0]!.outAt(t));
    this.schedule0(t);
  }

  private drive0(high: boolean): void {
    if (high === this.out0) return;
    this.out0 = high;
    this.ctx.irq0(high);
  }

  private schedule0(t: number): void {
    this.ctx.timers.cancel(this.event);
    this.event = null;
    const rise = this.counters[0]!.nextRise(t);
    if (rise < 0) return;
    this.event = this.ctx.timers.schedule(timeOfEdge(rise, PIT_HZ), () => {
      this.event = null;
      // A rising edge: OUT may have been low only for part of the CLK, so pulse it.
      this.drive0(false);
      this.drive0(true);
      this.schedule0(rise);
    });
  }
}
