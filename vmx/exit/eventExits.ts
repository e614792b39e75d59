/**
 * VM exits caused by vectored events (SDM Vol. 3C §26.2 "Other Causes of
 * VM Exits"), with what they record (§28.2.1-§28.2.4):
 *
 *   exceptions (basic reason 0): through the exception bitmap, bit n for
 *     vector n; a #PF follows bit 14 when PFEC & PFEC_MASK = PFEC_MATCH and
 *     the opposite of it otherwise. This covers INT3, INTO (software
 *     exceptions) and INT1 (privileged software exception), never INT n.
 *   NMIs (basic reason 0, type NMI) with "NMI exiting";
 *   external interrupts (basic reason 1) with "external-interrupt
 *     exiting", acknowledged and reported only with the exit control
 *     "acknowledge interrupt on exit".
 *
 * VM-exit interruption information (§28.2.2): bits 7:0 vector, 10:8 type
 * (numbered as EventKind), 11 error code valid (never in real-address
 * mode), 12 NMI unblocking due to IRET, 31 valid. An exception met while
 * delivering another event exits with that event in the IDT-vectoring
 * information (§28.2.3, same layout, bit 12 0), and with no blocking by
 * STI or MOV SS (§28.1). Exit qualification (§28.2.1): the linear address
 * for #PF (bits 63:32 0 outside 64-bit mode: the address is 32 bits
 * there), the Table 28-1 bits for #DB (BD, bit 13: a general-detect
 * fault is the only hardware #DB the core raises), 0 otherwise. The saved
 * RIP (§28.3.3) is the return address delivery would push, except that it
 * names the INT3/INTO/INT1 or INT n instruction itself when the exit is
 * caused by, or happens during the delivery of, that instruction's event;
 * the VM-exit instruction length is then that instruction's (§28.2.4). A
 * hardware exception saves RFLAGS.RF as its pushed image would have it: 1.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { Vector } from '../../cpu/exceptions.ts';
import { RF } from '../../cpu/flags.ts';
import { TWO32 } from '../../cpu/registers.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import { CR0_PE } from '../../cpu/system/mode.ts';
import { bit, exitControls, pinControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { vmExit } from '../transition/vmExit.ts';
import { guestEvents, keepNmiBlocking } from './eventState.ts';
import { mtfEventDelivered } from './monitorTrap.ts';

const NMI_EXITING = bit('pin', 'nmiExiting');
const VIRTUAL_NMIS = bit('pin', 'virtualNmis');
const ACKNOWLEDGE_INTERRUPT_ON_EXIT = bit('exit', 'acknowledgeInterruptOnExit');

const VALID = 0x80000000, ERROR_CODE_VALID = 1 << 11, NMI_UNBLOCKING_DUE_TO_IRET = 1 << 12;
/** DR6-style cause bits of the #DB exit qualification (Table 28-1): BD, debug-register access detected. */
const DEBUG_BD = 1 << 13;

/** Interruption information (or IDT-vectoring information) for event `vector` of `kind` with error code `errorCode` (< 0: none). */
export function interruptionInfo(c: Cpu, vector: number, kind: EventKind, errorCode: number): number {
  const withCode = errorCode >= 0 && (c.cr0 & CR0_PE) !== 0;
  return (VALID | (withCode ? ERROR_CODE_VALID : 0) | (kind << 8) | vector) >>> 0;
}

const isException = (kind: number): boolean =>
  kind === EventKind.Hardware || kind === EventKind.SoftwareException || kind === EventKind.PrivilegedSoftware;
const isSoftware = (kind: number): boolean =>
  kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException || kind === EventKind.PrivilegedSoftware;

/** The exception bitmap says exception `vector` with error code `errorCode` exits (§26.2). */
export function exceptionExits(v: VmcsImage, vector: number, errorCode: number): boolean {
  const set = ((lo(v, SLOT.exceptionBitmap) >>> vector) & 1) !== 0;
  if (vector !== Vector.PF) return set;
  const matches = ((errorCode & lo(v, SLOT.pageFaultErrorCodeMask)) >>> 0) === lo(v, SLOT.pageFaultErrorCodeMatch);
  return set === matches;
}

/**
 * "NMI unblocking due to IRET": the current instruction is an IRET that
 * ended blocking by NMI (virtual-NMI blocking with "virtual NMIs"), which a
 * fault, EPT violation or EPT misconfiguration it meets leaves ended (§28.1);
 * the core marks that IRET with its instruction count, which the fault or
 * exit leaves as it was. Bit 12 of the interruption information (§28.2.2)
 * and of an EPT violation's exit qualification (§28.2.1 Table 28-7, §28.2.3);
 * undefined, so 0, with "NMI exiting" and without "virtual NMIs", where IRET
 * keeps the blocking (§26.3).
 */
export function nmiUnblockedByIret(v: VmcsImage, c: Cpu): boolean {
  if (c.nmiUnblockedAt !== c.icount) return false;
  const pin = pinControls(v);
  return (pin & NMI_EXITING) === 0 || (pin & VIRTUAL_NMIS) !== 0;
}

/** Bit 12 for an exception: as nmiUnblockedByIret, undefined (0) for #DF (§28.2.2). */
function nmiUnblockingDueToIret(v: VmcsImage, c: Cpu, vector: number, kind: EventKind): boolean {
  return kind === EventKind.Hardware && vector !== Vector.DF && nmiUnblockedByIret(v, c);
}

/**
 * Exception `vector` of `kind` (error code `errorCode`, < 0: none) is
 * about to be delivered, or, when `during` >= 0, was raised while
 * delivering event `duringVector` of kind `during` (error code
 * `duringError`). Takes the VM exit and returns true if the exception
 * bitmap says so.
 */
function exceptionExit(
  s: VmxState, c: Cpu, vector: number, kind: EventKind, errorCode: number,
  during: number, duringVector: number, duringError: number,
): boolean {
  const v = s.vmcs;
  if (!isException(kind) || !exceptionExits(v, vector, errorCode)) return false;
  const x = s.exitInfo;
  x.interruptionInfo = interruptionInfo(c, vector, kind, errorCode);
  x.interruptionErrorCode = errorCode;
  if (during >= 0) {
    noteEventBeingDelivered(s, c, during, duringVector, duringError);
  } else if (nmiUnblockingDueToIret(v, c, vector, kind)) {
    x.interruptionInfo = (x.interruptionInfo | NMI_UNBLOCKING_DUE_TO_IRET) >>> 0;
  }
  let rip = c.rip;
  if (isSoftware(kind) || isSoftware(during)) {
    rip = c.sys.softwareRip;
    // RIP is past the instruction (or the injected RIP plus the VM-entry instruction length, 1-15):
    // the low 4 bits of the difference are the length, whatever the wrap at the code size.
    x.instructionLength = (c.rip - rip) & 0xf;
  }
  let qualLo = 0, qualHi = 0;
  if (kind === EventKind.Hardware) {
    if (vector === Vector.PF) {
      // The address the #PF left for CR2, which an exit does not write (§28.1).
      qualHi = Math.floor(c.faultPayload / TWO32);
      qualLo = c.faultPayload - qualHi * TWO32;
    } else if (vector === Vector.DB) {
      qualLo = DEBUG_BD;
    }
    c.eflags |= RF;
  }
  vmExit(s, c, ExitReason.ExceptionOrNmi, qualLo | 0, qualHi | 0, rip);
  return true;
}

/**
 * An exit met while delivering event `during` (its vector and error code):
 * IDT-vectoring information (§28.2.3), and no blocking by STI or MOV SS
 * saved, since delivery had begun.
 */
export function noteEventBeingDelivered(s: VmxState, c: Cpu, during: number, duringVector: number, duringError: number): void {
  const x = s.exitInfo;
  x.vectoringInfo = interruptionInfo(c, duringVector, during, duringError);
  x.vectoringErrorCode = duringError;
  c.inhibitUntil = 0;
}

/**
 * The exit arranged while delivering event `during` (an EPT violation on
 * the IDT or the stack, say): its IDT-vectoring information, and for a
 * software event the instruction's RIP and length. Returns the RIP to save.
 */
export function arrangedExitDuringDelivery(s: VmxState, c: Cpu, during: number, duringVector: number, duringError: number): number {
  noteEventBeingDelivered(s, c, during, duringVector, duringError);
  if (!isSoftware(during)) return c.rip;
  s.exitInfo.instructionLength = (c.rip - c.sys.softwareRip) & 0xf;
  return c.sys.softwareRip;
}

/**
 * VmxUnit.eventExit: an exception about to be delivered, or met delivering
 * event `during`, exits or not. An IRET that faults may first have cleared
 * NMI blocking it must keep; an event that goes on to the guest's IDT is
 * the monitor trap flag's first step.
 */
export function offerEvent(
  s: VmxState, c: Cpu, vector: number, kind: EventKind, errorCode: number,
  during: number, duringVector: number, duringError: number,
): boolean {
  const g = guestEvents(s);
  keepNmiBlocking(c, g);
  if (exceptionExit(s, c, vector, kind, errorCode, during, duringVector, duringError)) return true;
  if (during < 0) mtfEventDelivered(c, g);
  return false;
}

/** An NMI with "NMI exiting": exits, and blocks NMIs once the exit is complete (§28.1). */
export function nmiExit(s: VmxState, c: Cpu): void {
  c.nmiPending = false;
  s.exitInfo.interruptionInfo = interruptionInfo(c, Vector.NMI, EventKind.Nmi, -1);
  vmExit(s, c, ExitReason.ExceptionOrNmi, 0, 0, c.rip);
  c.sys.nmiBlocked = true;
}

/**
 * An external interrupt with "external-interrupt exiting": with
 * "acknowledge interrupt on exit" the interrupt controller is acknowledged
 * and the vector reported; without, the interrupt stays pending and the
 * interruption information is invalid (§28.1, §28.2.2).
 */
export function externalInterruptExit(s: VmxState, c: Cpu): void {
  if ((exitControls(s.vmcs) & ACKNOWLEDGE_INTERRUPT_ON_EXIT) !== 0) {
    s.exitInfo.interruptionInfo = interruptionInfo(c, c.interruptSource!.acknowledge(), EventKind.External, -1);
  }
  vmExit(s, c, ExitReason.ExternalInterrupt, 0, 0, c.rip);
}
