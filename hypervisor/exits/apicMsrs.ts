/**
 * RDMSR and WRMSR (exit reasons 31, 32) of the virtual APIC's MSRs
 * (lapic/x2apicMsrs.ts), ahead of the other MSRs (msr.ts; orElse.ts):
 * ECX names the MSR, EDX:EAX carry the value (SDM Vol. 2B RDMSR/WRMSR). An access the
 * APIC refuses raises #GP(0) in the guest (inject.ts); otherwise the
 * instruction is skipped, RDMSR clearing bits 63:32 of RAX and RDX.
 */
import { Reg } from '../../cpu/registers.ts';
import { readTsc } from '../../cpu/tsc.ts';
import { isApicMsr, readApicMsr, writeApicMsr } from '../lapic/x2apicMsrs.ts';
import type { Vcpu } from '../vcpu.ts';
import { type Decision, skip } from './decision.ts';
import { injectGp0 } from './inject.ts';
import type { PartialHandler } from './orElse.ts';

/** An RDMSR (`write` false) or WRMSR of an APIC MSR, decided; null for another MSR. */
function apicMsrExit(vcpu: Vcpu, write: boolean): Decision | null {
  const index = vcpu.gpr32(Reg.RCX) >>> 0;
  if (!isApicMsr(vcpu, index)) return null;
  const now = readTsc(vcpu.host.c);
  if (write) {
    const ok = writeApicMsr(vcpu, index, vcpu.gpr32(Reg.RAX), vcpu.gpr32(Reg.RDX), now);
    return ok ? skip('wrmsr:apic') : injectGp0(vcpu, 'wrmsr:apic:#GP');
  }
  const value = readApicMsr(vcpu, index, now);
  if (!value) return injectGp0(vcpu, 'rdmsr:apic:#GP');
  vcpu.setGpr32(Reg.RAX, value.lo);
  vcpu.setGpr32(Reg.RDX, value.hi);
  return skip('rdmsr:apic');
}

export const apicRdmsr: PartialHandler = (vcpu) => apicMsrExit(vcpu, false);
export const apicWrmsr: PartialHandler = (vcpu) => apicMsrExit(vcpu, true);
