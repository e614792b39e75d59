/**
 * RDMSR of the VMX capability MSRs (SDM Vol. 3C Appendix A) on a core with a
 * VMX unit: the value is the unit's model's (whose bits capabilities.test.ts
 * checks); the MSRs are read-only; an MSR the model lacks, or any of them on
 * a core without VMX, raises #GP(0).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CPU_MODEL } from '../../cpu/model/cpuidModel.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import { FULL_VMX_MODEL, MINIMAL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VMX_MSR, VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { vmcsEnumHighestIndex } from '../../vmx/vmcs/fields.ts';
import { runAsm } from '../support/machine.ts';

function model(features: VmxFeatures): VmxModel {
  const cpu = DEFAULT_CPU_MODEL.with({ features: { vmx: true } });
  return new VmxModel(features, { cr4Settable: cr4Settable(cpu), vmcsHighestIndex: vmcsEnumHighestIndex() });
}

async function rdmsr(index: number, m: VmxModel | null) {
  return runAsm('rdmsr', { regs: { rcx: BigInt(index) }, setup: (t) => { t.cpu.vmx = m ? new VmxCore(m) : null; } });
}

describe('VMX capability MSRs through RDMSR (SDM Vol. 3C Appendix A)', () => {
  const full = model(FULL_VMX_MODEL);
  for (const [name, index] of Object.entries(VMX_MSR)) {
    it(`IA32_VMX_${name} (${index.toString(16).toUpperCase()}H) reads the model's value into EDX:EAX`, async () => {
      const t = await rdmsr(index, full);
      const v = full.read(index)!;
      expect(t.stop.kind).toBe('halt');
      expect(t.reg('rax')).toBe(BigInt(v.lo >>> 0));
      expect(t.reg('rdx')).toBe(BigInt(v.hi >>> 0));
    });
  }

  it('an MSR the model does not have raises #GP(0): PROCBASED_CTLS2 without secondary controls (A.3.3)', async () => {
    const t = await rdmsr(VMX_MSR.PROCBASED_CTLS2, model(MINIMAL_VMX_MODEL));
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });

  it('without a VMX unit IA32_VMX_BASIC raises #GP(0)', async () => {
    const t = await rdmsr(VMX_MSR.BASIC, null);
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });

  it('the capability MSRs are read-only: WRMSR raises #GP(0)', async () => {
    const t = await runAsm('wrmsr', { regs: { rcx: BigInt(VMX_MSR.BASIC) }, setup: (t) => { t.cpu.vmx = new VmxCore(full); } });
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });
});
