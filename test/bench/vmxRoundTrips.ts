/**
 * The VM exit + VM entry round trip of issue 4's benchmark: a guest looping
 * on VMCALL whose native handler only does VMRESUME, and a guest looping on
 * CPUID whose handler advances the guest RIP by the VM-exit instruction
 * length first. The handlers use the same VMX operations as the decoded
 * instructions (DESIGN decision 1), through the TypeScript harness's core.
 */
import { performance } from 'node:perf_hooks';
import { nativeHandlerAddress } from '../../vmx/transition/nativeHandlers.ts';
import { vmEntry } from '../../vmx/transition/vmEntry.ts';
import { readField, vmread, vmwrite } from '../../vmx/unit/vmcsAccess.ts';
import { vmcs } from '../../vmx/vmcs/fields.ts';
import { VmxHarness } from '../support/vmxHarness.ts';

export type RoundTripKind = 'vmcall' | 'cpuid';

const GUEST: Record<RoundTripKind, string> = {
  vmcall: 'vmcall',
  cpuid: 'l: xor eax, eax\ncpuid\njmp l',
};

const RIP = vmcs.guestRip.encoding, LENGTH = vmcs.vmExitInstructionLength.encoding;

/** Round trips per host second over `exits` round trips (after a warm-up run). */
export async function roundTripsPerSecond(kind: RoundTripKind, exits: number): Promise<number> {
  const h = await VmxHarness.create(GUEST[kind]);
  let count = 0;
  h.core.registerNative(nativeHandlerAddress(0), (c, core) => {
    count++;
    if (kind === 'cpuid') {
      vmread(core, c, RIP);
      const lo = readField(core, c, RIP), hi = c.opHi;
      vmread(core, c, LENGTH);
      const len = readField(core, c, LENGTH);
      // A guest RIP below 4 GiB here: no carry into bits 63:32.
      vmwrite(core, c, RIP, (lo >>> 0) + len, hi);
    }
    vmEntry(core, c, false);
  });
  h.core.onTransition = null;
  h.launch(1000); // warm-up
  count = 0;
  const t0 = performance.now();
  while (count < exits) {
    const stop = h.run(1_000_000);
    if (stop.kind !== 'limit') throw new Error(`round-trip bench stopped: ${JSON.stringify(stop)}`);
  }
  return count / ((performance.now() - t0) / 1000);
}

export const ROUND_TRIP_KINDS: readonly RoundTripKind[] = ['vmcall', 'cpuid'];
