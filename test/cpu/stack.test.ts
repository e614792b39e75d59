/** PUSH/POP/PUSHF/POPF/ENTER/LEAVE (SDM Vol. 2B PUSH, POP, PUSHF, POPF; Vol. 2A ENTER, LEAVE). */
import { describe, expect, it } from 'vitest';
import { runAsm, STACK_TOP } from '../support/machine.ts';

const top = BigInt(STACK_TOP);

describe('PUSH/POP', () => {
  it('64-bit pushes and pops of registers, immediates and memory', async () => {
    const t = await runAsm('push rax\npush -2\npush qword ptr [rbx]\npop rcx\npop rdx\npop rsi\npush 0x1234\npop r9', {
      regs: { rax: 0x1122334455667788n, rbx: 0x3000n },
      setup: (t) => t.phys.load(0x3000, new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2])),
    });
    expect(t.reg('rcx')).toBe(0x0203040506070809n);
    expect(t.reg('rdx')).toBe(0xfffffffffffffffen);
    expect(t.reg('rsi')).toBe(0x1122334455667788n);
    expect(t.reg('r9')).toBe(0x1234n);
    expect(t.reg('rsp')).toBe(top);
  });
  it('16-bit push with 66 in 64-bit mode moves RSP by 2', async () => {
    const t = await runAsm('push ax\npop bx', { regs: { rax: 0xabcdn, rbx: 0xffff0000n } });
    expect(t.reg('rbx')).toBe(0xffffabcdn);
    expect(t.reg('rsp')).toBe(top);
  });
  it('POP to memory addressed by RSP uses RSP after the increment (SDM Vol. 2B POP)', async () => {
    const t = await runAsm('push 0x77\npush 0x55\npop qword ptr [rsp]');
    // After popping 0x55, RSP points at the 0x77 slot, which is overwritten with 0x55.
    const v = t.phys.readBytes(STACK_TOP - 8, 1)[0];
    expect(v).toBe(0x55);
    expect(t.reg('rsp')).toBe(top - 8n);
  });
  it('PUSH RSP pushes the value before the decrement', async () => {
    const t = await runAsm('push rsp\npop rax');
    expect(t.reg('rax')).toBe(top);
  });
  it('32-bit mode: pushes are 4 bytes and ESP wraps within 32 bits', async () => {
    const t = await runAsm('push eax\npop ebx\npush 0x12345678\npop cx', { bits: 32, regs: { rax: 0xdeadbeefn } });
    expect(t.reg('rbx')).toBe(0xdeadbeefn);
    expect(t.reg('rcx')).toBe(0x5678n);
    expect(t.reg('rsp')).toBe(top - 2n);
  });
  it('a push to a non-canonical stack raises #SS(0) and leaves RSP', async () => {
    const t = await runAsm('push rax', { regs: { rsp: 0x0000800000000008n } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 12, errorCode: 0 });
    expect(t.reg('rsp')).toBe(0x0000800000000008n);
  });
});

describe('PUSHF/POPF (SDM Vol. 2B)', () => {
  it('PUSHF stores the arithmetic flags and bit 1; POPF restores them', async () => {
    const t = await runAsm('stc\npushfq\npop rax\npush 0x8d5\npopfq\npushfq\npop rbx');
    expect(t.reg('rax') & 0xffn).toBe(0x03n);
    expect(t.reg('rbx')).toBe(0x8d7n); // OF SF ZF AF PF CF and the fixed bit 1
  });
  it('POPF at CPL 0 can set IF; DF, TF... are writable', async () => {
    const t = await runAsm('push 0x602\npopfq\npushfq\npop rax');
    expect(t.reg('rax')).toBe(0x602n);
  });
  it('POPF leaves VM and RF alone', async () => {
    const t = await runAsm('push 0x30002\npopfq\npushfq\npop rax');
    expect(t.reg('rax') & 0x30000n).toBe(0n);
  });
});

describe('ENTER/LEAVE', () => {
  it('ENTER 16, 0 and LEAVE build and drop a frame', async () => {
    const t = await runAsm('enter 16, 0\nmov rcx, rbp\nmov rdx, rsp\nleave', { regs: { rbp: 0x1111n } });
    expect(t.reg('rcx')).toBe(top - 8n);
    expect(t.reg('rdx')).toBe(top - 8n - 16n);
    expect(t.reg('rbp')).toBe(0x1111n);
    expect(t.reg('rsp')).toBe(top);
  });
  it('ENTER with nesting level 2 copies the enclosing frame pointer', async () => {
    const frame = top - 0x100n;
    const t = await runAsm('enter 8, 2', {
      regs: { rbp: frame },
      setup: (t) => t.phys.load(Number(frame) - 8, new Uint8Array([0xaa, 0xbb, 0, 0, 0, 0, 0, 0])),
    });
    // push rbp; push [rbp-8]; push frameTemp; rbp = frameTemp; rsp -= 8
    expect(t.reg('rbp')).toBe(top - 8n);
    expect(t.reg('rsp')).toBe(top - 24n - 8n);
    expect(Array.from(t.phys.readBytes(STACK_TOP - 16, 2))).toEqual([0xaa, 0xbb]);
  });
});
