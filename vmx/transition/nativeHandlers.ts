/**
 * Native host code (DESIGN decision 2): a TypeScript handler registered for
 * an address in a reserved region of host linear address space runs when a
 * VM exit loads a HOST_RIP there, instead of instructions being fetched.
 * The handler plays root-mode software: it may use only the operations the
 * decoded instructions use (vmresume, vmread, ... on the same core), and it
 * ends by entering the guest again, halting the core or stopping the run.
 *
 * The region is the top 256 MByte of the 64-bit canonical address space,
 * FFFFFFFF_F0000000H up: canonical, so HOST_RIP passes the host-state
 * checks (§27.2.3), and far from where test kernels and the hypervisor map
 * anything.
 */
import type { Cpu } from '../../cpu/cpu.ts';

/** First address of the region, as the sign-extended number the core keeps in RIP. */
export const NATIVE_REGION_BASE = -0x10000000;
export const NATIVE_REGION_SIZE = 0x10000000;

/** A native handler; `core` is the core's VMX unit, for the VMX operations. */
export type NativeHandler<U> = (c: Cpu, core: U) => void;

export function inNativeRegion(rip: number): boolean {
  return rip >= NATIVE_REGION_BASE && rip < NATIVE_REGION_BASE + NATIVE_REGION_SIZE;
}

/** HOST_RIP value of native handler slot `k` (16 bytes apart, like a table of stubs). */
export function nativeHandlerAddress(k: number): number {
  return NATIVE_REGION_BASE + 16 * k;
}
