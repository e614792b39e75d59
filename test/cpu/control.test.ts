/** Near control transfer (SDM Vol. 2A JMP, Jcc, CALL, LOOP; Vol. 2B RET). */
import { describe, expect, it } from 'vitest';
import { runAsm, STACK_TOP } from '../support/machine.ts';

describe('Jcc conditions (SDM Vol. 2 Appendix B.1.4.7)', () => {
  const cases: [string, number, boolean][] = [
    ['jo', 0x800, true], ['jno', 0x800, false], ['jb', 1, true], ['jae', 1, false],
    ['je', 0x40, true], ['jne', 0x40, false], ['jbe', 0x40, true], ['ja', 0, true],
    ['js', 0x80, true], ['jns', 0x80, false], ['jp', 4, true], ['jnp', 4, false],
    ['jl', 0x80, true], ['jge', 0x880, true], ['jle', 0x40, true], ['jg', 0x880, true],
  ];
  for (const [jcc, flags, taken] of cases) {
    it(`${jcc} with RFLAGS=0x${flags.toString(16)} is ${taken ? 'taken' : 'not taken'}`, async () => {
      const t = await runAsm(`${jcc} yes\nmov eax, 1\nhlt\nyes: mov eax, 2`, { rflags: flags });
      expect(t.reg('rax')).toBe(taken ? 2n : 1n);
    });
  }
});

describe('CALL/RET/JMP', () => {
  it('call pushes the return address and ret pops it', async () => {
    const t = await runAsm('call f\nmov ebx, 1\nhlt\nf: mov rcx, [rsp]\nret');
    expect(t.reg('rbx')).toBe(1n);
    expect(t.reg('rcx')).toBe(0x1005n);
    expect(t.reg('rsp')).toBe(BigInt(STACK_TOP));
  });
  it('ret imm16 releases stack bytes', async () => {
    const t = await runAsm('push 1\npush 2\ncall f\nhlt\nf: ret 16');
    expect(t.reg('rsp')).toBe(BigInt(STACK_TOP));
  });
  it('indirect jmp and call through register and memory', async () => {
    const t = await runAsm('lea rax, [rip + a]\njmp rax\nhlt\na: lea rbx, [rip + b]\nmov [0x3000], rbx\ncall qword ptr [0x3000]\nhlt\nb: mov ecx, 7\nret');
    expect(t.reg('rcx')).toBe(7n);
    expect(t.stop.kind).toBe('halt');
  });
  it('a jump to a non-canonical address raises #GP(0) with RIP at the jump (SDM Vol. 2A JMP)', async () => {
    const t = await runAsm('jmp rax', { regs: { rax: 0x0000800000000000n } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0, rip: 0x1000 });
  });
  it('16-bit code: an indirect jump takes a 16-bit target', async () => {
    const t = await runAsm('mov eax, 0x12341234\njmp ax', { bits: 16, setup: (t) => t.phys.load(0x1234, new Uint8Array([0xf4])) });
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.rip).toBe(0x1235);
  });
  it('16-bit code: a relative jump wraps IP within 16 bits', async () => {
    // jmp rel16 at 0x1000 with displacement 0xf000 - 3: 0x1003 + 0xeffd = 0x10000 -> IP 0.
    const t = await runAsm('.byte 0xe9, 0xfd, 0xef', { bits: 16, setup: (t) => t.phys.load(0, new Uint8Array([0xf4])) });
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.rip).toBe(1);
  });
});

describe('LOOP/JRCXZ', () => {
  it('loop counts RCX down to zero', async () => {
    const t = await runAsm('mov ecx, 5\nxor eax, eax\nl: inc eax\nloop l');
    expect(t.reg('rax')).toBe(5n);
    expect(t.reg('rcx')).toBe(0n);
  });
  it('loope stops when ZF clears', async () => {
    const t = await runAsm('mov ecx, 10\nxor eax, eax\nl: inc eax\ncmp eax, 3\nloopne l');
    expect(t.reg('rax')).toBe(3n);
    expect(t.reg('rcx')).toBe(7n);
  });
  it('jrcxz and jecxz', async () => {
    const t = await runAsm('jrcxz z\nmov eax, 1\nhlt\nz: mov eax, 2', { regs: { rcx: 0n } });
    expect(t.reg('rax')).toBe(2n);
    const u = await runAsm('jecxz z\nmov eax, 1\nhlt\nz: mov eax, 2', { regs: { rcx: 0x100000000n } });
    expect(u.reg('rax')).toBe(2n);
  });
});

describe('flag instructions (SDM Vol. 2A CLC, STC, CMC, CLD, STD, LAHF, SAHF, CLI, STI)', () => {
  it('CLC/STC/CMC/CLD/STD', async () => {
    const t = await runAsm('stc\ncmc\ncmc\nstd\npushfq\npop rax\nclc\ncld\npushfq\npop rbx');
    expect(t.reg('rax') & 0x401n).toBe(0x401n);
    expect(t.reg('rbx') & 0x401n).toBe(0n);
  });
  it('LAHF/SAHF move SF ZF AF PF CF through AH', async () => {
    const t = await runAsm('mov ah, 0xd5\nsahf\nlahf\npushfq\npop rbx', { regs: { rax: 0n } });
    expect(t.reg('rax')).toBe(0xd700n);
    expect(t.reg('rbx') & 0xffn).toBe(0xd7n);
  });
  it('STI sets IF and CLI clears it at CPL 0', async () => {
    const t = await runAsm('sti\npushfq\npop rax\ncli\npushfq\npop rbx');
    expect(t.reg('rax') & 0x200n).toBe(0x200n);
    expect(t.reg('rbx') & 0x200n).toBe(0n);
  });
  it('HLT at CPL 3 raises #GP(0)', async () => {
    const t = await runAsm('nop', { setup: (t) => { t.cpu.cpl = 3; } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });
});
