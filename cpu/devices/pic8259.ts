/**
 * The PC's pair of 8259A programmable interrupt controllers (Intel 8259A
 * datasheet): master at ports 20H/21H, slave at A0H/A1H cascaded on the
 * master's IR2, plus the PIIX edge/level control registers (ELCR) at
 * 4D0H/4D1H. Implemented: the ICW1-ICW4 initialisation sequence, OCW1 (the
 * mask), OCW2 (non-specific, specific and rotating EOI, set priority,
 * rotate in automatic-EOI mode), OCW3 (IRR/ISR read, poll, special mask
 * mode), edge and level triggering, automatic EOI, special fully nested
 * mode, the INTA sequence with the cascade, and the spurious IR7 vector
 * when a request goes away before it is acknowledged.
 *
 * Simplifications: vectors are always the 8086 form (ICW2 & F8H | IR), as
 * x86 software sets ICW4.µPM; buffered mode is ignored; an edge-triggered
 * request stays in IRR once latched, even if the line falls before INTA.
 */
import type { ExtIntController } from './apic/localApic.ts';
import type { PortDevice } from '../portIo.ts';

/** One 8259A. */
export class Pic8259 {
  irr = 0;
  isr = 0;
  imr = 0;
  /** The IR with the lowest priority; the next one up has the highest (rotation, "set priority"). */
  lowest = 7;
  vectorBase = 0;
  /** ICW3: slave lines (master) or the slave's ID. */
  icw3 = 0;
  autoEoi = false;
  rotateInAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  /** ICW1.LTIM: every input level-triggered. */
  levelAll = false;
  /** ELCR bits: per-input level triggering. */
  elcr = 0;
  private readIsr = false;
  private pollNext = false;
  /** 0 = operational, else waiting for ICW2, ICW3, ICW4. */
  private initStep = 0;
  private needIcw3 = false;
  private needIcw4 = false;
  /** Input line levels. */
  private lines = 0;

  constructor(readonly isMaster: boolean) {}

  private isLevel(irq: number): boolean {
    return this.levelAll || (this.elcr & (1 << irq)) !== 0;
  }

  /** Drives input IR`irq`: an edge input latches IRR on the rising edge; a level input's IRR follows the line. */
  setLine(irq: number, high: boolean): void {
    const bit = 1 << irq;
    const rising = high && !(this.lines & bit);
    this.lines = high ? this.lines | bit : this.lines & ~bit;
    if (this.isLevel(irq)) this.irr = high ? this.irr | bit : this.irr & ~bit;
    else if (rising) this.irr |= bit;
  }

  /** ELCR write: a level-triggered input's IRR follows its line from now on. */
  setElcr(v: number): void {
    this.elcr = v;
    for (let irq = 0; irq < 8; irq++) if (this.isLevel(irq)) this.setLine(irq, (this.lines & (1 << irq)) !== 0);
  }

  /** Priority rank of `irq`: 0 is the highest. */
  private rank(irq: number): number {
    return (irq - this.lowest - 1) & 7;
  }

  /** The highest-priority IR set in `bits`, or -1. */
  private highest(bits: number): number {
    for (let k = 0; k < 8; k++) {
      const irq = (this.lowest + 1 + k) & 7;
      if (bits & (1 << irq)) return irq;
    }
    return -1;
  }

  /**
   * The request INT would signal: the highest unmasked IRR bit of higher
   * priority than everything in service. Special mask mode only lets
   * unmasked in-service levels block; special fully nested mode lets a
   * slave's further requests through while its cascade line is in service.
   */
  pending(): number {
    const req = this.highest(this.irr & ~this.imr);
    if (req < 0) return -1;
    let inService = this.specialMask ? this.isr & ~this.imr : this.isr;
    if (this.specialFullyNested && this.isMaster) inService &= ~this.icw3;
    const cur = this.highest(inService);
    return cur < 0 || this.rank(req) < this.rank(cur) ? req : -1;
  }

  /** First INTA of a request: IRR to ISR (unless automatic EOI); an edge request is consumed. */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (!this.isLevel(irq)) this.irr &= ~bit;
    if (!this.autoEoi) this.isr |= bit;
    else if (this.rotateInAutoEoi) this.lowest = irq;
  }

  readCommand(): number {
    if (this.pollNext) {
      this.pollNext = false;
      const irq = this.pending();
      if (irq < 0) return 0;
      this.acknowledge(irq);
      return 0x80 | irq;
    }
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    return this.imr;
  }

  writeCommand(v: number): void {
    if (v & 0x10) this.icw1(v);
    else if (v & 0x08) this.ocw3(v);
    else this.ocw2(v);
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 1: // ICW2
        this.vectorBase = v & 0xf8;
        this.initStep = this.needIcw3 ? 2 : this.needIcw4 ? 3 : 0;
        return;
      case 2: // ICW3
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 3 : 0;
        return;
      case 3: // ICW4: bit 1 AEOI, bit 4 SFNM
        this.autoEoi = (v & 0x02) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default: // OCW1
        this.imr = v;
    }
  }

  /**
   * ICW1 starts initialisation: the edge-sense latches reset (edge IRR bits
   * clear), IMR and ISR clear, IR7 lowest priority, special mask mode off,
   * reads return IRR; without IC4 the ICW4 functions are zero.
   */
  private icw1(v: number): void {
    this.levelAll = (v & 0x08) !== 0;
    this.needIcw3 = (v & 0x02) === 0;
    this.needIcw4 = (v & 0x01) !== 0;
    this.initStep = 1;
    this.imr = 0;
    this.isr = 0;
    let levelIrr = 0;
    for (let irq = 0; irq < 8; irq++) if (this.isLevel(irq) && (this.lines & (1 << irq))) levelIrr |= 1 << irq;
    this.irr = levelIrr;
    this.lowest = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.pollNext = false;
    this.rotateInAutoEoi = false;
    if (!this.needIcw4) this.autoEoi = this.specialFullyNested = false;
  }

  /** OCW2: R, SL, EOI (bits 7:5) and the level (bits 2:0). */
  private ocw2(v: number): void {
    const level = v & 7;
    switch (v >>> 5) {
      case 0b001: this.nonSpecificEoi(false); break;
      case 0b101: this.nonSpecificEoi(true); break;
      case 0b011: this.isr &= ~(1 << level); break;
      case 0b111: this.isr &= ~(1 << level); this.lowest = level; break;
      case 0b110: this.lowest = level; break;
      case 0b100: this.rotateInAutoEoi = true; break;
      case 0b000: this.rotateInAutoEoi = false; break;
      default: break; // 010: no operation
    }
  }

  /** Clears the highest-priority in-service bit (and makes it the lowest priority when rotating). */
  private nonSpecificEoi(rotate: boolean): void {
    const irq = this.highest(this.isr);
    if (irq < 0) return;
    this.isr &= ~(1 << irq);
    if (rotate) this.lowest = irq;
  }

  /** OCW3: ESMM/SMM (bits 6:5), poll (bit 2), RR/RIS (bits 1:0). */
  private ocw3(v: number): void {
    if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
    if (v & 0x04) this.pollNext = true;
    if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
  }
}

/** ELCR bits that exist: IRQ 0-2 (master) and 8, 13 (slave) are always edge-triggered. */
const ELCR_MASK = [0xf8, 0xde];

/** The cascaded pair, its ports, and its INTR output towards the BSP's LINT0 (or INTR). */
export class PicPair implements PortDevice, ExtIntController {
  readonly name = 'i8259 PIC';
  readonly master = new Pic8259(true);
  readonly slave = new Pic8259(false);
  private output = false;
  /** Told when INTR changes. */
  onOutput: ((high: boolean) => void) | null = null;

  /** ISA IRQ 0-15 input lines; IRQ 2 is the cascade and not an input. */
  setIrq(irq: number, high: boolean): void {
    if (irq >= 8) this.slave.setLine(irq - 8, high);
    else if (irq !== 2) this.master.setLine(irq, high);
    this.update();
  }

  intr(): boolean {
    return this.output;
  }

  /**
   * The INTA sequence: the master resolves its highest request; if that is
   * the cascade line the slave supplies the vector. A request that went
   * away yields the spurious IR7 vector of the controller that lost it
   * (with the master's cascade bit in service for a slave's spurious IR7).
   */
  inta(): number {
    const irq = this.master.pending();
    let vector: number;
    if (irq < 0) {
      vector = this.master.vectorBase | 7;
    } else {
      this.master.acknowledge(irq);
      if (this.master.icw3 & (1 << irq)) {
        const s = this.slave.pending();
        if (s < 0) vector = this.slave.vectorBase | 7;
        else {
          this.slave.acknowledge(s);
          vector = this.slave.vectorBase | s;
        }
      } else {
        vector = this.master.vectorBase | irq;
      }
    }
    this.update();
    return vector;
  }

  read(port: number): number {
    const v = this.readPort(port);
    this.update(); // a poll read acknowledges
    return v;
  }

  private readPort(port: number): number {
    switch (port) {
      case 0x20: return this.master.readCommand();
      case 0x21: return this.master.readData();
      case 0xa0: return this.slave.readCommand();
      case 0xa1: return this.slave.readData();
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
      default: return 0xff;
    }
  }

  write(port: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case 0x20: this.master.writeCommand(v); break;
      case 0x21: this.master.writeData(v); break;
      case 0xa0: this.slave.writeCommand(v); break;
      case 0xa1: this.slave.writeData(v); break;
      case 0x4d0: this.master.setElcr(v & ELCR_MASK[0]!); break;
      case 0x4d1: this.slave.setElcr(v & ELCR_MASK[1]!); break;
    }
    this.update();
  }

  /** Propagates the slave's INT to master IR2 and the master's INT to INTR. */
  private update(): void {
    this.master.setLine(2, this.slave.pending() >= 0);
    const out = this.master.pending() >= 0;
    if (out === this.output) return;
    this.output = out;
    this.onOutput?.(out);
  }
}
