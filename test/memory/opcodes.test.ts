/**
 * INVLPG, INVPCID, STAC and CLAC: their faults (SDM Vol. 2B instruction
 * pages) and effects. The invalidations themselves are in tlb.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AC, readRflags } from '../../cpu/flags.ts';
import { CR4_PCIDE, CR4_SMAP, expectDone, pagedCore, type PagedOptions, U, W } from './pageTables.ts';

const GP0 = { kind: 'exception', vector: 13, errorCode: 0, rip: 0x1000 };
const UD = { kind: 'exception', vector: 6, errorCode: -1, rip: 0x1000 };

/** INVPCID rax, [rsi] as bytes (keystone has no mnemonic for it). */
const INVPCID_RAX_RSI = '.byte 0x66, 0x0f, 0x38, 0x82, 0x06';

async function invpcid(type: bigint, desc: [bigint, bigint], opts: PagedOptions = {}): Promise<unknown> {
  const p = await pagedCore(INVPCID_RAX_RSI, { ...opts, regs: { rax: type, rsi: 0x8000n }, map: (pt) => pt.map(0x8000n, 0x8000n) });
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setBigUint64(0, desc[0], true);
  new DataView(bytes.buffer).setBigUint64(8, desc[1], true);
  p.t.phys.load(0x8000, bytes);
  return p.run();
}

describe('INVLPG (SDM Vol. 2B)', () => {
  it('#GP(0) at CPL 3', async () => {
    const p = await pagedCore('invlpg [rbx]', { cpl: 3, regs: { rbx: 0x1000n } });
    expect(p.run()).toEqual(GP0);
  });

  it('accesses no memory (no #PF for an unmapped page) and is a NOP for a non-canonical address in 64-bit mode', async () => {
    const p = await pagedCore('invlpg [rbx]\ninvlpg [rcx]', { regs: { rbx: 0x7777000n, rcx: 0x0000800000000000n } });
    expectDone(p.run());
  });

  it('#UD for a register operand or a LOCK prefix', async () => {
    expect((await pagedCore('.byte 0x0f, 0x01, 0xff')).run()).toEqual(UD);
    expect((await pagedCore('.byte 0xf0, 0x0f, 0x01, 0x3b')).run()).toEqual(UD);
  });

  it('runs under 32-bit paging', async () => {
    const p = await pagedCore('invlpg [ebx]', { kind: '32', regs: { rbx: 0x400000n } });
    expectDone(p.run());
  });
});

describe('INVPCID (SDM Vol. 2B)', () => {
  it('accepts types 0-3 with a valid descriptor at CPL 0', async () => {
    for (const type of [0n, 1n, 2n, 3n]) expectDone(await invpcid(type, [5n, 0x1000n], { cr4: CR4_PCIDE }) as never);
  });

  it('#GP(0) at CPL 3', async () => {
    expect(await invpcid(0n, [0n, 0n], { cpl: 3 })).toEqual(GP0);
  });

  it('#GP(0) for a type above 3, in all 64 bits of the register', async () => {
    expect(await invpcid(4n, [0n, 0n])).toEqual(GP0);
    expect(await invpcid(1n << 32n, [0n, 0n])).toEqual(GP0);
  });

  it('#GP(0) when descriptor bits 63:12 are not 0', async () => {
    expect(await invpcid(1n, [1n << 12n, 0n])).toEqual(GP0);
    expect(await invpcid(2n, [1n << 40n, 0n])).toEqual(GP0);
  });

  it('#GP(0) for type 0 with a non-canonical linear address', async () => {
    expect(await invpcid(0n, [0n, 0x0000800000000000n])).toEqual(GP0);
    expectDone(await invpcid(1n, [0n, 0x0000800000000000n]) as never); // only type 0 looks at it
  });

  it('#GP(0) for types 0 and 1 with a PCID other than 000H while CR4.PCIDE = 0', async () => {
    expect(await invpcid(0n, [1n, 0n])).toEqual(GP0);
    expect(await invpcid(1n, [1n, 0n])).toEqual(GP0);
    expectDone(await invpcid(2n, [1n, 0n]) as never);
    expectDone(await invpcid(1n, [1n, 0n], { cr4: CR4_PCIDE }) as never);
  });

  it('#PF when the descriptor is not mapped (a read)', async () => {
    const p = await pagedCore(INVPCID_RAX_RSI, { regs: { rax: 2n, rsi: 0x9000n } });
    expect(p.run()).toEqual({ kind: 'exception', vector: 14, errorCode: 0, rip: 0x1000 });
    expect(p.cpu.cr2).toBe(0x9000);
  });

  it('#UD for a register operand, and when CPUID does not report INVPCID', async () => {
    expect((await pagedCore('.byte 0x66, 0x0f, 0x38, 0x82, 0xc6')).run()).toEqual(UD);
    const p = await pagedCore(INVPCID_RAX_RSI, { regs: { rax: 2n, rsi: 0x8000n }, map: (pt) => pt.map(0x8000n, 0x8000n) });
    p.cpu.model = p.cpu.model.with({ features: { invpcid: false } });
    expect(p.run()).toEqual(UD);
  });
});

describe('STAC and CLAC (SDM Vol. 2B; Vol. 3A §4.6.1)', () => {
  it('set and clear RFLAGS.AC at CPL 0', async () => {
    const p = await pagedCore('stac\npushfq\npop rax\nclac\npushfq\npop rcx', {
      map: (pt) => pt.map(0x7f000n, 0x7f000n, { flags: W }),
    });
    expectDone(p.run());
    expect(Number(p.t.reg('rax')) & AC).toBe(AC);
    expect(Number(p.t.reg('rcx')) & AC).toBe(0);
    expect(readRflags(p.cpu) & AC).toBe(0);
  });

  it('#UD at CPL 3 and when CPUID does not report SMAP', async () => {
    expect((await pagedCore('stac', { cpl: 3 })).run()).toEqual(UD);
    expect((await pagedCore('clac', { cpl: 3 })).run()).toEqual(UD);
    const p = await pagedCore('clac');
    p.cpu.model = p.cpu.model.with({ features: { smap: false } });
    expect(p.run()).toEqual(UD);
  });

  it('open and close supervisor access to user pages under CR4.SMAP, effective at the next access', async () => {
    const p = await pagedCore('stac\nmov al, [rbx]\nclac\nmov cl, [rbx]', {
      cr4: CR4_SMAP,
      regs: { rbx: 0x400000n },
      map: (pt) => pt.map(0x400000n, 0x300000n, { flags: W | U }),
    });
    p.t.phys.write8(0x300000, 0x1d);
    const stop = p.run();
    expect(p.t.reg('rax') & 0xffn).toBe(0x1dn);
    expect(stop).toEqual({ kind: 'exception', vector: 14, errorCode: 0b001, rip: 0x1000 + 3 + 2 + 3 });
    // RFLAGS.AC set again (as POPF would) lets the retried access through.
    p.cpu.eflags |= AC;
    expectDone(p.run());
    expect(p.t.reg('rcx') & 0xffn).toBe(0x1dn);
  });
});
