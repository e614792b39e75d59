/**
 * The ucall convention by which test guests report to L1 (DESIGN decision
 * 9; KVM selftests use the same idea): a 32-bit OUT to port UCALL_PORT with
 * the call number in EAX and its argument in RDI.
 *
 *   EAX = 1  done: the guest's checks passed;
 *   EAX = 2  failed: RDI = guest-physical address of a NUL-terminated message;
 *   EAX = 3  print: RDI = guest-physical address of a NUL-terminated string,
 *            appended to the VM's console.
 * Anything else stops the VM with a report naming the call.
 */
import { Reg } from '../../cpu/registers.ts';
import type { Vcpu } from '../vcpu.ts';
import { skip, stop, type Decision } from './decision.ts';

export const UCALL_PORT = 0x7e0;
export const enum Ucall { Done = 1, Failed = 2, Print = 3 }
/** The longest string a ucall passes. */
const MAX_STRING = 4096;

/** A NUL-terminated string at guest-physical `gpa` (at most MAX_STRING bytes), or null if it leaves guest memory. */
export function guestString(vcpu: Vcpu, gpa: number): string | null {
  let s = '';
  for (let k = 0; k < MAX_STRING; k++) {
    const b = vcpu.vm.read(gpa + k, 1);
    if (b === null) return null;
    if (b[0] === 0) return s;
    s += String.fromCharCode(b[0]!);
  }
  return s;
}

export function ucall(vcpu: Vcpu, call: number): Decision {
  const arg = vcpu.gpr(Reg.RDI);
  switch (call) {
    case Ucall.Done:
      return stop('ucall:done', { kind: 'passed', detail: 'ucall done' });
    case Ucall.Failed:
      return stop('ucall:failed', { kind: 'failed', detail: guestString(vcpu, arg) ?? `(message at 0x${arg.toString(16)} outside guest memory)` });
    case Ucall.Print: {
      const text = guestString(vcpu, arg);
      if (text === null) return stop('ucall:print', { kind: 'stopped', detail: `ucall print of a string at 0x${arg.toString(16)} outside guest memory` });
      vcpu.vm.console += text;
      return skip('ucall:print');
    }
    default:
      return stop('ucall', { kind: 'stopped', detail: `unknown ucall ${call}` });
  }
}
