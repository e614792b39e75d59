/**
 * Time-stamp counter MSRs (SDM Vol. 3B §18.17): IA32_TIME_STAMP_COUNTER
 * (10H), IA32_TSC_ADJUST (3BH, §18.17.3) and IA32_TSC_AUX (C0000103H).
 * The TSC is ticks × clock + c.tscOffset (cpu/tsc.ts); a write moves the
 * offset. Writing the TSC adds the same difference to IA32_TSC_ADJUST, and
 * writing IA32_TSC_ADJUST adds its difference to the TSC, so the two stay
 * consistent. Values are exact while they fit in 53 bits.
 *
 * In VMX non-root operation RDMSR of the TSC reads it offset and scaled as
 * RDTSC does, while WRMSR writes the real counter, "without regard to the
 * TSC offset" (SDM Vol. 3C §26.3 RDMSR, WRMSR; cpu/tsc.ts readSoftwareTsc).
 */
import type { Cpu } from '../cpu.ts';
import { localApicOf } from '../devices/apic/registry.ts';
import { fault, Vector } from '../exceptions.ts';
import { joinSigned, TWO32 } from '../registers.ts';
import { readSoftwareTsc, readTsc } from '../tsc.ts';
import type { MsrDef } from './msrDef.ts';
import { loadMsr, storeMsr } from './platformState.ts';

const IA32_TSC_ADJUST = 0x3b;

function tscAdjust(c: Cpu): number {
  const lo = loadMsr(c, IA32_TSC_ADJUST, 0, 0);
  return joinSigned(lo, c.opHi);
}

/** Moves the TSC by `delta` ticks, with IA32_TSC_ADJUST following, and re-times a TSC deadline. */
function moveTsc(c: Cpu, delta: number): void {
  c.tscOffset += delta;
  const adjust = tscAdjust(c) + delta;
  storeMsr(c, IA32_TSC_ADJUST, adjust | 0, Math.floor(adjust / TWO32) | 0);
  localApicOf(c)?.timer.tscChanged();
}

const tsc: MsrDef = {
  index: 0x10,
  name: 'IA32_TIME_STAMP_COUNTER',
  read: readSoftwareTsc,
  write: (c, lo, hi) => moveTsc(c, joinSigned(lo, hi) - readTsc(c)),
};

function requireTscAdjust(c: Cpu): void {
  if (!c.model.has('tscAdjust')) fault(Vector.GP, 0);
}

const tscAdjustMsr: MsrDef = {
  index: IA32_TSC_ADJUST,
  name: 'IA32_TSC_ADJUST',
  read(c) {
    requireTscAdjust(c);
    return loadMsr(c, IA32_TSC_ADJUST, 0, 0);
  },
  write(c, lo, hi) {
    requireTscAdjust(c);
    moveTsc(c, joinSigned(lo, hi) - tscAdjust(c));
  },
};

/** IA32_TSC_AUX exists with RDTSCP or RDPID; bits 63:32 are reserved (#GP(0) if set). */
function requireTscAux(c: Cpu): void {
  if (!c.model.has('rdtscp') && !c.model.has('rdpid')) fault(Vector.GP, 0);
}

const tscAux: MsrDef = {
  index: 0xc0000103,
  name: 'IA32_TSC_AUX',
  read(c) {
    requireTscAux(c);
    c.opHi = 0;
    return c.tscAux;
  },
  write(c, lo, hi) {
    requireTscAux(c);
    if (hi !== 0) fault(Vector.GP, 0);
    c.tscAux = lo | 0;
  },
};

export const TSC_MSRS: MsrDef[] = [tsc, tscAdjustMsr, tscAux];
