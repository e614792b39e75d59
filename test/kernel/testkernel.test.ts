/**
 * The project's multiboot test kernel (guests/kernels/testkernel.asm) booted
 * on the machine as QEMU's -kernel would boot it: long mode, exceptions with
 * their error codes and CR2, #DF, the APIC timer, INIT-SIPI-SIPI bring-up of
 * every AP, IPIs — reported over the UART, ending through isa-debug-exit.
 * And the machine's determinism (DESIGN decision 3): two runs give the same
 * serial bytes and the same instruction count on every core.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../cpu/machine/machine.ts';
import { buildKernel, TEST_KERNEL_SOURCE } from '../../guests/kernels/build.ts';

const PASSED_EXIT_CODE = (0x10 << 1) | 1;

async function boot(cpus: number) {
  const image = await buildKernel(TEST_KERNEL_SOURCE);
  const m = new Machine({ cpus, memoryMiB: 64 });
  m.loadMultiboot(image, { fileName: 'testkernel' });
  const stop = m.run({ maxInstructions: 40_000_000 });
  return { m, stop, serial: new TextDecoder().decode(m.serialOutput) };
}

describe('test kernel', () => {
  for (const cpus of [1, 2, 4]) {
    it(`passes every check on ${cpus} core${cpus > 1 ? 's' : ''}`, async () => {
      const { stop, serial } = await boot(cpus);
      expect(serial, serial).toContain('all checks passed');
      expect(stop).toEqual({ kind: 'exit', code: PASSED_EXIT_CODE });
      for (const check of ['long mode', '#UD', '#DE', '#BP', '#GP', '#PF read', '#PF write', '#DF', 'fw_cfg cpu count', 'apic timer one-shot', 'apic timer periodic']) {
        expect(serial).toContain(`ok ${check}\n`);
      }
      if (cpus > 1) {
        expect(serial).toContain('ok all APs started\n');
        expect(serial).toContain('ok IPIs\n');
        for (let id = 1; id < cpus; id++) expect(serial).toContain(`AP up, APIC ID 0${id}\n`);
      }
    });
  }

  it('two runs on 4 cores are identical: serial bytes and per-core instruction counts', async () => {
    const a = await boot(4);
    const b = await boot(4);
    expect(Buffer.from(b.m.serialOutput).equals(Buffer.from(a.m.serialOutput))).toBe(true);
    expect(b.m.cpus.map((c) => c.icount)).toEqual(a.m.cpus.map((c) => c.icount));
    expect(b.stop).toEqual(a.stop);
  });
});
