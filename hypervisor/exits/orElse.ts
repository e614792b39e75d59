/**
 * A handler that takes only some exits of a reason (the virtual APIC's
 * MSRs among RDMSR exits, CR8 among control-register exits), chained in
 * front of the reason's general handler in the dispatch table.
 */
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import type { Decision, ExitHandler } from './decision.ts';

/** A handler's decision, or null for an exit it leaves to the next one. */
export type PartialHandler = (vcpu: Vcpu, exit: ExitEvent) => Decision | null;

export const orElse = (first: PartialHandler, then: ExitHandler): ExitHandler =>
  (vcpu, exit) => first(vcpu, exit) ?? then(vcpu, exit);
