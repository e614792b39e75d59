/**
 * `turtles diff A.jsonl B.jsonl`: compares two exit traces byte for byte
 * (DESIGN decision 8: same inputs give byte-identical traces). When they
 * differ it prints the first differing event, the fields that differ, and
 * three events of context on each side. Exit status as cmp(1) and diff(1)
 * give it: 0 identical, 1 different, 2 trouble (a missing file, or a line
 * that is not a JSON object, named by file and line).
 */
import { readFileSync } from 'node:fs';
import { parseOptions, UsageError } from './args.ts';
import type { CliIo } from './run.ts';

export const DIFF_STATUS = { identical: 0, different: 1, trouble: 2 } as const;
export const DIFF_USAGE = `  diff A.jsonl B.jsonl          compare two exit traces byte for byte; print the first differing
                                event with 3 events of context (status 0 same, 1 different, 2 trouble)`;
const CONTEXT = 3;

/** A trace file: its bytes, and its events as lines (without newlines), each checked to be a JSON object. */
export function readTrace(path: string): { bytes: Buffer; lines: string[] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read trace '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = bytes.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, k) => eventOf(line, `${path} line ${k + 1}`));
  return { bytes, lines };
}

/** One trace line as an object; a UsageError naming `where` when it is not a JSON object. */
function eventOf(line: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new UsageError(`${where}: not a trace event (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where}: not a trace event (not a JSON object)`);
  return value as Record<string, unknown>;
}

/** Index of the first event where `a` and `b` differ (one of them may have ended there), or -1. */
export function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return k;
  return -1;
}

/** The keys whose values differ between two events, in the order of `a`'s keys, then `b`'s others. */
function differingFields(a: string, b: string): string[] {
  const x = JSON.parse(a) as Record<string, unknown>, y = JSON.parse(b) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])];
  return keys.filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]));
}

/**
 * The difference at event index `at` as lines: up to CONTEXT events before
 * it (same in both), then it and up to CONTEXT events after, each either
 * the same in both or shown from A ('-') and from B ('+').
 */
export function describeDifference(a: readonly string[], b: readonly string[], at: number, nameA: string, nameB: string): string[] {
  const event = (k: number): string => `event ${k + 1}`.padEnd(11);
  /** Event k of one side; its end is shown once. */
  const side = (mark: string, lines: readonly string[], k: number): string[] =>
    k < lines.length ? [`${mark} ${event(k)}${lines[k]}`] : k === lines.length ? [`${mark} ${event(k)}(end of trace)`] : [];
  const fields = a[at] !== undefined && b[at] !== undefined ? ` in ${differingFields(a[at], b[at]).join(', ')}` : '';
  const out = [`${nameA} and ${nameB} differ first at event ${at + 1}${fields} (- ${nameA}, + ${nameB}):`];
  for (let k = Math.max(0, at - CONTEXT); k < at; k++) out.push(`  ${event(k)}${a[k]}`);
  const end = Math.min(at + CONTEXT, Math.max(a.length, b.length) - 1);
  for (let k = at; k <= end; k++) {
    if (a[k] === b[k]) out.push(`  ${event(k)}${a[k]}`);
    else out.push(...side('-', a, k), ...side('+', b, k));
  }
  out.push(`${nameA}: ${a.length} events; ${nameB}: ${b.length} events`);
  return out;
}

/** Runs `turtles diff` with `argv` (the arguments after "diff"); returns the process exit status. */
export function runDiff(argv: string[], io: CliIo): number {
  try {
    const files: string[] = [];
    const opts = parseOptions(argv, { '--help': { kind: 'flag' } }, files);
    if (opts.has('--help')) {
      io.stdout(`usage: turtles diff A.jsonl B.jsonl\n${DIFF_USAGE}\n`);
      return DIFF_STATUS.identical;
    }
    if (files.length !== 2) throw new UsageError(`two trace files expected, got ${files.length}`);
    const [nameA, nameB] = files as [string, string];
    const traceA = readTrace(nameA), traceB = readTrace(nameB);
    const a = traceA.lines, b = traceB.lines;
    if (traceA.bytes.equals(traceB.bytes)) {
      io.stdout(`${nameA} and ${nameB} are identical (${a.length} events)\n`);
      return DIFF_STATUS.identical;
    }
    const at = firstDifference(a, b);
    io.stdout(at < 0
      ? `${nameA} and ${nameB} hold the same ${a.length} events but differ in their bytes (line endings or final newline)\n`
      : describeDifference(a, b, at, nameA, nameB).join('\n') + '\n');
    return DIFF_STATUS.different;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`turtles diff: ${e.message}\n`);
      return DIFF_STATUS.trouble;
    }
    throw e;
  }
}
