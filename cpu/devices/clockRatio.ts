/**
 * Device clocks derived from machine time (DESIGN decision 3) with exact
 * integer arithmetic: machine time counts ticks at MACHINE_HZ (the nominal
 * 1 GHz of one instruction per nanosecond), and a device clock at `hz` has
 * had floor(t × hz / MACHINE_HZ) edges by time t. Whole seconds are split
 * off first, so every intermediate product stays below 2^53 and no
 * rounding drifts, however long the machine runs.
 */
import { TSC_FREQUENCY_HZ } from '../tsc.ts';

export const MACHINE_HZ = TSC_FREQUENCY_HZ;

/** floor(a / b) for non-negative integers a < 2^53 and b > 0, corrected for rounding of the division. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/** Edges of a clock at `hz` (at most 9 MHz, keeping products below 2^53) that have occurred by machine time t >= 0. */
export function edgesBy(t: number, hz: number): number {
  const s = floorDiv(t, MACHINE_HZ);
  return s * hz + floorDiv((t - s * MACHINE_HZ) * hz, MACHINE_HZ);
}

/** The machine time of edge k (k >= 1) of a clock at `hz`: the first t with edgesBy(t, hz) >= k. */
export function timeOfEdge(k: number, hz: number): number {
  const s = floorDiv(k, hz);
  const r = k - s * hz;
  // ceil(r × MACHINE_HZ / hz)
  return s * MACHINE_HZ + floorDiv(r * MACHINE_HZ + hz - 1, hz);
}
