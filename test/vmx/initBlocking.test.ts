/**
 * INIT is blocked in VMX root operation (SDM Vol. 3C §24.8): a pending
 * INIT stays latched while the core's VMX unit says so, and is taken once
 * it no longer does (VMXOFF).
 */
import { describe, expect, it } from 'vitest';
import { attachSystem } from '../../cpu/system/events.ts';
import { makeCore } from '../support/machine.ts';
import { asm } from '../support/asm.ts';
import { stubVmxUnit } from '../support/stubVmxUnit.ts';

describe('INIT blocking in VMX root operation (SDM Vol. 3C §24.8)', () => {
  it('a pending INIT waits while the VMX unit blocks it and is taken when it stops blocking', async () => {
    const t = makeCore(64);
    t.phys.load(0x1000, await asm('l: inc rax\njmp l', 64, 0x1000));
    attachSystem(t.cpu);
    const unit = stubVmxUnit({ blocksInit: true });
    t.cpu.vmx = unit;
    t.cpu.initPending = true;
    t.cpu.eventsPending = true;
    t.run(10);
    expect(t.cpu.initPending).toBe(true);
    expect(t.reg('rax')).toBe(5n); // still running its loop: not reset
    unit.blocksInit = false;
    t.cpu.eventsPending = true;
    t.run(1);
    expect(t.cpu.initPending).toBe(false);
    // The INIT state (SDM Vol. 3A §10.1.1 Table 10-1): RAX 0; CR0 keeps CD/NW (both 0 here) and has
    // bit 4 set, all else clear; real mode.
    expect(t.reg('rax')).toBe(0n);
    expect(t.cpu.cr0).toBe(0x10);
    expect(t.cpu.codeSize).toBe(16);
  });
});
