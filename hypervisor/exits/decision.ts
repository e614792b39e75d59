/**
 * What an exit handler decided, which the core runner carries out and the
 * exit trace records ("who handled it", DESIGN decision 8).
 */
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import type { VmOutcome } from '../vm.ts';

export type Decision =
  /** Enter the guest again at the same RIP (the cause was dealt with, e.g. memory mapped). */
  | { readonly kind: 'resume'; readonly handler: string }
  /** Enter the guest again past the exiting instruction (it was emulated). */
  | { readonly kind: 'skip'; readonly handler: string }
  /** The VM ends with `outcome`; its vCPUs do not run again. */
  | { readonly kind: 'stop'; readonly handler: string; readonly outcome: VmOutcome };

export type ExitHandler = (vcpu: Vcpu, exit: ExitEvent) => Decision;

export const skip = (handler: string): Decision => ({ kind: 'skip', handler });
export const resume = (handler: string): Decision => ({ kind: 'resume', handler });
export const stop = (handler: string, outcome: VmOutcome): Decision => ({ kind: 'stop', handler, outcome });
