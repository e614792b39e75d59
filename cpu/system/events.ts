/**
 * Events reaching a core between instructions, and exceptions raised by
 * its instructions (SDM Vol. 3A §6.7-§6.9, §10.4): the run loop calls
 * serviceEvents (once the STI / MOV SS shadow has passed) and the
 * exception hook handleException; the machine installs both with
 * attachSystem.
 *
 * Priority (§6.9, Table 6-2): INIT, then (in wait-for-SIPI) SIPI, then NMI
 * unless blocked by an earlier NMI until IRET, then a maskable interrupt
 * from the interrupt source when RFLAGS.IF = 1. Delivering an NMI or an
 * interrupt wakes a core from HLT. A core in shutdown leaves it only by
 * INIT; in wait-for-SIPI NMIs and interrupts stay pending. A SIPI that finds
 * the core not waiting for one is dropped.
 *
 * In VMX non-root operation the VMX unit arbitrates instead (SDM Vol. 3C
 * §26.2: events may exit rather than be delivered, and the VMX controls
 * add exits of their own between instructions): serviceEvents hands the
 * boundary to VmxUnit.atBoundary, which delivers through takeNmi and
 * takeInterrupt what reaches the guest. An exception raised in non-root
 * operation is offered to the unit's exception bitmap first.
 */
import { Activity, type Cpu } from '../cpu.ts';
import type { CpuException } from '../exceptions.ts';
import { IF } from '../flags.ts';
import { deliverEvent } from './doubleFault.ts';
import { EventKind } from './eventKind.ts';
import { takeInit, takeSipi } from './init.ts';
import { SoftwareKind } from './registers.ts';

const NMI_VECTOR = 2;

function interruptReady(c: Cpu): boolean {
  return (c.eflags & IF) !== 0 && c.interruptSource !== null && c.interruptSource.hasInterrupt();
}

/**
 * Whether an event would make a halted core (HLT, wait-for-SIPI, shutdown)
 * do something now: what the machine asks before running it again.
 */
export function canWake(c: Cpu): boolean {
  if (c.initPending && !c.vmx?.blocksInit) return true;
  switch (c.activity) {
    case Activity.WaitForSipi: return c.sipiVector >= 0;
    case Activity.Shutdown: return false;
    default: return (c.nmiPending && !c.sys.nmiBlocked) || interruptReady(c);
  }
}

/** Takes the pending NMI: further NMIs are blocked until IRET, the core leaves HLT (or, in VMX non-root operation, shutdown). */
export function takeNmi(c: Cpu): void {
  c.nmiPending = false;
  c.sys.nmiBlocked = true;
  c.activity = Activity.Active;
  deliverEvent(c, NMI_VECTOR, EventKind.Nmi, -1);
}

/** Acknowledges the interrupt source's interrupt (INTA) and delivers it; the core leaves HLT. */
export function takeInterrupt(c: Cpu): void {
  const vector = c.interruptSource!.acknowledge();
  c.activity = Activity.Active;
  deliverEvent(c, vector, EventKind.External, -1);
}

export function serviceEvents(c: Cpu): void {
  c.eventsPending = false;
  if (c.nonRoot) {
    c.vmx!.atBoundary(c);
    return;
  }
  // INIT stays latched while VMX root operation blocks it (SDM Vol. 3C §24.8); VMXOFF re-checks.
  if (c.initPending && !c.vmx?.blocksInit) {
    c.initPending = false;
    takeInit(c);
  }
  if (c.activity === Activity.WaitForSipi) {
    if (c.sipiVector >= 0) takeSipi(c, c.sipiVector);
    c.sipiVector = -1;
    return;
  }
  c.sipiVector = -1;
  if (c.activity === Activity.Shutdown) return;
  if (c.nmiPending && !c.sys.nmiBlocked) takeNmi(c);
  else if (interruptReady(c)) takeInterrupt(c);
  // An interrupt masked by IF stays pending: checked again at the next block boundary, which an
  // instruction setting IF (STI, POPF, IRET, SYSRET) always ends. A blocked NMI waits for IRET.
  c.eventsPending = c.interruptSource !== null && c.interruptSource.hasInterrupt();
}

/**
 * In VMX non-root operation: whether the exception exits instead of being
 * delivered (the VMX unit decides). An INT3, INTO or INT1 whose exception
 * exits has not retired: the run loop counted it, the exit uncounts it.
 */
function exits(c: Cpu, e: CpuException, kind: EventKind): boolean {
  if (e.software) c.icount--;
  const exited = c.vmx!.eventExit(c, e.vector, kind, e.errorCode, -1, 0, 0);
  if (!exited && e.software) c.icount++;
  return exited;
}

/** The run loop's exception hook: delivers the exception or software interrupt through the IDT. */
export function handleException(c: Cpu, e: CpuException): void {
  let kind = EventKind.Hardware;
  if (e.software) {
    const k = c.sys.softwareKind;
    kind = k === SoftwareKind.IntN ? EventKind.SoftwareInt
      : k === SoftwareKind.Privileged ? EventKind.PrivilegedSoftware : EventKind.SoftwareException;
  }
  const exited = c.nonRoot && exits(c, e, kind);
  // The mark of an IRET that ended NMI blocking concerns only the fault that IRET raised.
  c.nmiUnblockedAt = -1;
  if (!exited) deliverEvent(c, e.vector, kind, e.errorCode);
}

/** Installs exception delivery and event servicing on a core (the machine does this for each core). */
export function attachSystem(c: Cpu): void {
  c.onException = handleException;
  c.serviceEvents = serviceEvents;
}
