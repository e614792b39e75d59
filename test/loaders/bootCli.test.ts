/**
 * `turtles boot KERNEL`: a small multiboot kernel (32-bit protected mode,
 * no paging or interrupts) prints over COM1 and exits through
 * isa-debug-exit; the process exit status is QEMU's, and every other
 * ending is a one-line report with its own status. Run in-process through
 * runBoot, and once as a child process through `npm run turtles`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_STATUS, runBoot, splitModuleList } from '../../hypervisor/cli/boot.ts';
import { Cpu } from '../../cpu/cpu.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { KERNEL_ENTRY, multibootKernel } from '../support/elf.ts';

const dir = mkdtempSync(join(tmpdir(), 'turtles-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a kernel built from 32-bit `body` (with puts/putc helpers; ESP set up) and returns its path. */
async function kernelFile(name: string, body: string): Promise<string> {
  const image = await multibootKernel(`
      mov esp, 0x90000
      ${body}
    puts: lodsb
      test al, al
      jz done
      call putc
      jmp puts
    done: ret
    putc: push eax
      mov dx, 0x3fd
    busy: in al, dx
      test al, 0x20       ; LSR.THRE
      jz busy
      pop eax
      mov dx, 0x3f8
      out dx, al
      ret
    hello: .asciz "hello from turtles\\n"`);
  const path = join(dir, name);
  writeFileSync(path, image);
  return path;
}

async function boot(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const status = await runBoot(argv, {
    stdout: { write: (b) => (stdout += String.fromCharCode(...b)) },
    stderr: { write: (t) => (stderr += t) },
  });
  return { status, stdout, stderr };
}

// Prints the greeting and the command line, then exits with value 0x21: status (0x21 << 1) | 1 = 0x43.
const HELLO = `
      mov ecx, ebx
      mov esi, hello
      call puts
      mov esi, [ecx + 16]
      call puts
      mov al, 10
      call putc
      mov eax, [ecx + 20]  ; mods_count
      add al, '0'
      call putc
      mov eax, 0x21
      out 0xf4, eax`;

describe('turtles boot', () => {
  it('streams COM1 to stdout and exits with isa-debug-exit\'s (value << 1) | 1', async () => {
    const k = await kernelFile('hello.elf', HELLO);
    const r = await boot([k, '--append', 'console=ttyS0 x=1']);
    expect(r).toEqual({ status: 0x43, stdout: `hello from turtles\n${k} console=ttyS0 x=1\n0`, stderr: '' });
  });

  it('passes modules (--initrd, repeated or comma-separated) and the CPU and memory options', async () => {
    const k = await kernelFile('mods.elf', HELLO);
    const mod = join(dir, 'mod.bin');
    writeFileSync(mod, Uint8Array.of(1, 2, 3));
    const r = await boot(['--cpus', '4', '--memory=64', k, '--initrd', `${mod} arg`, '--initrd', `${mod},${mod}`]);
    expect(r.status).toBe(0x43);
    expect(r.stdout.endsWith('\n3')).toBe(true);
  });

  it.each([
    ['every core halted for good', 'cli\nhlt', BOOT_STATUS.idle, 'turtles boot: every core is halted and no interrupt or timer can wake one\n'],
    ['a reset request (shutdown)', 'mov al, 6\nmov dx, 0xcf9\nout dx, al\nhlt', BOOT_STATUS.shutdown, 'turtles boot: guest requested a reset through the reset control register (port 0xcf9); the machine stops instead of rebooting\n'],
  ])('ends on %s with a one-line report and its own status', async (_what, body, status, report) => {
    const r = await boot([await kernelFile(`end${status}.elf`, body)]);
    expect(r.status).toBe(status);
    expect(r.stderr.startsWith(report)).toBe(true);
    expect(r.stderr.split('\n').length).toBe(2);
  });

  it('ends at the instruction limit with status 8', async () => {
    const r = await boot([await kernelFile('loop.elf', 'l: jmp l'), '--max-instructions', '5000']);
    expect(r).toEqual({ status: BOOT_STATUS.limit, stdout: '', stderr: 'turtles boot: instruction limit reached (5000 instructions over 1 core)\n' });
  });

  it('ends on a fault with no usable IDT: a triple fault (status 4) with IDT delivery, else an unhandled exception (status 12)', async () => {
    const r = await boot([await kernelFile('fault.elf', 'ud2')]);
    const bare = new Cpu({ phys: new PhysicalMemory(4096) });
    const delivered = new Machine({ memoryMiB: 2 }).cpus[0]!.onException !== bare.onException; // wiring.ts installed IDT delivery
    if (delivered) {
      expect(r.status).toBe(BOOT_STATUS.tripleFault);
      expect(r.stderr).toMatch(/^turtles boot: core 0 entered the shutdown state: .*#UD/);
    } else {
      expect(r.status).toBe(BOOT_STATUS.exception);
      expect(r.stderr).toBe(`turtles boot: unhandled #UD on core 0 at rip=0x${(KERNEL_ENTRY + 5).toString(16)} (no exception delivery installed)\n`);
    }
    expect(r.stderr.split('\n').length).toBe(2);
  });
});

describe('turtles boot: bad input is one line and status 2, before anything runs', () => {
  it.each([
    [['--cpus', '2'], 'turtles boot: no KERNEL file given\n'],
    [['a', 'b'], "turtles boot: one KERNEL file expected, got 'a', 'b'\n"],
    [['k', '--smp', '2'], "turtles boot: unknown option '--smp'\n"],
    [['k', '--cpus', 'two'], "turtles boot: option '--cpus' needs a non-negative integer, got 'two'\n"],
    [['k', '--log-level', 'loud'], "turtles boot: unknown log level 'loud' (one of silly, trace, debug, info, warn, error, fatal)\n"],
    [[join(dir, 'missing.elf')], `turtles boot: cannot read kernel '${join(dir, 'missing.elf')}' (ENOENT)\n`],
  ])('%j', async (argv, message) => {
    expect(await boot(argv)).toEqual({ status: BOOT_STATUS.badInput, stdout: '', stderr: message });
  });

  it('a CPU count out of range, a missing module, a file that is not a multiboot kernel', async () => {
    const k = await kernelFile('ok.elf', 'hlt');
    expect((await boot([k, '--cpus', '65'])).stderr).toBe('turtles boot: cpus must be an integer from 1 to 64, got 65\n');
    expect((await boot([k, '--initrd', join(dir, 'nope') + ' args'])).stderr).toBe(`turtles boot: cannot read module '${join(dir, 'nope')}' (ENOENT)\n`);
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, new Uint8Array(100));
    expect(await boot([junk])).toEqual({ status: 2, stdout: '', stderr: `turtles boot: ${junk}: no multiboot header (magic 0x1badb002) in the first 8192 bytes\n` });
  });

  it('splits a QEMU-style module list on commas, with ",," for a literal comma', () => {
    expect(splitModuleList('a,b x,,y,c')).toEqual(['a', 'b x,y', 'c']);
  });
});

describe('turtles boot as a process', () => {
  it('`npm run turtles -- boot` exits with the guest\'s status and prints its serial output', async () => {
    const k = await kernelFile('proc.elf', HELLO);
    const r = spawnSync('npm', ['run', '--silent', 'turtles', '--', 'boot', k, '--append', 'p'], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8', input: '' });
    expect(r.status).toBe(0x43);
    expect(r.stdout).toBe(`hello from turtles\n${k} p\n0`);
  });
});
