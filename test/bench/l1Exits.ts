/**
 * Issue 6's benchmark: VM exits handled per second by L1 for a guest
 * looping on CPUID and one looping on port I/O (OUT to its console), each
 * exit going through L1's whole path (VMREAD of the exit, the handler, the
 * trace record, RIP advance, VMRESUME); and the retired-instructions-per-
 * exit ratio of the whole L2 suite.
 */
import { performance } from 'node:perf_hooks';
import { assemble, initAssembler } from '../../guests/assembler.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { findScenario, runScenario } from '../../hypervisor/scenarios.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';

const LOOPS: Record<string, string> = {
  CPUID: 'l: xor eax, eax\ncpuid\njmp l',
  'port I/O': 'mov dx, 0x3f8\nl: mov al, 0x2e\nout dx, al\njmp l',
};

/** Exits L1 handles per host second on `guest` over `instructions` machine instructions. */
export async function l1ExitsPerSecond(name: string, instructions: number): Promise<number> {
  await initAssembler();
  const l1 = new L1();
  l1.addLongModeVcpu(l1.createVm(name), assemble(LOOPS[name]!, 64, GUEST_CODE));
  l1.run(20_000); // warm-up
  const before = l1.trace.length;
  const t0 = performance.now();
  l1.machine.run({ maxInstructions: instructions });
  return (l1.trace.length - before) / ((performance.now() - t0) / 1000);
}

export const L1_LOOPS = Object.keys(LOOPS);

/** Retired instructions per L1-handled exit over the whole default suite. */
export async function suiteInstructionsPerExit(): Promise<number> {
  const r = await runScenario(findScenario('suite')!);
  return r.l1.machine.retired / r.trace.length;
}
