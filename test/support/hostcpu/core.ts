/**
 * The emulated side of a differential case: one flat 64-bit core per
 * template, the instruction followed by HLT in the last 16 bytes of a page
 * (a new immediate per case means a fresh decode, and the core copies the
 * rest of the page from the fetch address when it decodes), the scratch
 * buffer at SCRATCH_BASE as on the host. The core runs until the HLT so that a REP
 * string instruction (one retired instruction per iteration) completes.
 */
import { Activity } from '../../../cpu/cpu.ts';
import { Vector } from '../../../cpu/exceptions.ts';
import { ARITH_FLAGS, DF, readRflags, writeRflags } from '../../../cpu/flags.ts';
import { hiOf, loOf, toBigInt } from '../../../cpu/registers.ts';
import { makeCore, STACK_TOP, type TestCore } from '../machine.ts';
import type { CaseInput } from './gen.ts';
import { SCRATCH_BASE, SCRATCH_SIZE } from './hostcpu.ts';

export interface Outcome {
  /** OK, DE, UD, SEGV, TRAP as the harness reports them; #n for another vector; HANG or WRONG-RIP for the core. */
  event: string;
  regs: bigint[];
  rflags: number;
  scratch: Uint8Array;
}

/** Host signal each vector turns into under Linux. */
function eventOf(vector: number): string {
  switch (vector) {
    case Vector.DE: return 'DE';
    case Vector.UD: return 'UD';
    case Vector.GP: case Vector.PF: case Vector.SS: case Vector.AC: return 'SEGV';
    case Vector.DB: case Vector.BP: return 'TRAP';
    default: return `#${vector}`;
  }
}

const MEMORY = 4 << 20;
/** 15 bytes of instruction and the HLT end exactly at the page boundary. */
const CODE_AT = 0x2000 - 16;
/** More than enough for 5 REP iterations plus the HLT. */
const MAX_STEPS = 1000;

export class CoreOracle {
  private readonly t: TestCore = makeCore(64, MEMORY);
  private loaded = '';
  private end = 0;

  constructor() {
    if (SCRATCH_BASE + SCRATCH_SIZE > MEMORY) throw new Error('core memory does not cover the scratch buffer');
  }

  run(code: Uint8Array, x: CaseInput): Outcome {
    const { cpu, phys } = this.t;
    const key = Buffer.from(code).toString('hex');
    if (key !== this.loaded) {
      phys.load(CODE_AT, Uint8Array.of(...code, 0xf4)); // invalidates blocks decoded from the old bytes
      this.loaded = key;
      this.end = CODE_AT + code.length + 1;
    }
    for (let n = 0; n < 16; n++) {
      const v = n === 4 ? BigInt(STACK_TOP) : x.regs[n]!;
      cpu.r[2 * n] = loOf(v);
      cpu.r[2 * n + 1] = hiOf(v);
    }
    writeRflags(cpu, x.rflags, ARITH_FLAGS | DF);
    cpu.rip = CODE_AT;
    cpu.activity = Activity.Active;
    if (x.scratch.length) phys.load(SCRATCH_BASE, x.scratch);
    const stop = cpu.run(MAX_STEPS);
    const event = stop.kind === 'exception' ? eventOf(stop.vector)
      : stop.kind === 'halt' ? (cpu.rip === this.end ? 'OK' : `WRONG-RIP 0x${cpu.rip.toString(16)}`)
      : stop.kind === 'limit' ? 'HANG' : `STOP ${stop.kind}`;
    const regs: bigint[] = [];
    for (let n = 0; n < 16; n++) regs.push(toBigInt(cpu.r[2 * n]!, cpu.r[2 * n + 1]!));
    return { event, regs, rflags: readRflags(cpu), scratch: phys.readBytes(SCRATCH_BASE, x.scratch.length) };
  }
}
