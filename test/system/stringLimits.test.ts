/**
 * String instructions in 16- and 32-bit modes check every element's
 * offset against the segment limit (SDM Vol. 3A §5.3; Vol. 2B "STOS",
 * "MOVS": #GP(0) for a memory operand effective address outside the
 * segment limit), and a REP stops at the faulting iteration with the
 * registers of the last completed one.
 */
import { describe, expect, it } from 'vitest';
import { makeCore, CODE_BASE } from '../support/machine.ts';
import { asm } from '../support/asm.ts';
import { gdt32, segment, setTables } from './support.ts';

/** A read/write data segment, base 0, byte-granular limit 2FFFH: GDT index 7, selector 38H. */
const SMALL_DATA = segment({ type: 3, limit: 0x2fff, db: true });

async function run32(source: string) {
  const t = makeCore(32);
  setTables(t, gdt32([SMALL_DATA]));
  t.phys.load(CODE_BASE, await asm(`${source}\nhlt`, 32, CODE_BASE));
  t.run(1000);
  return t;
}

describe('string instructions and segment limits (SDM Vol. 3A §5.3)', () => {
  it('REP STOSB stops with #GP(0) at the first byte beyond ES\'s limit', async () => {
    const t = await run32('mov ax, 0x38\nmov es, ax\nmov edi, 0x2ffe\nmov ecx, 4\ncld\nrep stosb');
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(t.reg('rdi')).toBe(0x3000n); // two bytes stored, the third faults
    expect(t.reg('rcx')).toBe(2n);
  });

  it('within the limit the same REP STOSB completes', async () => {
    const t = await run32('mov ax, 0x38\nmov es, ax\nmov edi, 0x2ff0\nmov ecx, 16\ncld\nrep stosb');
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rcx')).toBe(0n);
  });

  it('a null ES makes a string store fault (#GP(0))', async () => {
    const t = await run32('xor eax, eax\nmov es, ax\nmov edi, 0x2000\nstosb');
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });
});
