/** Small BigInt reference helpers for tests that compute expected values independently of the core. */

/** Deterministic 64-bit xorshift for operand values. */
export function rng(seed: bigint): () => bigint {
  let s = seed;
  return () => {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    return s;
  };
}

/** Records a mismatch in `bad` (tests assert `bad` is empty, so one run reports every failing case). */
export function check(bad: string[], ctx: string, got: (bigint | number | string)[], want: (bigint | number | string)[]): void {
  const show = (xs: (bigint | number | string)[]) => xs.map((x) => (typeof x === 'string' ? x : '0x' + x.toString(16))).join(' ');
  if (got.some((g, k) => g !== want[k])) bad.push(`${ctx}: got ${show(got)}, want ${show(want)}`);
}

export const mask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

/** PF (0x4) for a result: set when its low byte has an even number of ones. */
export function parity(x: bigint): number {
  let n = 0;
  for (let b = x & 0xffn; b; b >>= 1n) n += Number(b & 1n);
  return n & 1 ? 0 : 0x4;
}
