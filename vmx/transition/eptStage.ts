/**
 * EPT as the core's second translation stage (cpu/memory/physicalStage.ts;
 * SDM Vol. 3C §29.3): every guest-physical address goes through the
 * EptWalker of vmx/ept/. A refused access becomes the VM exit the SDM
 * gives it (§29.3.3): an EPT violation (basic reason 48) with the
 * qualification of §28.2.1 and the guest-physical and guest-linear address
 * fields, or an EPT misconfiguration (49) with the guest-physical address.
 * The exit is arranged here and completed by the VMX unit once the run loop
 * has backed the instruction out (VM_EXIT_TAKEN).
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Access } from '../../cpu/memory/access.ts';
import type { PhysicalStage } from '../../cpu/memory/physicalStage.ts';
import { TLB_STAGE_NO_FETCH, TLB_STAGE_NO_READ, TLB_STAGE_NO_WRITE } from '../../cpu/memory/tlb.ts';
import { VM_EXIT_TAKEN } from '../../cpu/vmxPort.ts';
import { eptCapsOf } from '../ept/eptCaps.ts';
import { EPT_R, EPT_W, EPT_X } from '../ept/eptEntry.ts';
import { eptViolationQualification } from '../ept/eptViolation.ts';
import { type EptAccess, EptOutcome, EptWalker } from '../ept/eptWalk.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmxState } from '../unit/vmxState.ts';

export class EptStage implements PhysicalStage {
  shift = 12;
  denied = 0;
  private readonly walker: EptWalker;

  constructor(private readonly s: VmxState, c: Cpu) {
    this.walker = new EptWalker(c.phys, eptCapsOf(s.model.features.ept, c.model.physAddrBits));
    this.walker.owner = c;
  }

  /** Walks the EPT paging structures of this EPTP (the VMCS field, halves) from now on. */
  setEptp(lo: number, hi: number): void {
    this.walker.setEptp(lo, hi);
  }

  translate(gpa: number, access: Access, la: number, pagingStructure: boolean, fault: boolean): number {
    const w = this.walker;
    const outcome = w.walk(gpa, (1 << access) as EptAccess, pagingStructure);
    if (outcome === EptOutcome.Ok) {
      const p = w.perms;
      this.shift = w.shift;
      this.denied = ((p & EPT_R) === 0 ? TLB_STAGE_NO_READ : 0) | ((p & EPT_W) === 0 ? TLB_STAGE_NO_WRITE : 0) |
        ((p & EPT_X) === 0 ? TLB_STAGE_NO_FETCH : 0);
      return w.hpa;
    }
    if (!fault) return -1;
    const x = this.s.exitInfo;
    x.guestPhysicalAddress = gpa;
    if (outcome === EptOutcome.Misconfig) {
      x.arrangedReason = ExitReason.EptMisconfiguration;
      x.arrangedQualLo = 0;
    } else {
      const linearValid = !Number.isNaN(la);
      if (linearValid) x.guestLinearAddress = la;
      x.arrangedReason = ExitReason.EptViolation;
      x.arrangedQualLo = eptViolationQualification(w.accessBits, w.perms, linearValid, !pagingStructure, false);
    }
    x.arrangedQualHi = 0;
    throw VM_EXIT_TAKEN;
  }
}
