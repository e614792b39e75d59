/**
 * Fast system calls (SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SYSEXIT,
 * SWAPGS; Vol. 3A §5.8.7, §5.8.8).
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { runAsm } from '../support/machine.ts';
import {
  activatePaging, handlerAddress, load, longModeCore, protectedModeCore, SEL32, SEL64, stackSlots, toUser32, toUser64,
  USER_STACK,
} from './support.ts';

const IF = 0x200, CF = 1, TF = 0x100, DF = 0x400;
const KERNEL = 0x1800;

/** WRMSR of a 64-bit value written as two dwords. */
const wrmsr = (index: number, lo: number, hi = 0) => `mov ecx, ${index}\nmov eax, ${lo}\nmov edx, ${hi}\nwrmsr`;
const EFER_SCE = `mov ecx, 0xc0000080\nrdmsr\nor eax, 1\nwrmsr`;
/** STAR: SYSCALL CS = 08H (SS 10H); SYSRET base 18H (CS32 1BH, SS 23H, CS64 2BH). */
const STAR = wrmsr(0xc0000081, 0, (0x18 << 16) | 0x08);

describe('SYSCALL and SYSRET (SDM Vol. 2B)', () => {
  it('SYSCALL from CPL 3: RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~FMASK, CS/SS from STAR, RIP = LSTAR', async () => {
    const t = await longModeCore(`
      ${EFER_SCE}
      ${STAR}
      ${wrmsr(0xc0000082, KERNEL)}
      ${wrmsr(0xc0000084, IF | TF | DF)}
      ${toUser64('user', 0x2 | IF | CF | DF)}
    user:
      syscall
    after:`);
    await load(t, 'hlt', 64, KERNEL);
    t.run();
    expect(t.cpu.rip).toBe(KERNEL + 1);
    expect(t.cpu.cpl).toBe(0);
    expect([t.cpu.segSel[1], t.cpu.segSel[2]]).toEqual([0x08, 0x10]);
    expect(t.cpu.codeSize).toBe(64);
    expect(t.reg('r11')).toBe(BigInt(0x2 | IF | CF | DF));
    expect(t.flags() & (IF | DF | CF)).toBe(CF);
    // RCX: the address after the 2-byte SYSCALL, which ends the program.
    expect(t.phys.readSized(Number(t.reg('rcx')) - 2, 2)).toBe(0x050f);
    expect(t.reg('rsp')).toBe(BigInt(USER_STACK)); // SYSCALL does not switch stacks
  });

  it('SYSCALL with EFER.SCE = 0, or outside 64-bit mode, is #UD', async () => {
    expect((await runAsm('syscall', { setup: activatePaging })).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
    expect((await runAsm(`${EFER_SCE}\nsyscall`, { bits: 32 })).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });

  it('SYSRET with REX.W returns to 64-bit code at RCX with CS = STAR[63:48] + 16, RFLAGS from R11', async () => {
    const t = await longModeCore(`
      ${EFER_SCE}
      ${STAR}
      mov rcx, user
      mov r11, ${0x2 | IF | CF | 0x10000}
      .byte 0x48, 0x0f, 0x07 ; sysretq (keystone: "sysret" is the REX.W form)
    user:
      ud2`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [, cs, rflags, , ss] = stackSlots(t, 5);
    expect(cs).toBe(BigInt(SEL64.codeUser));
    expect(ss).toBe(BigInt(SEL64.dataUser));
    expect(rflags).toBe(BigInt(0x2 | IF | CF | 0x10000)); // RF from R11, kept in the image of the #UD fault
  });

  it('SYSRET without REX.W returns to compatibility mode at ECX with CS = STAR[63:48]', async () => {
    const t = await longModeCore(`
      ${EFER_SCE}
      ${STAR}
      mov rcx, user
      mov r11, 2
      .byte 0x0f, 0x07
    .code32
    user:
      mov ebx, 7
      ud2`);
    t.run();
    expect(t.reg('rbx')).toBe(7n);
    expect(stackSlots(t, 2)[1]).toBe(BigInt(SEL64.code32User));
  });

  it('SYSRET to a non-canonical RCX is #GP(0) at CPL 0; SYSRET at CPL 3 is #GP(0)', async () => {
    const t = await longModeCore(`${EFER_SCE}\n${STAR}\nmov rcx, 0x0000800000000000\n.byte 0x48, 0x0f, 0x07`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(t.cpu.cpl).toBe(0);
    expect(stackSlots(t, 3)[2]).toBe(BigInt(SEL64.code)); // the fault was taken at CPL 0
    const u = await longModeCore(`${EFER_SCE}\n${STAR}\n${toUser64('user')}\nuser:\n.byte 0x48, 0x0f, 0x07`);
    u.run();
    expect(u.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(u, 3)[2]).toBe(BigInt(SEL64.codeUser));
  });
});

describe('SYSENTER and SYSEXIT (SDM Vol. 2B)', () => {
  const setup32 = `${wrmsr(0x174, SEL32.code)}\n${wrmsr(0x175, 0x5f000)}\n${wrmsr(0x176, KERNEL)}`;

  it('SYSENTER from CPL 3 (32-bit): CS = SYSENTER_CS, SS = CS + 8, ESP/EIP from the MSRs, IF cleared', async () => {
    const t = await protectedModeCore(`${setup32}\n${toUser32('user', 0x202)}\nuser:\nsysenter`);
    await load(t, 'hlt', 32, KERNEL);
    t.run();
    expect(t.cpu.rip).toBe(KERNEL + 1);
    expect([t.cpu.segSel[1], t.cpu.segSel[2], t.cpu.cpl]).toEqual([SEL32.code, SEL32.data, 0]);
    expect(t.reg('rsp')).toBe(0x5f000n);
    expect(t.flags() & IF).toBe(0);
  });

  it('SYSEXIT (32-bit): CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, ESP = ECX, EIP = EDX', async () => {
    const t = await protectedModeCore(`${setup32}\nmov ecx, ${USER_STACK - 0x100}\nmov edx, user\nsysexit\nuser:\nud2`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [, cs, , esp, ss] = stackSlots(t, 5, 4);
    expect([cs, esp, ss]).toEqual([BigInt(SEL32.codeUser), BigInt(USER_STACK - 0x100), BigInt(SEL32.dataUser)]);
  });

  it('SYSENTER with SYSENTER_CS = 0 or in real mode is #GP(0); SYSEXIT at CPL 3 is #GP(0)', async () => {
    expect((await runAsm('sysenter', { bits: 32 })).stop).toMatchObject({ kind: 'exception', vector: Vector.GP, errorCode: 0 });
    expect((await runAsm(`${wrmsr(0x174, 8)}\nsysenter`, { bits: 16 })).stop).toMatchObject({ kind: 'exception', vector: Vector.GP });
    const t = await protectedModeCore(`${setup32}\n${toUser32('user')}\nuser:\nsysexit`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
  });

  it('IA-32e: SYSENTER enters 64-bit code; SYSEXIT with REX.W returns to 64-bit code with CS = SYSENTER_CS + 32 | 3', async () => {
    const t = await longModeCore(`
      ${wrmsr(0x174, SEL64.code)}
      ${wrmsr(0x175, 0x5f000)}
      ${wrmsr(0x176, KERNEL)}
      ${toUser64('user')}
    user:
      sysenter`);
    await load(t, `mov rcx, ${USER_STACK - 0x40}\nmov rdx, back\n.byte 0x48, 0x0f, 0x35\nback:\nud2`, 64, KERNEL);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [, cs, , rsp, ss] = stackSlots(t, 5);
    expect([cs, rsp, ss]).toEqual([BigInt(SEL64.codeUser), BigInt(USER_STACK - 0x40), BigInt(0x33)]);
  });
});

describe('SWAPGS (SDM Vol. 2B)', () => {
  it('exchanges the GS base with IA32_KERNEL_GS_BASE', async () => {
    const t = await runAsm(`${wrmsr(0xc0000101, 0x1000)}\n${wrmsr(0xc0000102, 0x2000)}\nswapgs\nmov ecx, 0xc0000101\nrdmsr\nmov ebx, eax\nmov ecx, 0xc0000102\nrdmsr`, { setup: activatePaging });
    expect(t.reg('rbx')).toBe(0x2000n);
    expect(t.reg('rax')).toBe(0x1000n);
    expect(t.cpu.segBase[5]).toBe(0x2000);
  });

  it('is #GP(0) at CPL 3 and #UD outside 64-bit mode', async () => {
    expect((await runAsm('swapgs', { setup: (t) => { activatePaging(t); t.cpu.cpl = 3; } })).stop).toMatchObject({ kind: 'exception', vector: Vector.GP, errorCode: 0 });
    expect((await runAsm('.byte 0x0f, 0x01, 0xf8', { bits: 32 })).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });
});
