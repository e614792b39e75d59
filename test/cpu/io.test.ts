/**
 * IN/OUT and INS/OUTS through the port bus (SDM Vol. 2A IN, INS; Vol. 2B
 * OUT, OUTS) and the protected-mode I/O permission rule (SDM Vol. 1
 * "Protected-Mode I/O": CPL <= IOPL outside virtual-8086 mode, else the
 * TSS bitmap, not modelled yet, which the core treats as denying).
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import type { PortDevice } from '../../cpu/portIo.ts';
import { CODE_BASE, makeCore, runAsm, type TestCore } from '../support/machine.ts';
import { asm } from '../support/asm.ts';

const IOPL3 = 0x3000, VM = 0x20000, DF = 0x400;

interface Access { op: 'r' | 'w'; port: number; size: number; value?: number }

/** A device on ports 0x60-0x6f and 0x3f8: reads return 0xA0 + k for the k-th read, widened per size. */
class Recorder implements PortDevice {
  readonly name = 'recorder';
  readonly log: Access[] = [];
  private reads = 0;
  read(port: number, size: number): number {
    const k = this.reads++;
    this.log.push({ op: 'r', port, size });
    const v = 0xa0 + k;
    return size === 1 ? v : size === 2 ? (v << 8) | v : ((v << 24) | (v << 16) | (v << 8) | v) >>> 0;
  }
  write(port: number, size: number, value: number): void {
    this.log.push({ op: 'w', port, size, value: value >>> 0 });
  }
}

function withDevice(dev: Recorder) {
  return (t: TestCore) => {
    t.cpu.io.claim(0x60, 0x10, dev);
    t.cpu.io.claim(0x3f8, 1, dev);
  };
}

describe('IN and OUT', () => {
  it('in al, imm8 keeps the upper bits of RAX; in ax, dx keeps bits 16-63; in eax, dx zero-extends', async () => {
    const dev = new Recorder();
    const t = await runAsm('in al, 0x61\nmov rbx, rax\nin ax, dx\nmov rcx, rax\nmov rax, -1\nin eax, dx', {
      regs: { rax: 0x1122334455667788n, rdx: 0xffff0000000003f8n },
      setup: withDevice(dev),
    });
    expect(dev.log).toEqual([
      { op: 'r', port: 0x61, size: 1 }, { op: 'r', port: 0x3f8, size: 2 }, { op: 'r', port: 0x3f8, size: 4 },
    ]);
    expect(t.reg('rbx')).toBe(0x11223344556677a0n);
    expect(t.reg('rcx')).toBe(0x112233445566a1a1n);
    expect(t.reg('rax')).toBe(0xa2a2a2a2n);
  });

  it('out writes AL/AX/EAX to an immediate port or the port in DX', async () => {
    const dev = new Recorder();
    await runAsm('out 0x62, al\nout dx, ax\nout dx, eax', {
      regs: { rax: 0x99887766aabbccddn, rdx: 0x3f8n },
      setup: withDevice(dev),
    });
    expect(dev.log).toEqual([
      { op: 'w', port: 0x62, size: 1, value: 0xdd },
      { op: 'w', port: 0x3f8, size: 2, value: 0xccdd },
      { op: 'w', port: 0x3f8, size: 4, value: 0xaabbccdd },
    ]);
  });

  it('REX.W does not widen IN/OUT past 32 bits', async () => {
    const dev = new Recorder();
    const t = await runAsm('.byte 0x48, 0xed\n.byte 0x48, 0xef', { regs: { rax: -1n, rdx: 0x60n }, setup: withDevice(dev) });
    expect(dev.log).toEqual([{ op: 'r', port: 0x60, size: 4 }, { op: 'w', port: 0x60, size: 4, value: 0xa0a0a0a0 }]);
    expect(t.reg('rax')).toBe(0xa0a0a0a0n);
  });

  it('an unclaimed port reads all ones and ignores writes', async () => {
    const t = await runAsm('in eax, dx\nout dx, al', { regs: { rdx: 0x1234n } });
    expect(t.reg('rax')).toBe(0xffffffffn);
    expect(t.cpu.io.unclaimedReads).toBe(1);
    expect(t.cpu.io.unclaimedWrites).toBe(1);
  });
});

describe('I/O permission', () => {
  it('CPL 3 with IOPL 0 in protected mode raises #GP(0) before touching the device', async () => {
    const dev = new Recorder();
    for (const src of ['in al, dx', 'out dx, al', 'insb', 'outsb', 'in al, 0x60', 'out 0x60, eax']) {
      const t = await runAsm(`nop\n${src}`, {
        bits: 32,
        regs: { rdx: 0x60n, rsi: 0x2000n, rdi: 0x3000n },
        setup: (t) => { withDevice(dev)(t); t.cpu.cpl = 3; },
      });
      expect(t.stop, src).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE + 1 });
    }
    expect(dev.log).toEqual([]);
  });

  it('CPL 3 with IOPL 3 is allowed, and real mode never checks', async () => {
    const dev = new Recorder();
    const t = await runAsm('in al, dx', {
      bits: 32, rflags: IOPL3, regs: { rdx: 0x60n },
      setup: (t) => { withDevice(dev)(t); t.cpu.cpl = 3; },
    });
    // IN (1 byte) completes; the appended HLT is privileged and faults at CPL 3.
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE + 1 });
    expect(t.reg('rax')).toBe(0xa0n);
    const r = await runAsm('in al, dx', { bits: 16, regs: { rdx: 0x60n }, setup: withDevice(new Recorder()) });
    expect(r.reg('rax')).toBe(0xa0n);
  });

  it('virtual-8086 mode consults the bitmap whatever IOPL is: #GP(0) without a TSS', async () => {
    const t = await runAsm('in al, dx', {
      bits: 32, rflags: IOPL3 | VM, regs: { rdx: 0x60n },
      setup: (t) => { withDevice(new Recorder())(t); t.cpu.cpl = 3; },
    });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
  });
});

describe('INS and OUTS', () => {
  it('rep insb stores one port read per iteration at ES:rDI', async () => {
    const dev = new Recorder();
    const t = await runAsm('rep insb', { regs: { rdx: 0x3f8n, rdi: 0x5000n, rcx: 4n }, setup: withDevice(dev) });
    expect(t.phys.readBytes(0x5000, 5)).toEqual(new Uint8Array([0xa0, 0xa1, 0xa2, 0xa3, 0]));
    expect(dev.log.length).toBe(4);
    expect(t.reg('rdi')).toBe(0x5004n);
    expect(t.reg('rcx')).toBe(0n);
    expect(t.cpu.icount).toBe(5);
  });

  it('insd in 16-bit code (66 prefix) and DF=1 walks down', async () => {
    const dev = new Recorder();
    const t = await runAsm('rep insd', {
      bits: 16, rflags: DF, regs: { rdx: 0x60n, rdi: 0x5008n, rcx: 2n }, setup: withDevice(dev),
    });
    expect(dev.log).toEqual([{ op: 'r', port: 0x60, size: 4 }, { op: 'r', port: 0x60, size: 4 }]);
    expect(t.phys.readBytes(0x5004, 8)).toEqual(new Uint8Array([0xa1, 0xa1, 0xa1, 0xa1, 0xa0, 0xa0, 0xa0, 0xa0]));
    expect(t.reg('rdi')).toBe(0x5000n);
  });

  it('rep outsw writes words read from DS:rSI', async () => {
    const dev = new Recorder();
    const t = await runAsm('rep outsw', {
      regs: { rdx: 0x64n, rsi: 0x5000n, rcx: 3n },
      setup: (t) => { withDevice(dev)(t); t.phys.load(0x5000, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])); },
    });
    expect(dev.log).toEqual([
      { op: 'w', port: 0x64, size: 2, value: 0x0201 },
      { op: 'w', port: 0x64, size: 2, value: 0x0403 },
      { op: 'w', port: 0x64, size: 2, value: 0x0605 },
    ]);
    expect(t.reg('rsi')).toBe(0x5006n);
  });

  it('an INS whose destination faults has not read the port (no device side effect)', async () => {
    const dev = new Recorder();
    const t = await runAsm('rep insb', {
      regs: { rdx: 0x60n, rdi: 0x7ffffffffffen, rcx: 4n }, setup: withDevice(dev),
    });
    // Two iterations store outside RAM (canonical), the third address is 2^47.
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
    expect(dev.log.length).toBe(2);
    expect(t.reg('rcx')).toBe(2n);
  });

  it('rep insb split by the budget reads the port exactly once per iteration', async () => {
    const dev = new Recorder();
    const t = makeCore(64);
    t.phys.load(CODE_BASE, await asm('rep insb\nhlt', 64, CODE_BASE));
    withDevice(dev)(t);
    t.setReg('rdx', 0x60n);
    t.setReg('rdi', 0x5000n);
    t.setReg('rcx', 10n);
    while (t.run(3).kind === 'limit');
    expect(dev.log.length).toBe(10);
    expect(t.phys.readBytes(0x5000, 10)).toEqual(new Uint8Array([...Array(10).keys()].map((k) => 0xa0 + k)));
  });
});
