/**
 * The L2 guest suite: what `turtles run` (and `npm start`) runs, one VM per
 * guest, in this order. Adding a guest is one file in this folder (default
 * export: an L2Guest) and one line here.
 */
import type { L2Guest } from './guest.ts';

export const L2_SUITE: readonly L2Guest[] = [
  (await import('./cpuid.ts')).default,
  (await import('./portIo.ts')).default,
  (await import('./hypercalls.ts')).default,
  (await import('./apicTimerHlt.ts')).default,
  (await import('./interruptWindow.ts')).default,
  (await import('./timeSlice.ts')).default,
  (await import('./smpIpi.ts')).default,
  (await import('./msr.ts')).default,
  (await import('./cr.ts')).default,
  (await import('./mmio.ts')).default,
  (await import('./exceptions.ts')).default,
  (await import('./tripleFault.ts')).default,
  (await import('./exitCode.ts')).default,
];

/** The suite's guest called `name`, if any. */
export function findGuest(name: string): L2Guest | undefined {
  return L2_SUITE.find((g) => g.name === name);
}
