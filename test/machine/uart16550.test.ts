/**
 * The 16550 UART's registers (PC16550D data sheet, Tables II and IV):
 * THR/RBR, IER, IIR/FCR, LCR with the divisor latch, MCR with loopback,
 * LSR, MSR, SCR, and the interrupt line.
 */
import { describe, expect, it } from 'vitest';
import { COM1_PORT as B, Uart16550 } from '../../cpu/devices/uart16550.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';

const RBR = B, THR = B, DLL = B, IER = B + 1, DLM = B + 1, IIR = B + 2, FCR = B + 2, LCR = B + 3, MCR = B + 4, LSR = B + 5, MSR = B + 6, SCR = B + 7;

function uart() {
  const out: number[] = [];
  const irq: boolean[] = [];
  const u = new Uart16550({ onOutput: (b) => out.push(b), setIrq: (l) => irq.push(l) });
  return { u, out, irq, r: (p: number) => u.read(p, 1), w: (p: number, v: number) => u.write(p, 1, v) };
}

describe('16550 transmit and receive', () => {
  it('sends THR writes to the output in order; THRE and TEMT always read 1 (LSR bits 5, 6)', () => {
    const { u, out, r, w } = uart();
    for (const ch of 'ok\n') w(THR, ch.charCodeAt(0));
    expect(out).toEqual([0x6f, 0x6b, 0x0a]);
    expect(u.text()).toBe('ok\n');
    expect(r(LSR)).toBe(0x60);
  });

  it('sets LSR.DR while received bytes wait, and RBR returns them in order', () => {
    const { u, r } = uart();
    u.feed('ab');
    expect(r(LSR) & 1).toBe(1);
    expect(r(RBR)).toBe(0x61);
    expect(r(LSR) & 1).toBe(1);
    expect(r(RBR)).toBe(0x62);
    expect(r(LSR)).toBe(0x60);
    u.feed(Uint8Array.of(0xff));
    expect(r(RBR)).toBe(0xff);
  });

  it('keeps host input through a FIFO reset (FCR bit 1), which clears only the receiver', () => {
    const { u, r, w } = uart();
    u.feed('z');
    w(FCR, 0x07);
    expect(r(RBR)).toBe(0x7a);
  });
});

describe('16550 registers', () => {
  it('DLAB (LCR bit 7) maps the divisor latch over RBR/THR and IER', () => {
    const { out, r, w } = uart();
    w(LCR, 0x83);
    w(DLL, 0x01);
    w(DLM, 0x00);
    expect(r(DLL)).toBe(0x01);
    expect(r(DLM)).toBe(0x00);
    expect(out).toEqual([]); // the DLL write did not transmit
    w(LCR, 0x03);
    expect(r(LCR)).toBe(0x03);
    expect(r(IER)).toBe(0);
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f); // bits 7:4 are always 0
  });

  it('the scratch register holds any byte; MCR keeps bits 4:0', () => {
    const { r, w } = uart();
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
    w(MCR, 0xff);
    expect(r(MCR)).toBe(0x1f);
  });

  it('IIR reads 01H with nothing pending, with bits 7:6 set once FIFOs are enabled', () => {
    const { r, w } = uart();
    expect(r(IIR)).toBe(0x01);
    w(FCR, 0x01);
    expect(r(IIR)).toBe(0xc1);
  });

  it('MSR reports CTS, DSR and DCD asserted with nothing on the line', () => {
    const { r } = uart();
    expect(r(MSR)).toBe(0xb0);
  });

  it('a 16-bit read returns two consecutive registers', () => {
    const { u, w } = uart();
    w(LCR, 0x1b);
    w(MCR, 0x03);
    expect(u.read(LCR, 2)).toBe(0x031b);
  });
});

describe('16550 loopback (MCR bit 4), as serial drivers probe it', () => {
  it('returns THR bytes to RBR instead of the line, and ignores host input meanwhile', () => {
    const { u, out, r, w } = uart();
    u.feed('H');
    w(MCR, 0x1e); // loopback, RTS, OUT1, OUT2
    w(THR, 0xae);
    expect(out).toEqual([]);
    expect(r(LSR) & 1).toBe(1);
    expect(r(RBR)).toBe(0xae);
    expect(r(LSR) & 1).toBe(0);
    w(MCR, 0x0f);
    expect(r(RBR)).toBe(0x48); // the host byte is back once loopback ends
  });

  it('routes RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD and records the changes as deltas', () => {
    const { r, w } = uart();
    w(MCR, 0x10);
    r(MSR); // clear deltas from leaving the idle line
    w(MCR, 0x10 | 0x02); // RTS
    expect(r(MSR)).toBe(0x10 | 0x01); // CTS, DCTS
    expect(r(MSR)).toBe(0x10); // reading cleared the delta
    w(MCR, 0x10 | 0x01 | 0x04 | 0x08); // DTR, OUT1, OUT2 (RTS off)
    expect(r(MSR)).toBe(0x20 | 0x40 | 0x80 | 0x01 | 0x02 | 0x08);
    w(MCR, 0x10 | 0x01 | 0x08); // OUT1 off: RI falls, TERI
    expect(r(MSR)).toBe(0x20 | 0x80 | 0x04);
  });

  it('flags an overrun (LSR bit 1) when the receiver is full, and reading LSR clears it', () => {
    const { r, w } = uart();
    w(MCR, 0x10);
    w(THR, 1);
    w(THR, 2); // FIFOs off: a one-byte receiver
    expect(r(LSR)).toBe(0x60 | 0x02 | 0x01);
    expect(r(LSR)).toBe(0x60 | 0x01);
    expect(r(RBR)).toBe(1);
  });
});

describe('16550 interrupts (IER, IIR priorities, the line)', () => {
  it('raises the line for received data (IIR 04H) and drops it when RBR is read', () => {
    const { u, irq, r, w } = uart();
    w(IER, 0x01);
    expect(irq).toEqual([]);
    u.feed('x');
    expect(irq).toEqual([true]);
    expect(r(IIR)).toBe(0x04);
    r(RBR);
    expect(irq).toEqual([true, false]);
    expect(r(IIR)).toBe(0x01);
  });

  it('raises THRE (IIR 02H) when enabled with THR empty; an IIR read or a THR write clears it, and it re-arms', () => {
    const { irq, r, w } = uart();
    w(IER, 0x02);
    expect(irq).toEqual([true]);
    expect(r(IIR)).toBe(0x02);
    expect(irq).toEqual([true, false]);
    expect(r(IIR)).toBe(0x01);
    w(THR, 0x41); // transmitted at once: THR empty again
    expect(irq).toEqual([true, false, true]);
  });

  it('reports received data before THRE (priority order)', () => {
    const { u, r, w } = uart();
    w(IER, 0x03);
    u.feed('q');
    expect(r(IIR)).toBe(0x04);
    r(RBR);
    expect(r(IIR)).toBe(0x02);
  });

  it('reports receiver line status (IIR 06H) first when enabled', () => {
    const { r, w } = uart();
    w(IER, 0x05);
    w(MCR, 0x10);
    w(THR, 1);
    w(THR, 2);
    expect(r(IIR)).toBe(0x06);
    r(LSR);
    expect(r(IIR)).toBe(0x04);
  });

  it('reports modem status changes (IIR 00H) when enabled', () => {
    const { r, w } = uart();
    w(MCR, 0x10);
    r(MSR);
    w(IER, 0x08);
    w(MCR, 0x12);
    expect(r(IIR)).toBe(0x00);
    r(MSR);
    expect(r(IIR)).toBe(0x01);
  });
});

describe('the UART on the machine', () => {
  it('guest code polls LSR.THRE, transmits, and reads input fed as a string', async () => {
    const code = await asm(`
      mov dx, 0x3fd
    wait: in al, dx
      test al, 1
      jz wait
      mov dx, 0x3f8
      in al, dx
      inc al
      out dx, al
      hlt`, 64, 0x10000);
    const seen: number[] = [];
    const m = new Machine({ memoryMiB: 4, serial: { input: 'A', onOutput: (b) => seen.push(b) } });
    m.loadFlat(code, { fileName: 'test', address: 0x10000, bits: 64 });
    m.run();
    expect(seen).toEqual([0x42]);
    expect(Array.from(m.serialOutput)).toEqual([0x42]);
  });

  it('takes input from a stream as it arrives', () => {
    let listener: ((chunk: Uint8Array | string) => void) | undefined;
    const m = new Machine({ memoryMiB: 4, serial: { input: { on: (_e, l) => { listener = l; } } } });
    expect(m.uart!.read(LSR, 1) & 1).toBe(0);
    listener!(Uint8Array.of(0x31));
    expect(m.uart!.read(LSR, 1) & 1).toBe(1);
    expect(m.uart!.read(RBR, 1)).toBe(0x31);
  });
});
