/** Data movement (SDM Vol. 2: MOV, MOVZX, MOVSX/MOVSXD, LEA, XCHG, CMOVcc, BSWAP, MOVBE, CBW/CWD family). */
import { describe, expect, it } from 'vitest';
import { runAsm } from '../support/machine.ts';

describe('MOV (SDM Vol. 2B MOV)', () => {
  it('32-bit register writes zero-extend; 8/16-bit writes preserve the rest (SDM Vol. 1 §3.4.1.1)', async () => {
    const t = await runAsm('mov eax, ebx\nmov cx, bx\nmov dl, bl\nmov dh, bl', {
      regs: { rax: -1n, rbx: 0x1122334455667788n, rcx: -1n, rdx: -1n },
    });
    expect(t.reg('rax')).toBe(0x55667788n);
    expect(t.reg('rcx')).toBe(0xffffffffffff7788n);
    expect(t.reg('rdx')).toBe(0xffffffffffff8888n);
  });
  it('MOV r64, imm64 and MOV r/m64, imm32 sign-extension', async () => {
    const t = await runAsm('mov rax, 0x1122334455667788\nmov rbx, -2\nmov qword ptr [0x3000], -3');
    expect(t.reg('rax')).toBe(0x1122334455667788n);
    expect(t.reg('rbx')).toBe(0xfffffffffffffffen);
    expect(Array.from(t.phys.readBytes(0x3000, 8))).toEqual([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });
  it('loads and stores through every addressing form', async () => {
    const t = await runAsm(`
      mov qword ptr [rbx + rsi*4 + 0x10], rdx
      mov rax, [rbx + rsi*4 + 0x10]
      mov ecx, [rip + data]
      mov r8, [r12]
      mov r9, [r13 + 8]
      hlt
    data: .byte 0x78, 0x56, 0x34, 0x12`, {
      regs: { rbx: 0x3000n, rsi: 2n, rdx: 0xcafef00ddeadbeefn, r12: 0x3018n, r13: 0x3010n },
    });
    expect(t.reg('rax')).toBe(0xcafef00ddeadbeefn);
    expect(t.reg('rcx')).toBe(0x12345678n);
    expect(t.reg('r8')).toBe(0xcafef00ddeadbeefn);
    expect(t.reg('r9')).toBe(0xcafef00ddeadbeefn);
  });
  it('moffs forms A0-A3 with 64-bit addresses', async () => {
    const t = await runAsm('mov eax, dword ptr [0x3000]\nmov al, byte ptr [0x3002]\nmov qword ptr [0x3008], rax', {
      setup: (t) => t.phys.load(0x3000, new Uint8Array([1, 2, 3, 4])),
    });
    expect(t.reg('rax')).toBe(0x04030203n);
    expect(Array.from(t.phys.readBytes(0x3008, 4))).toEqual([3, 2, 3, 4]);
  });
  it('a store that crosses a page is done whole', async () => {
    const t = await runAsm('mov qword ptr [rcx], rax\nmov rbx, [rcx]', { regs: { rax: 0x0807060504030201n, rcx: 0x3ffcn } });
    expect(t.reg('rbx')).toBe(0x0807060504030201n);
    expect(Array.from(t.phys.readBytes(0x3ffc, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('a non-canonical address raises #GP(0), and #SS(0) through RSP/RBP (SDM Vol. 1 §3.3.7.1)', async () => {
    let t = await runAsm('mov rax, [rbx]', { regs: { rbx: 0x0000800000000000n } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0, rip: 0x1000 });
    t = await runAsm('mov rax, [rbp]', { regs: { rbp: 0x0000800000000000n } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 12, errorCode: 0 });
    t = await runAsm('mov rax, [rbx - 16]', { regs: { rbx: 0x0000800000000008n } });
    expect(t.stop.kind).toBe('halt'); // 0x7fff_ffff_fff8 is canonical
  });
  it('reads of unbacked physical memory return all ones', async () => {
    const t = await runAsm('mov rax, [0x7fff0000]');
    expect(t.reg('rax')).toBe(0xffffffffffffffffn);
  });
});

describe('MOVZX/MOVSX/MOVSXD (SDM Vol. 2B)', () => {
  it('zero- and sign-extension from byte and word', async () => {
    const t = await runAsm('movzx eax, bl\nmovsx rcx, bl\nmovzx edx, bx\nmovsx esi, bx\nmovsx di, bl', {
      regs: { rbx: 0x8182n, rax: -1n, rdi: 0xffff0000n },
    });
    expect(t.reg('rax')).toBe(0x82n);
    expect(t.reg('rcx')).toBe(0xffffffffffffff82n);
    expect(t.reg('rdx')).toBe(0x8182n);
    expect(t.reg('rsi')).toBe(0xffff8182n);
    expect(t.reg('rdi')).toBe(0xffffff82n);
  });
  it('movsxd r64, r/m32', async () => {
    const t = await runAsm('movsxd rax, ebx\nmovsxd rcx, dword ptr [0x3000]', {
      regs: { rbx: 0x80000000n },
      setup: (t) => t.phys.load(0x3000, new Uint8Array([1, 0, 0, 0x7f])),
    });
    expect(t.reg('rax')).toBe(0xffffffff80000000n);
    expect(t.reg('rcx')).toBe(0x7f000001n);
  });
});

describe('LEA (SDM Vol. 2A LEA)', () => {
  it('computes offsets without memory access or canonical check', async () => {
    const t = await runAsm('lea rax, [rbx + rcx*8 - 8]\nlea edx, [rbx + rcx*8 - 8]\nlea si, [rbx + 1]\nlea rdi, [rip]', {
      regs: { rbx: 0x7ffffffffffffff0n, rcx: 2n, rsi: 0xffff0000n },
    });
    expect(t.reg('rax')).toBe(0x7ffffffffffffff0n + 8n);
    expect(t.reg('rdx')).toBe(0xfffffff8n);
    expect(t.reg('rsi')).toBe(0xfffffff1n);
    expect(t.reg('rdi')).toBe(0x1000n + 5n + 4n + 4n + 7n); // RIP after the fourth instruction
  });
  it('wraps modulo 2^64', async () => {
    const t = await runAsm('lea rax, [rbx + rcx]', { regs: { rbx: 0xffffffffffffffffn, rcx: 2n } });
    expect(t.reg('rax')).toBe(1n);
  });
  it('67 prefix: 32-bit address size zero-extends', async () => {
    const t = await runAsm('lea rax, [ebx + ecx]', { regs: { rbx: 0xffffffffn, rcx: 2n } });
    expect(t.reg('rax')).toBe(1n);
  });
});

describe('XCHG, CMOVcc, BSWAP, MOVBE, CBW/CWD', () => {
  it('XCHG register and memory forms; 90 stays NOP and 87 C0 zero-extends', async () => {
    const t = await runAsm('xchg rax, rbx\nxchg ecx, edx\nxchg [0x3000], sil\nnop\nxchg r8, rax', {
      regs: { rax: 1n, rbx: 2n, rcx: 0xffffffff00000003n, rdx: 0xffffffff00000004n, rsi: 0x77n, r8: 9n },
      setup: (t) => t.phys.load(0x3000, new Uint8Array([0x55])),
    });
    expect(t.reg('rax')).toBe(9n);
    expect(t.reg('r8')).toBe(2n);
    expect(t.reg('rbx')).toBe(1n);
    expect(t.reg('rcx')).toBe(4n);
    expect(t.reg('rdx')).toBe(3n);
    expect(t.reg('rsi')).toBe(0x55n);
    expect(t.phys.readBytes(0x3000, 1)[0]).toBe(0x77);
  });
  it('CMOVcc moves when the condition holds; a 32-bit CMOV zero-extends even when it does not (SDM Vol. 2A CMOVcc)', async () => {
    const t = await runAsm('cmp eax, ebx\ncmovl rcx, rdx\ncmovg esi, edx', {
      regs: { rax: 1n, rbx: 2n, rcx: 0n, rdx: 0x1234567890n, rsi: 0xffffffff00000005n },
    });
    expect(t.reg('rcx')).toBe(0x1234567890n);
    expect(t.reg('rsi')).toBe(5n);
  });
  it('BSWAP 32 and 64', async () => {
    const t = await runAsm('bswap eax\nbswap rbx', { regs: { rax: 0xffffffff11223344n, rbx: 0x0102030405060708n } });
    expect(t.reg('rax')).toBe(0x44332211n);
    expect(t.reg('rbx')).toBe(0x0807060504030201n);
  });
  it('MOVBE load and store', async () => {
    const t = await runAsm('movbe eax, [0x3000]\nmovbe [0x3008], rbx\nmovbe cx, [0x3000]', {
      regs: { rbx: 0x0102030405060708n, rcx: 0xaaaa0000n },
      setup: (t) => t.phys.load(0x3000, new Uint8Array([0x11, 0x22, 0x33, 0x44])),
    });
    expect(t.reg('rax')).toBe(0x11223344n);
    expect(t.reg('rcx')).toBe(0xaaaa1122n);
    expect(Array.from(t.phys.readBytes(0x3008, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('CBW/CWDE/CDQE and CWD/CDQ/CQO', async () => {
    let t = await runAsm('cbw', { regs: { rax: 0xffff0080n } });
    expect(t.reg('rax')).toBe(0xffffff80n);
    t = await runAsm('cwde', { regs: { rax: 0xffff_ffff_0000_8000n } });
    expect(t.reg('rax')).toBe(0xffff8000n);
    t = await runAsm('cdqe', { regs: { rax: 0x80000000n } });
    expect(t.reg('rax')).toBe(0xffffffff80000000n);
    t = await runAsm('cqo', { regs: { rax: 0x8000000000000000n, rdx: 5n } });
    expect(t.reg('rdx')).toBe(0xffffffffffffffffn);
    t = await runAsm('cdq', { regs: { rax: 0x7fffffffn, rdx: -1n } });
    expect(t.reg('rdx')).toBe(0n);
    t = await runAsm('cwd', { regs: { rax: 0x8000n, rdx: 0x12340000n } });
    expect(t.reg('rdx')).toBe(0x1234ffffn);
  });
});

describe('32-bit and 16-bit code', () => {
  it('32-bit mode: default operand size 32, 66 gives 16', async () => {
    const t = await runAsm('mov eax, 0x12345678\nmov bx, 0xffff\nadd eax, ebx', { bits: 32, regs: { rbx: 0n } });
    expect(t.reg('rax')).toBe(0x12345678n + 0xffffn);
  });
  it('16-bit mode: ModRM 16-bit addressing [bx+si+disp]', async () => {
    const t = await runAsm('mov word ptr [bx+si+2], 0x1234\nmov ax, [bx+si+2]', { bits: 16, regs: { rbx: 0x3000n, rsi: 0x10n } });
    expect(t.reg('rax')).toBe(0x1234n);
    expect(Array.from(t.phys.readBytes(0x3012, 2))).toEqual([0x34, 0x12]);
  });
  it('16-bit mode: 32-bit operand with 66 prefix', async () => {
    const t = await runAsm('mov eax, 0x89abcdef\nadd eax, 1', { bits: 16 });
    expect(t.reg('rax')).toBe(0x89abcdf0n);
  });
});
