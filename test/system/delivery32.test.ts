/**
 * Event delivery in protected mode outside IA-32e mode (SDM Vol. 3A
 * §6.12.1, Figure 6-4) and in real-address mode (§20.1.4, Figure 20-2).
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, STACK_TOP } from '../support/machine.ts';
import {
  gate, handlerAddress, IDT, KERNEL_STACK, load, protectedModeCore, read32, segment, SEL32, stackSlots, systemCore,
  toUser32, TSS, USER_STACK, writeDwords,
} from './support.ts';

const RF = 0x10000, IF = 0x200, TF = 0x100, AC = 0x40000;
/** mov ax, imm16 (66 B8 iw) + ltr ax (0F 00 D8): the prologue protectedModeCore prepends. */
const PROLOGUE = 7;

describe('protected-mode delivery without a privilege change (SDM Vol. 3A §6.12.1)', () => {
  it('#GP(selector) through a 32-bit interrupt gate: error code, EIP, CS, EFLAGS (RF set), IF cleared', async () => {
    const t = await protectedModeCore('sti\nmov ax, 0x1000\nmov ds, ax');
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    const [err, eip, cs, eflags] = stackSlots(t, 4, 4);
    expect(err).toBe(0x1000n);
    expect(eip).toBe(BigInt(CODE_BASE + PROLOGUE + 1 + 4));
    expect(cs).toBe(BigInt(SEL32.code));
    expect(eflags).toBe(BigInt(0x2 | IF | RF));
    expect(t.reg('rsp')).toBe(BigInt(STACK_TOP - 16));
    expect(t.flags() & IF).toBe(0);
  });

  it('a 16-bit interrupt gate pushes FLAGS, CS, IP as words and jumps to a 16-bit offset', async () => {
    const t = await protectedModeCore('int 0x41');
    writeDwords(t, IDT + 8 * 0x41, gate({ type: 0x6, selector: SEL32.code, offset: handlerAddress(0x41) }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x41) + 1);
    expect(t.reg('rsp')).toBe(BigInt(STACK_TOP - 6));
    const [ip, cs, flags] = stackSlots(t, 3, 2);
    expect(ip).toBe(BigInt(CODE_BASE + PROLOGUE + 2));
    expect(cs).toBe(BigInt(SEL32.code));
    expect(flags).toBe(0x2n);
  });

  it('a trap gate keeps IF; both clear TF', async () => {
    const t = await protectedModeCore('pushfd\nor dword ptr [esp], 0x300\npopfd\nint 0x41');
    writeDwords(t, IDT + 8 * 0x41, gate({ type: 0xf, selector: SEL32.code, offset: handlerAddress(0x41) }));
    t.run();
    expect(t.flags() & (IF | TF)).toBe(IF);
  });
});

describe('protected-mode delivery to an inner privilege level (SDM Vol. 3A §6.12.1, Figure 6-4)', () => {
  it('from CPL 3: SS:ESP from the TSS, the frame EIP, CS, EFLAGS, ESP, SS on the kernel stack', async () => {
    const t = await protectedModeCore(`${toUser32('user')}\nuser:\nint 0x80`);
    writeDwords(t, IDT + 8 * 0x80, gate({ type: 0xe, selector: SEL32.code, offset: handlerAddress(0x80), dpl: 3 }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x80) + 1);
    expect(t.cpu.cpl).toBe(0);
    expect(t.cpu.segSel[2]).toBe(SEL32.data);
    expect(t.reg('rsp')).toBe(BigInt(KERNEL_STACK - 20));
    const [, cs, , esp, ss] = stackSlots(t, 5, 4);
    expect(cs).toBe(BigInt(SEL32.codeUser));
    expect(esp).toBe(BigInt(USER_STACK));
    expect(ss).toBe(BigInt(SEL32.dataUser));
  });

  it('a 16-bit TSS gives SS0:SP0 from offsets 4 and 2 (SDM Vol. 3A Figure 7-11)', async () => {
    // 38H: an available 16-bit TSS at 4800H; LTR it in place of the 32-bit one.
    const t = await protectedModeCore(`mov ax, 0x38\nltr ax\n${toUser32('user')}\nuser:\nint 0x80`, [segment({ s: 0, type: 1, base: 0x4800, limit: 0x2b })]);
    writeDwords(t, IDT + 8 * 0x80, gate({ type: 0xe, selector: SEL32.code, offset: handlerAddress(0x80), dpl: 3 }));
    t.phys.writeSized(0x4802, 2, 0x5000);
    t.phys.writeSized(0x4804, 2, SEL32.data);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x80) + 1);
    expect(t.reg('rsp')).toBe(BigInt(0x5000 - 20));
    expect(t.cpu.segSel[2]).toBe(SEL32.data);
  });

  it('an invalid SS0 in the TSS: #TS(SS selector); its handler here is conforming code, run at CPL 3', async () => {
    // Selector 38H: conforming code, DPL 0 (type 0xF): the #TS handler runs at CPL 3 on the user stack.
    const t = await protectedModeCore(`${toUser32('user')}\nuser:\nint 0x80`, [segment({ type: 0xf, db: true, g: true })]);
    writeDwords(t, IDT + 8 * 0x80, gate({ type: 0xe, selector: SEL32.code, offset: handlerAddress(0x80), dpl: 3 }));
    writeDwords(t, IDT + 8 * Vector.TS, gate({ type: 0xe, selector: 0x38, offset: handlerAddress(Vector.TS) }));
    t.phys.write8(handlerAddress(Vector.TS), 0xeb); // jmp $ (HLT is privileged at CPL 3)
    t.phys.write8(handlerAddress(Vector.TS) + 1, 0xfe);
    writeDwords(t, TSS + 8, [SEL32.code]); // SS0 = a code segment
    t.run(200);
    expect(t.cpu.rip).toBe(handlerAddress(Vector.TS));
    expect(t.cpu.cpl).toBe(3);
    const [err] = stackSlots(t, 1, 4);
    expect(err).toBe(BigInt(SEL32.code)); // INT n: EXT = 0
  });
});

describe('real-address mode delivery (SDM Vol. 3A §20.1.4)', () => {
  /** IVT entry v → 0000:handlerAddress(v). */
  function ivt(t: ReturnType<typeof systemCore>): void {
    for (let v = 0; v < 256; v++) writeDwords(t, 4 * v, [handlerAddress(v)]);
    for (let v = 0; v < 256; v++) t.phys.write8(handlerAddress(v), 0xf4);
  }

  it('INT n: FLAGS, CS, IP pushed as words; IF, TF and AC cleared; CS:IP from the IVT', async () => {
    const t = systemCore(16);
    ivt(t);
    await load(t, 'mov ax, 0x100\nmov ds, ax\npushf\npop ax\nor ax, 0x300\npush ax\npopf\nint 0x21', 16);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x21) + 1);
    expect(t.cpu.segSel[1]).toBe(0);
    expect(t.reg('rsp')).toBe(0xfff0n - 6n);
    const [ip, cs, flags] = stackSlots(t, 3, 2);
    expect(ip).toBe(BigInt(CODE_BASE + 14)); // after INT 21H, the 14th byte
    expect(cs).toBe(0n);
    expect(flags).toBe(BigInt(0x2 | IF | TF));
    expect(t.flags() & (IF | TF | AC)).toBe(0);
  });

  it('an exception pushes the faulting IP (#UD at UD2, #DE at DIV) and no error code', async () => {
    const t = systemCore(16);
    ivt(t);
    await load(t, 'xor cx, cx\ndiv cx', 16);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.DE) + 1);
    expect(stackSlots(t, 1, 2)[0]).toBe(BigInt(CODE_BASE + 2));
    expect(t.reg('rsp')).toBe(0xfff0n - 6n);
  });

  it('a vector beyond the IDTR limit is #GP, reported at the INT instruction', async () => {
    const t = systemCore(16);
    ivt(t);
    await load(t, 'nop\nint 0x20', 16);
    t.cpu.sys.idtrLimit = 0x3f; // vectors 0-15
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(t, 1, 2)[0]).toBe(BigInt(CODE_BASE + 1));
    expect(read32(t, 0)).toBe(handlerAddress(0));
  });
});
