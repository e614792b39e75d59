/**
 * The core's VMX seam (cpu/vmxPort.ts, cpu/exec/vmx.ts): the core decodes
 * the VMX instructions of SDM Vol. 3C ch. 31 and hands them to the core's
 * VmxUnit; without one they raise #UD, as on a processor without VMX.
 */
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../cpu/decode/insn.ts';
import { VmxInstruction } from '../../cpu/vmxPort.ts';
import { stubVmxUnit } from '../support/stubVmxUnit.ts';
import { runAsm } from '../support/machine.ts';

const CASES: [string, VmxInstruction][] = [
  ['vmxon [rax]', VmxInstruction.Vmxon],
  ['vmclear [rax]', VmxInstruction.Vmclear],
  ['vmptrld [rax]', VmxInstruction.Vmptrld],
  ['vmptrst [rax]', VmxInstruction.Vmptrst],
  ['vmread rbx, rcx', VmxInstruction.Vmread],
  ['vmwrite rcx, rbx', VmxInstruction.Vmwrite],
  ['vmcall', VmxInstruction.Vmcall],
  ['vmlaunch', VmxInstruction.Vmlaunch],
  ['vmresume', VmxInstruction.Vmresume],
  ['vmxoff', VmxInstruction.Vmxoff],
  ['vmfunc', VmxInstruction.Vmfunc],
  ['invept rax, [rbx]', VmxInstruction.Invept],
  ['invvpid rax, [rbx]', VmxInstruction.Invvpid],
];

describe('VMX instructions reach the core\'s VmxUnit (SDM Vol. 3C ch. 31)', () => {
  for (const [source, op] of CASES) {
    it(`${source}: #UD without a VMX unit, dispatched to it with one`, async () => {
      const bare = await runAsm(source);
      expect(bare.stop).toMatchObject({ kind: 'exception', vector: 6, rip: 0x1000 });
      const seen: VmxInstruction[] = [];
      const t = await runAsm(source, { setup: (t) => { t.cpu.vmx = stubVmxUnit({ execute: (_c, _i, o) => { seen.push(o); } }); } });
      expect(t.stop.kind).toBe('halt');
      expect(seen).toEqual([op]);
    });
  }

  it('VMREAD/VMWRITE operands are 64-bit in 64-bit mode without REX.W and 32-bit in 32-bit mode', async () => {
    const sizes: number[] = [];
    const record = (t: { cpu: { vmx: unknown } }) => { t.cpu.vmx = stubVmxUnit({ execute: (_c: unknown, i: Insn) => { sizes.push(i.opSize); } }); };
    await runAsm('vmread rbx, rcx\nvmwrite rcx, qword ptr [rsi]', { regs: { rsi: 0x3000n }, setup: record });
    await runAsm('vmread ebx, ecx', { bits: 32, setup: record });
    expect(sizes).toEqual([8, 8, 4]);
  });

  it('the memory forms of 0F C7 /6 and /7 stay apart from RDRAND/RDSEED (register forms)', async () => {
    const seen: VmxInstruction[] = [];
    const t = await runAsm('rdrand eax\nvmptrld [rax]\nrdseed ebx\nvmptrst [rbx]', {
      setup: (t) => { t.cpu.vmx = stubVmxUnit({ execute: (_c, _i, o) => { seen.push(o); } }); },
    });
    expect(t.stop.kind).toBe('halt');
    expect(seen).toEqual([VmxInstruction.Vmptrld, VmxInstruction.Vmptrst]);
  });
});
