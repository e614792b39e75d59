/**
 * Option parsing shared by the commands: every option is declared, anything
 * else is a one-line error naming it (bad input never reaches the machine).
 */
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../../cpu/log.ts';

export class UsageError extends Error {}

export interface OptionSpec {
  /** Number options are validated as non-negative integers. */
  kind: 'number' | 'string' | 'flag';
  /** A string option that may be given several times: its value is the list of values, in order. */
  repeatable?: boolean;
}

/**
 * Parses `argv` against `specs`. Arguments that do not start with '-' are
 * collected in `positionals` when it is given, and are errors otherwise.
 */
export function parseOptions(argv: string[], specs: Record<string, OptionSpec>, positionals?: string[]): Map<string, string | number | true | string[]> {
  const out = new Map<string, string | number | true | string[]>();
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (positionals && !a.startsWith('-')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option '${name}'`);
    if (spec.kind === 'flag') {
      if (eq > 0) throw new UsageError(`option '${name}' takes no value`);
      out.set(name, true);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++k];
    if (value === undefined) throw new UsageError(`option '${name}' needs a value`);
    if (spec.kind === 'number') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new UsageError(`option '${name}' needs a non-negative integer, got '${value}'`);
      }
      out.set(name, Number(value));
    } else if (spec.repeatable) {
      out.set(name, [...((out.get(name) as string[] | undefined) ?? []), value]);
    } else {
      out.set(name, value);
    }
  }
  return out;
}

/** Sets the diagnostics level from a --log-level value (none: left as it is); a UsageError names a bad one. */
export function applyLogLevel(level: string | undefined): void {
  if (level === undefined) return;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`unknown log level '${level}' (one of ${LOG_LEVELS.join(', ')})`);
  setLogLevel(level as LogLevel);
}
