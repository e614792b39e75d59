/**
 * IRET in every mode (SDM Vol. 2A IRET/IRETD/IRETQ "Operation"): real
 * mode, protected mode to the same and to an outer privilege level with
 * the RFLAGS rules by CPL and IOPL, IA-32e mode where 64-bit IRET always
 * pops SS:RSP, and its faults.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { runAsm } from '../support/machine.ts';
import {
  handlerAddress, longModeCore, protectedModeCore, SEL32, SEL64, stackSlots, toUser32, toUser64, USER_STACK,
} from './support.ts';

const IF = 0x200, IOPL3 = 0x3000, NT = 0x4000, CF = 1;

describe('real-address mode IRET', () => {
  it('pops IP, CS and FLAGS (IOPL and IF load in real mode)', async () => {
    // Keystone gives 16-bit PUSH imm a 66 prefix: the values go through AX.
    const t = await runAsm(`
      mov ax, ${IOPL3 | IF | CF | 2}
      push ax
      push cs
      mov ax, next
      push ax
      iret
      ud2
    next:`, { bits: 16 });
    expect(t.stop.kind).toBe('halt');
    expect(t.flags() & (IOPL3 | IF | CF)).toBe(IOPL3 | IF | CF);
    expect(t.reg('rsp') & 0xffffn).toBe(0xfff0n);
  });
});

describe('protected-mode IRET (SDM Vol. 2A IRET "PROTECTED-MODE-RETURN")', () => {
  it('at CPL 0 to the same level: EIP, CS, EFLAGS with IOPL and IF loaded', async () => {
    const t = await protectedModeCore(`pushfd\nor dword ptr [esp], ${IOPL3 | IF}\npush ${SEL32.code}\nmov eax, next\npush eax\niretd\nud2\nnext:\nhlt`);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.flags() & (IOPL3 | IF)).toBe(IOPL3 | IF);
  });

  it('at CPL 3 (IOPL 0) IF and IOPL in the image are ignored', async () => {
    const t = await protectedModeCore(`${toUser32('user')}\nuser:\npush ${IOPL3 | IF | CF | 2}\npush ${SEL32.codeUser}\nmov eax, next\npush eax\niretd\nnext:\nud2`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [, cs, eflags] = stackSlots(t, 3, 4);
    expect(cs).toBe(BigInt(SEL32.codeUser));
    expect(eflags & BigInt(IOPL3 | IF | CF)).toBe(BigInt(CF));
  });

  it('a return CS with RPL < CPL is #GP(selector); an outer SS with RPL ≠ CS.RPL is #GP(SS selector)', async () => {
    const inward = await protectedModeCore(`${toUser32('user')}\nuser:\npush 2\npush ${SEL32.code}\npush 0\niretd`);
    inward.run();
    expect(inward.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(inward, 1, 4)[0]).toBe(BigInt(SEL32.code));
    const badSs = await protectedModeCore(`push ${SEL32.data | 3}\npush ${USER_STACK}\npush 2\npush ${SEL32.codeUser}\npush 0\niretd`);
    badSs.run();
    expect(stackSlots(badSs, 1, 4)[0]).toBe(BigInt(SEL32.data));
  });

  it('a 16-bit IRET (66 CF) in 32-bit code pops words', async () => {
    const t = await protectedModeCore(`push word ptr 2\npush word ptr ${SEL32.code}\nmov eax, next\npush ax\n.byte 0x66, 0xcf\nud2\nnext:\nhlt`);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rsp')).toBe(0x80000n);
  });

  it('not modelled: NT = 1 (task return) raises #TS with the TSS back link; VM = 1 at CPL 0 raises #GP(0)', async () => {
    const nt = await protectedModeCore(`pushfd\nor dword ptr [esp], ${NT}\npopfd\niretd`);
    nt.run();
    expect(nt.cpu.rip).toBe(handlerAddress(Vector.TS) + 1);
    const vm = await protectedModeCore(`push 0x20002\npush ${SEL32.code}\npush 0\niretd`);
    vm.run();
    expect(vm.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
  });

  it.todo('IRET to virtual-8086 mode and virtual-8086 mode itself (SDM Vol. 3A ch. 20)');
  it.todo('IRET task return through the TSS back link (SDM Vol. 3A §7.3)');
});

describe('IA-32e IRET (SDM Vol. 2A IRET "IA-32e-MODE")', () => {
  it('IRETQ at CPL 0 always pops SS:RSP', async () => {
    const t = await longModeCore(`mov rax, rsp\npush ${SEL64.data}\npush 0x12340\npushfq\npush ${SEL64.code}\nmov rax, next\npush rax\niretq\nnext:\nhlt`);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rsp')).toBe(0x12340n);
  });

  it('IRETQ to CPL 3 compatibility mode: 32-bit code at CPL 3 with the popped SS:ESP', async () => {
    const t = await longModeCore(`
      push ${SEL64.dataUser}
      push ${USER_STACK}
      push 2
      push ${SEL64.code32User}
      mov rax, compat
      push rax
      iretq
    .code32
    compat:
      mov ebx, 0x1234
      ud2`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    expect(t.reg('rbx')).toBe(0x1234n);
    const [, cs, , rsp, ss] = stackSlots(t, 5);
    expect([cs, rsp, ss]).toEqual([BigInt(SEL64.code32User), BigInt(USER_STACK), BigInt(SEL64.dataUser)]);
  });

  it('a null SS is allowed returning to 64-bit code at CPL < 3, #GP(0) at CPL 3', async () => {
    const ok = await longModeCore(`push 0\npush 0x12340\npush 2\npush ${SEL64.code}\nmov rax, next\npush rax\niretq\nnext:\nhlt`);
    ok.run();
    expect(ok.stop.kind).toBe('halt');
    expect(ok.cpu.segSel[2]).toBe(0);
    const bad = await longModeCore(`push 3\npush 0x12340\npush 2\npush ${SEL64.codeUser}\npush 0\niretq`);
    bad.run();
    expect(bad.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(bad, 1)[0]).toBe(0n);
  });

  it('NT = 1 in IA-32e mode is #GP(0)', async () => {
    const t = await longModeCore(`pushfq\nor dword ptr [rsp], ${NT}\npopfq\niretq`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
  });

  it('returning to CPL 3 nulls DS/ES/FS/GS holding DPL-0 data', async () => {
    const t = await longModeCore(`mov ax, ${SEL64.data}\nmov ds, ax\nmov fs, ax\n${toUser64('user')}\nuser:\nud2`);
    t.run();
    expect([t.cpu.segSel[3], t.cpu.segSel[4]]).toEqual([0, 0]);
  });
});
