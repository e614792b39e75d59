/**
 * A core in the shutdown activity state in VMX non-root operation is not a
 * triple fault of the machine: VM entry puts a guest there with activity
 * state 2 (SDM Vol. 3C §27.7.2), and a triple fault in non-root operation
 * is a VM exit (§26.2). The core waits, as in HLT, for what the VMX unit
 * takes there (an NMI, INIT, a VM exit); the machine runs on.
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';
import { stubVmxUnit } from '../support/stubVmxUnit.ts';

const CODE = 0x10000;

describe('the shutdown state in VMX non-root operation (SDM Vol. 3C §27.7.2)', () => {
  it('does not stop the machine; the core runs again once it leaves the state', async () => {
    const m = new Machine({ cpus: 1, memoryMiB: 4 });
    m.loadFlat(await asm('l: jmp l', 64, CODE), { fileName: 'test', address: CODE, bits: 64 });
    const c = m.cpus[0]!;
    c.vmx = stubVmxUnit();
    // At clock 50 a "VM entry" leaves the core in shutdown in non-root operation; at 300 a "VM exit" ends it.
    c.timers.schedule(50, () => { c.nonRoot = true; c.activity = Activity.Shutdown; });
    c.timers.schedule(300, () => { c.nonRoot = false; c.activity = Activity.Active; });
    const stop = m.run({ maxInstructions: 1000 });
    expect(stop).toEqual({ kind: 'limit' });
    // 50 instructions before, none in the 250 ticks of shutdown, the rest after.
    expect(m.probe.core(0).icount).toBe(1000);
    expect(c.idleTicks).toBe(250);
  });

  it('the same state in root operation is a triple fault', async () => {
    const m = new Machine({ cpus: 1, memoryMiB: 4 });
    m.loadFlat(await asm('l: jmp l', 64, CODE), { fileName: 'test', address: CODE, bits: 64 });
    const c = m.cpus[0]!;
    c.timers.schedule(50, () => { c.activity = Activity.Shutdown; });
    expect(m.run({ maxInstructions: 1000 }).kind).toBe('triple-fault');
  });
});
