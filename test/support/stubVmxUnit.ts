/** A VmxUnit for tests of the core's VMX seam: never exits, does nothing, unless a test overrides a member. */
import type { VmxUnit } from '../../cpu/vmxPort.ts';

export function stubVmxUnit(over: Partial<VmxUnit> = {}): { -readonly [K in keyof VmxUnit]: VmxUnit[K] } {
  return {
    blocksInit: false,
    findMsr: () => undefined,
    execute: () => {},
    intercept: () => false,
    shadowCr: (c, _n, v) => { c.opHi = 0; return v; },
    loadCr: (c, _n, lo, hi) => { c.opHi = hi; return lo; },
    guestTsc: (c, lo, hi) => { c.opHi = hi; return lo; },
    eventExit: () => false,
    tripleFaultExit: () => false,
    completeExit: () => {},
    atBoundary: () => {},
    taskSwitchExit: () => {},
    ...over,
  };
}
