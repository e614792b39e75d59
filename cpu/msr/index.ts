/**
 * The machine's MSRs: every area's rows in one table, looked up by index
 * (RDMSR/WRMSR of an index not in it raise #GP(0), SDM Vol. 4).
 */
import { SYSTEM_MSRS } from '../system/msrs.ts';
import type { MsrDef } from './msrDef.ts';
import { PLATFORM_MSRS } from './platform.ts';

export const ALL_MSRS: readonly MsrDef[] = [...SYSTEM_MSRS, ...PLATFORM_MSRS];

let byIndex: Map<number, MsrDef> | undefined;

export function findMsr(index: number): MsrDef | undefined {
  if (!byIndex) {
    byIndex = new Map();
    for (const m of ALL_MSRS) {
      if (byIndex.has(m.index >>> 0)) throw new Error(`MSR 0x${(m.index >>> 0).toString(16)} defined twice`);
      byIndex.set(m.index >>> 0, m);
    }
  }
  return byIndex.get(index >>> 0);
}
