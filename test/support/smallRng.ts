/**
 * xorshift32: a test's own small generator for structures built from one
 * fast-check seed, giving integers in [0, n).
 */
export function rng(seed: number): (n: number) => number {
  let s = seed | 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}
