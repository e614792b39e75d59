/**
 * RDMSR and WRMSR that exit (reasons 31 and 32, SDM Vol. 3C §26.1.3: the
 * MSR bitmaps of msrPassthrough.ts let the rest through), after the
 * virtual APIC has taken its own (apicMsrs.ts). ECX names the MSR, EDX:EAX
 * carry the value (Vol. 2B RDMSR/WRMSR); the exit comes after the CPL
 * check, so the guest is at CPL 0. An MSR of L1's virtual set
 * (virtualMsrs.ts) is emulated and the instruction skipped, RDMSR clearing
 * bits 63:32 of RAX and RDX. An MSR L1 does not know, or a value the MSR
 * refuses, raises #GP(0) in the guest, as the instruction would on a
 * processor without that MSR — KVM does the same rather than stop the VM.
 */
import { Reg } from '../../cpu/registers.ts';
import { skip, type ExitHandler } from './decision.ts';
import { injectGp0 } from './inject.ts';
import { findVirtualMsr } from './virtualMsrs.ts';

export const handleRdmsr: ExitHandler = (vcpu) => {
  const m = findVirtualMsr(vcpu, vcpu.gpr32(Reg.RCX) >>> 0);
  if (!m) return injectGp0(vcpu, 'rdmsr:#GP');
  const value = m.read(vcpu);
  vcpu.setGpr32(Reg.RAX, Number(value & 0xffffffffn));
  vcpu.setGpr32(Reg.RDX, Number(value >> 32n));
  return skip(`rdmsr:${m.name}`);
};

export const handleWrmsr: ExitHandler = (vcpu) => {
  const m = findVirtualMsr(vcpu, vcpu.gpr32(Reg.RCX) >>> 0);
  const value = (BigInt(vcpu.gpr32(Reg.RDX) >>> 0) << 32n) | BigInt(vcpu.gpr32(Reg.RAX) >>> 0);
  if (!m?.write?.(vcpu, value)) return injectGp0(vcpu, `wrmsr:${m ? `${m.name}:` : ''}#GP`);
  return skip(`wrmsr:${m.name}`);
};
