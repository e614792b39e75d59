/**
 * Option parsing shared by the commands: every option is declared, anything
 * else is a one-line error naming it (bad input never reaches the machine).
 */
export class UsageError extends Error {}

export interface OptionSpec {
  /** Number options are validated as non-negative integers. */
  kind: 'number' | 'string' | 'flag';
}

export function parseOptions(argv: string[], specs: Record<string, OptionSpec>): Map<string, string | number | true> {
  const out = new Map<string, string | number | true>();
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
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
    } else {
      out.set(name, value);
    }
  }
  return out;
}
