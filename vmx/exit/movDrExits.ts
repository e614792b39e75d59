/**
 * MOV DR in VMX non-root operation (SDM Vol. 3C §26.1.3): with "MOV-DR
 * exiting" every MOV to or from a debug register exits, basic reason 29,
 * qualification of §28.2.1 Table 28-4 "Exit Qualification for MOV DR":
 * 2:0 the debug register as the instruction names it (DR4 stays 4),
 * 4 direction (0 MOV to DR, 1 MOV from DR), 11:8 the general-purpose
 * register, the other bits 0.
 *
 * These exits "take priority over ... general-protection exceptions based
 * on privilege level; and invalid-opcode exceptions that occur because
 * CR4.DE = 1 and the instruction specified access to DR4 or DR5"
 * (§26.1.3, the exception to §26.1.1), and, as fault-like exits, over the
 * general-detect #DB: the exec asks before any of its checks. The #UD of
 * REX.R (no DR8-DR15) is a decode-time invalid opcode and stays first.
 */
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const MOV_DR_EXITING = bit('proc', 'movDrExiting');
/** 0F 21: MOV r, DRn (from DR); 0F 23 is MOV DRn, r. */
const MOV_FROM_DR = 0x0f21;

export const MOV_DR_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.MovDr, (s, c, i) => {
    if ((primaryControls(s.vmcs) & MOV_DR_EXITING) === 0) return false;
    const from = i.opcode === MOV_FROM_DR ? 1 : 0;
    instructionExit(s, c, i, ExitReason.MovDr, (i.reg & 7) | (from << 4) | (i.rm << 8));
    return true;
  }],
];
