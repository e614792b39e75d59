import { describe, expect, it } from 'vitest';
import {
  basicExitReason, EXIT_REASONS, ExitReason, ExitReasonBits, exitReasonField, exitReasonInfo, exitReasonName,
  formatExitReason, isVmentryFailure,
} from '../../vmx/exitReason.ts';

/**
 * SDM Vol. 3C Appendix C, Table C-1 "Basic Exit Reasons": number, enum member.
 * Cross-checked with Linux arch/x86/include/uapi/asm/vmx.h EXIT_REASON_* and
 * Bochs bochs/cpu/vmx.h enum VMX_vmexit_reason.
 */
const TABLE_C1: [number, ExitReason, string][] = [
  [0, ExitReason.ExceptionOrNmi, 'ExceptionOrNmi'],
  [1, ExitReason.ExternalInterrupt, 'ExternalInterrupt'],
  [2, ExitReason.TripleFault, 'TripleFault'],
  [3, ExitReason.Init, 'Init'],
  [4, ExitReason.Sipi, 'Sipi'],
  [5, ExitReason.IoSmi, 'IoSmi'],
  [6, ExitReason.OtherSmi, 'OtherSmi'],
  [7, ExitReason.InterruptWindow, 'InterruptWindow'],
  [8, ExitReason.NmiWindow, 'NmiWindow'],
  [9, ExitReason.TaskSwitch, 'TaskSwitch'],
  [10, ExitReason.Cpuid, 'Cpuid'],
  [11, ExitReason.Getsec, 'Getsec'],
  [12, ExitReason.Hlt, 'Hlt'],
  [13, ExitReason.Invd, 'Invd'],
  [14, ExitReason.Invlpg, 'Invlpg'],
  [15, ExitReason.Rdpmc, 'Rdpmc'],
  [16, ExitReason.Rdtsc, 'Rdtsc'],
  [17, ExitReason.Rsm, 'Rsm'],
  [18, ExitReason.Vmcall, 'Vmcall'],
  [19, ExitReason.Vmclear, 'Vmclear'],
  [20, ExitReason.Vmlaunch, 'Vmlaunch'],
  [21, ExitReason.Vmptrld, 'Vmptrld'],
  [22, ExitReason.Vmptrst, 'Vmptrst'],
  [23, ExitReason.Vmread, 'Vmread'],
  [24, ExitReason.Vmresume, 'Vmresume'],
  [25, ExitReason.Vmwrite, 'Vmwrite'],
  [26, ExitReason.Vmxoff, 'Vmxoff'],
  [27, ExitReason.Vmxon, 'Vmxon'],
  [28, ExitReason.CrAccess, 'CrAccess'],
  [29, ExitReason.MovDr, 'MovDr'],
  [30, ExitReason.IoInstruction, 'IoInstruction'],
  [31, ExitReason.Rdmsr, 'Rdmsr'],
  [32, ExitReason.Wrmsr, 'Wrmsr'],
  [33, ExitReason.VmentryFailureGuestState, 'VmentryFailureGuestState'],
  [34, ExitReason.VmentryFailureMsrLoading, 'VmentryFailureMsrLoading'],
  [36, ExitReason.Mwait, 'Mwait'],
  [37, ExitReason.MonitorTrapFlag, 'MonitorTrapFlag'],
  [39, ExitReason.Monitor, 'Monitor'],
  [40, ExitReason.Pause, 'Pause'],
  [41, ExitReason.VmentryFailureMachineCheck, 'VmentryFailureMachineCheck'],
  [43, ExitReason.TprBelowThreshold, 'TprBelowThreshold'],
  [44, ExitReason.ApicAccess, 'ApicAccess'],
  [45, ExitReason.VirtualizedEoi, 'VirtualizedEoi'],
  [46, ExitReason.GdtrIdtrAccess, 'GdtrIdtrAccess'],
  [47, ExitReason.LdtrTrAccess, 'LdtrTrAccess'],
  [48, ExitReason.EptViolation, 'EptViolation'],
  [49, ExitReason.EptMisconfiguration, 'EptMisconfiguration'],
  [50, ExitReason.Invept, 'Invept'],
  [51, ExitReason.Rdtscp, 'Rdtscp'],
  [52, ExitReason.PreemptionTimer, 'PreemptionTimer'],
  [53, ExitReason.Invvpid, 'Invvpid'],
  [54, ExitReason.Wbinvd, 'Wbinvd'],
  [55, ExitReason.Xsetbv, 'Xsetbv'],
  [56, ExitReason.ApicWrite, 'ApicWrite'],
  [57, ExitReason.Rdrand, 'Rdrand'],
  [58, ExitReason.Invpcid, 'Invpcid'],
  [59, ExitReason.Vmfunc, 'Vmfunc'],
  [60, ExitReason.Encls, 'Encls'],
  [61, ExitReason.Rdseed, 'Rdseed'],
  [62, ExitReason.PmlFull, 'PmlFull'],
  [63, ExitReason.Xsaves, 'Xsaves'],
  [64, ExitReason.Xrstors, 'Xrstors'],
  [65, ExitReason.Pconfig, 'Pconfig'],
  [66, ExitReason.SppEvent, 'SppEvent'],
  [67, ExitReason.Umwait, 'Umwait'],
  [68, ExitReason.Tpause, 'Tpause'],
  [69, ExitReason.Loadiwkey, 'Loadiwkey'],
  [70, ExitReason.Enclv, 'Enclv'],
  [72, ExitReason.EnqcmdPasidTranslationFailure, 'EnqcmdPasidTranslationFailure'],
  [73, ExitReason.EnqcmdsPasidTranslationFailure, 'EnqcmdsPasidTranslationFailure'],
  [74, ExitReason.BusLock, 'BusLock'],
  [75, ExitReason.InstructionTimeout, 'InstructionTimeout'],
  [76, ExitReason.Seamcall, 'Seamcall'],
  [77, ExitReason.Tdcall, 'Tdcall'],
];

describe('basic exit reasons (SDM Vol. 3C Appendix C, Table C-1)', () => {
  it('each enum member has its SDM number and its name in the table', () => {
    for (const [n, reason, name] of TABLE_C1) {
      expect([name, reason]).toEqual([name, n]);
      expect(exitReasonName(n)).toBe(name);
      expect(exitReasonInfo(n)?.description.length).toBeGreaterThan(0);
    }
    expect(EXIT_REASONS.length).toBe(TABLE_C1.length);
  });

  it('unassigned numbers 35, 38, 42, 71 and numbers past the table have no entry', () => {
    for (const n of [35, 38, 42, 71, 78, 0xffff]) {
      expect(exitReasonInfo(n)).toBeUndefined();
      expect(exitReasonName(n)).toBe(`Reason${n}`);
    }
  });
});

describe('exit-reason field (SDM Vol. 3C §25.9.1)', () => {
  it('puts the basic reason in bits 15:0 and the flags at bits 26, 27, 28, 29, 31', () => {
    expect(ExitReasonBits.BasicMask).toBe(0xffff);
    expect(ExitReasonBits.BusLockDetected).toBe(0x0400_0000);
    expect(ExitReasonBits.EnclaveMode).toBe(0x0800_0000);
    expect(ExitReasonBits.PendingMtf).toBe(0x1000_0000);
    expect(ExitReasonBits.FromVmxRoot).toBe(0x2000_0000);
    expect(ExitReasonBits.VmentryFailure).toBe(0x8000_0000);
  });

  it('a failed VM entry for invalid guest state reads 0x80000021', () => {
    const field = exitReasonField(ExitReason.VmentryFailureGuestState, ExitReasonBits.VmentryFailure);
    expect(field).toBe(0x8000_0021);
    expect(basicExitReason(field)).toBe(33);
    expect(isVmentryFailure(field)).toBe(true);
    expect(formatExitReason(field)).toBe('VmentryFailureGuestState|vmentryFailure');
  });

  it('an ordinary exit has no flags', () => {
    const field = exitReasonField(ExitReason.EptViolation);
    expect(field).toBe(48);
    expect(isVmentryFailure(field)).toBe(false);
    expect(formatExitReason(field)).toBe('EptViolation');
    expect(formatExitReason(0x3c00_0000 | 1)).toBe('ExternalInterrupt|busLockDetected|enclaveMode|pendingMtf|fromVmxRoot');
  });
});
