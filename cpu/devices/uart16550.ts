/**
 * A 16550A UART (National Semiconductor PC16550D data sheet) at COM1,
 * ports 0x3f8-0x3ff, as a PC's serial port. Transmission is instantaneous:
 * THR and the transmitter are always empty (LSR.THRE = LSR.TEMT = 1), and
 * every byte written to THR goes straight to the output sink. Received
 * bytes come from the host (`feed`) and are read from RBR in order; the
 * host queue stands behind the receiver and is never overrun, so a FIFO
 * reset (FCR bit 1) discards only bytes already in the receiver (loopback
 * data), not input the host has not "sent" yet.
 *
 * Loopback (MCR bit 4) is modelled because serial drivers probe with it:
 * THR bytes return to the receiver instead of the line, the host input is
 * disconnected, and the modem-status inputs follow the modem-control
 * outputs (CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2).
 *
 * The interrupt line is level-triggered: `setIrq(level)` is called when
 * the line changes. As in QEMU, MCR.OUT2 does not gate the line (on a real
 * PC board OUT2 enables the IRQ driver; kernels written for QEMU may not
 * set it).
 */
import type { PortDevice } from '../portIo.ts';

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

// Register offsets (data sheet Table II).
const RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

// IER bits.
const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
// IIR values, highest priority first (data sheet Table IV); bit 0 = 1: no interrupt pending.
const IIR_NONE = 0x01, IIR_RLS = 0x06, IIR_RDA = 0x04, IIR_THRE = 0x02, IIR_MS = 0x00, IIR_FIFO = 0xc0;
// FCR bits.
const FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
// LCR bit 7: divisor latch access.
const LCR_DLAB = 0x80;
// MCR bits.
const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
// LSR bits.
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;
// MSR bits: deltas in 3:0, states in 7:4.
const MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80, MSR_TERI = 0x04;
/** Modem inputs with nothing attached to the line: CTS, DSR and DCD asserted (as QEMU reports). */
const MSR_IDLE_LINE = MSR_CTS | MSR_DSR | MSR_DCD;
/** Receiver FIFO depth in FIFO mode; 1 (the RBR) otherwise. */
const FIFO_DEPTH = 16;

export interface UartOptions {
  /** Receives each transmitted byte, in order. */
  onOutput?: (byte: number) => void;
  /** Called when the interrupt line changes level. */
  setIrq?: (level: boolean) => void;
}

export class Uart16550 implements PortDevice {
  readonly name = 'uart16550';
  /** Every byte transmitted to the line, in order. */
  readonly output: number[] = [];
  private readonly hostInput: number[] = [];
  private hostHead = 0;
  /** Bytes already in the receiver (only loopback puts them there). */
  private readonly rxFifo: number[] = [];
  private ier = 0;
  private lcr = 0x03; // 8 data bits, 1 stop bit, no parity
  private mcr = 0;
  private fcr = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud from the 1.8432 MHz clock
  private dlm = 0;
  private lsrErrors = 0;
  private msrDeltas = 0;
  /** THR-empty interrupt armed: set when THR empties, cleared by an IIR read that reports it or a THR write. */
  private threPending = true;
  private irqLevel = false;

  constructor(private readonly opts: UartOptions = {}) {}

  /** Queues bytes (a string is taken as Latin-1) arriving from the host side of the line. */
  feed(data: string | Uint8Array): void {
    if (typeof data === 'string') for (let k = 0; k < data.length; k++) this.hostInput.push(data.charCodeAt(k) & 0xff);
    else for (const b of data) this.hostInput.push(b);
    this.update();
  }

  /** The transmitted bytes as Latin-1 text. */
  text(): string {
    let s = '';
    for (const b of this.output) s += String.fromCharCode(b);
    return s;
  }

  read(port: number, size: number): number {
    let v = this.readReg(port & 7);
    // A wider access reads the following registers in the following bytes.
    for (let k = 1; k < size; k++) v |= this.readReg((port + k) & 7) << (8 * k);
    return v;
  }

  write(port: number, size: number, value: number): void {
    for (let k = 0; k < size; k++) this.writeReg((port + k) & 7, (value >>> (8 * k)) & 0xff);
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  private get dataReady(): boolean {
    return this.rxFifo.length > 0 || (!this.loopback && this.hostHead < this.hostInput.length);
  }

  private readReg(reg: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (reg) {
      case RBR_THR_DLL: return dlab ? this.dll : this.receive();
      case IER_DLM: return dlab ? this.dlm : this.ier;
      case IIR_FCR: return this.readIir();
      case LCR: return this.lcr;
      case MCR: return this.mcr;
      case LSR: {
        const v = (this.dataReady ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        this.lsrErrors = 0; // reading LSR clears the error bits
        this.update();
        return v;
      }
      case MSR: {
        const v = this.modemInputs() | this.msrDeltas;
        this.msrDeltas = 0; // reading MSR clears the delta bits
        this.update();
        return v;
      }
      case SCR:
      default: return this.scr;
    }
  }

  private writeReg(reg: number, v: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (reg) {
      case RBR_THR_DLL:
        if (dlab) this.dll = v;
        else this.transmit(v);
        break;
      case IER_DLM:
        if (dlab) {
          this.dlm = v;
        } else {
          // Enabling the THRE interrupt while THR is empty raises it at once (PC16550D "IER").
          if ((v & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0) this.threPending = true;
          this.ier = v & 0x0f;
        }
        break;
      case IIR_FCR:
        if ((v & FCR_ENABLE) !== ((this.fcr & FCR_ENABLE))) this.rxFifo.length = 0; // a mode change resets the FIFOs
        if ((v & FCR_CLEAR_RX) !== 0) this.rxFifo.length = 0;
        this.fcr = v & 0xc9; // enable, DMA mode, trigger level; the clear bits self-clear
        break;
      case LCR: this.lcr = v; break;
      case MCR: this.writeMcr(v & 0x1f); break;
      case LSR: case MSR: break; // read-only in this model (factory test registers)
      case SCR:
      default: this.scr = v;
    }
    this.update();
  }

  private receive(): number {
    let b = 0;
    if (this.rxFifo.length) b = this.rxFifo.shift()!;
    else if (!this.loopback && this.hostHead < this.hostInput.length) {
      b = this.hostInput[this.hostHead++]!;
      if (this.hostHead === this.hostInput.length) {
        this.hostInput.length = 0;
        this.hostHead = 0;
      }
    }
    this.update();
    return b;
  }

  private transmit(b: number): void {
    this.threPending = true; // THR empties at once: the byte moves to the (instant) shift register
    if (this.loopback) {
      const depth = (this.fcr & FCR_ENABLE) !== 0 ? FIFO_DEPTH : 1;
      if (this.rxFifo.length < depth) this.rxFifo.push(b);
      else this.lsrErrors |= LSR_OE; // overrun: the new byte is lost
      return;
    }
    this.output.push(b);
    this.opts.onOutput?.(b);
  }

  private writeMcr(v: number): void {
    const before = this.modemInputs();
    this.mcr = v;
    const after = this.modemInputs();
    // Delta bits (MSR 3:0) record changes of CTS, DSR, DCD; TERI records RI going from on to off.
    const changed = (before ^ after) >> 4;
    this.msrDeltas |= changed & 0x0b;
    if ((before & MSR_RI) !== 0 && (after & MSR_RI) === 0) this.msrDeltas |= MSR_TERI;
  }

  /** MSR bits 7:4: the line's inputs, or in loopback the MCR outputs routed back. */
  private modemInputs(): number {
    if (!this.loopback) return MSR_IDLE_LINE;
    const m = this.mcr;
    return ((m & MCR_RTS) ? MSR_CTS : 0) | ((m & MCR_DTR) ? MSR_DSR : 0) |
      ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0);
  }

  /** The highest-priority pending enabled interrupt's IIR code, or IIR_NONE. */
  private pendingIir(): number {
    if ((this.ier & IER_RLS) !== 0 && this.lsrErrors !== 0) return IIR_RLS;
    if ((this.ier & IER_RDA) !== 0 && this.dataReady) return IIR_RDA;
    if ((this.ier & IER_THRE) !== 0 && this.threPending) return IIR_THRE;
    if ((this.ier & IER_MS) !== 0 && this.msrDeltas !== 0) return IIR_MS;
    return IIR_NONE;
  }

  private readIir(): number {
    const id = this.pendingIir();
    // Reading IIR while it reports THRE clears that interrupt (PC16550D Table IV).
    if (id === IIR_THRE) this.threPending = false;
    this.update();
    return id | ((this.fcr & FCR_ENABLE) !== 0 ? IIR_FIFO : 0);
  }

  private update(): void {
    const level = this.pendingIir() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.opts.setIrq?.(level);
    }
  }
}
