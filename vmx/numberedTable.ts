/**
 * Numbered data tables (exit reasons, VM-instruction errors): rows indexed
 * by their number, built once; a number given twice is a table bug.
 */
export function indexByNumber<T>(rows: readonly T[], numberOf: (row: T) => number, what: string): readonly (T | undefined)[] {
  const out: (T | undefined)[] = [];
  for (const row of rows) {
    const n = numberOf(row);
    if (out[n] !== undefined) throw new Error(`duplicate ${what} ${n}`);
    out[n] = row;
  }
  return out;
}
