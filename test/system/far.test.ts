/**
 * Far control transfers (SDM Vol. 2A JMP, CALL, Vol. 2B RET "Operation";
 * Vol. 3A §5.8): direct and indirect far JMP/CALL, far RET with imm16,
 * call gates to the same and to an inner privilege level (with the TSS
 * stack switch and parameter copying, and IA-32e 64-bit call gates), and
 * the return to an outer level nulling more privileged data segments.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, runAsm, type TestCore } from '../support/machine.ts';
import {
  activatePaging, CODE32, farCall32, farJmp32, gate, gate64, gdt32, gdt64, handlerAddress, KERNEL_STACK, load,
  longModeCore, protectedModeCore, read32, read64, segment, SEL32, SEL64, setTables, stackSlots, systemCore, toUser32,
  toUser64, USER_STACK,
} from './support.ts';

const fault = (vector: number, errorCode?: number) => (errorCode === undefined ? { kind: 'exception', vector } : { kind: 'exception', vector, errorCode });
const KERNEL_FN = 0x1800;

describe('real-address mode (SDM Vol. 2A JMP, CALL: real-address mode)', () => {
  it('JMP ptr16:16 loads CS and base = CS × 16; CALL far and RETF round-trip', async () => {
    const t = await runAsm(`
      .byte 0x9a
      .word far, 0
      mov cx, cs
      .byte 0xea
      .word done - 0x1000, 0x100
    far:
      mov bx, sp
      .byte 0xcb
    done:
      mov dx, cs`, { bits: 16 });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx') & 0xffffn).toBe(0xfff0n - 4n);
    expect(t.reg('rdx') & 0xffffn).toBe(0x100n);
    expect(t.cpu.segBase[1]).toBe(0x1000);
    expect(t.reg('rsp') & 0xffffn).toBe(0xfff0n);
  });
});

describe('protected mode, to code segments (SDM Vol. 3A §5.8.3)', () => {
  /** 38H: not-present code; 40H: DPL-3 non-conforming code; 48H: code with byte limit FFFFH. */
  const setup = (t: TestCore) => setTables(t, gdt32([
    segment({ type: 0xb, db: true, g: true, present: false }),
    segment({ type: 0xb, db: true, g: true, dpl: 3 }),
    segment({ type: 0xb, db: true, limit: 0xffff }),
  ]));
  const jmpTo = (sel: number, target = 'next') => `${farJmp32(sel, target)}\nnext:\nnop`;

  it('JMP far to the same-privilege code segment continues there', async () => {
    const t = await runAsm(jmpTo(SEL32.code), { bits: 32, setup });
    expect(t.stop.kind).toBe('halt');
  });

  it('a data segment is #GP(sel); a not-present code segment is #NP(sel); DPL ≠ CPL non-conforming is #GP(sel)', async () => {
    expect((await runAsm(jmpTo(SEL32.data), { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, SEL32.data));
    expect((await runAsm(jmpTo(0x38), { bits: 32, setup })).stop).toMatchObject(fault(Vector.NP, 0x38));
    expect((await runAsm(jmpTo(0x40), { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0x40));
    expect((await runAsm(jmpTo(0), { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('an offset beyond the target limit is #GP(0)', async () => {
    expect((await runAsm(`${farJmp32(0x48, '0x10000')}`, { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('CALL far pushes CS:EIP; RETF imm16 pops them and releases the parameters', async () => {
    const t = await runAsm(`
      push 1
      push 2
      ${farCall32(SEL32.code, 'fn')}
      jmp done
    fn:
      mov ebx, [esp]
      mov ecx, [esp + 4]
      retf 8
    done:`, { bits: 32, setup });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(BigInt(CODE_BASE + 4 + 7)); // return EIP after PUSH 1, PUSH 2 and the 7-byte CALL
    expect(t.reg('rcx')).toBe(BigInt(SEL32.code));
    expect(t.reg('rsp')).toBe(0x80000n);
  });

  it('JMP m16:32 takes offset then selector from memory', async () => {
    const t = await runAsm(`
      mov dword ptr [0x6000], next
      mov word ptr [0x6004], ${SEL32.code}
      .byte 0xff, 0x2d
      .long 0x6000
      ud2
    next:`, { bits: 32, setup });
    expect(t.stop.kind).toBe('halt');
  });
});

describe('call gates (SDM Vol. 3A §5.8.4-§5.8.6)', () => {
  it('CALL through a 32-bit gate from CPL 3 to CPL 0 switches to SS0:ESP0 and copies the parameters; RETF 8 returns and nulls DS', async () => {
    // 38H: a DPL-3 call gate to 08H:KERNEL_FN with 2 parameters.
    const t = await protectedModeCore(`
      ${toUser32('user')}
    user:
      push 0x11111111
      push 0x22222222
      ${farCall32(0x3b, '0')}
    back:
      ud2`, [gate({ type: 0xc, selector: SEL32.code, offset: KERNEL_FN, dpl: 3, count: 2 })]);
    // The kernel reloads DS and ES: the return to CPL 3 made them null.
    await load(t, `
      mov ax, ${SEL32.data}
      mov ds, ax
      mov es, ax
      mov esi, esp
      mov edi, 0x6000
      mov ecx, 6
      .byte 0xf3, 0xa5
      mov [0x6018], esp
      retf 8`, 32, KERNEL_FN);
    t.run();
    const words = [0, 1, 2, 3, 4, 5].map((k) => read32(t, 0x6000 + 4 * k));
    expect(words.slice(1)).toEqual([SEL32.codeUser, 0x22222222, 0x11111111, USER_STACK - 8, SEL32.dataUser]);
    expect(read32(t, 0x6018)).toBe(KERNEL_STACK - 24);
    // Back at CPL 3 after RETF 8: UD2 faults into the ring-0 #UD gate, whose frame shows the user state.
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [eip, cs, , esp] = stackSlots(t, 4, 4);
    expect(eip).toBe(BigInt(words[0]!));
    expect(cs).toBe(BigInt(SEL32.codeUser));
    expect(esp).toBe(BigInt(USER_STACK));
    expect(t.cpu.segSel[3]).toBe(0); // DS (DPL 0 data) became null on the return to CPL 3
  });

  it('a gate with DPL < CPL is #GP(gate selector); JMP through a gate to more privileged code is #GP(code selector)', async () => {
    const gates = [gate({ type: 0xc, selector: SEL32.code, offset: KERNEL_FN }), gate({ type: 0xc, selector: SEL32.code, offset: KERNEL_FN, dpl: 3 })];
    const call = await protectedModeCore(`${toUser32('user')}\nuser:\n${farCall32(0x3b, '0')}`, gates);
    call.run();
    expect(call.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(call, 1, 4)[0]).toBe(0x38n);
    const jmp = await protectedModeCore(`${toUser32('user')}\nuser:\n${farJmp32(0x43, '0')}`, gates);
    jmp.run();
    expect(stackSlots(jmp, 1, 4)[0]).toBe(BigInt(SEL32.code));
  });

  it('a call gate to the same privilege level pushes CS:EIP at the gate size', async () => {
    const t = await runAsm(`${farCall32(0x38, '0')}`, {
      bits: 32,
      setup: (t) => { setTables(t, gdt32([gate({ type: 0x4, selector: SEL32.code, offset: 0x1800 })])); t.phys.write8(0x1800, 0xf4); },
    });
    expect(t.cpu.rip).toBe(0x1801);
    expect(t.reg('rsp')).toBe(0x80000n - 4n); // a 16-bit gate: IP and CS as words
    expect(t.phys.readSized(0x7fffc, 2)).toBe(CODE_BASE + 7);
  });

  it('IA-32e: CALL through a 64-bit gate (40H) from CPL 3 pushes SS, RSP, CS, RIP as quadwords on RSP0 with SS = null; RETFQ returns', async () => {
    const g = gate64({ type: 0xc, selector: SEL64.code, offset: KERNEL_FN, dpl: 3 });
    const t = await longModeCore(`
      mov ebx, 0x6100
      mov dword ptr [rbx], 0
      mov word ptr [rbx + 4], 0x43
      ${toUser64('user')}
    user:
      .byte 0xff, 0x1c, 0x25
      .long 0x6100
      ud2`, [g.slice(0, 2), g.slice(2)]);
    await load(t, `
      mov rsi, rsp
      mov edi, 0x6000
      mov ecx, 4
      .byte 0xf3, 0x48, 0xa5
      mov [rdi], rsp
      mov ax, ss
      mov [rdi + 8], ax
      retfq`, 64, KERNEL_FN);
    t.run();
    expect(read64(t, 0x6008)).toBe(BigInt(SEL64.codeUser));
    expect(read64(t, 0x6010)).toBe(BigInt(USER_STACK));
    expect(read64(t, 0x6018)).toBe(BigInt(SEL64.dataUser));
    expect(read64(t, 0x6020)).toBe(BigInt(KERNEL_STACK - 32));
    expect(t.phys.readSized(0x6028, 2)).toBe(0);
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    const [rip, cs, , rsp, ss] = stackSlots(t, 5);
    expect(rip).toBe(read64(t, 0x6000) + 0n);
    expect([cs, rsp, ss]).toEqual([BigInt(SEL64.codeUser), BigInt(USER_STACK), BigInt(SEL64.dataUser)]);
  });

  it('IA-32e: a 16-bit call gate is #GP(selector); a TSS is #GP(selector)', async () => {
    const setup = (t: TestCore) => { setTables(t, gdt64([gate({ type: 0x4, selector: 0x08, offset: 0 }), [0, 0]])); activatePaging(t); };
    const ptr = (sel: number) => `mov dword ptr [0x6100], 0\nmov word ptr [0x6104], ${sel}\n.byte 0xff, 0x1c, 0x25\n.long 0x6100`;
    expect((await runAsm(ptr(0x40), { setup })).stop).toMatchObject(fault(Vector.GP, 0x40));
    expect((await runAsm(ptr(SEL64.tss), { setup })).stop).toMatchObject(fault(Vector.GP, SEL64.tss));
  });

  it('not modelled: a far JMP to a TSS outside IA-32e mode (task switch) raises #TS(selector)', async () => {
    const t = await runAsm(farJmp32(SEL32.tss, '0'), { bits: 32, setup: (t) => setTables(t, gdt32()) });
    expect(t.stop).toMatchObject(fault(Vector.TS, SEL32.tss));
  });

  it.todo('hardware task switches through JMP/CALL to a TSS or task gate (SDM Vol. 3A §7.3)');
});

describe('far transfers between 64-bit and compatibility mode (SDM Vol. 3A §5.8.8)', () => {
  it('JMP m16:64 (REX.W) to 64-bit code, JMP m16:32 to compatibility-mode code', async () => {
    const t = systemCore64([CODE32]);
    await load(t, `
      mov rax, lm
      mov [0x6000], rax
      mov word ptr [0x6008], 0x08
      .byte 0x48, 0xff, 0x2c, 0x25
      .long 0x6000
      ud2
    lm:
      mov ebx, 1
      mov dword ptr [0x6010], cm
      mov word ptr [0x6014], 0x40
      .byte 0xff, 0x2c, 0x25
      .long 0x6010
    .code32
    cm:
      mov ecx, 2
      hlt`);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect([t.reg('rbx'), t.reg('rcx'), BigInt(t.cpu.codeSize)]).toEqual([1n, 2n, 32n]);
  });

  it('a 64-bit target must be canonical: JMP m16:64 to a non-canonical offset is #GP(0)', async () => {
    const t = systemCore64([]);
    t.cpu.onException = (c, e) => { c.stopReason = { kind: 'exception', vector: e.vector, errorCode: e.errorCode, rip: c.rip }; };
    await load(t, `
      mov rax, 0x0000800000000000
      mov [0x6000], rax
      mov word ptr [0x6008], 0x08
      .byte 0x48, 0xff, 0x2c, 0x25
      .long 0x6000`);
    t.run();
    expect(t.stop).toMatchObject(fault(Vector.GP, 0));
  });
});

/** A 64-bit core with gdt64 plus `extra` (from 40H) and identity paging. */
function systemCore64(extra: number[][]): TestCore {
  const t = systemCore(64);
  setTables(t, gdt64(extra));
  activatePaging(t);
  return t;
}

describe('a far RET to an outer level (SDM Vol. 2B RET)', () => {
  it('returns to CPL 3 with SS:ESP from the stack; RPL < CPL on the way back is #GP(sel)', async () => {
    const t = await protectedModeCore(`
      push ${SEL32.dataUser}
      push ${USER_STACK}
      push ${SEL32.codeUser}
      mov eax, user
      push eax
      retf
    user:
      ud2`);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.UD) + 1);
    expect(stackSlots(t, 4, 4)[3]).toBe(BigInt(USER_STACK));
    const u = await protectedModeCore(`${toUser32('user')}\nuser:\npush ${SEL32.code}\npush 0\nretf`);
    u.run();
    expect(u.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(u, 1, 4)[0]).toBe(BigInt(SEL32.code));
  });
});
