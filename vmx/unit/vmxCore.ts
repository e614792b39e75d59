/**
 * One core's VMX unit (cpu/vmxPort.ts): the decoded VMX instructions reach
 * it through execute(), which only extracts their operands and calls the
 * operations the TypeScript hypervisor calls too (DESIGN decision 1).
 * Memory operands are read after the instruction's #UD/#GP checks, as the
 * pages' pseudocode reads them ("addr := contents of 64-bit in-memory
 * operand"); stores come before VMsucceed, so a faulting store changes
 * nothing.
 *
 * In VMX non-root operation the instructions exit instead
 * (vmx/exit/vmxInstructionExits.ts), and the core asks the unit about the
 * other instructions and events that may exit (intercept, eventExit,
 * tripleFaultExit). Native host handlers (DESIGN decision 2) are
 * registered here and run at the instruction boundary after the VM exit
 * that lands on them.
 *
 * VMFUNC in root operation is #UD, as its page says.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { readE, readG, readMem, writeE, writeMem } from '../../cpu/exec/operands.ts';
import { CpuException } from '../../cpu/exceptions.ts';
import type { EventKind } from '../../cpu/system/eventKind.ts';
import { type Intercept, type TaskSwitchSource, VmxInstruction, type VmxUnit } from '../../cpu/vmxPort.ts';
import type { MsrDef } from '../../cpu/msr/msrDef.ts';
import { ExitReason } from '../exitReason.ts';
import { VmInstructionError } from '../instructionError.ts';
import { loadCr, shadowCr } from '../exit/crMasks.ts';
import { boundaryEvents } from '../exit/boundaryEvents.ts';
import { arrangedExitDuringDelivery, offerEvent } from '../exit/eventExits.ts';
import { guestTsc } from '../exit/guestTsc.ts';
import { INTERCEPTS } from '../exit/intercepts.ts';
import { taskSwitchExit } from '../exit/taskSwitchExits.ts';
import { vmxInstructionExit } from '../exit/vmxInstructionExits.ts';
import { inNativeRegion, type NativeHandler } from '../transition/nativeHandlers.ts';
import { vmEntry } from '../transition/vmEntry.ts';
import { vmExit } from '../transition/vmExit.ts';
import { capabilityMsrs } from './capabilityMsrs.ts';
import { requireVmxRootCpl0 } from './checks.ts';
import { vmFail, vmSucceed } from './conventions.ts';
import { invalidationTypeOk, readDescriptor } from './invalidation.ts';
import { invept } from './invept.ts';
import { invvpid } from './invvpid.ts';
import { readField, vmcsAccessible, vmread, writeField } from './vmcsAccess.ts';
import { vmclear, vmptrld, vmptrst } from './vmcsPointer.ts';
import { vmxoff, vmxon, vmxonFaults } from './vmxOperation.ts';
import { VmxState } from './vmxState.ts';

/** The register operand of VMREAD/VMWRITE (field encoding) and INVEPT/INVVPID (type): 64 bits in 64-bit mode, else 32. */
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
  private readonly natives = new Map<number, NativeHandler<VmxCore>>();

  /** Registers `handler` as the native host code at `hostRip` (an address in the native region). */
  registerNative(hostRip: number, handler: NativeHandler<VmxCore>): void {
    if (!inNativeRegion(hostRip)) throw new RangeError(`0x${hostRip.toString(16)} is outside the native-handler region`);
    this.natives.set(hostRip, handler);
  }

  findMsr(index: number): MsrDef | undefined {
    this.msrs ??= new Map(capabilityMsrs(this.model).map((m) => [m.index, m]));
    return this.msrs.get(index >>> 0);
  }

  execute(c: Cpu, i: Insn, op: VmxInstruction): void {
    // In non-root operation each exits (or faults first), except a VMREAD/VMWRITE that VMCS shadowing lets run below.
    if (c.nonRoot && vmxInstructionExit(this, c, i, op)) return;
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
        const enc = encodingOperand(c, i);
        if (!vmread(this, c, enc)) return;
        const lo = readField(this, c, enc);
        writeE(c, i, i.isMem ? i.ea(c, i) : 0, lo, c.opHi);
        vmSucceed(c);
        return;
      }
      case VmxInstruction.Vmwrite: {
        // The memory source is read after the VMCS-pointer check, before the field checks (VMWRITE page).
        if (!vmcsAccessible(this, c)) return;
        const enc = encodingOperand(c, i);
        const lo = readE(c, i, i.isMem ? i.ea(c, i) : 0);
        writeField(this, c, enc, lo, i.opSize === 8 ? c.opHi : 0);
        return;
      }
      case VmxInstruction.Vmlaunch:
      case VmxInstruction.Vmresume:
        vmEntry(this, c, op === VmxInstruction.Vmlaunch);
        return;
      case VmxInstruction.Invept:
      case VmxInstruction.Invvpid: {
        // The type is checked before the descriptor is read (the pages' operation sections).
        const ept = op === VmxInstruction.Invept, type = encodingOperand(c, i);
        if (!invalidationTypeOk(this, c, ept, type)) return;
        const d = readDescriptor(c, i.ea(c, i));
        if (ept) invept(this, c, type, d);
        else invvpid(this, c, type, d);
        return;
      }
      case VmxInstruction.Vmcall:
        requireVmxRootCpl0(this, c);
        // In root operation without the dual-monitor treatment (§34.15.2): VMfail(1).
        vmFail(this, c, VmInstructionError.VmcallInVmxRoot);
        return;
      default:
        fault(Vector.UD);
    }
  }

  intercept(c: Cpu, i: Insn, what: Intercept): boolean {
    return INTERCEPTS[what]!(this, c, i);
  }

  guestTsc(c: Cpu, lo: number, hi: number): number {
    return guestTsc(this, c, lo, hi);
  }

  /** MOV from CR0/CR4 and SMSW through the guest/host mask and read shadow (vmx/exit/crMasks.ts). */
  shadowCr(c: Cpu, n: number, value: number): number {
    return shadowCr(this.vmcs, c, n, value);
  }

  /** The CR0/CR4 value a non-exiting CLTS, LMSW or MOV to CR loads (vmx/exit/crMasks.ts). */
  loadCr(c: Cpu, n: number, lo: number, hi: number): number {
    return loadCr(this, c, n, lo, hi);
  }

  /** Exceptions through the exception bitmap, with IDT-vectoring information for those met in delivery (vmx/exit/eventExits.ts). */
  eventExit(c: Cpu, vector: number, kind: EventKind, errorCode: number, during: number, duringVector: number, duringError: number): boolean {
    return offerEvent(this, c, vector, kind, errorCode, during, duringVector, duringError);
  }

  completeExit(c: Cpu, during = -1, duringVector = 0, duringError = 0): void {
    const x = this.exitInfo;
    const rip = during >= 0 ? arrangedExitDuringDelivery(this, c, during, duringVector, duringError) : c.rip;
    vmExit(this, c, x.arrangedReason, x.arrangedQualLo, x.arrangedQualHi, rip);
  }

  /** Task switches in non-root operation always exit (§26.2, §26.4.2; vmx/exit/taskSwitchExits.ts). */
  taskSwitchExit(c: Cpu, selector: number, source: TaskSwitchSource, i: Insn | null, vector: number, kind: EventKind, errorCode: number): void {
    taskSwitchExit(this, c, selector, source, i, vector, kind, errorCode);
  }

  /** A triple fault in non-root operation always exits (§26.2), with qualification 0. */
  tripleFaultExit(c: Cpu): boolean {
    vmExit(this, c, ExitReason.TripleFault, 0, 0, c.rip);
    return true;
  }

  /**
   * Native host code, or the events of a boundary in non-root operation
   * (vmx/exit/boundaryEvents.ts; serviceEvents hands those over too). A VM
   * exit to native code runs it at this same boundary, as the caller may
   * be about to fetch an instruction; the guest it enters is looked at
   * here too while the run lasts, else at the start of the next run.
   */
  atBoundary(c: Cpu): void {
    for (;;) {
      if (!c.nonRoot && inNativeRegion(c.rip)) this.runNative(c);
      else if (c.nonRoot) boundaryEvents(this, c);
      else return;
      if (!c.vmxBoundary || c.stopReason || (c.nonRoot && c.icount >= c.stopAt)) return;
      c.vmxBoundary = false;
    }
  }

  /**
   * Runs the native handler at RIP as one instruction of machine time. It
   * must leave root operation at that address (VM entry), halt, or stop
   * the run; a handler that just returns, or raises an exception as root
   * software, stops the run with the reason.
   */
  private runNative(c: Cpu): void {
    const at = c.rip;
    const handler = this.natives.get(at);
    const where = `0x${BigInt.asUintN(64, BigInt(at)).toString(16)}`;
    if (!handler) {
      c.stopReason = { kind: 'stop', why: `VM exit to HOST_RIP ${where} in the native region, where no handler is registered` };
      return;
    }
    try {
      handler(c, this);
    } catch (e) {
      if (!(e instanceof CpuException)) throw e;
      c.stopReason = { kind: 'stop', why: `native handler at ${where} raised ${String(e)}` };
      return;
    }
    c.icount++;
    // (An entry that ended at once in an exit back here, e.g. a failed entry, has its handler pending: vmxBoundary.)
    if (!c.stopReason && !c.nonRoot && c.rip === at && !c.halted && !c.vmxBoundary) {
      c.stopReason = { kind: 'stop', why: `native handler at ${where} returned in root operation without entering a guest` };
    }
  }
}
