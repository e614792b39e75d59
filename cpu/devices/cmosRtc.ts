/**
 * The CMOS real-time clock (Motorola MC146818 datasheet, PC/AT layout):
 * index port 70H (bits 6:0 select one of 128 bytes, bit 7 disables NMI),
 * data port 71H. Registers 00H-09H hold seconds, alarm seconds, minutes,
 * alarm minutes, hours, alarm hours, day of week, date, month and year
 * (BCD or binary, 12- or 24-hour, per register B); 0AH-0DH are registers
 * A-D; 32H is the century (PC convention); the rest is battery-backed RAM.
 *
 * Time is machine time (DESIGN decision 3) from a fixed start,
 * 2026-01-01 00:00:00 (a Thursday), so every run reads the same dates.
 * The update cycle happens at each whole second of machine time since the
 * divider last started; UIP (register A bit 7) is set during the 244 us
 * before each update, deterministically. SET (register B bit 7) or a
 * divider reset (register A DV = 11xB) stops updates; software then
 * writes the time. Register C's flags (PF periodic, AF alarm, UF update-
 * ended) are computed from machine time since C was last read, and IRQ 8
 * is raised when an enabled flag sets (its line stays asserted until C is
 * read). The daylight-saving and square-wave outputs are not modelled.
 */
import type { TimerHandle, TimerQueue } from '../time/timerQueue.ts';
import { type DateTime, fromSeconds, toSeconds } from './calendar.ts';
import { edgesBy, floorDiv, MACHINE_HZ, timeOfEdge } from './clockRatio.ts';
import type { PortDevice } from '../portIo.ts';

export const RTC_START: DateTime = { year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
/** UIP is set this long before each update (datasheet: 244 us). */
const UIP_WINDOW = 244_000;
const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32;
const B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_BINARY = 0x04, B_24H = 0x02;
const C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;

export interface RtcContext {
  now(): number;
  timers: TimerQueue;
  /** The RTC's interrupt output, to ISA IRQ 8. */
  irq8(high: boolean): void;
}

export class CmosRtc implements PortDevice {
  readonly name = 'CMOS RTC';
  private index = 0;
  /** Port 70H bit 7 (stored; nothing raises NMIs through it). */
  nmiDisabled = false;
  private readonly ram = new Uint8Array(128);
  /** Seconds since 1900 at machine time `phase` (an update boundary), or held while stopped. */
  private seconds: number;
  private phase = 0;
  private held: number | null = null;
  /** Day of week as written, relative to the one the date implies. */
  private dowOffset = 0;
  /** Register C flags set before the last timing change, and when C was last read. */
  private banked = 0;
  private lastC = 0;
  private irqLine = false;
  private event: TimerHandle | null = null;

  constructor(private readonly ctx: RtcContext, start: DateTime = RTC_START) {
    this.seconds = toSeconds(start);
    this.ram[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    this.ram[REG_B] = B_24H;
    this.ram[REG_D] = 0x80; // valid RAM and time
    this.ram[CENTURY] = this.encode(Math.floor(start.year / 100));
  }

  private get running(): boolean {
    return this.held === null;
  }

  /** Seconds since 1900 at machine time t. */
  private secondsAt(t: number): number {
    return this.held ?? this.seconds + floorDiv(t - this.phase, MACHINE_HZ);
  }

  private encode(v: number): number {
    return this.ram[REG_B]! & B_BINARY ? v : (Math.floor(v / 10) << 4) | (v % 10);
  }

  private decode(v: number): number {
    return this.ram[REG_B]! & B_BINARY ? v : (v >> 4) * 10 + (v & 0xf);
  }

  private encodeHour(h: number): number {
    if (this.ram[REG_B]! & B_24H) return this.encode(h);
    return this.encode(h % 12 || 12) | (h >= 12 ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.ram[REG_B]! & B_24H) return this.decode(v);
    const h = this.decode(v & 0x7f) % 12;
    return v & 0x80 ? h + 12 : h;
  }

  read(port: number): number {
    if (port === 0x70) return 0xff; // the index register is write-only
    return this.readRegister(this.index);
  }

  write(port: number, _size: number, value: number): void {
    if (port === 0x70) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & 0x80) !== 0;
    } else {
      this.writeRegister(this.index, value & 0xff);
    }
  }

  readRegister(reg: number): number {
    const t = this.ctx.now();
    if (reg <= 9) return this.readTime(reg, t);
    switch (reg) {
      case REG_A: return this.ram[REG_A]! | (this.inUpdateWindow(t) ? 0x80 : 0);
      case REG_C: {
        let c = this.banked | this.flagsSince(this.lastC, t);
        if (c & this.ram[REG_B]! & (C_PF | C_AF | C_UF)) c |= C_IRQF;
        this.banked = 0;
        this.lastC = t;
        this.setIrq(false);
        this.schedule();
        return c;
      }
      default: return this.ram[reg]!;
    }
  }

  writeRegister(reg: number, v: number): void {
    const t = this.ctx.now();
    if (reg <= 9) this.writeTime(reg, v, t);
    else if (reg === REG_A) this.writeA(v, t);
    else if (reg === REG_B) this.writeB(v, t);
    else if (reg !== REG_C && reg !== REG_D) this.ram[reg] = v; // C and D are read-only
  }

  private readTime(reg: number, t: number): number {
    if (reg & 1 && reg < 6) return this.ram[reg]!; // alarms as written
    const d = fromSeconds(this.secondsAt(t));
    switch (reg) {
      case 0: return this.encode(d.second);
      case 2: return this.encode(d.minute);
      case 4: return this.encodeHour(d.hour);
      case 6: return this.encode(((d.dayOfWeek - 1 + this.dowOffset) % 7 + 7) % 7 + 1);
      case 7: return this.encode(d.day);
      case 8: return this.encode(d.month);
      default: return this.encode(d.year % 100);
    }
  }

  /** Writes a time or alarm field; the clock keeps its second phase. */
  private writeTime(reg: number, v: number, t: number): void {
    if (reg & 1 && reg < 6) {
      this.ram[reg] = v;
      return;
    }
    const d = fromSeconds(this.secondsAt(t));
    const century = this.decode(this.ram[CENTURY]!);
    switch (reg) {
      case 0: d.second = this.decode(v); break;
      case 2: d.minute = this.decode(v); break;
      case 4: d.hour = this.decodeHour(v); break;
      case 6: this.dowOffset = this.decode(v) - d.dayOfWeek; return;
      case 7: d.day = this.decode(v); break;
      case 8: d.month = this.decode(v); break;
      default: d.year = century * 100 + this.decode(v); break;
    }
    this.bank(t);
    const s = toSeconds(d);
    if (this.held !== null) this.held = s;
    else this.seconds = s - floorDiv(t - this.phase, MACHINE_HZ);
  }

  /** Register A: DV = 010B runs the divider (the first update comes 500 ms after it starts), 11xB holds it in reset. */
  private writeA(v: number, t: number): void {
    this.bank(t);
    const wasRunning = (this.ram[REG_A]! & 0x70) === 0x20;
    this.ram[REG_A] = v & 0x7f;
    const runs = (v & 0x70) === 0x20;
    if (runs && !wasRunning) this.restart(t - MACHINE_HZ / 2);
    else if (!runs && this.held === null) this.held = this.secondsAt(t);
    this.schedule();
  }

  /** Register B: SET stops updates (and clears UIE); clearing it restarts them from now. */
  private writeB(v: number, t: number): void {
    this.bank(t);
    if (v & B_SET) {
      v &= ~B_UIE;
      if (this.held === null) this.held = this.secondsAt(t);
    } else if (this.ram[REG_B]! & B_SET) {
      this.ram[REG_B] = v;
      if ((this.ram[REG_A]! & 0x70) === 0x20) this.restart(t);
    }
    this.ram[REG_B] = v;
    this.schedule();
  }

  private restart(phase: number): void {
    if (this.held === null) return;
    this.seconds = this.held;
    this.phase = phase;
    this.held = null;
  }

  /** Keeps the flags earned so far before the timing changes. */
  private bank(t: number): void {
    this.banked |= this.flagsSince(this.lastC, t);
    this.lastC = t;
  }

  private inUpdateWindow(t: number): boolean {
    if (!this.running) return false;
    return t - this.phase - floorDiv(t - this.phase, MACHINE_HZ) * MACHINE_HZ >= MACHINE_HZ - UIP_WINDOW;
  }

  /** Periodic rate (register A RS bits) in Hz, or 0 when off (datasheet Table 5). */
  private periodicHz(): number {
    const rs = this.ram[REG_A]! & 0xf;
    return rs === 0 ? 0 : rs === 1 ? 256 : rs === 2 ? 128 : 65536 >> rs;
  }

  /** Update boundaries (whole seconds since phase) by time t. */
  private updatesBy(t: number): number {
    return t < this.phase ? -1 : floorDiv(t - this.phase, MACHINE_HZ);
  }

  /** Register C flags for what happened in (from, to]. */
  private flagsSince(from: number, to: number): number {
    let f = 0;
    const hz = this.periodicHz();
    if (hz && this.running && edgesBy(to, hz) > edgesBy(from, hz)) f |= C_PF;
    if (!this.running) return f;
    const u0 = this.updatesBy(from), u1 = this.updatesBy(to);
    if (u1 > u0) {
      f |= C_UF;
      if (this.alarmBetween(this.seconds + u0 + 1, this.seconds + u1)) f |= C_AF;
    }
    return f;
  }

  /** An alarm match at some update landing on a second in [s0, s1]; FFH-C0H fields match anything. */
  private alarmBetween(s0: number, s1: number): boolean {
    const alarm = [this.ram[1]!, this.ram[3]!, this.ram[5]!];
    const fits = (s: number) => {
      const d = fromSeconds(s);
      const now = [this.encode(d.second), this.encode(d.minute), this.encodeHour(d.hour)];
      return alarm.every((a, k) => (a & 0xc0) === 0xc0 || a === now[k]);
    };
    for (let s = s0; s <= Math.min(s1, s0 + 86399); s++) if (fits(s)) return true;
    return false;
  }

  private setIrq(high: boolean): void {
    if (high === this.irqLine) return;
    this.irqLine = high;
    this.ctx.irq8(high);
  }

  /** Schedules the next moment an enabled flag could set: a periodic edge or an update. */
  private schedule(): void {
    this.ctx.timers.cancel(this.event);
    this.event = null;
    const b = this.ram[REG_B]!;
    if (this.irqLine || !this.running || !(b & (B_PIE | B_AIE | B_UIE))) return;
    const t = this.ctx.now();
    let due = Infinity;
    const hz = this.periodicHz();
    if (b & B_PIE && hz) due = timeOfEdge(edgesBy(t, hz) + 1, hz);
    if (b & (B_AIE | B_UIE)) due = Math.min(due, this.phase + (this.updatesBy(t) + 1) * MACHINE_HZ);
    this.event = this.ctx.timers.schedule(due, () => {
      this.event = null;
      const pending = this.banked | this.flagsSince(this.lastC, this.ctx.now());
      if (pending & this.ram[REG_B]! & (C_PF | C_AF | C_UF)) this.setIrq(true);
      else this.schedule();
    });
  }
}
