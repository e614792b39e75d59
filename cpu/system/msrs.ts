import type { MsrDef } from '../msr/msrDef.ts';

// Filled in by the system-architecture work (EFER, STAR/LSTAR/CSTAR/FMASK, FS/GS/KERNEL_GS base, SYSENTER_*).
export const SYSTEM_MSRS: MsrDef[] = [];
