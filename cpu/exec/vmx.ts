/**
 * The VMX instructions' opcode rows (SDM Vol. 3C ch. 31 "VMX Instruction
 * Reference"). Decoding is the core's; execution is the core's VmxUnit
 * (cpu/vmxPort.ts). Without one they raise #UD. The register operands of
 * VMREAD, VMWRITE, INVEPT and INVVPID are 64-bit in 64-bit mode and 32-bit
 * otherwise, whatever the prefixes ('m' size).
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { VmxInstruction } from '../vmxPort.ts';

function vmx(op: VmxInstruction): ExecFn {
  return (c, i) => {
    if (!c.vmx) fault(Vector.UD);
    c.vmx.execute(c, i, op);
  };
}

export const VMX_OPCODES: OpcodeDef[] = [
  { op: '0F C7 /6', mnemonic: 'vmxon', operands: 'Mq', prefix: 'F3', flags: ['stop'], exec: vmx(VmxInstruction.Vmxon) },
  { op: '0F C7 /6', mnemonic: 'vmclear', operands: 'Mq', prefix: '66', flags: ['stop'], exec: vmx(VmxInstruction.Vmclear) },
  { op: '0F C7 /6', mnemonic: 'vmptrld', operands: 'Mq', prefix: 'NP', flags: ['stop'], exec: vmx(VmxInstruction.Vmptrld) },
  { op: '0F C7 /7', mnemonic: 'vmptrst', operands: 'Mq', prefix: 'NP', exec: vmx(VmxInstruction.Vmptrst) },
  { op: '0F 78 /r', mnemonic: 'vmread', operands: 'Ey,Gy', size: 'm', prefix: 'NP', exec: vmx(VmxInstruction.Vmread) },
  { op: '0F 79 /r', mnemonic: 'vmwrite', operands: 'Gy,Ey', size: 'm', prefix: 'NP', exec: vmx(VmxInstruction.Vmwrite) },
  { op: '0F 01 C1', mnemonic: 'vmcall', flags: ['stop'], exec: vmx(VmxInstruction.Vmcall) },
  { op: '0F 01 C2', mnemonic: 'vmlaunch', flags: ['stop'], exec: vmx(VmxInstruction.Vmlaunch) },
  { op: '0F 01 C3', mnemonic: 'vmresume', flags: ['stop'], exec: vmx(VmxInstruction.Vmresume) },
  { op: '0F 01 C4', mnemonic: 'vmxoff', flags: ['stop'], exec: vmx(VmxInstruction.Vmxoff) },
  { op: '0F 01 D4', mnemonic: 'vmfunc', flags: ['stop'], exec: vmx(VmxInstruction.Vmfunc) },
  { op: '0F 38 80 /r', mnemonic: 'invept', operands: 'Gy,Mdq', size: 'm', prefix: '66', flags: ['stop'], exec: vmx(VmxInstruction.Invept) },
  { op: '0F 38 81 /r', mnemonic: 'invvpid', operands: 'Gy,Mdq', size: 'm', prefix: '66', flags: ['stop'], exec: vmx(VmxInstruction.Invvpid) },
];
