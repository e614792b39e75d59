/**
 * HLT (SDM Vol. 2A HLT): privileged; the core stops fetching until an
 * interrupt, NMI, INIT or reset wakes it. RIP already points past HLT,
 * which is where execution resumes. In VMX non-root operation "HLT
 * exiting" turns it into a VM exit after the CPL check (SDM Vol. 3C
 * §26.1.1, §26.1.3).
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { Activity } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { Intercept } from '../vmxPort.ts';

const hlt: ExecFn = (c, i) => {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Hlt)) return;
  c.activity = Activity.Hlt;
  c.exitBlock = true;
};

export const HALT_OPCODES: OpcodeDef[] = [
  { op: 'F4', mnemonic: 'hlt', flags: ['stop'], exec: hlt },
];
