/**
 * `npm run bench`: guest MIPS (retired guest instructions per host second,
 * median of several runs) on fixed loops in 64-bit mode, one line per loop
 * in the form `NAME: N MIPS` so scripts can read it. Not a test: nothing
 * here asserts a timing.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { BENCH_LOOPS, prepareLoop } from './loops.ts';
import { eptLoopLines } from './eptLoop.ts';
import { smpSeconds } from './smp.ts';
import { L1_LOOPS, l1ExitsPerSecond, suiteInstructionsPerExit } from './l1Exits.ts';
import { ROUND_TRIP_KINDS, roundTripsPerSecond } from './vmxRoundTrips.ts';

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const only = process.argv.slice(2);
console.log(`# turtles bench — node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`);
const mips = new Map<string, number>();
for (const loop of BENCH_LOOPS) {
  if (only.length && !only.some((o) => loop.name.toLowerCase().includes(o.toLowerCase()))) continue;
  const rates: number[] = [];
  let note = '';
  for (let r = 0; r <= RUNS; r++) {
    const core = await prepareLoop(loop);
    const t0 = performance.now();
    const stop = core.cpu.run(loop.instructions);
    const dt = (performance.now() - t0) / 1000;
    if (stop.kind !== 'limit') {
      note = ` (stopped early: ${stop.kind}${stop.kind === 'exception' ? ` vector ${stop.vector}` : ''})`;
      break;
    }
    if (r > 0) rates.push(core.cpu.icount / dt / 1e6); // run 0 warms up the JIT
  }
  if (rates.length) mips.set(loop.name, median(rates));
  console.log(rates.length ? `${loop.name}: ${median(rates).toFixed(1)} MIPS${note}` : `${loop.name}: n/a${note}`);
}

// The memory loop as a guest under EPT (issue 5), against the root loop above.
if (!only.length || only.some((o) => 'ept memory loop'.includes(o.toLowerCase()))) {
  for (const line of await eptLoopLines(RUNS, mips.get('memory loop'))) console.log(line);
}

if (!only.length || only.some((o) => 'smp'.includes(o.toLowerCase()))) {
  const one: number[] = [], four: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const a = await smpSeconds(1), b = await smpSeconds(4);
    if (r > 0) { one.push(a); four.push(b); }
  }
  console.log(`SMP: 4 cores vs 1 on the same work: ${(median(four) / median(one)).toFixed(2)}x the time`);
}

// VM exit + entry round trips (issue 4), and their cost in guest-instruction equivalents:
// round-trip time / instruction time, the instruction time taken from the ALU loop.
for (const kind of ROUND_TRIP_KINDS) {
  if (only.length && !only.some((o) => kind.includes(o.toLowerCase()) || 'vmx'.includes(o.toLowerCase()))) continue;
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) rates.push(await roundTripsPerSecond(kind, 200_000));
  const perSecond = median(rates);
  const alu = mips.get('ALU loop');
  const cost = alu ? ` = ${(alu * 1e6 / perSecond).toFixed(0)} guest-instruction times each` : '';
  console.log(`${kind.toUpperCase()} round trip: ${(perSecond / 1000).toFixed(0)}k per second${cost}`);
}

// L1's exits (issue 6): the whole handler path per exit, and the suite's instructions per exit.
if (!only.length || only.some((o) => 'l1'.includes(o.toLowerCase()))) {
  for (const name of L1_LOOPS) {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) rates.push(await l1ExitsPerSecond(name, 2_000_000));
    console.log(`L1 ${name} exits: ${(median(rates) / 1000).toFixed(0)}k handled per second`);
  }
  console.log(`L1 suite: ${(await suiteInstructionsPerExit()).toFixed(0)} retired instructions per exit`);
}
