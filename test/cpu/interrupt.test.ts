/**
 * INT n, INT3, INTO, INT1 and UD0/UD1/UD2 (SDM Vol. 2A "INT n/INTO/INT3/INT1",
 * Vol. 2B "UD"). Until IDT delivery exists the run loop stops with the
 * event: traps report the next instruction's RIP and count as retired;
 * faults report the instruction's own RIP and do not.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, runAsm } from '../support/machine.ts';

const OF = 0x800, IOPL3 = 0x3000, VM = 0x20000;

describe('software interrupts are traps', () => {
  for (const [src, len, vector] of [
    ['int 0x80', 2, 0x80], ['int 0', 2, 0], ['int 0xff', 2, 0xff], ['int3', 1, Vector.BP], ['.byte 0xf1', 1, Vector.DB],
  ] as const) {
    it(`${src} raises vector ${vector} with RIP after the instruction`, async () => {
      const t = await runAsm(`nop\n${src}\nnop`);
      expect(t.stop).toEqual({ kind: 'exception', vector, errorCode: -1, rip: CODE_BASE + 1 + len });
      expect(t.cpu.icount).toBe(2);
    });
  }

  it('INTO traps with #OF only when OF = 1 (32-bit mode)', async () => {
    const taken = await runAsm('into', { bits: 32, rflags: OF });
    expect(taken.stop).toEqual({ kind: 'exception', vector: Vector.OF, errorCode: -1, rip: CODE_BASE + 1 });
    const not = await runAsm('into', { bits: 32 });
    expect(not.stop.kind).toBe('halt');
  });

  it('INTO is #UD in 64-bit mode, whatever OF says', async () => {
    const t = await runAsm('.byte 0xce', { rflags: OF });
    expect(t.stop).toEqual({ kind: 'exception', vector: Vector.UD, errorCode: -1, rip: CODE_BASE });
    expect(t.cpu.icount).toBe(0);
  });

  it('INT n in virtual-8086 mode with IOPL < 3 is #GP(0); INT3 is not IOPL-sensitive', async () => {
    // A flat 32-bit protected-mode core stands in for virtual-8086 mode: only VM, IOPL and CPL matter.
    const setup = (t: { cpu: { cpl: number } }) => { t.cpu.cpl = 3; };
    const gp = await runAsm('int 0x21', { bits: 32, rflags: VM, setup });
    expect(gp.stop).toEqual({ kind: 'exception', vector: Vector.GP, errorCode: 0, rip: CODE_BASE });
    const ok = await runAsm('int 0x21', { bits: 32, rflags: VM | IOPL3, setup });
    expect(ok.stop).toEqual({ kind: 'exception', vector: 0x21, errorCode: -1, rip: CODE_BASE + 2 });
    const bp = await runAsm('int3', { bits: 32, rflags: VM, setup });
    expect(bp.stop).toEqual({ kind: 'exception', vector: Vector.BP, errorCode: -1, rip: CODE_BASE + 1 });
  });
});

describe('UD0, UD1, UD2 fault with #UD at the instruction', () => {
  for (const [bytes, name] of [
    [[0x0f, 0x0b], 'ud2'],
    [[0x0f, 0xb9, 0xc0], 'ud1'],
    [[0x0f, 0xb9, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], 'ud1'],
    [[0x0f, 0xff, 0x40, 0x08], 'ud0'],
  ] as const) {
    it(`${name} (${bytes.length} bytes: UD1/UD0 take a ModRM with its SIB and displacement)`, async () => {
      const t = await runAsm(`nop\n.byte ${bytes.join(', ')}`, { regs: { rax: 0x8000000000000000n } });
      // A non-canonical RAX does not matter: the memory operand is never accessed.
      expect(t.stop).toEqual({ kind: 'exception', vector: Vector.UD, errorCode: -1, rip: CODE_BASE + 1 });
      expect(t.cpu.icount).toBe(1);
      const i = t.cpu.decoder.decode({ bytes: new Uint8Array(bytes), start: 0, avail: bytes.length }, 64);
      expect(i?.mnemonic).toBe(name);
      expect(i?.len).toBe(bytes.length);
    });
  }
});
