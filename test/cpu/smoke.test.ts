import { describe, expect, it } from 'vitest';
import { runAsm } from '../support/machine.ts';

describe('core smoke', () => {
  it('runs a counted loop to HLT', async () => {
    const t = await runAsm(`
      mov rcx, 1000
      xor eax, eax
    l: add rax, 3
      dec rcx
      jnz l`);
    expect(t.stop.kind).toBe('halt');
    expect(t.reg('rax')).toBe(3000n);
    expect(t.reg('rcx')).toBe(0n);
  });
});
