/**
 * `turtles run [SCENARIO|GUEST]` (what `npm start` runs): the machine
 * boots, L1 runs a scenario of L2 guests (hypervisor/scenarios.ts, default
 * the whole suite), the report says per guest whether it ended as expected,
 * and the exit trace is written as JSON Lines (docs/trace-format.md).
 * `turtles run FILE` runs a guest image from a file in one VM instead
 * (runFile.ts): an argument that names no scenario or guest but a file.
 *
 * The trace goes to a temporary file beside its destination that is then
 * renamed over it, so an existing file is replaced whole or not at all.
 * Exit status: 0 every guest as expected, 1 some guest not, 2 bad command
 * line, guest file or trace file, 3 L1 refused to run (a VMX feature it needs is
 * switched off, memory runs out).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { LoadError } from '../../cpu/loaders/loadError.ts';
import { MachineConfigError } from '../../cpu/machine/options.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { HypervisorError } from '../hypervisorError.ts';
import { GUEST_CODE } from '../vm.ts';
import { detectFormat, GUEST_FORMATS, type GuestFormat } from '../loaders/guestImage.ts';
import { DEFAULT_MAX_INSTRUCTIONS, DEFAULT_SCENARIO, findScenario, runScenario, SCENARIO_NAMES } from '../scenarios.ts';
import { traceText, type L1TraceEvent } from '../trace.ts';
import { applyLogLevel, parseOptions, UsageError } from './args.ts';
import { FEATURE_ALIASES, vmxModelWithout } from './features.ts';
import { reportRun } from './report.ts';
import { fileRunFooter, fileRunHeader, runFile, type FileRunOptions } from './runFile.ts';

export const RUN_STATUS = { asExpected: 0, unexpected: 1, badInput: 2, refused: 3 } as const;
export const DEFAULT_TRACE = 'turtles-trace.jsonl';

export const RUN_USAGE = `  run [SCENARIO|GUEST] [options]
                                L1 runs L2 guests and reports per guest (what \`npm start\` runs);
                                SCENARIO: ${SCENARIO_NAMES[0]} (the default: every guest, one VM each);
                                GUEST: ${SCENARIO_NAMES.slice(1).join(', ')}
      --cpus N                  cores (default 4 for the suite, 1 for one guest)
      --memory MiB              host RAM, L1's 31 MiB included (default 256)
      --trace FILE              where the exit trace goes (default ./${DEFAULT_TRACE})
      --max-instructions N      instruction budget over all cores (default ${DEFAULT_MAX_INSTRUCTIONS.toLocaleString('en-US')})
      --log-level LEVEL         diagnostics on stderr (default warn)
      --feature no-X            switch a VMX feature off in the processor model (repeatable):
                                ${Object.keys(FEATURE_ALIASES).slice(0, 5).join(', ')},
                                ${Object.keys(FEATURE_ALIASES).slice(5).join(', ')}, or no-CONTROL
  run FILE [options]            L1 runs a guest image from FILE in one VM, its console on stdout; it passes
                                by debug exit (OUT to port 0xf4) with 0 or ucall done; the options above, and:
      --format ${GUEST_FORMATS.join('|')}  default: multiboot if it has a multiboot header, elf if ELF, else flat
                                (flat and elf: 64-bit mode, identity paging; multiboot: 32-bit protected mode)
      --entry ADDR              flat binary: where it is loaded and entered (default 0x${GUEST_CODE.toString(16)})
      --guest-memory MiB        the VM's RAM (default 4)
    exit status: ${RUN_STATUS.asExpected} every guest as expected, ${RUN_STATUS.unexpected} some guest not, ${RUN_STATUS.badInput} bad input, ${RUN_STATUS.refused} L1 refused to run`;

const OPTIONS = {
  '--cpus': { kind: 'number' },
  '--memory': { kind: 'number' },
  '--trace': { kind: 'string' },
  '--max-instructions': { kind: 'number' },
  '--log-level': { kind: 'string' },
  '--feature': { kind: 'string', repeatable: true },
  '--help': { kind: 'flag' },
  '--format': { kind: 'string' },
  '--entry': { kind: 'string' },
  '--guest-memory': { kind: 'number' },
} as const;
const FILE_OPTIONS = ['--format', '--entry', '--guest-memory'] as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Trace lines written per write call: a trace of millions of events never becomes one string. */
const LINES_PER_WRITE = 4096;

/**
 * Writes the trace `events` to `path` as JSON Lines through a temporary
 * file renamed over it, so a file the user named is replaced whole or not
 * at all; a UsageError names the file on failure.
 */
export function writeTrace(path: string, events: readonly L1TraceEvent[]): void {
  const temporary = `${path}.partial`;
  let fd = -1;
  try {
    fd = openSync(temporary, 'w');
    for (let k = 0; k < events.length; k += LINES_PER_WRITE) {
      writeSync(fd, traceText(events.slice(k, k + LINES_PER_WRITE)));
    }
    closeSync(fd);
    fd = -1;
    renameSync(temporary, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new UsageError(`cannot write trace '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Runs `turtles run` with `argv` (the arguments after "run"); returns the process exit status. */
export async function runRun(argv: string[], io: CliIo): Promise<number> {
  const fail = (status: number, message: string): number => {
    io.stderr(`turtles run: ${message}\n`);
    return status;
  };
  try {
    const names: string[] = [];
    const opts = parseOptions(argv, OPTIONS, names);
    if (opts.has('--help')) {
      io.stdout(`usage: turtles run [SCENARIO|GUEST] [options]\n${RUN_USAGE}\n`);
      return RUN_STATUS.asExpected;
    }
    if (names.length > 1) throw new UsageError(`one scenario or guest expected, got ${names.map((n) => `'${n}'`).join(', ')}`);
    const name = names[0] ?? DEFAULT_SCENARIO;
    const scenario = findScenario(name, { cpus: opts.get('--cpus') as number | undefined, memoryMiB: opts.get('--memory') as number | undefined });
    if (!scenario && existsSync(name)) return runFileCommand(name, opts, io);
    if (!scenario) throw new UsageError(`no scenario or guest '${name}' (one of ${SCENARIO_NAMES.join(', ')})`);
    const fileOption = FILE_OPTIONS.find((o) => opts.has(o));
    if (fileOption) throw new UsageError(`option '${fileOption}' is for running a file, not scenario '${name}'`);
    const { vmx, model, tracePath } = sharedOptions(opts);
    const result = await runScenario(scenario, { vmx, maxInstructions: opts.get('--max-instructions') as number | undefined });
    writeTrace(tracePath, result.trace);
    io.stdout(reportRun(result, model, `${tracePath} (${result.trace.length} events; compare two with \`turtles diff A B\`)`).join('\n') + '\n');
    return result.vms.every((v) => v.verdict.asExpected) ? RUN_STATUS.asExpected : RUN_STATUS.unexpected;
  } catch (e) {
    if (e instanceof UsageError || e instanceof MachineConfigError || e instanceof LoadError) return fail(RUN_STATUS.badInput, e.message);
    if (e instanceof HypervisorError) return fail(RUN_STATUS.refused, e.message);
    throw e;
  }
}

type Options = ReturnType<typeof parseOptions>;

/** What a scenario and a file run share: the log level (applied), the VMX model and its name, the trace's path. */
function sharedOptions(opts: Options): { vmx: VmxFeatures; model: string; tracePath: string } {
  applyLogLevel(opts.get('--log-level') as string | undefined);
  const features = (opts.get('--feature') as string[] | undefined) ?? [];
  return {
    vmx: vmxModelWithout(features),
    model: features.length ? `default without ${features.join(', ')}` : 'default',
    tracePath: (opts.get('--trace') as string | undefined) ?? DEFAULT_TRACE,
  };
}

/** A number given in decimal or as 0x-prefixed hexadecimal. */
function parseAddress(option: string, text: string): number {
  const v = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v)) throw new UsageError(`option '${option}' needs an address (decimal or 0x hexadecimal), got '${text}'`);
  return v;
}

/** `turtles run FILE`: the options checked, the file loaded and run (runFile.ts), the report and the trace written. */
function runFileCommand(path: string, opts: Options, io: CliIo): number {
  let image: Uint8Array;
  try {
    image = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`cannot read '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const given = opts.get('--format') as string | undefined;
  if (given !== undefined && !(GUEST_FORMATS as readonly string[]).includes(given)) {
    throw new UsageError(`unknown format '${given}' (one of ${GUEST_FORMATS.join(', ')})`);
  }
  const format = (given as GuestFormat | undefined) ?? detectFormat(image);
  const entry = opts.get('--entry') as string | undefined;
  if (entry !== undefined && format !== 'flat') throw new UsageError(`option '--entry' is for a flat binary; ${path} is loaded as ${format}, which gives its own entry point`);
  const { vmx, model, tracePath } = sharedOptions(opts);
  const o: FileRunOptions = {
    fileName: path, format, address: entry === undefined ? undefined : parseAddress('--entry', entry),
    cpus: opts.get('--cpus') as number | undefined, memoryMiB: opts.get('--memory') as number | undefined,
    guestMemoryMiB: opts.get('--guest-memory') as number | undefined,
    vmx, maxInstructions: (opts.get('--max-instructions') as number | undefined) ?? DEFAULT_MAX_INSTRUCTIONS,
  };
  const r = runFile(image, o, (g, l1) => {
    io.stdout(fileRunHeader(o.fileName, g, l1, model).join('\n') + '\n');
    for (const w of g.warnings) io.stderr(`turtles run: ${path}: warning: ${w}\n`);
  }, io.stdout);
  writeTrace(tracePath, r.l1.trace);
  const text = r.vm.console;
  io.stdout(`${text === '' ? '(no console output)\n' : text.endsWith('\n') ? '' : '\n'}\n`);
  io.stdout(fileRunFooter(r, `${tracePath} (${r.l1.trace.length} events; compare two with \`turtles diff A B\`)`).join('\n') + '\n');
  return r.verdict.asExpected ? RUN_STATUS.asExpected : RUN_STATUS.unexpected;
}
