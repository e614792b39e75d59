/**
 * `turtles demo`: assembles guests/bare/primes.asm, runs it on one core in
 * 64-bit mode with the debug console attached, and reports what happened.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Cpu, dumpState } from '../../cpu/cpu.ts';
import { DEBUGCON_PORT, DebugConsole } from '../../cpu/devices/debugcon.ts';
import { VECTOR_NAMES } from '../../cpu/exceptions.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { asm } from '../../guests/assembler.ts';
import { parseOptions, UsageError } from './args.ts';

const PROGRAM = fileURLToPath(new URL('../../guests/bare/primes.asm', import.meta.url));
const LOAD_ADDRESS = 0x1000;
const MEMORY = 4 << 20;

export async function runDemo(argv: string[]): Promise<number> {
  let max = 200_000_000;
  try {
    const opts = parseOptions(argv, { '--max-instructions': { kind: 'number' } });
    max = (opts.get('--max-instructions') as number | undefined) ?? max;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`turtles demo: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const code = await asm(readFileSync(PROGRAM, 'utf8'), 64, LOAD_ADDRESS);
  const phys = new PhysicalMemory(MEMORY);
  const cpu = new Cpu({ phys });
  const console_ = new DebugConsole((b) => process.stdout.write(String.fromCharCode(b)));
  cpu.io.claim(DEBUGCON_PORT, 1, console_);
  enterFlatMode(cpu, 64);
  phys.load(LOAD_ADDRESS, code);
  cpu.rip = LOAD_ADDRESS;
  cpu.r[8] = 0x80000; // rsp

  console.log(`turtles demo: ${code.length} bytes of 64-bit code from guests/bare/primes.asm on one bare core (no hypervisor yet)`);
  console.log('--- debug console (port 0xe9) ---');
  const t0 = performance.now();
  const stop = cpu.run(max);
  const seconds = (performance.now() - t0) / 1000;
  if (!console_.text().endsWith('\n')) process.stdout.write('\n');
  console.log('---');
  const how = stop.kind === 'halt' ? 'halted (HLT), as the program intends'
    : stop.kind === 'limit' ? `stopped at the instruction limit (${max})`
    : stop.kind === 'exception' ? `stopped on an unhandled ${VECTOR_NAMES[stop.vector] ?? `vector ${stop.vector}`} at rip=0x${stop.rip.toString(16)}`
    : `stopped: ${stop.why}`;
  console.log(`core 0 ${how}`);
  console.log(`${cpu.icount.toLocaleString('en-US')} instructions retired in ${seconds.toFixed(2)} s (${(cpu.icount / seconds / 1e6).toFixed(1)} MIPS), ${cpu.blocks.size} decoded blocks cached, ${(phys.allocatedBytes >> 10).toLocaleString('en-US')} KiB of guest RAM touched`);
  if (stop.kind !== 'halt') {
    console.log(dumpState(cpu));
    return 1;
  }
  return 0;
}
