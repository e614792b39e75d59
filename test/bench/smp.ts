/**
 * SMP scaling (issue 3): the same total work, an ALU loop of 2 instructions
 * per iteration, split over 1 and over 4 cores of one machine. All cores
 * run on the one host thread (DESIGN decision 2), so the ideal ratio is
 * 1.0; what it costs above that is the scheduler's and the cores' overhead.
 */
import { performance } from 'node:perf_hooks';
import { Activity } from '../../cpu/cpu.ts';
import { enterAt } from '../../cpu/loaders/entry.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';

const LOAD = 0x40000;
const TOTAL_ITERATIONS = 10_000_000;

/** Host seconds to retire TOTAL_ITERATIONS * 2 instructions spread over `cpus` cores. */
export async function smpSeconds(cpus: number): Promise<number> {
  const code = await asm('l: dec rcx\njnz l\nhlt', 64, LOAD);
  const m = new Machine({ cpus, memoryMiB: 16 });
  const entry = m.loadFlat(code, { fileName: 'smp-bench', address: LOAD, bits: 64 });
  for (const c of m.cpus) {
    enterAt(c, entry);
    c.r[2] = TOTAL_ITERATIONS / cpus; // rcx (low half)
    c.activity = Activity.Active;
  }
  const t0 = performance.now();
  const stop = m.run();
  const seconds = (performance.now() - t0) / 1000;
  if (stop.kind !== 'idle') throw new Error(`SMP bench stopped early: ${stop.kind}`);
  return seconds;
}
