/**
 * Privileged instructions without architectural effect here (SDM Vol. 2A
 * INVD, MONITOR, MWAIT; Vol. 2B RDPMC, WBINVD): their checks.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { runAsm, type TestCore } from '../support/machine.ts';
import { activatePaging, gdt32, segment, setTables } from './support.ts';

const cpl3 = (t: TestCore) => { t.cpu.cpl = 3; };
const GP0 = { kind: 'exception', vector: Vector.GP, errorCode: 0 };

describe('INVD, WBINVD, WBNOINVD', () => {
  it('run at CPL 0 and are #GP(0) at CPL 3', async () => {
    expect((await runAsm('invd\nwbinvd\n.byte 0xf3, 0x0f, 0x09', { bits: 32 })).stop.kind).toBe('halt');
    expect((await runAsm('wbinvd', { bits: 32, setup: cpl3 })).stop).toMatchObject(GP0);
    expect((await runAsm('invd', { bits: 32, setup: cpl3 })).stop).toMatchObject(GP0);
  });
});

describe('MONITOR and MWAIT', () => {
  it('MONITOR checks DS:RAX like a read, then MWAIT returns', async () => {
    const t = await runAsm('mov eax, 0x6000\nxor ecx, ecx\nxor edx, edx\nmonitor\nmwait', { setup: activatePaging });
    expect(t.stop.kind).toBe('halt');
  });

  it('MONITOR at an address beyond the DS limit is #GP(0); ECX ≠ 0 is #GP(0)', async () => {
    // 38H: a data segment with a byte limit of FFFH.
    const setup = (t: TestCore) => setTables(t, gdt32([segment({ type: 3, db: true, limit: 0xfff })]));
    expect((await runAsm('mov ax, 0x38\nmov ds, ax\nmov eax, 0x2000\nxor ecx, ecx\nmonitor', { bits: 32, setup })).stop).toMatchObject(GP0);
    expect((await runAsm('mov eax, 0x100\nmov ecx, 1\nmonitor', { bits: 32 })).stop).toMatchObject(GP0);
    expect((await runAsm('xor eax, eax\nmov ecx, 1\nmwait', { bits: 32 })).stop).toMatchObject(GP0);
  });

  it('are #UD at CPL 3', async () => {
    expect((await runAsm('xor ecx, ecx\nmonitor', { bits: 32, setup: cpl3 })).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
    expect((await runAsm('xor ecx, ecx\nmwait', { bits: 32, setup: cpl3 })).stop).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });
});

describe('RDPMC', () => {
  it('is #GP(0): the model reports no performance counters (CPUID leaf 0AH)', async () => {
    expect((await runAsm('xor ecx, ecx\nrdpmc', { bits: 32 })).stop).toMatchObject(GP0);
  });
});
