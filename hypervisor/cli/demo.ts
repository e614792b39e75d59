/**
 * `turtles demo` (what `npm start` ran before the L1 hypervisor): the
 * project's own multiboot test kernel (guests/kernels/testkernel.asm) booted
 * on a 4-core machine as QEMU's -kernel would boot it. The kernel reports
 * over COM1, which streams here; then the demo says how the machine stopped
 * and what each core did.
 */
import { Machine } from '../../cpu/machine/machine.ts';
import { describeStop } from '../../cpu/machine/stop.ts';
import { buildKernel, TEST_KERNEL_SOURCE } from '../../guests/kernels/build.ts';
import { parseOptions, UsageError } from './args.ts';

const PASSED = (0x10 << 1) | 1;

export async function runDemo(argv: string[]): Promise<number> {
  let cpus = 4;
  try {
    const opts = parseOptions(argv, { '--cpus': { kind: 'number' } });
    cpus = (opts.get('--cpus') as number | undefined) ?? cpus;
    if (cpus < 1 || cpus > 64) throw new UsageError(`option '--cpus' must be 1-64, got ${cpus}`);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`turtles demo: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const image = await buildKernel(TEST_KERNEL_SOURCE);
  const m = new Machine({ cpus, memoryMiB: 64, serial: { onOutput: (b) => process.stdout.write(String.fromCharCode(b)) } });
  m.loadMultiboot(image, { fileName: 'testkernel' });
  console.log(`turtles demo: booting the project's multiboot test kernel (${image.length} bytes) on ${cpus} cores, root mode, no hypervisor`);
  console.log('--- COM1 ---');
  const stop = m.run({ maxInstructions: 100_000_000 });
  console.log('---');
  console.log(describeStop(stop) + (stop.kind === 'exit' && stop.code === PASSED ? ' (all checks passed)' : ''));
  for (const [k, c] of m.cpus.entries()) {
    console.log(`core ${k}${k === 0 ? ' (BSP)' : ''}: ${c.icount.toLocaleString('en-US')} instructions retired, clock ${c.clock.toLocaleString('en-US')} ticks`);
  }
  // Everything printed is deterministic: the same on every run and every host (no host time).
  console.log(`${m.retired.toLocaleString('en-US')} instructions retired in all; ${m.blocks.size} decoded blocks cached; ${(m.phys.allocatedBytes >> 10).toLocaleString('en-US')} KiB of guest RAM touched`);
  return stop.kind === 'exit' && stop.code === PASSED ? 0 : 1;
}
