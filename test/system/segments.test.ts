/**
 * Segment-register loads and segment-limit checks (SDM Vol. 3A §3.4.2-§3.4.5,
 * §5.3-§5.6; Vol. 2B MOV, POP, PUSH; Vol. 2A LDS/LES/LFS/LGS/LSS).
 * Faults stop the core here (the default exception hook), so the tests
 * read the exception and its error code directly.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { runAsm, type TestCore } from '../support/machine.ts';
import {
  activatePaging, GDT, gdt32, gdt64, load, read32, segment, SEL32, setTables, systemCore,
} from './support.ts';

const fault = (vector: number, errorCode: number) => ({ kind: 'exception', vector, errorCode });

/**
 * Extra descriptors after gdt32 (38H onwards): 38H read-only data, 40H
 * execute-only code, 48H readable conforming code, 50H not-present data,
 * 58H data with byte limit FFFH, 60H expand-down data limit FFFH (B = 1),
 * 68H data with a 4-KByte-granular limit of 0 (FFFH bytes), 70H DPL-3 data.
 */
const EXTRA = [
  segment({ type: 0x1, db: true, g: true }),
  segment({ type: 0x8, db: true, g: true }),
  segment({ type: 0xe, db: true, g: true }),
  segment({ type: 0x3, db: true, g: true, present: false }),
  segment({ type: 0x3, db: true, limit: 0xfff }),
  segment({ type: 0x7, db: true, limit: 0xfff }),
  segment({ type: 0x3, db: true, g: true, limit: 0 }),
  segment({ type: 0x3, db: true, g: true, dpl: 3 }),
];
const tables = (t: TestCore) => setTables(t, gdt32(EXTRA));

async function pm(source: string, setup: (t: TestCore) => void = () => {}): Promise<TestCore> {
  return runAsm(source, { bits: 32, setup: (t) => { tables(t); setup(t); } });
}

describe('MOV to DS/ES/FS/GS in protected mode (SDM Vol. 2B MOV "Operation")', () => {
  it('loads the descriptor cache and sets the accessed bit in the GDT', async () => {
    const t = await pm('mov ax, 0x38\nmov ds, ax');
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.segSel[3]).toBe(0x38);
    expect(t.cpu.segAttr[3]! & 0xff).toBe(0x91); // P, S, type 1 (read-only, accessed)
    expect((read32(t, GDT + 0x38 + 4) >>> 8) & 1).toBe(1);
  });

  it('a null selector (any RPL) loads an unusable segment; using it is #GP(0)', async () => {
    const t = await pm('mov ax, 3\nmov es, ax\nmov eax, es:[0x100]');
    expect(t.stop).toMatchObject(fault(Vector.GP, 0));
    expect(t.cpu.segSel[0]).toBe(3);
  });

  it('a selector beyond the GDT limit is #GP(selector with RPL cleared)', async () => {
    expect((await pm('mov ax, 0x1003\nmov ds, ax')).stop).toMatchObject(fault(Vector.GP, 0x1000));
  });

  it('a TI = 1 selector without an LDT is #GP(selector)', async () => {
    expect((await pm('mov ax, 0x0c\nmov ds, ax')).stop).toMatchObject(fault(Vector.GP, 0x0c));
  });

  it('a system descriptor or execute-only code is #GP(selector); readable conforming code loads', async () => {
    expect((await pm(`mov ax, ${SEL32.tss}\nmov ds, ax`)).stop).toMatchObject(fault(Vector.GP, SEL32.tss));
    expect((await pm('mov ax, 0x40\nmov ds, ax')).stop).toMatchObject(fault(Vector.GP, 0x40));
    // Conforming code: no privilege check even with RPL 3 > DPL 0.
    expect((await pm('mov ax, 0x4b\nmov ds, ax')).stop.kind).toBe('halt');
  });

  it('data with DPL < RPL or DPL < CPL is #GP(selector)', async () => {
    expect((await pm('mov ax, 0x13\nmov ds, ax')).stop).toMatchObject(fault(Vector.GP, 0x10));
    const t = await pm('mov ax, 0x10\nmov ds, ax', (t) => { t.cpu.cpl = 3; });
    expect(t.stop).toMatchObject(fault(Vector.GP, 0x10));
    // DPL 3 data at CPL 3 loads (the HLT after it then faults: it is privileged).
    expect((await pm('mov ax, 0x73\nmov ds, ax', (t) => { t.cpu.cpl = 3; })).cpu.segSel[3]).toBe(0x73);
  });

  it('a descriptor that is not present is #NP(selector)', async () => {
    expect((await pm('mov ax, 0x50\nmov fs, ax')).stop).toMatchObject(fault(Vector.NP, 0x50));
  });
});

describe('MOV/POP SS (SDM Vol. 2B MOV "Operation", SS rules)', () => {
  it('a null selector is #GP(0) outside 64-bit mode', async () => {
    expect((await pm('xor eax, eax\nmov ss, ax')).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('RPL ≠ CPL, a read-only segment, or DPL ≠ CPL is #GP(selector); not present is #SS(selector)', async () => {
    expect((await pm('mov ax, 0x11\nmov ss, ax')).stop).toMatchObject(fault(Vector.GP, 0x10));
    expect((await pm('mov ax, 0x38\nmov ss, ax')).stop).toMatchObject(fault(Vector.GP, 0x38));
    expect((await pm('mov ax, 0x70\nmov ss, ax')).stop).toMatchObject(fault(Vector.GP, 0x70));
    expect((await pm('mov ax, 0x50\nmov ss, ax')).stop).toMatchObject(fault(Vector.SS, 0x50));
  });

  it('in 64-bit mode a null SS with RPL = CPL < 3 loads', async () => {
    const t = await runAsm('xor eax, eax\nmov ss, ax\npush 1\npop rbx', { setup: (t) => { setTables(t, gdt64()); activatePaging(t); } });
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx')).toBe(1n);
    expect(t.cpu.segSel[2]).toBe(0);
  });
});

describe('segment-limit checks of data accesses (SDM Vol. 3A §5.3)', () => {
  it('byte-granular limit FFFH: offset FFFH is inside, 1000H is #GP(0)', async () => {
    expect((await pm('mov ax, 0x58\nmov ds, ax\nmov al, [0xfff]')).stop.kind).toBe('halt');
    expect((await pm('mov ax, 0x58\nmov ds, ax\nmov al, [0x1000]')).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('a 4-KByte-granular limit of 0 covers offsets 0-FFFH', async () => {
    expect((await pm('mov ax, 0x68\nmov es, ax\nmov al, es:[0xfff]')).stop.kind).toBe('halt');
    expect((await pm('mov ax, 0x68\nmov es, ax\nmov al, es:[0x1000]')).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('expand-down with limit FFFH: offsets 1000H-FFFFFFFFH are valid, FFFH is #GP(0)', async () => {
    expect((await pm('mov ax, 0x60\nmov ds, ax\nmov al, [0x2000]')).stop.kind).toBe('halt');
    expect((await pm('mov ax, 0x60\nmov ds, ax\nmov al, [0xfff]')).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('a stack access beyond the SS limit is #SS(0): PUSH, and an EBP-based operand', async () => {
    expect((await pm('mov ax, 0x58\nmov ss, ax\nmov esp, 0x1002\npush eax')).stop).toMatchObject(fault(Vector.SS, 0));
    expect((await pm('mov ax, 0x58\nmov ss, ax\nmov ebp, 0x2000\nmov eax, [ebp]')).stop).toMatchObject(fault(Vector.SS, 0));
  });

  it('a near branch beyond the CS limit is #GP(0) (SDM Vol. 2A JMP)', async () => {
    const t = await runAsm('jmp 0x2000', { bits: 16, setup: (t) => { t.cpu.segLimit[1] = 0x1fff; } });
    expect(t.stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('in 64-bit mode limits are not checked', async () => {
    const t = await runAsm('mov ax, 0x40\nmov ds, ax\nmov eax, [rbx]', {
      regs: { rbx: 0x5000n },
      setup: (t) => { setTables(t, gdt64([segment({ type: 3, limit: 0xfff })])); activatePaging(t); },
    });
    expect(t.stop.kind).toBe('halt');
  });
});

describe('real-address mode loads (SDM Vol. 3A §20.1.1)', () => {
  it('MOV DS sets base = selector × 16', async () => {
    const t = await runAsm('mov ax, 0x500\nmov ds, ax\nmov eax, [0x10]', { bits: 16, setup: (t) => t.phys.writeSized(0x5010, 4, 0x1234) });
    expect(t.cpu.segBase[3]).toBe(0x5000);
    expect(t.reg('rax') & 0xffffn).toBe(0x1234n);
  });

  it('an offset beyond FFFFH with a 32-bit address is #GP in real mode, unless the cache holds a 4-GByte limit ("unreal" mode)', async () => {
    expect((await runAsm('mov esi, 0x20000\nmov al, [esi]', { bits: 16 })).stop).toMatchObject({ kind: 'exception', vector: Vector.GP });
    const t = systemCore(16);
    setTables(t, gdt32());
    t.phys.writeSized(0x6000, 2, 0x37);
    t.phys.writeSized(0x6002, 4, GDT);
    t.phys.write8(0x20000, 0x77);
    await load(t, `
      lgdt [0x6000]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      mov ax, ${SEL32.data}
      mov ds, ax
      and al, 0
      mov eax, cr0
      and al, 0xfe
      mov cr0, eax
      xor ax, ax
      mov ds, ax
      mov esi, 0x20000
      mov bl, [esi]
      hlt`, 16);
    t.run();
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rbx') & 0xffn).toBe(0x77n);
    expect(t.cpu.segLimit[3]).toBe(0xffffffff);
  });
});

describe('selector moves (SDM Vol. 2B MOV, PUSH, POP; Vol. 2A LDS/LES/LFS/LGS/LSS)', () => {
  it('MOV r32, Sreg zero-extends; MOV m16, Sreg writes two bytes', async () => {
    const t = await pm('mov dword ptr [0x6000], 0xffffffff\nmov eax, 0xffffffff\nmov eax, ds\nmov [0x6000], ds');
    expect(t.reg('rax')).toBe(BigInt(SEL32.data));
    expect(read32(t, 0x6000)).toBe((0xffff0000 | SEL32.data) >>> 0);
  });

  it('MOV to CS and to register 6/7 are #UD', async () => {
    expect((await pm('.byte 0x8e, 0xc8')).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
    expect((await pm('.byte 0x8e, 0xf0')).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
    expect((await pm('.byte 0x8c, 0xf8')).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });

  // Keystone encodes 32-bit PUSH/POP Sreg with a 66 prefix: the opcodes are written as bytes.
  it('PUSH Sreg with a 32-bit operand moves ESP by 4 and writes the 16-bit selector only', async () => {
    const t = await pm('mov dword ptr [0x7fffc], 0xaaaaaaaa\n.byte 0x1e'); // push ds
    expect(t.reg('rsp')).toBe(0x7fffcn);
    expect(read32(t, 0x7fffc)).toBe((0xaaaa0000 | SEL32.data) >>> 0);
  });

  it('POP Sreg loads the selector and moves ESP only when the load succeeds', async () => {
    const ok = await pm('push 0x38\n.byte 0x07'); // pop es
    expect(ok.cpu.segSel[0]).toBe(0x38);
    expect(ok.reg('rsp')).toBe(0x80000n);
    const bad = await pm('push 0x50\n.byte 0x07');
    expect(bad.stop).toMatchObject(fault(Vector.NP, 0x50));
    expect(bad.reg('rsp')).toBe(0x80000n - 4n);
  });

  it('PUSH FS/POP GS in 64-bit mode move RSP by 8', async () => {
    const t = await runAsm('push fs\npop gs', { setup: (t) => { setTables(t, gdt64()); activatePaging(t); } });
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.segSel[5]).toBe(0x10);
    expect(t.reg('rsp')).toBe(0x80000n);
  });

  it('LSS loads SS:ESP from m16:32; LDS with a register operand is #UD', async () => {
    const t = await pm('mov dword ptr [0x6000], 0x12345\nmov word ptr [0x6004], 0x10\nlss esp, [0x6000]');
    expect(t.reg('rsp')).toBe(0x12345n);
    expect(t.cpu.segSel[2]).toBe(0x10);
    expect((await pm('.byte 0xc5, 0xc0')).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });

  it('LFS with a faulting selector leaves the register unchanged', async () => {
    const t = await pm('mov eax, 7\nmov dword ptr [0x6000], 0x99\nmov word ptr [0x6004], 0x50\nlfs eax, [0x6000]');
    expect(t.stop).toMatchObject(fault(Vector.NP, 0x50));
    expect(t.reg('rax')).toBe(7n);
  });
});

describe('MOV SS shadow bookkeeping', () => {
  it('MOV SS sets the interrupt shadow through the next instruction (SDM Vol. 3A §6.8.3)', async () => {
    // MOV SS is the second instruction (icount 1 while it executes): blocking until icount 3.
    const t = await pm('mov ax, 0x10\nmov ss, ax');
    expect(t.cpu.inhibitUntil).toBe(3);
  });
});
