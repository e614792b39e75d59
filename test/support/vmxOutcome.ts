/**
 * Assertions on how a VMX instruction ended, for tests that run it as root
 * software on a harness core and save RFLAGS in R15 right after it (SDM
 * Vol. 3C §31.2 "Conventions", §31.4 error numbers).
 */
import { expect } from 'vitest';
import type { VmxHarness } from './vmxHarness.ts';

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
export const ARITH = CF | PF | AF | ZF | SF | OF;

export const faulted = (h: VmxHarness, vector: number, errorCode?: number): void =>
  expect(h.t.stop).toMatchObject({ kind: 'exception', vector, ...(errorCode === undefined ? {} : { errorCode }) });
export const halted = (h: VmxHarness): void => expect(h.t.stop).toEqual({ kind: 'halt' });

/** VMsucceed: CF, PF, AF, ZF, SF, OF all clear. */
export function succeeded(h: VmxHarness): void {
  halted(h);
  expect(Number(h.reg('r15')) & ARITH).toBe(0);
}

/** VMfailValid(error): ZF alone, and the error number in the current VMCS. */
export function failedValid(h: VmxHarness, error: bigint): void {
  halted(h);
  expect(Number(h.reg('r15')) & ARITH).toBe(ZF);
  expect(h.read('vmInstructionError')).toBe(error);
}

/** VMfailInvalid: CF alone. */
export function failedInvalid(h: VmxHarness): void {
  halted(h);
  expect(Number(h.reg('r15')) & ARITH).toBe(CF);
}
