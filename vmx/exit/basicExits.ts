/**
 * CPUID, which exits unconditionally in VMX non-root operation (SDM Vol.
 * 3C §26.1.2), and HLT with "HLT exiting" (§26.1.3). Neither has an exit
 * qualification (§28.2.1: cleared to 0).
 */
import { Intercept } from '../../cpu/vmxPort.ts';
import { primaryControls, bit } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const HLT_EXITING = bit('proc', 'hltExiting');

export const BASIC_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.Cpuid, (s, c, i) => {
    instructionExit(s, c, i, ExitReason.Cpuid);
    return true;
  }],
  [Intercept.Hlt, (s, c, i) => {
    if ((primaryControls(s.vmcs) & HLT_EXITING) === 0) return false;
    instructionExit(s, c, i, ExitReason.Hlt);
    return true;
  }],
];
