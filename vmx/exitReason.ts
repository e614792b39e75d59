/**
 * VM-exit reasons. The exit-reason field (SDM Vol. 3C §25.9.1 "Basic VM-Exit
 * Information", Table 25-17 "Format of Exit Reason") holds the basic exit
 * reason in bits 15:0 (bit 16 always 0) and flag bits above it; the basic
 * reasons are SDM Vol. 3C Appendix C, Table C-1 "Basic Exit Reasons".
 * Numbers 35, 38, 42 and 71 are not assigned there.
 */
import { indexByNumber } from './numberedTable.ts';

export const enum ExitReason {
  ExceptionOrNmi = 0,
  ExternalInterrupt = 1,
  TripleFault = 2,
  Init = 3,
  Sipi = 4,
  IoSmi = 5,
  OtherSmi = 6,
  InterruptWindow = 7,
  NmiWindow = 8,
  TaskSwitch = 9,
  Cpuid = 10,
  Getsec = 11,
  Hlt = 12,
  Invd = 13,
  Invlpg = 14,
  Rdpmc = 15,
  Rdtsc = 16,
  Rsm = 17,
  Vmcall = 18,
  Vmclear = 19,
  Vmlaunch = 20,
  Vmptrld = 21,
  Vmptrst = 22,
  Vmread = 23,
  Vmresume = 24,
  Vmwrite = 25,
  Vmxoff = 26,
  Vmxon = 27,
  CrAccess = 28,
  MovDr = 29,
  IoInstruction = 30,
  Rdmsr = 31,
  Wrmsr = 32,
  VmentryFailureGuestState = 33,
  VmentryFailureMsrLoading = 34,
  Mwait = 36,
  MonitorTrapFlag = 37,
  Monitor = 39,
  Pause = 40,
  VmentryFailureMachineCheck = 41,
  TprBelowThreshold = 43,
  ApicAccess = 44,
  VirtualizedEoi = 45,
  GdtrIdtrAccess = 46,
  LdtrTrAccess = 47,
  EptViolation = 48,
  EptMisconfiguration = 49,
  Invept = 50,
  Rdtscp = 51,
  PreemptionTimer = 52,
  Invvpid = 53,
  Wbinvd = 54,
  Xsetbv = 55,
  ApicWrite = 56,
  Rdrand = 57,
  Invpcid = 58,
  Vmfunc = 59,
  Encls = 60,
  Rdseed = 61,
  PmlFull = 62,
  Xsaves = 63,
  Xrstors = 64,
  Pconfig = 65,
  SppEvent = 66,
  Umwait = 67,
  Tpause = 68,
  Loadiwkey = 69,
  Enclv = 70,
  EnqcmdPasidTranslationFailure = 72,
  EnqcmdsPasidTranslationFailure = 73,
  BusLock = 74,
  InstructionTimeout = 75,
  Seamcall = 76,
  Tdcall = 77,
}

/** Bits of the exit-reason field above the basic reason (§25.9.1). */
export const enum ExitReasonBits {
  BasicMask = 0xffff,
  /** Bit 26: a bus lock was asserted during the instruction that exited. */
  BusLockDetected = 1 << 26,
  /** Bit 27: the exit was from an enclave. */
  EnclaveMode = 1 << 27,
  /** Bit 28: pending MTF VM exit (SMM exits under the dual-monitor treatment). */
  PendingMtf = 1 << 28,
  /** Bit 29: VM exit from VMX root operation (SMM exits under the dual-monitor treatment). */
  FromVmxRoot = 1 << 29,
  /** Bit 31: VM-entry failure (basic reasons 33, 34, 41). */
  VmentryFailure = 0x80000000,
}

export interface ExitReasonInfo {
  readonly reason: ExitReason;
  /** The ExitReason member's name: what traces print. */
  readonly name: string;
  /** Table C-1's description. */
  readonly description: string;
}

export const EXIT_REASONS: readonly ExitReasonInfo[] = [
  { reason: ExitReason.ExceptionOrNmi, name: 'ExceptionOrNmi', description: 'Exception or non-maskable interrupt (NMI)' },
  { reason: ExitReason.ExternalInterrupt, name: 'ExternalInterrupt', description: 'External interrupt' },
  { reason: ExitReason.TripleFault, name: 'TripleFault', description: 'Triple fault' },
  { reason: ExitReason.Init, name: 'Init', description: 'INIT signal' },
  { reason: ExitReason.Sipi, name: 'Sipi', description: 'Start-up IPI (SIPI)' },
  { reason: ExitReason.IoSmi, name: 'IoSmi', description: 'I/O system-management interrupt (SMI)' },
  { reason: ExitReason.OtherSmi, name: 'OtherSmi', description: 'Other SMI' },
  { reason: ExitReason.InterruptWindow, name: 'InterruptWindow', description: 'Interrupt window' },
  { reason: ExitReason.NmiWindow, name: 'NmiWindow', description: 'NMI window' },
  { reason: ExitReason.TaskSwitch, name: 'TaskSwitch', description: 'Task switch' },
  { reason: ExitReason.Cpuid, name: 'Cpuid', description: 'CPUID' },
  { reason: ExitReason.Getsec, name: 'Getsec', description: 'GETSEC' },
  { reason: ExitReason.Hlt, name: 'Hlt', description: 'HLT' },
  { reason: ExitReason.Invd, name: 'Invd', description: 'INVD' },
  { reason: ExitReason.Invlpg, name: 'Invlpg', description: 'INVLPG' },
  { reason: ExitReason.Rdpmc, name: 'Rdpmc', description: 'RDPMC' },
  { reason: ExitReason.Rdtsc, name: 'Rdtsc', description: 'RDTSC' },
  { reason: ExitReason.Rsm, name: 'Rsm', description: 'RSM' },
  { reason: ExitReason.Vmcall, name: 'Vmcall', description: 'VMCALL' },
  { reason: ExitReason.Vmclear, name: 'Vmclear', description: 'VMCLEAR' },
  { reason: ExitReason.Vmlaunch, name: 'Vmlaunch', description: 'VMLAUNCH' },
  { reason: ExitReason.Vmptrld, name: 'Vmptrld', description: 'VMPTRLD' },
  { reason: ExitReason.Vmptrst, name: 'Vmptrst', description: 'VMPTRST' },
  { reason: ExitReason.Vmread, name: 'Vmread', description: 'VMREAD' },
  { reason: ExitReason.Vmresume, name: 'Vmresume', description: 'VMRESUME' },
  { reason: ExitReason.Vmwrite, name: 'Vmwrite', description: 'VMWRITE' },
  { reason: ExitReason.Vmxoff, name: 'Vmxoff', description: 'VMXOFF' },
  { reason: ExitReason.Vmxon, name: 'Vmxon', description: 'VMXON' },
  { reason: ExitReason.CrAccess, name: 'CrAccess', description: 'Control-register accesses' },
  { reason: ExitReason.MovDr, name: 'MovDr', description: 'MOV DR' },
  { reason: ExitReason.IoInstruction, name: 'IoInstruction', description: 'I/O instruction' },
  { reason: ExitReason.Rdmsr, name: 'Rdmsr', description: 'RDMSR' },
  { reason: ExitReason.Wrmsr, name: 'Wrmsr', description: 'WRMSR' },
  { reason: ExitReason.VmentryFailureGuestState, name: 'VmentryFailureGuestState', description: 'VM-entry failure due to invalid guest state' },
  { reason: ExitReason.VmentryFailureMsrLoading, name: 'VmentryFailureMsrLoading', description: 'VM-entry failure due to MSR loading' },
  { reason: ExitReason.Mwait, name: 'Mwait', description: 'MWAIT' },
  { reason: ExitReason.MonitorTrapFlag, name: 'MonitorTrapFlag', description: 'Monitor trap flag' },
  { reason: ExitReason.Monitor, name: 'Monitor', description: 'MONITOR' },
  { reason: ExitReason.Pause, name: 'Pause', description: 'PAUSE' },
  { reason: ExitReason.VmentryFailureMachineCheck, name: 'VmentryFailureMachineCheck', description: 'VM-entry failure due to machine-check event' },
  { reason: ExitReason.TprBelowThreshold, name: 'TprBelowThreshold', description: 'TPR below threshold' },
  { reason: ExitReason.ApicAccess, name: 'ApicAccess', description: 'APIC access' },
  { reason: ExitReason.VirtualizedEoi, name: 'VirtualizedEoi', description: 'Virtualized EOI' },
  { reason: ExitReason.GdtrIdtrAccess, name: 'GdtrIdtrAccess', description: 'Access to GDTR or IDTR' },
  { reason: ExitReason.LdtrTrAccess, name: 'LdtrTrAccess', description: 'Access to LDTR or TR' },
  { reason: ExitReason.EptViolation, name: 'EptViolation', description: 'EPT violation' },
  { reason: ExitReason.EptMisconfiguration, name: 'EptMisconfiguration', description: 'EPT misconfiguration' },
  { reason: ExitReason.Invept, name: 'Invept', description: 'INVEPT' },
  { reason: ExitReason.Rdtscp, name: 'Rdtscp', description: 'RDTSCP' },
  { reason: ExitReason.PreemptionTimer, name: 'PreemptionTimer', description: 'VMX-preemption timer expired' },
  { reason: ExitReason.Invvpid, name: 'Invvpid', description: 'INVVPID' },
  { reason: ExitReason.Wbinvd, name: 'Wbinvd', description: 'WBINVD or WBNOINVD' },
  { reason: ExitReason.Xsetbv, name: 'Xsetbv', description: 'XSETBV' },
  { reason: ExitReason.ApicWrite, name: 'ApicWrite', description: 'APIC write' },
  { reason: ExitReason.Rdrand, name: 'Rdrand', description: 'RDRAND' },
  { reason: ExitReason.Invpcid, name: 'Invpcid', description: 'INVPCID' },
  { reason: ExitReason.Vmfunc, name: 'Vmfunc', description: 'VMFUNC' },
  { reason: ExitReason.Encls, name: 'Encls', description: 'ENCLS' },
  { reason: ExitReason.Rdseed, name: 'Rdseed', description: 'RDSEED' },
  { reason: ExitReason.PmlFull, name: 'PmlFull', description: 'Page-modification log full' },
  { reason: ExitReason.Xsaves, name: 'Xsaves', description: 'XSAVES' },
  { reason: ExitReason.Xrstors, name: 'Xrstors', description: 'XRSTORS' },
  { reason: ExitReason.Pconfig, name: 'Pconfig', description: 'PCONFIG' },
  { reason: ExitReason.SppEvent, name: 'SppEvent', description: 'SPP-related event' },
  { reason: ExitReason.Umwait, name: 'Umwait', description: 'UMWAIT' },
  { reason: ExitReason.Tpause, name: 'Tpause', description: 'TPAUSE' },
  { reason: ExitReason.Loadiwkey, name: 'Loadiwkey', description: 'LOADIWKEY' },
  { reason: ExitReason.Enclv, name: 'Enclv', description: 'ENCLV' },
  { reason: ExitReason.EnqcmdPasidTranslationFailure, name: 'EnqcmdPasidTranslationFailure', description: 'ENQCMD PASID translation failure' },
  { reason: ExitReason.EnqcmdsPasidTranslationFailure, name: 'EnqcmdsPasidTranslationFailure', description: 'ENQCMDS PASID translation failure' },
  { reason: ExitReason.BusLock, name: 'BusLock', description: 'Bus lock' },
  { reason: ExitReason.InstructionTimeout, name: 'InstructionTimeout', description: 'Instruction timeout' },
  { reason: ExitReason.Seamcall, name: 'Seamcall', description: 'SEAMCALL' },
  { reason: ExitReason.Tdcall, name: 'Tdcall', description: 'TDCALL' },
];

/** Indexed by basic reason; undefined for unassigned numbers. */
const byReason = indexByNumber(EXIT_REASONS, (e) => e.reason, 'exit reason');

export function exitReasonInfo(basic: number): ExitReasonInfo | undefined {
  return byReason[basic];
}

/** Trace name of a basic reason, e.g. 'EptViolation'; 'Reason35' for an unassigned number. */
export function exitReasonName(basic: number): string {
  return byReason[basic]?.name ?? `Reason${basic}`;
}

/** The exit-reason field's value for a basic reason and flag bits. */
export function exitReasonField(basic: ExitReason, flags = 0): number {
  return (basic | flags) >>> 0;
}

export function basicExitReason(field: number): number {
  return field & ExitReasonBits.BasicMask;
}

export function isVmentryFailure(field: number): boolean {
  return (field & ExitReasonBits.VmentryFailure) !== 0;
}

/** For traces: 'EptViolation', 'VmentryFailureGuestState|vmentryFailure'. */
export function formatExitReason(field: number): string {
  let s = exitReasonName(basicExitReason(field));
  if (field & ExitReasonBits.BusLockDetected) s += '|busLockDetected';
  if (field & ExitReasonBits.EnclaveMode) s += '|enclaveMode';
  if (field & ExitReasonBits.PendingMtf) s += '|pendingMtf';
  if (field & ExitReasonBits.FromVmxRoot) s += '|fromVmxRoot';
  if (isVmentryFailure(field)) s += '|vmentryFailure';
  return s;
}
