/**
 * HLT (SDM Vol. 2A HLT): privileged; the core stops fetching until an
 * interrupt, NMI, INIT or reset wakes it. RIP already points past HLT,
 * which is where execution resumes.
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { Activity } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';

const hlt: ExecFn = (c) => {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  c.activity = Activity.Hlt;
  c.exitBlock = true;
};

export const HALT_OPCODES: OpcodeDef[] = [
  { op: 'F4', mnemonic: 'hlt', flags: ['stop'], exec: hlt },
];
