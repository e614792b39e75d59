/**
 * VMCALL (exit reason 18): L1's hypercall ABI, documented in
 * docs/hypercalls.md. RAX holds the call number, RBX and RCX its
 * arguments; RAX returns 0 on success and -1 (all ones) for an unknown call.
 *
 *   RAX = 0  print: RCX bytes at guest-physical RBX to the VM's console;
 *   RAX = 1  exit: the VM ends, passed if RBX = 0, else failed with RBX;
 *   RAX = 2  yield: nothing to do but return (a scheduling point).
 */
import { Reg } from '../../cpu/registers.ts';
import type { Vcpu } from '../vcpu.ts';
import { skip, stop, type ExitHandler } from './decision.ts';

export const enum Hypercall { Print = 0, Exit = 1, Yield = 2 }
const MAX_PRINT = 4096;

/** RAX = 0 for success, -1 (all 64 bits set) for an unknown call or bad arguments. */
function setStatus(vcpu: Vcpu, ok: boolean): void {
  const r = vcpu.host.c.r;
  r[Reg.RAX << 1] = ok ? 0 : -1;
  r[(Reg.RAX << 1) + 1] = ok ? 0 : -1;
}

export const handleVmcall: ExitHandler = (vcpu) => {
  const call = vcpu.gpr(Reg.RAX);
  switch (call) {
    case Hypercall.Print: {
      const length = Math.min(vcpu.gpr(Reg.RCX), MAX_PRINT);
      const bytes = vcpu.vm.read(vcpu.gpr(Reg.RBX), length);
      setStatus(vcpu, bytes !== null);
      if (bytes !== null) vcpu.vm.console += String.fromCharCode(...bytes);
      return skip('vmcall:print');
    }
    case Hypercall.Exit: {
      const code = vcpu.gpr(Reg.RBX);
      return stop('vmcall:exit', code === 0 ? { kind: 'passed', detail: 'exit 0' } : { kind: 'failed', detail: `exit ${code}` });
    }
    case Hypercall.Yield:
      setStatus(vcpu, true);
      return skip('vmcall:yield');
    default:
      setStatus(vcpu, false);
      return skip('vmcall:unknown');
  }
};
