/**
 * L1 runs L2 guests (issue 6): VMs with EPT (ept12) and VPID on cores in
 * VMX root operation, exits handled by TypeScript native handlers, guests
 * reporting through ucall and hypercalls. Expected values come from the
 * guests' own code and the documented conventions (exits/ucall.ts,
 * exits/vmcall.ts, SDM exit reasons).
 */
import { describe, expect, it } from 'vitest';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';
import { asm } from '../support/asm.ts';

const UCALL = 'mov dx, 0x7e0\nout dx, eax';

describe('L1 runs 64-bit L2 guests under EPT', () => {
  it('a CPUID guest sees the hypervisor bit and no VMX, prints through ucall and passes', async () => {
    const l1 = new L1();
    const vm = l1.createVm('cpuid');
    l1.addLongModeVcpu(vm, await asm(`
mov eax, 1
cpuid
bt ecx, 31
jnc bad
bt ecx, 5
jc bad
lea rdi, [rip + hello]
mov eax, 3
${UCALL}
mov eax, 1
${UCALL}
bad:
lea rdi, [rip + no]
mov eax, 2
${UCALL}
hello: .asciz "hello from L2"
no: .asciz "wrong CPUID.1:ECX"`, 64, GUEST_CODE));
    expect(l1.run(100_000)).toEqual({ kind: 'idle' });
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'ucall done' });
    expect(vm.console).toBe('hello from L2');
    expect(l1.trace.map((e) => [e.reason, e.handler, e.decision])).toEqual([
      [10, 'cpuid', 'skip'], [30, 'ucall:print', 'skip'], [30, 'ucall:done', 'stop'],
    ]);
  });

  it('two VMs on two cores run to their own ends: a hypercall exit with a code, and a triple fault', async () => {
    const l1 = new L1({ cpus: 2 });
    const a = l1.createVm('exit-3');
    l1.addLongModeVcpu(a, await asm('mov eax, 1\nmov ebx, 3\nvmcall', 64, GUEST_CODE));
    const b = l1.createVm('triple');
    // No IDT (limit 0xFFFF at base 0 holds zeros): #UD → #GP on the gate → #DF → triple fault.
    l1.addLongModeVcpu(b, await asm('ud2', 64, GUEST_CODE));
    l1.run(100_000);
    expect(a.outcome).toEqual({ kind: 'failed', detail: 'exit 3' });
    expect(b.outcome.kind).toBe('stopped');
    expect(l1.trace.map((e) => [e.core, e.vcpu, e.reasonName])).toEqual([[0, 'exit-3/0', 'Vmcall'], [1, 'triple/0', 'TripleFault']]);
  });
});
