/**
 * Event delivery in IA-32e mode (SDM Vol. 3A §6.14): 16-byte gates, the
 * 64-bit frame SS, RSP, RFLAGS, CS, RIP [, error code] always pushed, RSP
 * aligned to 16 bytes, the stack switch to TSS.RSPn with SS = null(new CPL),
 * the IST, error codes of faults met during delivery (§6.13), and the
 * gate-DPL check of software interrupts (§6.12.1.1).
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, STACK_TOP } from '../support/machine.ts';
import {
  CODE32, gate64, handlerAddress, IDT, IST1_STACK, KERNEL_STACK, longModeCore, SEL64, stackSlots, toUser64, USER_STACK,
  writeDwords,
} from './support.ts';

const RF = 0x10000, IF = 0x200;
/** LTR prologue that longModeCore prepends: mov ax, imm16 (4 bytes with 66) + ltr ax (3 bytes). */
const PROLOGUE = 7;

/** 64-bit frame of a halted handler: [error code,] RIP, CS, RFLAGS, RSP, SS. */
function frame(t: Awaited<ReturnType<typeof longModeCore>>, withError: boolean) {
  const s = stackSlots(t, withError ? 6 : 5);
  const f = withError ? s.slice(1) : s;
  return { error: withError ? s[0] : undefined, rip: f[0], cs: f[1], rflags: f[2], rsp: f[3], ss: f[4] };
}

describe('IA-32e delivery at CPL 0 (SDM Vol. 3A §6.14.2, Figure 6-9)', () => {
  it('#UD: frame without error code, RF set in the pushed RFLAGS, RSP aligned, handler at the gate offset', async () => {
    const t = await longModeCore('mov rsp, 0x7fff8\nud2');
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    // 0x7fff8 aligned down to 0x7fff0, minus 5 quadwords.
    expect(t.reg('rsp')).toBe(0x7fff0n - 40n);
    const f = frame(t, false);
    expect(f.rip).toBe(BigInt(CODE_BASE + PROLOGUE + 7)); // after the 7-byte MOV RSP (REX.W C7 /0 id), at UD2
    expect(f.cs).toBe(BigInt(SEL64.code));
    expect(f.rflags).toBe(BigInt(0x2 | RF));
    expect(f.rsp).toBe(0x7fff8n);
    expect(f.ss).toBe(BigInt(SEL64.data));
    expect(t.cpu.cpl).toBe(0);
  });

  it('#GP(selector) pushes its error code below RIP', async () => {
    // Selector 0x1000 lies beyond the GDT limit: MOV DS raises #GP(1000H).
    const t = await longModeCore('mov ax, 0x1000\nmov ds, ax');
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    const f = frame(t, true);
    expect(f.error).toBe(0x1000n);
    expect(f.rip).toBe(BigInt(CODE_BASE + PROLOGUE + 4));
    expect(t.reg('rsp')).toBe(BigInt(STACK_TOP - 48));
  });

  it('an interrupt gate clears IF and TF; a trap gate leaves IF set', async () => {
    const trap = await longModeCore('push 0x202\npopfq\nint 0x41');
    writeDwords(trap, IDT + 16 * 0x41, gate64({ type: 0xf, selector: SEL64.code, offset: handlerAddress(0x41) }));
    trap.run();
    expect(trap.cpu.rip).toBe(handlerAddress(0x41) + 1);
    expect(trap.flags() & IF).toBe(IF);
    const intr = await longModeCore('push 0x302\npopfq\nint 0x41');
    intr.run();
    expect(intr.flags() & (IF | 0x100)).toBe(0);
    expect(frame(intr, false).rflags).toBe(0x302n); // INT n is a trap: RF stays clear in the image
  });

  it('INT n returns to the next instruction: the pushed RIP follows the INT', async () => {
    const t = await longModeCore('int 0x80\nnop');
    t.run();
    expect(frame(t, false).rip).toBe(BigInt(CODE_BASE + PROLOGUE + 2));
  });
});

describe('IA-32e delivery with a privilege change (SDM Vol. 3A §6.14.4)', () => {
  it('from CPL 3: RSP = TSS.RSP0, SS = null selector, the user SS:RSP in the frame', async () => {
    const t = await longModeCore(`${toUser64('user')}\nuser:\nint 0x80`);
    writeDwords(t, IDT + 16 * 0x80, gate64({ type: 0xe, selector: SEL64.code, offset: handlerAddress(0x80), dpl: 3 }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x80) + 1);
    expect(t.cpu.cpl).toBe(0);
    expect(t.cpu.segSel[2]).toBe(0); // SS = NULL with RPL = new CPL 0
    expect(t.reg('rsp')).toBe(BigInt(KERNEL_STACK - 40));
    const f = frame(t, false);
    expect(f.cs).toBe(BigInt(SEL64.codeUser));
    expect(f.ss).toBe(BigInt(SEL64.dataUser));
    expect(f.rsp).toBe(BigInt(USER_STACK));
  });

  it('INT n through a gate with DPL < CPL is #GP(vector × 8 + 2) at the INT instruction', async () => {
    const t = await longModeCore(`${toUser64('user')}\nuser:\nint 0x80`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    const f = frame(t, true);
    expect(f.error).toBe(BigInt(0x80 * 8 + 2));
    // The INT is the last instruction of the program: 2 bytes before its end.
    const intAddr = Number(f.rip);
    expect(t.phys.read8(intAddr)).toBe(0xcd);
    expect(t.phys.read8(intAddr + 1)).toBe(0x80);
  });

  it('INT1 (ICEBP) skips the gate DPL check (SDM Vol. 3A §6.12.1.1)', async () => {
    const t = await longModeCore(`${toUser64('user')}\nuser:\n.byte 0xf1`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.DB) + 1);
  });

  it('a fault at CPL 3 uses RSP0; IST 1 overrides it and also applies at CPL 0', async () => {
    const user = await longModeCore(`${toUser64('user')}\nuser:\nud2`);
    writeDwords(user, IDT + 16 * Vector.UD, gate64({ type: 0xe, selector: SEL64.code, offset: handlerAddress(Vector.UD), count: 1 }));
    user.run();
    expect(user.reg('rsp')).toBe(BigInt(IST1_STACK - 40));
    const kernel = await longModeCore('ud2');
    writeDwords(kernel, IDT + 16 * Vector.UD, gate64({ type: 0xe, selector: SEL64.code, offset: handlerAddress(Vector.UD), count: 1 }));
    kernel.run();
    expect(kernel.reg('rsp')).toBe(BigInt(IST1_STACK - 40));
    expect(frame(kernel, false).rsp).toBe(BigInt(STACK_TOP));
  });
});

describe('faults during IA-32e delivery (SDM Vol. 3A §6.13 error codes)', () => {
  it('a gate that is not present: #NP(vector × 8 + 2 + EXT)', async () => {
    const t = await longModeCore('ud2');
    writeDwords(t, IDT + 16 * Vector.UD, gate64({ type: 0xe, selector: SEL64.code, offset: 0, present: false }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.NP) + 1);
    expect(frame(t, true).error).toBe(BigInt(Vector.UD * 8 + 2 + 1));
  });

  it('a vector beyond the IDT limit: #GP(vector × 8 + 2 + EXT); INT n has EXT = 0', async () => {
    const t = await longModeCore('int 0x50');
    t.cpu.sys.idtrLimit = 0x50 * 16 - 1;
    t.run();
    expect(frame(t, true).error).toBe(BigInt(0x50 * 8 + 2));
  });

  it('a 32-bit call gate type in the IDT: #GP(vector × 8 + 2 + EXT)', async () => {
    const t = await longModeCore('ud2');
    writeDwords(t, IDT + 16 * Vector.UD, gate64({ type: 0xc, selector: SEL64.code, offset: handlerAddress(6) }));
    t.run();
    expect(frame(t, true).error).toBe(BigInt(Vector.UD * 8 + 3));
  });

  it('a gate naming a 32-bit code segment: #GP(selector + EXT)', async () => {
    const t = await longModeCore('ud2', [CODE32]); // selector 40H
    writeDwords(t, IDT + 16 * Vector.UD, gate64({ type: 0xe, selector: 0x40, offset: handlerAddress(6) }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(frame(t, true).error).toBe(0x41n);
  });
});
