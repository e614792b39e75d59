/**
 * Instructions that exit in VMX non-root operation on their own (SDM Vol.
 * 3C §26.1.2: INVD, XSETBV) or on a VM-execution control (§26.1.3), other
 * than CPUID and HLT (basicExits.ts), the control-register, debug-register,
 * I/O and MSR accesses (accessExits.ts) and the VMX instructions. The TSC
 * readers, PAUSE and the descriptor-table instructions have files of
 * their own, gathered here.
 *
 * Qualifications (§28.2.1): INVLPG its linear address, INVPCID its
 * displacement, MWAIT bit 0 = the monitoring hardware was armed, the others
 * 0. Instruction information (§28.2.5): INVPCID and RDRAND/RDSEED.
 *
 * Not here because they #UD before they could exit: GETSEC (CR4.SMXE can
 * never be set in this model) and RSM (the model has no SMM).
 */
import type { Insn } from '../../cpu/decode/insn.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { requireCpl0 } from '../../cpu/system/privilege.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls, secondaryControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { DESCRIPTOR_TABLE_INTERCEPTS } from './descriptorTableExits.ts';
import { memoryOperand, operandSize, reg1, reg2 } from './instructionInformation.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptFn, InterceptRow } from './interceptRow.ts';
import { displacementQualification, linearAddressQualification } from './operandQualification.ts';
import { PAUSE_INTERCEPTS } from './pauseExits.ts';
import { TSC_INTERCEPTS } from './tscExits.ts';

const INVLPG_EXITING = bit('proc', 'invlpgExiting');
const MWAIT_EXITING = bit('proc', 'mwaitExiting');
const RDPMC_EXITING = bit('proc', 'rdpmcExiting');
const MONITOR_EXITING = bit('proc', 'monitorExiting');
const WBINVD_EXITING = bit('proc2', 'wbinvdExiting');
const RDRAND_EXITING = bit('proc2', 'rdrandExiting');
const ENABLE_INVPCID = bit('proc2', 'enableInvpcid');
const RDSEED_EXITING = bit('proc2', 'rdseedExiting');

/** Exits with `reason` and qualification 0 whatever the controls (§26.1.2). */
const unconditional = (reason: ExitReason): InterceptFn => (s, c, i) => {
  instructionExit(s, c, i, reason);
  return true;
};

/**
 * Exits with `reason` and qualification 0 when control `mask` of
 * `controls` is 1 (§26.1.3), with the instruction information `information`
 * gives, if the instruction has one.
 */
function exitsOn(controls: (v: VmcsImage) => number, mask: number, reason: ExitReason, information?: (i: Insn) => number): InterceptFn {
  return (s, c, i) => {
    if ((controls(s.vmcs) & mask) === 0) return false;
    instructionExit(s, c, i, reason, 0, 0, information ? information(i) : -1);
    return true;
  };
}

/** RDRAND and RDSEED: the destination register (6:3) and operand size (12:11), §28.2.5. */
const randomInformation = (i: Insn): number => reg1(i.rm) | operandSize(i);

export const INSTRUCTION_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.Invd, unconditional(ExitReason.Invd)],
  [Intercept.Xsetbv, unconditional(ExitReason.Xsetbv)],
  [Intercept.Wbinvd, exitsOn(secondaryControls, WBINVD_EXITING, ExitReason.Wbinvd)],
  [Intercept.Rdpmc, exitsOn(primaryControls, RDPMC_EXITING, ExitReason.Rdpmc)],
  [Intercept.Monitor, exitsOn(primaryControls, MONITOR_EXITING, ExitReason.Monitor)],
  [Intercept.Mwait, (s, c, i) => {
    if ((primaryControls(s.vmcs) & MWAIT_EXITING) === 0) return false;
    instructionExit(s, c, i, ExitReason.Mwait, c.monitorArmed ? 1 : 0);
    return true;
  }],
  [Intercept.Invlpg, (s, c, i) => {
    if ((primaryControls(s.vmcs) & INVLPG_EXITING) === 0) return false;
    const qualLo = linearAddressQualification(c, i);
    instructionExit(s, c, i, ExitReason.Invlpg, qualLo, c.opHi);
    return true;
  }],
  // "Enable INVPCID" = 0: #UD ahead of every other exception (§26.3). Else "INVLPG exiting" decides,
  // after the CPL check that has priority over the exit (§26.1.1); the exec asked before making it.
  [Intercept.Invpcid, (s, c, i) => {
    if ((secondaryControls(s.vmcs) & ENABLE_INVPCID) === 0) fault(Vector.UD);
    if ((primaryControls(s.vmcs) & INVLPG_EXITING) === 0) return false;
    requireCpl0(c);
    const info = memoryOperand(i) | reg2(i.reg);
    const qualLo = displacementQualification(c, i);
    instructionExit(s, c, i, ExitReason.Invpcid, qualLo, c.opHi, info >>> 0);
    return true;
  }],
  [Intercept.Rdrand, exitsOn(secondaryControls, RDRAND_EXITING, ExitReason.Rdrand, randomInformation)],
  [Intercept.Rdseed, exitsOn(secondaryControls, RDSEED_EXITING, ExitReason.Rdseed, randomInformation)],
  ...TSC_INTERCEPTS,
  ...PAUSE_INTERCEPTS,
  ...DESCRIPTOR_TABLE_INTERCEPTS,
];
