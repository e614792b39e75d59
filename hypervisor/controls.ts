/**
 * Choosing VMX controls from the capability MSRs, as VMX software must
 * (SDM Vol. 3C Appendix A.3-A.5; KVM's adjust_vmx_controls does the same):
 * every must-be-1 bit (allowed-0 setting 1) is set, the controls L1 needs
 * are set and must be allowed (allowed-1 setting 1), and the controls it
 * merely prefers are set when allowed. IA32_VMX_BASIC bit 55 says whether
 * the TRUE_* MSRs, which free some default1 bits, are to be read instead.
 */
import type { Cpu } from '../cpu/cpu.ts';
import { readMsr } from '../cpu/exec/msr.ts';
import { controlMask, type ControlGroup, type ControlKey } from '../vmx/model/controls.ts';
import { HypervisorError } from './hypervisorError.ts';

const IA32_VMX_BASIC = 0x480;
const TRUE_CONTROLS = 1 << (55 - 32);
/** The capability MSR of each group, and its TRUE_ counterpart (0 for none). */
const MSRS: Record<ControlGroup, [number, number]> = {
  pin: [0x481, 0x48d], proc: [0x482, 0x48e], proc2: [0x48b, 0], exit: [0x483, 0x48f], entry: [0x484, 0x490],
};

/**
 * The value of control field `group` on core `c`: `needed` controls (a
 * HypervisorError names any the processor lacks), plus `preferred` ones
 * when allowed, plus every must-be-1 bit.
 */
export function chooseControls<G extends ControlGroup>(
  c: Cpu, group: G, needed: readonly ControlKey<G>[], preferred: readonly ControlKey<G>[] = [],
): number {
  const [plain, trueMsr] = MSRS[group];
  readMsr(c, IA32_VMX_BASIC);
  const useTrue = trueMsr !== 0 && (c.opHi & TRUE_CONTROLS) !== 0;
  const mustBe1 = readMsr(c, useTrue ? trueMsr : plain) >>> 0;
  const mayBe1 = c.opHi >>> 0;
  const need = controlMask(group, needed);
  const missing = need & ~mayBe1;
  if (missing !== 0) {
    const names = needed.filter((k) => (controlMask(group, [k]) & missing) !== 0);
    throw new HypervisorError(`L1 needs the ${group} control(s) ${names.join(', ')}, which this processor model does not support`);
  }
  return (mustBe1 | need | (controlMask(group, preferred) & mayBe1)) >>> 0;
}
