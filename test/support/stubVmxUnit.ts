/** A VmxUnit for tests of the core's VMX seam: never exits, does nothing, unless a test overrides a member. */
import type { VmxUnit } from '../../cpu/vmxPort.ts';

export function stubVmxUnit(over: Partial<VmxUnit> = {}): { -readonly [K in keyof VmxUnit]: VmxUnit[K] } {
  return {
    blocksInit: false,
    findMsr: () => undefined,
    execute: () => {},
    intercept: () => false,
    eventExit: () => false,
    tripleFaultExit: () => false,
    atBoundary: () => {},
    ...over,
  };
}
