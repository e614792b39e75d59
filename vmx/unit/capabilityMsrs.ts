/**
 * The VMX capability MSRs (IA32_VMX_BASIC 480H .. IA32_VMX_VMFUNC 491H,
 * SDM Vol. 3C Appendix A) as rows of the machine's MSR table: read-only
 * (WRMSR raises #GP(0)), valued from the core's VmxModel; an MSR the model
 * does not have (e.g. PROCBASED_CTLS2 without secondary controls) is absent,
 * so RDMSR of it raises #GP(0) too.
 */
import type { MsrDef } from '../../cpu/msr/msrDef.ts';
import { VMX_MSR, type VmxModel } from '../model/vmxModel.ts';

export function capabilityMsrs(model: VmxModel): MsrDef[] {
  const rows: MsrDef[] = [];
  for (const [name, index] of Object.entries(VMX_MSR)) {
    const value = model.read(index);
    if (!value) continue;
    rows.push({
      index,
      name: `IA32_VMX_${name}`,
      read: (c) => {
        c.opHi = value.hi | 0;
        return value.lo | 0;
      },
    });
  }
  return rows;
}
