/**
 * The memory loop of loops.ts run as a guest under EPT (issue 5): the
 * harness's flat 64-bit guest, its 4-level paging the host's identity map
 * with 1-GByte pages, under an identity EPT of 4-KByte or 2-MByte pages
 * (test/support/eptBuilder.ts). Measured once the TLB and the MMU's
 * host-view cache are warm, and set against the same loop in root mode
 * (BENCH_LOOPS 'memory loop', flat, no paging unit): the cost EPT adds.
 */
import { performance } from 'node:perf_hooks';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { EptPageSize } from '../support/eptBuilder.ts';
import { VmxHarness } from '../support/vmxHarness.ts';
import { BENCH_LOOPS, prepareLoop } from './loops.ts';

const MEMORY_LOOP = BENCH_LOOPS.find((l) => l.name === 'memory loop')!;
const RAM = 8 << 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Guest MIPS of the memory loop under an identity EPT of `size` pages: median of `runs` runs after a warm-up. */
export async function eptLoopMips(size: EptPageSize, runs: number): Promise<number> {
  const h = await VmxHarness.create(MEMORY_LOOP.source, {
    features: FULL_VMX_MODEL,
    ept: (b) => b.identity(0, RAM, { size }),
  });
  for (const [k, v] of Object.entries(MEMORY_LOOP.regs)) h.t.setReg(k as never, v);
  const warm = h.launch(MEMORY_LOOP.instructions / 10);
  if (warm.kind !== 'limit' || !h.t.cpu.nonRoot) throw new Error(`EPT memory loop stopped: ${JSON.stringify(warm)}`);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const n0 = h.t.cpu.icount, t0 = performance.now();
    h.run(MEMORY_LOOP.instructions);
    rates.push((h.t.cpu.icount - n0) / ((performance.now() - t0) / 1000) / 1e6);
  }
  return median(rates);
}

/** The root loop's MIPS, measured as run.ts does. */
async function rootLoopMips(runs: number): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const t = await prepareLoop(MEMORY_LOOP);
    const t0 = performance.now();
    t.cpu.run(MEMORY_LOOP.instructions);
    if (r > 0) rates.push(t.cpu.icount / ((performance.now() - t0) / 1000) / 1e6);
  }
  return median(rates);
}

/** `EPT memory loop (4K / 2M EPT pages): X MIPS (Y× the root loop's time)`, against `rootMips` or a fresh root measurement. */
export async function eptLoopLines(runs: number, rootMips?: number): Promise<string[]> {
  const root = rootMips ?? (await rootLoopMips(runs));
  const lines: string[] = [];
  for (const size of ['4K', '2M'] as const) {
    const mips = await eptLoopMips(size, runs);
    lines.push(`EPT memory loop (${size} EPT pages): ${mips.toFixed(1)} MIPS (${(root / mips).toFixed(2)}× the root loop's time)`);
  }
  return lines;
}
