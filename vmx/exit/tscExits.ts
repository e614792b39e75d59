/**
 * RDTSC, RDTSCP and RDPID in VMX non-root operation (SDM Vol. 3C §26.1.3,
 * §26.3): "RDTSC exiting" makes RDTSC exit (reason 16) and RDTSCP exit
 * (reason 51), with no qualification; "enable RDTSCP" = 0 makes RDTSCP
 * raise #UD, ahead of any other exception it may incur. RDPID is gated by
 * the same control and never exits. The reads that do not exit see the
 * TSC through guestTsc.ts.
 *
 * RDTSCP asks before its own checks (the #UD comes first), so its row
 * applies the CR4.TSD privilege check, which has priority over the exit
 * (§26.1.1), before exiting. RDTSC has made that check when it asks.
 */
import { fault, Vector } from '../../cpu/exceptions.ts';
import { requireTscAccess } from '../../cpu/tsc.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { bit, primaryControls, secondaryControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const RDTSC_EXITING = bit('proc', 'rdtscExiting');
const ENABLE_RDTSCP = bit('proc2', 'enableRdtscp');

const rdtscExiting = (v: VmcsImage): boolean => (primaryControls(v) & RDTSC_EXITING) !== 0;

/** #UD in non-root operation unless "enable RDTSCP" is 1 (with "activate secondary controls" = 0 it reads as 0). */
function requireRdtscpEnabled(v: VmcsImage): void {
  if ((secondaryControls(v) & ENABLE_RDTSCP) === 0) fault(Vector.UD);
}

export const TSC_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.Rdtsc, (s, c, i) => {
    if (!rdtscExiting(s.vmcs)) return false;
    instructionExit(s, c, i, ExitReason.Rdtsc);
    return true;
  }],
  [Intercept.Rdtscp, (s, c, i) => {
    requireRdtscpEnabled(s.vmcs);
    if (!rdtscExiting(s.vmcs)) return false;
    requireTscAccess(c);
    instructionExit(s, c, i, ExitReason.Rdtscp);
    return true;
  }],
  [Intercept.Rdpid, (s) => {
    requireRdtscpEnabled(s.vmcs);
    return false;
  }],
];
