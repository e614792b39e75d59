/**
 * CPUID (exit reason 10, always taken in non-root operation): the guest sees
 * the processor's CPUID as L1 filters it, the way KVM presents a virtual
 * CPU: VMX hidden (leaf 1 ECX bit 5: no nested VMX offered yet) and the
 * "hypervisor present" bit (leaf 1 ECX bit 31) set.
 */
import { Reg } from '../../cpu/registers.ts';
import { skip, type ExitHandler } from './decision.ts';

const VMX = 1 << 5, HYPERVISOR = 1 << 31;
const out = new Int32Array(4);

export const handleCpuid: ExitHandler = (vcpu) => {
  const c = vcpu.host.c;
  const leaf = vcpu.gpr32(Reg.RAX), subleaf = vcpu.gpr32(Reg.RCX);
  c.model.query(c, leaf, subleaf, out);
  if (leaf === 1) out[2] = (out[2]! & ~VMX) | HYPERVISOR;
  vcpu.setGpr32(Reg.RAX, out[0]!);
  vcpu.setGpr32(Reg.RBX, out[1]!);
  vcpu.setGpr32(Reg.RCX, out[2]!);
  vcpu.setGpr32(Reg.RDX, out[3]!);
  return skip('cpuid');
};
