/**
 * `turtles boot KERNEL`: runs a Multiboot kernel directly on the machine
 * (root mode, no hypervisor), with the meaning of QEMU's -kernel, -append,
 * -initrd, -smp and -m. COM1 output streams to stdout and stdin feeds COM1.
 * The exit status is isa-debug-exit's, as QEMU's process gives it: the low
 * 8 bits of (value << 1) | 1, always odd. Every other ending prints one
 * line on stderr and has its own even status (BOOT_STATUS).
 *
 * The machine runs in slices of instructions; between slices serial output
 * is flushed and stdin data reaches the UART. Input typed or piped in is
 * therefore the one thing whose timing depends on the host: a run without
 * input is deterministic, as is one whose kernel waits for each byte.
 */
import { readFileSync } from 'node:fs';
import { InternalError } from '../../cpu/exceptions.ts';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../../cpu/log.ts';
import { LoadError } from '../../cpu/loaders/loadError.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { DEFAULT_MEMORY_MIB, MachineConfigError, type ByteStream } from '../../cpu/machine/options.ts';
import { describeStop, type MachineStop } from '../../cpu/machine/stop.ts';
import type { MultibootModule } from '../../cpu/loaders/multiboot.ts';
import { parseOptions, UsageError } from './args.ts';

/** Process exit statuses other than the guest's own (which are odd). */
export const BOOT_STATUS = {
  badInput: 2,
  tripleFault: 4,
  shutdown: 6,
  limit: 8,
  idle: 10,
  exception: 12,
  stopped: 14,
  internalError: 16,
} as const;

export const BOOT_USAGE = `  boot KERNEL [options]         run a Multiboot kernel on the machine, as QEMU's -kernel does;
                                COM1 (0x3f8) output goes to stdout, stdin feeds COM1
      --append "ARGS"           the kernel's command line after its file name (QEMU -append)
      --initrd "FILE [ARGS]"    a module (QEMU -initrd); repeat it, or separate modules with ','
      --cpus N                  cores, 1-64 (QEMU -smp; default 1)
      --memory MiB              RAM (QEMU -m; default ${DEFAULT_MEMORY_MIB})
      --max-instructions N      stop after N instructions retired over all cores
      --log-level LEVEL         diagnostics on stderr: ${LOG_LEVELS.join(', ')} (default warn)
    exit status: the guest's isa-debug-exit code, (value << 1) | 1, low 8 bits (always odd);
      ${BOOT_STATUS.badInput} bad command line or kernel file, ${BOOT_STATUS.tripleFault} triple fault, ${BOOT_STATUS.shutdown} shutdown (reset request),
      ${BOOT_STATUS.limit} instruction limit, ${BOOT_STATUS.idle} every core halted for good, ${BOOT_STATUS.exception} unhandled exception,
      ${BOOT_STATUS.stopped} a core stopped otherwise, ${BOOT_STATUS.internalError} internal error`;

/** Instructions run between two looks at the host (stdout flush, stdin data). */
const SLICE = 4_000_000;

export interface BootIo {
  stdout: { write(bytes: Uint8Array): unknown };
  stderr: { write(text: string): unknown };
  /** Bytes for COM1's receiver; omitted: the guest receives nothing. */
  stdin?: ByteStream;
}

const OPTIONS = {
  '--append': { kind: 'string' },
  '--initrd': { kind: 'string', repeatable: true },
  '--cpus': { kind: 'number' },
  '--memory': { kind: 'number' },
  '--max-instructions': { kind: 'number' },
  '--log-level': { kind: 'string' },
} as const;

/** QEMU's -initrd list: modules separated by ',', where ',,' is a literal comma. */
export function splitModuleList(list: string): string[] {
  return list.split(/(?<!,),(?!,)/).map((m) => m.replaceAll(',,', ','));
}

function readFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`cannot read ${what} '${path}' (${code})`);
  }
}

function statusOf(stop: MachineStop): number {
  switch (stop.kind) {
    case 'exit': return stop.code % 256;
    case 'triple-fault': return BOOT_STATUS.tripleFault;
    case 'shutdown': return BOOT_STATUS.shutdown;
    case 'limit': return BOOT_STATUS.limit;
    case 'idle': return BOOT_STATUS.idle;
    case 'exception': return BOOT_STATUS.exception;
    case 'stop': return BOOT_STATUS.stopped;
  }
}

interface BootPlan {
  kernel: string;
  append: string;
  modules: MultibootModule[];
  cpus?: number;
  memoryMiB: number;
  maxInstructions: number;
}

function plan(argv: string[]): BootPlan {
  const positionals: string[] = [];
  const opts = parseOptions(argv, OPTIONS, positionals);
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'no KERNEL file given' : `one KERNEL file expected, got ${positionals.map((p) => `'${p}'`).join(', ')}`);
  }
  const level = opts.get('--log-level') as string | undefined;
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`unknown log level '${level}' (one of ${LOG_LEVELS.join(', ')})`);
    setLogLevel(level as LogLevel);
  }
  const modules = ((opts.get('--initrd') as string[] | undefined) ?? []).flatMap(splitModuleList).map((string) => {
    const file = string.split(' ')[0]!;
    return { string, bytes: readFile(file, 'module') };
  });
  return {
    kernel: positionals[0]!,
    append: (opts.get('--append') as string | undefined) ?? '',
    modules,
    cpus: opts.get('--cpus') as number | undefined,
    memoryMiB: (opts.get('--memory') as number | undefined) ?? DEFAULT_MEMORY_MIB,
    maxInstructions: (opts.get('--max-instructions') as number | undefined) ?? Infinity,
  };
}

/** Runs `turtles boot` with `argv` (the arguments after "boot"); returns the process exit status. */
export async function runBoot(argv: string[], io: BootIo): Promise<number> {
  const pending: number[] = [];
  const flush = (): void => {
    if (pending.length) io.stdout.write(Uint8Array.from(pending));
    pending.length = 0;
  };
  let machine: Machine;
  let p: BootPlan;
  try {
    p = plan(argv);
    const image = readFile(p.kernel, 'kernel');
    machine = new Machine({ cpus: p.cpus, memoryMiB: p.memoryMiB, serial: { input: io.stdin, onOutput: (b) => pending.push(b) } });
    machine.loadMultiboot(image, { fileName: p.kernel, append: p.append, modules: p.modules });
  } catch (e) {
    if (e instanceof UsageError || e instanceof LoadError || e instanceof MachineConfigError) {
      io.stderr.write(`turtles boot: ${e.message}\n`);
      return BOOT_STATUS.badInput;
    }
    throw e;
  }
  let left = p.maxInstructions;
  let stop: MachineStop;
  try {
    for (;;) {
      const before = machine.retired;
      stop = machine.run({ maxInstructions: Math.min(SLICE, left) });
      left -= machine.retired - before;
      flush();
      if (stop.kind !== 'limit' || left <= 0) break;
      await new Promise((resolve) => setImmediate(resolve)); // let stdout drain and stdin data arrive
    }
  } catch (e) {
    flush();
    if (e instanceof InternalError) {
      io.stderr.write(`turtles boot: ${e.message}\n`);
      return BOOT_STATUS.internalError;
    }
    throw e;
  }
  const cores = machine.cpus.length === 1 ? '1 core' : `${machine.cpus.length} cores`;
  if (stop.kind === 'limit') io.stderr.write(`turtles boot: instruction limit reached (${p.maxInstructions} instructions over ${cores})\n`);
  else if (stop.kind !== 'exit') io.stderr.write(`turtles boot: ${describeStop(stop)}\n`);
  return statusOf(stop);
}
