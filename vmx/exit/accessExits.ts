/**
 * Exits for accesses to control registers, debug registers, I/O ports and
 * MSRs in VMX non-root operation (SDM Vol. 3C §26.1.3; qualifications of
 * §28.2.1).
 */
import type { InterceptRow } from './interceptRow.ts';

export const ACCESS_INTERCEPTS: readonly InterceptRow[] = [];
