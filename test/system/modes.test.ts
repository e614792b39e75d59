/**
 * Operating modes and their transitions (SDM Vol. 3A §9.9 mode switching,
 * §9.8.5 / §10.8.5 initializing and leaving IA-32e mode, §2.5 control
 * registers; Vol. 2B MOV CR "Exceptions").
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { CODE_BASE, runAsm, type TestCore } from '../support/machine.ts';
import {
  activatePaging, CODE64, DATA16, DATA32, farJmp32, gdt32, identityPaging, load, PAGE_TABLES, segment, SEL32,
  setTables, systemCore,
} from './support.ts';

/** SDM Vol. 3A §10.8.5 steps before setting CR0.PG: CR4.PAE, CR3 = the identity tables, IA32_EFER.LME. */
const PAE_CR3_LME = `mov eax, cr4
      or eax, 0x20
      mov cr4, eax
      mov eax, ${PAGE_TABLES}
      mov cr3, eax
      mov ecx, 0xc0000080
      rdmsr
      or eax, 0x100
      wrmsr`;

const GP0 = { kind: 'exception', vector: Vector.GP, errorCode: 0 };

function stepUntil(t: TestCore, done: () => boolean, max = 500): void {
  for (let k = 0; k < max && !done(); k++) t.run(1);
}

describe('the round trip real → protected → IA-32e → compatibility → protected → real (SDM Vol. 3A §9.9, §10.8.5)', () => {
  it('each step lands in the mode its CR0/EFER/CS say', async () => {
    const t = systemCore(16);
    // GDT of gdt32 plus CODE64 at 38H and DATA16 at 40H.
    setTables(t, gdt32([CODE64, DATA16]));
    identityPaging(t);
    t.phys.writeSized(0x6000, 2, 0x47);
    t.phys.writeSized(0x6002, 4, 0x2000);
    await load(t, `
      cli
      lgdt [0x6000]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      ${farJmp32(SEL32.code, 'pm32', true)}
    .code32
    pm32:
      mov ax, ${SEL32.data}
      mov ds, ax
      mov ss, ax
      mov esp, 0x80000
      mov ebx, 1
      ${PAE_CR3_LME}
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov ebx, 2
      ${farJmp32(0x38, 'lm64')}
    .code64
    lm64:
      mov ebx, 3
      .byte 0xff, 0x2c, 0x25
      .long ptr32
    ptr32:
      .long compat32
      .word ${SEL32.code}
    .code32
    compat32:
      mov ebx, 4
      mov eax, cr0
      and eax, 0x7fffffff
      mov cr0, eax
      mov ecx, 0xc0000080
      rdmsr
      and eax, 0xfffffeff
      wrmsr
      mov ebx, 5
      ${farJmp32(SEL32.code16, 'pm16')}
    .code16
    pm16:
      mov ax, 0x40
      mov ds, ax
      mov ss, ax
      mov eax, cr0
      and al, 0xfe
      mov cr0, eax
      ljmp 0:real
    real:
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov ebx, 6
      hlt`, 16);
    const c = t.cpu;
    stepUntil(t, () => t.reg('rbx') === 1n);
    expect([c.codeSize, c.stackSize, c.cr0 & 1, c.segSel[1]]).toEqual([32, 4, 1, SEL32.code]);
    stepUntil(t, () => t.reg('rbx') === 2n);
    // PG set with LME: IA-32e mode active (LMA), still compatibility mode until CS changes.
    expect([c.codeSize, c.efer & 0x500]).toEqual([32, 0x500]);
    stepUntil(t, () => t.reg('rbx') === 3n);
    expect([c.codeSize, c.stackSize, c.segSel[1]]).toEqual([64, 8, 0x38]);
    stepUntil(t, () => t.reg('rbx') === 4n);
    expect([c.codeSize, c.efer & 0x500]).toEqual([32, 0x500]);
    stepUntil(t, () => t.reg('rbx') === 5n);
    expect([c.codeSize, c.efer, c.cr0 >>> 31]).toEqual([32, 0, 0]);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(6n);
    expect([c.codeSize, c.stackSize, c.cr0 & 1, c.segSel[1], c.segBase[1]]).toEqual([16, 2, 0, 0, 0]);
  });
});

describe('segment bases by mode (SDM Vol. 3A §3.4.4)', () => {
  it('in 64-bit mode the DS base reads as 0, in compatibility mode it applies', async () => {
    const t = systemCore(64);
    // 32-bit code at 18H, a data segment with base 100H at 20H.
    setTables(t, [[0, 0], CODE64, DATA32, segment({ type: 0xb, db: true, g: true }), segment({ type: 3, db: true, g: true, base: 0x100 })]);
    activatePaging(t);
    t.phys.writeSized(0x6000, 4, 0x11111111);
    t.phys.writeSized(0x6100, 4, 0x22222222);
    await load(t, `
      mov ax, 0x20
      mov ds, ax
      mov eax, [0x6000]
      .byte 0xff, 0x2c, 0x25
      .long ptr
    ptr:
      .long compat
      .word 0x18
    .code32
    compat:
      mov ebx, [0x6000]
      hlt`);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rax')).toBe(0x11111111n);
    expect(t.reg('rbx')).toBe(0x22222222n);
    expect(t.cpu.segBase[3]).toBe(0x100);
  });
});

describe('MOV to CR0 (SDM Vol. 2B MOV CR "Exceptions"; Vol. 3A §2.5, §10.8.5)', () => {
  it('PG without PE is #GP(0)', async () => {
    expect((await runAsm('mov eax, 0x80000000\nmov cr0, eax', { bits: 32 })).stop).toMatchObject(GP0);
  });

  it('NW without CD is #GP(0)', async () => {
    expect((await runAsm('mov eax, 0x20000011\nmov cr0, eax', { bits: 32 })).stop).toMatchObject(GP0);
  });

  it('reserved bits of CR0[31:0] ignore writes; ET stays 1', async () => {
    const t = await runAsm('mov eax, 0x0000ffc1\nmov cr0, eax\nmov ebx, cr0', { bits: 32 });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(0x11n); // PE and ET only
  });

  it('enabling paging with EFER.LME = 1 and CR4.PAE = 0 is #GP(0)', async () => {
    const t = await runAsm('mov ecx, 0xc0000080\nmov eax, 0x100\nxor edx, edx\nwrmsr\nmov eax, 0x80000011\nmov cr0, eax', { bits: 32 });
    expect(t.stop).toMatchObject(GP0);
    expect(t.cpu.cr0 >>> 31).toBe(0);
  });

  it('activating IA-32e mode while CS.L = 1 is #GP(0)', async () => {
    const t = systemCore(32);
    setTables(t, [[0, 0], ...gdt32().slice(1), CODE64]); // CODE64 at 38H, run as 16-bit code (D = 0) outside IA-32e mode
    identityPaging(t);
    t.cpu.onException = (c, e) => { c.stopReason = { kind: 'exception', vector: e.vector, errorCode: e.errorCode, rip: c.rip }; };
    await load(t, `
      ${PAE_CR3_LME}
      ${farJmp32(0x38, 'l16')}
    .code16
    l16:
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax`, 32);
    t.run();
    expect(t.stop).toMatchObject(GP0);
    expect(t.cpu.codeSize).toBe(16);
  });

  it('clearing PG in 64-bit mode is #GP(0)', async () => {
    const t = await runAsm('mov rax, cr0\nbtr eax, 31\nmov cr0, rax', { setup: activatePaging });
    expect(t.stop).toMatchObject(GP0);
  });

  it('bits 63:32 of CR0 are reserved in 64-bit mode', async () => {
    const t = await runAsm('mov rax, cr0\nbts rax, 32\nmov cr0, rax', { setup: activatePaging });
    expect(t.stop).toMatchObject(GP0);
  });

  it('MOV CR at CPL > 0 is #GP(0); CR1, CR5-7 are #UD', async () => {
    const t = await runAsm('mov eax, cr0', { bits: 32, setup: (t) => { t.cpu.cpl = 3; } });
    expect(t.stop).toMatchObject(GP0);
    for (const modrm of [0xc8, 0xe8, 0xf0, 0xf8]) {
      const u = await runAsm(`.byte 0x0f, 0x22, ${modrm}`, { bits: 32 });
      expect(u.stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
    }
  });

  it('CLTS clears TS; LMSW sets PE but cannot clear it; SMSW stores CR0[15:0] to memory', async () => {
    const t = await runAsm(`
      mov eax, cr0
      or eax, 8
      mov cr0, eax
      clts
      mov ebx, cr0
      xor ax, ax
      lmsw ax
      mov ecx, cr0
      mov dword ptr [0x6000], 0xffffffff
      smsw [0x6000]
      smsw edx`, { bits: 32 });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(0x11n);
    expect(t.reg('rcx')).toBe(0x11n);
    expect(t.phys.readSized(0x6000, 4) >>> 0).toBe(0xffff0011);
    expect(t.reg('rdx')).toBe(0x11n);
    const r = await runAsm('mov ax, 1\nlmsw ax\nmov ebx, cr0', { bits: 16 });
    expect(r.reg('rbx') & 1n).toBe(1n);
    expect(r.cpu.codeSize).toBe(16); // protected mode, CS still the real-mode cache
  });
});

describe('MOV to CR4 (SDM Vol. 3A §2.5, §4.10.1)', () => {
  for (const [bit, name] of [[0, 'VME'], [1, 'PVI'], [11, 'UMIP'], [12, 'LA57'], [13, 'VMXE (VMX off)'], [14, 'SMXE'], [16, 'FSGSBASE'], [22, 'PKE'], [24, 'PKS']] as const) {
    it(`${name} (bit ${bit}) is reserved in this model: #GP(0)`, async () => {
      const t = await runAsm(`mov eax, ${1 << bit}\nmov cr4, eax`, { bits: 32 });
      expect(t.stop).toMatchObject(GP0);
    });
  }

  it('settable bits read back (PSE, PGE, OSFXSR, OSXMMEXCPT, OSXSAVE, SMEP, SMAP, DE, TSD, MCE, PCE)', async () => {
    const v = (1 << 4) | (1 << 7) | (1 << 9) | (1 << 10) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 3) | (1 << 2) | (1 << 6) | (1 << 8);
    const t = await runAsm(`mov eax, ${v}\nmov cr4, eax\nmov ebx, cr4`, { bits: 32 });
    expect(t.reg('rbx')).toBe(BigInt(v));
  });

  it('PCIDE outside IA-32e mode is #GP(0)', async () => {
    expect((await runAsm(`mov eax, ${1 << 17}\nmov cr4, eax`, { bits: 32 })).stop).toMatchObject(GP0);
  });

  it('PCIDE 0 → 1 needs CR3[11:0] = 0 (#GP(0)); clearing PAE in IA-32e mode is #GP(0)', async () => {
    const ok = await runAsm('mov rax, cr4\nbts eax, 17\nmov cr4, rax\nmov rbx, cr4', { setup: activatePaging });
    expect(ok.stop.kind).toBe('halt');
    expect(ok.reg('rbx')).toBe(BigInt((1 << 17) | 0x20));
    const bad = await runAsm(`mov rax, ${PAGE_TABLES + 0x18}\nmov cr3, rax\nmov rax, cr4\nbts eax, 17\nmov cr4, rax`, { setup: activatePaging });
    expect(bad.stop).toMatchObject(GP0);
    expect((await runAsm('mov rax, cr4\nbtr eax, 5\nmov cr4, rax', { setup: activatePaging })).stop).toMatchObject(GP0);
  });
});

describe('CR8 and EFER (SDM Vol. 3A §11.8.6; §2.2.1, §10.8.5)', () => {
  it('CR8 holds 4 bits; bits 63:4 are reserved', async () => {
    const t = await runAsm('mov eax, 9\nmov cr8, rax\nmov rbx, cr8', { setup: activatePaging });
    expect(t.reg('rbx')).toBe(9n);
    expect((await runAsm('mov eax, 0x10\nmov cr8, rax', { setup: activatePaging })).stop).toMatchObject(GP0);
  });

  it('WRMSR EFER: changing LME with paging on is #GP(0); reserved bits are #GP(0); LMA ignores writes', async () => {
    const clearLme = await runAsm('mov ecx, 0xc0000080\nrdmsr\nbtr eax, 8\nwrmsr', { setup: activatePaging });
    expect(clearLme.stop).toMatchObject(GP0);
    const reserved = await runAsm('mov ecx, 0xc0000080\nrdmsr\nbts eax, 1\nwrmsr', { setup: activatePaging });
    expect(reserved.stop).toMatchObject(GP0);
    const lma = await runAsm('mov ecx, 0xc0000080\nrdmsr\nbtr eax, 10\nbts eax, 11\nwrmsr\nrdmsr', { setup: activatePaging });
    expect(lma.stop.kind).toBe('halt');
    expect(lma.reg('rax')).toBe(0xd00n); // LME, LMA (kept), NXE
  });

  it('IA32_FS_BASE must be canonical; its value is the FS base of 64-bit mode', async () => {
    const bad = await runAsm('mov ecx, 0xc0000100\nxor eax, eax\nmov edx, 0x8000\nwrmsr', { setup: activatePaging });
    expect(bad.stop).toMatchObject(GP0);
    const t = await runAsm('mov ecx, 0xc0000100\nmov eax, 0x6000\nxor edx, edx\nwrmsr\nxor esi, esi\nmov rbx, fs:[rsi + 0x10]\nrdmsr', {
      setup: (t) => { activatePaging(t); t.phys.writeSized(0x6010, 4, 0x5a5a5a5a); },
    });
    expect(t.reg('rbx')).toBe(0x5a5a5a5an);
    expect(t.reg('rax')).toBe(0x6000n);
    expect(t.cpu.segBase[4]).toBe(0x6000);
  });
});

describe('MOV DR (SDM Vol. 2B MOV DR; Vol. 3A §18.2)', () => {
  it('DR6 and DR7 read back with their fixed bits; DR0-3 hold 64 bits', async () => {
    const t = await runAsm(`
      xor eax, eax
      mov dr6, rax
      mov rbx, dr6
      mov eax, 0xffffdfff
      mov dr7, rax
      mov rcx, dr7
      mov rax, 0x123456789abcdef0
      mov dr2, rax
      mov rdx, dr2`, { setup: activatePaging });
    expect(t.reg('rbx')).toBe(0xffff0ff0n);
    expect(t.reg('rcx')).toBe(0xffff07ffn); // GD (bit 13) left clear, else the next MOV DR faults
    expect(t.reg('rdx')).toBe(0x123456789abcdef0n);
  });

  it('DR4/DR5 alias DR6/DR7 with CR4.DE = 0 and are #UD with CR4.DE = 1', async () => {
    const t = await runAsm('mov eax, 0x401\n.byte 0x0f, 0x23, 0xe8\nmov ebx, dr7', { bits: 32 }); // mov dr5, eax
    expect(t.reg('rbx')).toBe(0x401n);
    const u = await runAsm('mov eax, 8\nmov cr4, eax\n.byte 0x0f, 0x21, 0xe0', { bits: 32 }); // mov eax, dr4
    expect(u.stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });

  it('with DR7.GD = 1 the next MOV DR faults with #DB, setting DR6.BD and clearing GD (§18.2.4)', async () => {
    const t = await runAsm('mov eax, 0x2400\nmov dr7, eax\nmov ebx, dr0', { bits: 32 });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: Vector.DB, rip: CODE_BASE + 8 });
    expect(t.cpu.sys.dr[12]! & 0x2000).toBe(0x2000);
    expect(t.cpu.sys.dr[14]! & 0x2000).toBe(0);
  });

  it('bits 63:32 of DR6/DR7 are reserved in 64-bit mode; MOV DR at CPL 3 is #GP(0)', async () => {
    expect((await runAsm('mov rax, 1\nshl rax, 32\nmov dr7, rax', { setup: activatePaging })).stop).toMatchObject(GP0);
    expect((await runAsm('mov eax, dr7', { bits: 32, setup: (t) => { t.cpu.cpl = 3; } })).stop).toMatchObject(GP0);
  });
});

describe('the data-segment base of 32-bit protected mode', () => {
  it('a DS base applies to every data access (SDM Vol. 3A §3.4)', async () => {
    const t = systemCore(32);
    setTables(t, gdt32([segment({ type: 3, db: true, g: true, base: 0x6000 })])); // 38H
    t.phys.writeSized(0x6020, 4, 0xabcd);
    await load(t, 'mov ax, 0x38\nmov ds, ax\nmov eax, [0x20]\nhlt', 32);
    t.run();
    expect(t.reg('rax')).toBe(0xabcdn);
    expect(t.cpu.segBase[3]).toBe(0x6000);
  });
});
