/**
 * Exits for accesses to control registers, debug registers, I/O ports and
 * MSRs in VMX non-root operation (SDM Vol. 3C §26.1.3; qualifications of
 * §28.2.1), one file per family.
 */
import { CR_ACCESS_INTERCEPTS } from './crAccessExits.ts';
import type { InterceptRow } from './interceptRow.ts';
import { IO_INTERCEPTS } from './ioExits.ts';
import { MOV_DR_INTERCEPTS } from './movDrExits.ts';
import { MSR_INTERCEPTS } from './msrBitmapExits.ts';

export const ACCESS_INTERCEPTS: readonly InterceptRow[] = [
  ...CR_ACCESS_INTERCEPTS,
  ...MOV_DR_INTERCEPTS,
  ...IO_INTERCEPTS,
  ...MSR_INTERCEPTS,
];
