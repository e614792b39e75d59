import type { MsrDef } from './msrDef.ts';

// Filled in by the interrupt-controller and MSR work (TSC, TSC_AUX, APIC_BASE, x2APIC, PAT, MTRRs, FEATURE_CONTROL, MISC_ENABLE...).
export const PLATFORM_MSRS: MsrDef[] = [];
