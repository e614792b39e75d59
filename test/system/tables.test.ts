/**
 * Descriptor-table registers and pointer validation (SDM Vol. 2A LGDT/LIDT,
 * LLDT, LTR, LAR, LSL, ARPL; Vol. 2B SGDT, SIDT, SLDT, STR, VERR/VERW) and
 * the I/O permission bitmap (SDM Vol. 1 §19.5.2).
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { runAsm, type TestCore } from '../support/machine.ts';
import {
  activatePaging, gate, GDT, gdt32, gdt64, handlerAddress, protectedModeCore, read32, segment, segment64, SEL32,
  setTables, stackSlots, toUser32, TSS, writeDwords,
} from './support.ts';

const fault = (vector: number, errorCode?: number) => (errorCode === undefined ? { kind: 'exception', vector } : { kind: 'exception', vector, errorCode });
const ZF = 0x40;

describe('LGDT, LIDT, SGDT, SIDT (SDM Vol. 2A LGDT/LIDT, Vol. 2B SGDT)', () => {
  it('a 16-bit operand size loads a 24-bit base; SGDT stores the full 32-bit base', async () => {
    const t = await runAsm('mov word ptr [0x600], 0x1234\nmov dword ptr [0x602], 0x12345678\nlgdt [0x600]\nsgdt [0x610]\nlidt [0x600]', { bits: 16 });
    expect(t.cpu.sys.gdtrLimit).toBe(0x1234);
    expect(t.cpu.sys.gdtrBase).toBe(0x345678);
    expect(t.cpu.sys.idtrBase).toBe(0x345678);
    expect(t.phys.readSized(0x610, 2)).toBe(0x1234);
    expect(read32(t, 0x612)).toBe(0x345678);
  });

  it('64-bit mode loads and stores an 8-byte base', async () => {
    const t = await runAsm(`
      mov word ptr [rbx], 0xfff
      mov rax, 0xffff800000001000
      mov [rbx + 2], rax
      lidt [rbx]
      sidt [rbx + 16]`, { regs: { rbx: 0x6000n }, setup: activatePaging });
    expect(t.cpu.sys.idtrBase).toBe(-(2 ** 47) + 0x1000);
    expect(t.phys.readSized(0x6010, 2)).toBe(0xfff);
    expect(read32(t, 0x6012)).toBe(0x1000);
    expect(read32(t, 0x6016)).toBe(0xffff8000);
  });

  it('LGDT/LIDT are privileged (#GP(0) at CPL 3); SGDT is not', async () => {
    const cpl3 = (t: TestCore) => { t.cpu.cpl = 3; };
    expect((await runAsm('lgdt [0x600]', { bits: 32, setup: cpl3 })).stop).toMatchObject(fault(Vector.GP, 0));
    expect((await runAsm('sgdt [0x600]\nud2', { bits: 32, setup: cpl3 })).stop).toMatchObject(fault(Vector.UD));
  });
});

describe('LLDT, SLDT (SDM Vol. 2A LLDT)', () => {
  /** 38H: an LDT at 5000H with limit FH; its entry 1 (selector 0CH) is a data segment based at 100H. */
  const setup = (t: TestCore) => {
    setTables(t, gdt32([segment({ s: 0, type: 2, base: 0x5000, limit: 0xf }), segment({ s: 0, type: 2, base: 0x5000, limit: 0xf, present: false })]));
    writeDwords(t, 0x5000, [0, 0, ...segment({ type: 3, db: true, g: true, base: 0x100 })]);
  };

  it('loads LDTR; TI = 1 selectors then name LDT entries; SLDT reads the selector back', async () => {
    const t = await runAsm('mov ax, 0x38\nlldt ax\nmov ax, 0x0c\nmov ds, ax\nsldt ebx', { bits: 32, setup });
    expect(t.stop.kind).toBe('halt');
    expect(t.cpu.segBase[3]).toBe(0x100);
    expect(t.reg('rbx')).toBe(0x38n);
  });

  it('a selector beyond the LDT limit is #GP(selector); a null LDTR makes TI = 1 loads #GP', async () => {
    expect((await runAsm('mov ax, 0x38\nlldt ax\nmov ax, 0x14\nmov ds, ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0x14));
    expect((await runAsm('xor eax, eax\nlldt ax\nmov ax, 0x0c\nmov ds, ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0x0c));
  });

  it('a non-LDT descriptor is #GP(selector); not present is #NP(selector); real mode is #UD', async () => {
    expect((await runAsm('mov ax, 0x10\nlldt ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0x10));
    expect((await runAsm('mov ax, 0x40\nlldt ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.NP, 0x40));
    expect((await runAsm('mov ax, 0x38\nlldt ax', { bits: 16 })).stop).toMatchObject(fault(Vector.UD));
  });
});

describe('LTR, STR (SDM Vol. 2A LTR)', () => {
  it('loads TR from an available TSS and marks it busy in the GDT; STR reads it', async () => {
    const t = await runAsm(`mov ax, ${SEL32.tss}\nltr ax\nstr bx`, { bits: 32, setup: (t) => setTables(t, gdt32()) });
    expect(t.stop.kind).toBe('halt');
    expect((read32(t, GDT + SEL32.tss + 4) >>> 8) & 0xf).toBe(0xb);
    expect(t.reg('rbx') & 0xffffn).toBe(BigInt(SEL32.tss));
    expect(t.cpu.sys.trBase).toBe(TSS);
  });

  it('a busy TSS, a data segment: #GP(selector); a null selector: #GP(0)', async () => {
    const setup = (t: TestCore) => setTables(t, gdt32());
    expect((await runAsm(`mov ax, ${SEL32.tss}\nltr ax\nltr ax`, { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, SEL32.tss));
    expect((await runAsm('mov ax, 0x10\nltr ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0x10));
    expect((await runAsm('xor eax, eax\nltr ax', { bits: 32, setup })).stop).toMatchObject(fault(Vector.GP, 0));
  });

  it('IA-32e mode: a 16-byte descriptor whose upper type field is not 0, or whose base is not canonical, is #GP(selector)', async () => {
    const bad = gdt64([segment64({ type: 9, base: 0x4000, limit: 0x67 }).slice(0, 2), [0, 0x100]]);
    expect((await runAsm('mov ax, 0x40\nltr ax', { setup: (t) => { setTables(t, bad); activatePaging(t); } })).stop).toMatchObject(fault(Vector.GP, 0x40));
    const nc = gdt64([...chunk(segment64({ type: 9, base: 0x4000, limit: 0x67, baseHigh: 0x8000 }))]);
    expect((await runAsm('mov ax, 0x40\nltr ax', { setup: (t) => { setTables(t, nc); activatePaging(t); } })).stop).toMatchObject(fault(Vector.GP, 0x40));
  });
});

function chunk(d: number[]): number[][] {
  return [d.slice(0, 2), d.slice(2, 4)];
}

describe('LAR, LSL, VERR, VERW (SDM Vol. 2A LAR/LSL, Vol. 2B VERR/VERW)', () => {
  /** 38H: execute-only code; 40H: read-only data with byte limit FFFH; 48H: a 32-bit call gate; 50H: an interrupt gate. */
  const setup = (t: TestCore) => setTables(t, gdt32([
    segment({ type: 0x8, db: true, g: true }),
    segment({ type: 0x1, db: true, limit: 0xfff }),
    gate({ type: 0xc, selector: 0x08, offset: 0x1234 }),
    gate({ type: 0xe, selector: 0x08, offset: 0x1234 }),
  ]));

  it('LAR returns the access-rights dword masked by 00FxFF00H (word: FF00H) and sets ZF', async () => {
    const t = await runAsm('mov ax, 0x08\nlar ebx, eax\nlar cx, ax', { bits: 32, setup });
    expect(t.reg('rbx')).toBe(0x00cf9b00n); // G, D, limit 19:16, P, DPL 0, S, type B
    expect(t.reg('rcx') & 0xffffn).toBe(0x9b00n);
    expect(t.flags() & ZF).toBe(ZF);
  });

  it('LAR accepts call gates and TSSs but not interrupt gates; null and out-of-table selectors clear ZF', async () => {
    for (const [sel, ok] of [[0x48, true], [SEL32.tss, true], [0x50, false], [0, false], [0x1000, false]] as const) {
      const t = await runAsm(`mov ebx, 0x55\nmov ax, ${sel}\nlar ebx, eax`, { bits: 32, setup });
      expect(t.flags() & ZF, `selector ${sel}`).toBe(ok ? ZF : 0);
      if (!ok) expect(t.reg('rbx')).toBe(0x55n);
    }
  });

  it('LAR at CPL 3 does not see DPL-0 data', async () => {
    const t = await runAsm('mov ax, 0x10\nlar ebx, eax', { bits: 32, setup: (t) => { setup(t); t.cpu.cpl = 3; } });
    expect(t.flags() & ZF).toBe(0);
  });

  it('LSL returns the byte-granular limit: FFFFFFFFH for a 4-GByte segment, FFFH; gates clear ZF', async () => {
    const t = await runAsm('mov ax, 0x10\nlsl ebx, eax\nmov ax, 0x40\nlsl ecx, eax', { bits: 32, setup });
    expect(t.reg('rbx')).toBe(0xffffffffn);
    expect(t.reg('rcx')).toBe(0xfffn);
    expect((await runAsm('mov ax, 0x48\nlsl ebx, eax', { bits: 32, setup })).flags() & ZF).toBe(0);
  });

  it('VERR: readable segments; VERW: writable data only', async () => {
    const cases: [string, number, boolean][] = [
      ['verr', 0x08, true], ['verr', 0x38, false], ['verr', 0x40, true],
      ['verw', 0x10, true], ['verw', 0x40, false], ['verw', 0x08, false], ['verr', 0x48, false],
    ];
    for (const [op, sel, ok] of cases) {
      const t = await runAsm(`mov ax, ${sel}\n${op} ax`, { bits: 32, setup });
      expect(t.flags() & ZF, `${op} ${sel}`).toBe(ok ? ZF : 0);
    }
  });

  it('real mode: LAR is #UD', async () => {
    expect((await runAsm('lar eax, ebx', { bits: 16 })).stop).toMatchObject(fault(Vector.UD));
  });
});

describe('ARPL (SDM Vol. 2A ARPL)', () => {
  it('raises the destination RPL to the source RPL (ZF = 1), else leaves it (ZF = 0)', async () => {
    const t = await runAsm('mov ax, 0x10\nmov bx, 0x2b\narpl ax, bx', { bits: 32 });
    expect(t.reg('rax') & 0xffffn).toBe(0x13n);
    expect(t.flags() & ZF).toBe(ZF);
    const u = await runAsm('mov ax, 0x13\nmov bx, 0x2a\narpl ax, bx', { bits: 32 });
    expect(u.reg('rax') & 0xffffn).toBe(0x13n);
    expect(u.flags() & ZF).toBe(0);
  });

  it('is #UD in real mode', async () => {
    expect((await runAsm('arpl ax, bx', { bits: 16 })).stop).toMatchObject(fault(Vector.UD));
  });
});

describe('the I/O permission bitmap (SDM Vol. 1 §19.5.2)', () => {
  /** At CPL 3 with IOPL 0: an allowed access falls through to UD2 (vector 6); a denied one raises #GP(0). */
  async function io(source: string, clearBits: number[] = []): Promise<TestCore> {
    const t = await protectedModeCore(`${toUser32('user')}\nuser:\n${source}\nud2`);
    for (const port of clearBits) {
      const a = TSS + 0x68 + (port >> 3);
      t.phys.write8(a, t.phys.read8(a) & ~(1 << (port & 7)));
    }
    writeDwords(t, 0x3000 + 8 * 6, gate({ type: 0xe, selector: SEL32.code, offset: handlerAddress(6) }));
    t.run();
    return t;
  }

  it('a clear bit allows the port; a set bit is #GP(0)', async () => {
    expect((await io('mov dx, 0x80\nout dx, al', [0x80])).cpu.rip).toBe(handlerAddress(6) + 1);
    const denied = await io('mov dx, 0x81\nout dx, al', [0x80]);
    expect(denied.cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
    expect(stackSlots(denied, 1, 4)[0]).toBe(0n);
  });

  it('a word access needs both ports allowed', async () => {
    expect((await io('mov dx, 0x80\nin ax, dx', [0x80, 0x81])).cpu.rip).toBe(handlerAddress(6) + 1);
    expect((await io('mov dx, 0x87\nin ax, dx', [0x87])).cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
  });

  it('a port whose bitmap bytes lie beyond the TSS limit is denied', async () => {
    expect((await io('mov dx, 0x3f8\nout dx, al', [0x3f8])).cpu.rip).toBe(handlerAddress(6) + 1);
    expect((await io('mov dx, 0x8000\nout dx, al')).cpu.rip).toBe(handlerAddress(Vector.GP) + 1);
  });
});
