/**
 * The platform's MSR rows (the system part's are in cpu/system/msrs.ts):
 * time-stamp counter, local APIC (base, TSC deadline, x2APIC registers),
 * memory types (PAT, MTRRs), identification and feature control. Only MSRs
 * the CPU model implies are here; every other index raises #GP(0).
 *
 * Not modelled: the machine-check MSRs (IA32_MCG_*), since the model
 * reports neither MCE nor MCA, and IA32_SPEC_CTRL and friends, since it
 * reports none of the speculation-control features.
 */
import { APIC_MSRS } from '../devices/apic/apicMsrs.ts';
import { FEATURE_MSRS } from './featureMsrs.ts';
import { MEMORY_TYPE_MSRS } from './memoryTypeMsrs.ts';
import type { MsrDef } from './msrDef.ts';
import { TSC_MSRS } from './tscMsrs.ts';

export const PLATFORM_MSRS: MsrDef[] = [...TSC_MSRS, ...APIC_MSRS, ...MEMORY_TYPE_MSRS, ...FEATURE_MSRS];
