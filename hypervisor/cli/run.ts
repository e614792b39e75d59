/**
 * `turtles run [SCENARIO|GUEST]` (what `npm start` runs): the machine
 * boots, L1 runs a scenario of L2 guests (hypervisor/scenarios.ts, default
 * the whole suite), the report says per guest whether it ended as expected,
 * and the exit trace is written as JSON Lines (docs/trace-format.md).
 *
 * The trace goes to a temporary file beside its destination that is then
 * renamed over it, so an existing file is replaced whole or not at all.
 * Exit status: 0 every guest as expected, 1 some guest not, 2 bad command
 * line or trace file, 3 L1 refused to run (a VMX feature it needs is
 * switched off, memory runs out).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { MachineConfigError } from '../../cpu/machine/options.ts';
import { HypervisorError } from '../hypervisorError.ts';
import { DEFAULT_MAX_INSTRUCTIONS, DEFAULT_SCENARIO, findScenario, runScenario, SCENARIO_NAMES } from '../scenarios.ts';
import { traceText } from '../trace.ts';
import { applyLogLevel, parseOptions, UsageError } from './args.ts';
import { FEATURE_ALIASES, vmxModelWithout } from './features.ts';
import { reportRun } from './report.ts';

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
    exit status: ${RUN_STATUS.asExpected} every guest as expected, ${RUN_STATUS.unexpected} some guest not, ${RUN_STATUS.badInput} bad input, ${RUN_STATUS.refused} L1 refused to run`;

const OPTIONS = {
  '--cpus': { kind: 'number' },
  '--memory': { kind: 'number' },
  '--trace': { kind: 'string' },
  '--max-instructions': { kind: 'number' },
  '--log-level': { kind: 'string' },
  '--feature': { kind: 'string', repeatable: true },
  '--help': { kind: 'flag' },
} as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Writes `text` to `path` through a temporary file renamed over it; a UsageError names the file on failure. */
export function writeWhole(path: string, text: string): void {
  const temporary = `${path}.partial`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (e) {
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
    if (!scenario) throw new UsageError(`no scenario or guest '${name}' (one of ${SCENARIO_NAMES.join(', ')})`);
    applyLogLevel(opts.get('--log-level') as string | undefined);
    const features = (opts.get('--feature') as string[] | undefined) ?? [];
    const vmx = vmxModelWithout(features);
    const tracePath = (opts.get('--trace') as string | undefined) ?? DEFAULT_TRACE;
    const result = await runScenario(scenario, { vmx, maxInstructions: opts.get('--max-instructions') as number | undefined });
    writeWhole(tracePath, traceText(result.trace));
    const model = features.length ? `default without ${features.join(', ')}` : 'default';
    io.stdout(reportRun(result, model, `${tracePath} (${result.trace.length} events; compare two with \`turtles diff A B\`)`).join('\n') + '\n');
    return result.vms.every((v) => v.verdict.asExpected) ? RUN_STATUS.asExpected : RUN_STATUS.unexpected;
  } catch (e) {
    if (e instanceof UsageError || e instanceof MachineConfigError) return fail(RUN_STATUS.badInput, e.message);
    if (e instanceof HypervisorError) return fail(RUN_STATUS.refused, e.message);
    throw e;
  }
}
