/**
 * An L2 test guest (DESIGN decision 9): 64-bit Intel-syntax assembly that
 * L1 places at GUEST_CODE and enters in 64-bit mode with identity paging
 * (hypervisor/vm.ts). The guest checks its own results and reports through
 * the ucall convention (hypervisor/exits/ucall.ts; helpers in ucall.ts
 * here); the suite summary then says whether the VM ended as expected.
 */
import type { Vm } from '../../hypervisor/vm.ts';

/**
 * How the VM is expected to end (hypervisor/vm.ts VmOutcome): passed, or
 * failed/stopped with an outcome detail that contains `detail`, or not at
 * all — still running when the instruction limit stops the machine (a
 * guest that loops forever on purpose, as the bad-input guests do).
 */
export type Expectation =
  | { readonly kind: 'passed' }
  | { readonly kind: 'running' }
  | { readonly kind: 'failed' | 'stopped'; readonly detail: string };

export interface L2Guest {
  /** Unique, kebab-case: the VM's name, the `turtles run` argument and the golden trace's file name. */
  readonly name: string;
  /** One line for the summary and `turtles run --help`. */
  readonly description: string;
  readonly expect: Expectation;
  /** The guest's code, assembled for 64-bit mode at GUEST_CODE; every vCPU starts at its first instruction. */
  readonly source: string;
  /** vCPUs of the guest's VM (default 1). */
  readonly vcpus?: number;
  /** Guest RAM in MiB (default 4). */
  readonly memoryMiB?: number;
  /** Sets the VM up before its vCPUs are added: devices (Vm.addMmio) or L1 settings (Vm.interceptExceptions). */
  setup?(vm: Vm): void;
}
