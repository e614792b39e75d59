/**
 * One core's VMX unit (cpu/vmxPort.ts): the decoded VMX instructions reach
 * it through execute(), which only extracts their operands and calls the
 * operations the TypeScript hypervisor calls too (DESIGN decision 1).
 * Memory operands are read after the instruction's #UD/#GP checks, as the
 * pages' pseudocode reads them ("addr := contents of 64-bit in-memory
 * operand"); stores come before VMsucceed, so a faulting store changes
 * nothing.
 *
 * Built: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE. Not
 * built yet, so #UD: VMLAUNCH, VMRESUME, VMCALL, INVEPT, INVVPID, VMFUNC.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { readE, readG, readMem, writeE, writeMem } from '../../cpu/exec/operands.ts';
import { VmxInstruction, type VmxUnit } from '../../cpu/vmxPort.ts';
import type { MsrDef } from '../../cpu/msr/msrDef.ts';
import { capabilityMsrs } from './capabilityMsrs.ts';
import { requireVmxRootCpl0 } from './checks.ts';
import { vmSucceed } from './conventions.ts';
import { readField, vmread, vmwrite } from './vmcsAccess.ts';
import { vmclear, vmptrld, vmptrst } from './vmcsPointer.ts';
import { vmxoff, vmxon, vmxonFaults } from './vmxOperation.ts';
import { VmxState } from './vmxState.ts';

/** The field-encoding register operand of VMREAD/VMWRITE: 64 bits in 64-bit mode, else 32. */
function encodingOperand(c: Cpu, i: Insn): number {
  const lo = readG(c, i);
  return (lo >>> 0) + (i.opSize === 8 ? (c.opHi >>> 0) * 2 ** 32 : 0);
}

/** The m64 operand of VMXON, VMCLEAR and VMPTRLD as a physical address (exact below 2^53; larger ones are invalid anyway). */
function pointerOperand(c: Cpu, i: Insn): number {
  const lo = readMem(c, i.ea(c, i), 8);
  return (lo >>> 0) + (c.opHi >>> 0) * 2 ** 32;
}

export class VmxCore extends VmxState implements VmxUnit {
  private msrs: Map<number, MsrDef> | undefined;

  findMsr(index: number): MsrDef | undefined {
    this.msrs ??= new Map(capabilityMsrs(this.model).map((m) => [m.index, m]));
    return this.msrs.get(index >>> 0);
  }

  execute(c: Cpu, i: Insn, op: VmxInstruction): void {
    switch (op) {
      case VmxInstruction.Vmxon:
        vmxonFaults(this, c);
        vmxon(this, c, pointerOperand(c, i));
        return;
      case VmxInstruction.Vmxoff:
        vmxoff(this, c);
        return;
      case VmxInstruction.Vmclear:
        requireVmxRootCpl0(this, c);
        vmclear(this, c, pointerOperand(c, i));
        return;
      case VmxInstruction.Vmptrld:
        requireVmxRootCpl0(this, c);
        vmptrld(this, c, pointerOperand(c, i));
        return;
      case VmxInstruction.Vmptrst: {
        const lo = vmptrst(this, c);
        writeMem(c, i.ea(c, i), 8, lo, c.opHi);
        vmSucceed(c);
        return;
      }
      case VmxInstruction.Vmread: {
        requireVmxRootCpl0(this, c);
        const enc = encodingOperand(c, i);
        if (!vmread(this, c, enc)) return;
        const lo = readField(this, c, enc);
        writeE(c, i, i.isMem ? i.ea(c, i) : 0, lo, c.opHi);
        vmSucceed(c);
        return;
      }
      case VmxInstruction.Vmwrite: {
        requireVmxRootCpl0(this, c);
        const enc = encodingOperand(c, i);
        const lo = readE(c, i, i.isMem ? i.ea(c, i) : 0);
        vmwrite(this, c, enc, lo, i.opSize === 8 ? c.opHi : 0);
        return;
      }
      default:
        fault(Vector.UD);
    }
  }
}
