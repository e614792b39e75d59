/**
 * CPUID (SDM Vol. 2A CPUID): EAX selects the leaf, ECX the sub-leaf; the
 * answer comes from the core's data-defined model (cpu/model/cpuidModel.ts).
 * Not privileged at any CPL. In 64-bit mode the 32-bit results clear the
 * upper halves of RAX, RBX, RCX and RDX. Flags are unchanged. In VMX
 * non-root operation it always exits (SDM Vol. 3C §26.1.2).
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { Reg } from '../registers.ts';
import { Intercept } from '../vmxPort.ts';
import { wr32 } from './operands.ts';

const out = new Int32Array(4);

const cpuid: ExecFn = (c, i) => {
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Cpuid)) return;
  c.model.query(c, c.r[Reg.RAX << 1]!, c.r[Reg.RCX << 1]!, out);
  wr32(c, Reg.RAX, out[0]!);
  wr32(c, Reg.RBX, out[1]!);
  wr32(c, Reg.RCX, out[2]!);
  wr32(c, Reg.RDX, out[3]!);
};

export const CPUID_OPCODES: OpcodeDef[] = [
  { op: '0F A2', mnemonic: 'cpuid', exec: cpuid },
];
