/**
 * EPT as the core's second translation stage (cpu/memory/physicalStage.ts;
 * SDM Vol. 3C §29.3): every guest-physical address goes through the
 * guest-physical mappings the core cached for the current EPT root
 * (vmx/ept/guestPhysicalTlb.ts, §29.4), else through the EptWalker of
 * vmx/ept/, whose successful walks are cached there.
 *
 * A cached mapping serves an access only if its rights allow it and, with
 * EPT accessed and dirty flags, only if its walk set the flags the access
 * would set (A, and D for a write: §29.3.5); otherwise the stage walks the
 * structures in memory again, so that a refusal is what memory says, not
 * what was cached, and the dirty flag gets set.
 *
 * A refused access becomes the VM exit the SDM gives it (§29.3.3): an EPT
 * violation (basic reason 48) with the qualification of §28.2.1 and the
 * guest-physical and guest-linear address fields, or an EPT
 * misconfiguration (49) with the guest-physical address. A violation drops
 * the cached mapping of its address (§29.4.3.1). Met by an IRET, either
 * exit leaves blocking by NMI as that IRET left it, cleared unless "NMI
 * exiting" without "virtual NMIs" keeps it, and a violation says so in bit
 * 12 (§28.1, §28.2.3). The exit is arranged here and completed by the VMX
 * unit once the run loop has backed the instruction out (VM_EXIT_TAKEN).
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Access } from '../../cpu/memory/access.ts';
import type { PhysicalStage } from '../../cpu/memory/physicalStage.ts';
import { TLB_STAGE_NO_FETCH, TLB_STAGE_NO_READ, TLB_STAGE_NO_WRITE } from '../../cpu/memory/tlb.ts';
import { VM_EXIT_TAKEN } from '../../cpu/vmxPort.ts';
import { eptCapsOf } from '../ept/eptCaps.ts';
import { EPT_R, EPT_W, EPT_X, EPTP_AD, eptRoot } from '../ept/eptEntry.ts';
import { eptViolationQualification } from '../ept/eptViolation.ts';
import { type EptAccess, EptOutcome, EptWalker } from '../ept/eptWalk.ts';
import {
  GP_ACCESSED, GP_DIRTY, GP_IGNORE_PAT, type GuestPhysicalMappings, guestPhysicalMappings, type GuestPhysicalTlb,
} from '../ept/guestPhysicalTlb.ts';
import { nmiUnblockedByIret } from '../exit/eventExits.ts';
import { guestEvents, keepNmiBlocking } from '../exit/eventState.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmxState } from '../unit/vmxState.ts';

/** The TLB_STAGE_* rights withheld from a translation whose EPT rights are R/W/X bits `p`. */
const DENIED = Array.from({ length: 8 }, (_, p) =>
  ((p & EPT_R) === 0 ? TLB_STAGE_NO_READ : 0) | ((p & EPT_W) === 0 ? TLB_STAGE_NO_WRITE : 0) | ((p & EPT_X) === 0 ? TLB_STAGE_NO_FETCH : 0));

export class EptStage implements PhysicalStage {
  shift = 12;
  denied = 0;
  /** The EPT memory type and ignore-PAT flag of the last translation (§29.3.7), for combining with PAT. */
  memoryType = 0;
  ignorePat = false;
  private readonly walker: EptWalker;
  private readonly mappings: GuestPhysicalMappings;
  /** The cached mappings of the current EPT root (setEptp comes before any translation). */
  private cache!: GuestPhysicalTlb;
  /** EPTP bit 6 with the capability: EPT accessed and dirty flags are set (§29.3.5). */
  private accessedDirty = false;
  private readonly adSupported: boolean;

  constructor(private readonly s: VmxState, private readonly c: Cpu) {
    const caps = eptCapsOf(s.model.features.ept, c.model.physAddrBits);
    this.walker = new EptWalker(c.phys, caps);
    this.walker.owner = c;
    this.adSupported = caps.accessedDirty;
    this.mappings = guestPhysicalMappings(c);
  }

  /** Walks the EPT paging structures of this EPTP (the VMCS field, halves), and uses its root's cached mappings, from now on. */
  setEptp(lo: number, hi: number): void {
    this.walker.setEptp(lo, hi);
    this.accessedDirty = (lo & EPTP_AD) !== 0 && this.adSupported;
    this.cache = this.mappings.select(eptRoot(lo, hi));
  }

  translate(gpa: number, access: Access, la: number, pagingStructure: boolean, fault: boolean): number {
    const cache = this.cache;
    // The rights the access needs, as the walk sees them: with A/D flags, a guest paging-structure access is a write.
    const asWrite = pagingStructure && this.accessedDirty;
    const need = asWrite ? EPT_R | EPT_W : 1 << access;
    const want = need | (!this.accessedDirty ? 0 : (need & EPT_W) !== 0 ? GP_ACCESSED | GP_DIRTY : GP_ACCESSED);
    let k = cache.find(gpa);
    if (k < 0 || (cache.flags[k]! & want) !== want) {
      const w = this.walker;
      const outcome = w.walk(gpa, (1 << access) as EptAccess, pagingStructure);
      if (outcome !== EptOutcome.Ok) return this.refuse(outcome, gpa, la, pagingStructure, fault);
      const flags = w.perms | (this.accessedDirty ? GP_ACCESSED | ((need & EPT_W) !== 0 ? GP_DIRTY : 0) : 0) |
        (w.ignorePat ? GP_IGNORE_PAT : 0);
      k = cache.insert(gpa, w.hpa - (gpa & 0xfff), w.shift, flags, w.memoryType);
    }
    const flags = cache.flags[k]!;
    this.shift = cache.shift[k]!;
    this.denied = DENIED[flags & 7]!;
    this.memoryType = cache.memoryType[k]!;
    this.ignorePat = (flags & GP_IGNORE_PAT) !== 0;
    return cache.frame[k]! + (gpa & 0xfff);
  }

  /** The walk of `gpa` ended in `outcome`: -1 without `fault`, else the exit is arranged and VM_EXIT_TAKEN thrown. */
  private refuse(outcome: EptOutcome, gpa: number, la: number, pagingStructure: boolean, fault: boolean): number {
    if (!fault) return -1;
    const s = this.s, c = this.c, x = s.exitInfo, w = this.walker;
    x.guestPhysicalAddress = gpa;
    if (outcome === EptOutcome.Misconfig) {
      x.arrangedReason = ExitReason.EptMisconfiguration;
      x.arrangedQualLo = 0;
    } else {
      this.cache.drop(gpa);
      const linearValid = !Number.isNaN(la);
      if (linearValid) x.guestLinearAddress = la;
      x.arrangedReason = ExitReason.EptViolation;
      x.arrangedQualLo = eptViolationQualification(w.accessBits, w.perms, linearValid, !pagingStructure, nmiUnblockedByIret(s.vmcs, c));
    }
    x.arrangedQualHi = 0;
    // An IRET's mark concerns only this exit; the blocking it must keep is restored before the guest state is saved.
    c.nmiUnblockedAt = -1;
    keepNmiBlocking(c, guestEvents(s));
    throw VM_EXIT_TAKEN;
  }
}
