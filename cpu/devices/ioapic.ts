/**
 * The I/O APIC, as the Intel 82093AA datasheet describes it: an indirect
 * register window (IOREGSEL at offset 00H, IOWIN at 10H) at 0xFEC00000,
 * the ID (00H), version (01H: version 11H, 24 redirection entries),
 * arbitration ID (02H) and the redirection table (10H-3FH, two 32-bit
 * halves per entry: vector, delivery mode, destination mode, delivery
 * status, polarity, remote IRR, trigger mode, mask; destination in bits
 * 63:56). Each input pin sends an interrupt message to the local APICs
 * (apicBus.ts): an edge-triggered pin on its assertion edge, a level-
 * triggered pin while asserted and remote IRR is clear; a local APIC's EOI
 * of the vector clears remote IRR (there is no EOI register before
 * version 20H). Delivery is instantaneous, so delivery status reads idle.
 */
import type { ApicBus } from './apic/apicBus.ts';
import { DeliveryMode, Shorthand } from './apic/registers.ts';
import type { MmioDevice } from '../memory/physical.ts';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_PINS = 24;
const VERSION = 0x11 | ((IOAPIC_PINS - 1) << 16);

const RTE_DEST_LOGICAL = 1 << 11;
const RTE_POLARITY_LOW = 1 << 13;
const RTE_REMOTE_IRR = 1 << 14;
const RTE_LEVEL = 1 << 15;
const RTE_MASKED = 1 << 16;
/** Writable low-half bits: vector, delivery mode, destination mode, polarity, trigger mode, mask. */
const RTE_LO_WRITABLE = 0x1afff;

export class IoApic implements MmioDevice {
  readonly name = 'I/O APIC';
  /** IOREGSEL: the register IOWIN reaches. */
  private select = 0;
  /** I/O APIC ID, bits 27:24 of register 00H. */
  id = 0;
  private readonly rteLo = new Uint32Array(IOAPIC_PINS).fill(RTE_MASKED);
  private readonly rteHi = new Uint32Array(IOAPIC_PINS);
  private readonly remoteIrr: boolean[] = new Array<boolean>(IOAPIC_PINS).fill(false);
  /** Electrical level of each input pin. */
  private readonly pins: boolean[] = new Array<boolean>(IOAPIC_PINS).fill(false);

  constructor(private readonly bus: ApicBus, id = 0) {
    this.id = id & 0xf;
    bus.onEoi((v) => this.eoi(v));
  }

  read(off: number, size: number): number {
    const v = off === 0x00 ? this.select : off === 0x10 ? this.readRegister(this.select) : 0;
    return size === 4 ? v | 0 : v & (size === 2 ? 0xffff : 0xff);
  }

  write(off: number, size: number, value: number): void {
    if (off === 0x00) this.select = value & 0xff;
    else if (off === 0x10 && size === 4) this.writeRegister(this.select, value >>> 0);
  }

  /** An indirect register (datasheet §3.2); undefined registers read 0. */
  readRegister(reg: number): number {
    if (reg === 0x00 || reg === 0x02) return (this.id << 24) >>> 0; // ID; arbitration ID = ID
    if (reg === 0x01) return VERSION;
    const pin = (reg - 0x10) >> 1;
    if (reg < 0x10 || pin >= IOAPIC_PINS) return 0;
    if (reg & 1) return this.rteHi[pin]!;
    return (this.rteLo[pin]! | (this.remoteIrr[pin] ? RTE_REMOTE_IRR : 0)) >>> 0;
  }

  writeRegister(reg: number, v: number): void {
    if (reg === 0x00) {
      this.id = (v >>> 24) & 0xf;
      return;
    }
    const pin = (reg - 0x10) >> 1;
    if (reg < 0x10 || pin >= IOAPIC_PINS) return; // version and arbitration ID are read-only
    if (reg & 1) {
      this.rteHi[pin] = v & 0xff000000;
      return;
    }
    this.rteLo[pin] = v & RTE_LO_WRITABLE;
    if (!(v & RTE_LEVEL)) this.remoteIrr[pin] = false; // remote IRR has no meaning for edge triggering
    this.serviceLevel(pin);
  }

  /** Drives input pin `pin` to electrical level `high` (an active-low pin is asserted when low). */
  setPin(pin: number, high: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const lo = this.rteLo[pin]!;
    const polarityLow = (lo & RTE_POLARITY_LOW) !== 0;
    const wasAsserted = this.pins[pin] !== polarityLow;
    this.pins[pin] = high;
    const asserted = high !== polarityLow;
    if (lo & RTE_LEVEL) this.serviceLevel(pin);
    else if (asserted && !wasAsserted && !(lo & RTE_MASKED)) this.send(pin); // a masked edge is lost
  }

  /** A level-triggered pin sends while asserted, unmasked and not awaiting EOI. */
  private serviceLevel(pin: number): void {
    const lo = this.rteLo[pin]!;
    if (!(lo & RTE_LEVEL) || (lo & RTE_MASKED) || this.remoteIrr[pin]) return;
    if (this.pins[pin] === ((lo & RTE_POLARITY_LOW) !== 0)) return; // not asserted
    if (this.send(pin) > 0) this.remoteIrr[pin] = true;
  }

  private send(pin: number): number {
    const lo = this.rteLo[pin]!;
    return this.bus.send({
      vector: lo & 0xff,
      mode: ((lo >>> 8) & 7) as DeliveryMode,
      logical: (lo & RTE_DEST_LOGICAL) !== 0,
      dest: this.rteHi[pin]! >>> 24,
      level: (lo & RTE_LEVEL) !== 0,
      assert: true,
      shorthand: Shorthand.None,
      x2: false,
      from: null,
    });
  }

  /** EOI message from a local APIC: clears remote IRR of level-triggered entries with this vector. */
  private eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      if (this.remoteIrr[pin] && (this.rteLo[pin]! & 0xff) === vector) {
        this.remoteIrr[pin] = false;
        this.serviceLevel(pin);
      }
    }
  }
}
