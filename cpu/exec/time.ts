/**
 * Reading time: RDTSC, RDTSCP, RDPID (SDM Vol. 2B). The counter itself is
 * defined in cpu/tsc.ts: a function of retired instructions.
 *
 * In VMX non-root operation (SDM Vol. 3C §26.1.3, §26.3) RDTSC and RDTSCP
 * may exit ("RDTSC exiting") or read an offset and scaled TSC; "enable
 * RDTSCP" = 0 makes RDTSCP and RDPID #UD, ahead of any other exception, so
 * those two ask the VMX unit before their own checks.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { Reg } from '../registers.ts';
import { readSoftwareTsc, requireTscAccess } from '../tsc.ts';
import { Intercept } from '../vmxPort.ts';
import { wr32, wr64 } from './operands.ts';

/** EDX:EAX := TSC. The 32-bit writes zero the upper halves of RAX and RDX. */
function tscToEdxEax(c: Cpu): void {
  const lo = readSoftwareTsc(c);
  wr32(c, Reg.RDX, c.opHi);
  wr32(c, Reg.RAX, lo);
}

const rdtsc: ExecFn = (c, i) => {
  requireTscAccess(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Rdtsc)) return;
  tscToEdxEax(c);
};

/** RDTSCP adds ECX := IA32_TSC_AUX[31:0] (upper half of RCX cleared). */
const rdtscp: ExecFn = (c, i) => {
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Rdtscp)) return;
  requireTscAccess(c);
  tscToEdxEax(c);
  wr32(c, Reg.RCX, c.tscAux);
};

/**
 * RDPID r: IA32_TSC_AUX, zero-extended to 64 bits in 64-bit mode, whatever
 * REX.W says; CR4.TSD does not apply (SDM Vol. 2B RDPID).
 */
const rdpid: ExecFn = (c, i) => {
  if (c.nonRoot) c.vmx!.intercept(c, i, Intercept.Rdpid);
  if (i.mode === 64) wr64(c, i.rm, c.tscAux, 0);
  else wr32(c, i.rm, c.tscAux);
};

export const TIME_OPCODES: OpcodeDef[] = [
  { op: '0F 31', mnemonic: 'rdtsc', exec: rdtsc },
  { op: '0F 01 F9', mnemonic: 'rdtscp', exec: rdtscp },
  { op: '0F C7 /7', mnemonic: 'rdpid', operands: 'Rd', prefix: 'F3', exec: rdpid },
];
