/**
 * RDMSR/WRMSR executed on a core as instructions (0F 32 / 0F 30, then HLT)
 * at a scratch address, with ECX and EDX:EAX set from BigInt values: what
 * the tests use to reach MSRs exactly as guest code does.
 */
import type { Cpu, StopReason } from '../../cpu/cpu.ts';
import { Activity } from '../../cpu/cpu.ts';

const SCRATCH = 0xe000;

function exec(c: Cpu, opcode: number, index: number, value: bigint): StopReason {
  const at = SCRATCH + c.id * 0x10;
  c.phys.load(at, new Uint8Array([0x0f, opcode, 0xf4]));
  c.rip = at;
  c.activity = Activity.Active;
  c.r[2] = index | 0; // ECX
  c.r[3] = -1; // upper half of RCX: ignored
  c.r[0] = Number(value & 0xffffffffn) | 0; // EAX
  c.r[1] = -1;
  c.r[4] = Number((value >> 32n) & 0xffffffffn) | 0; // EDX
  c.r[5] = -1;
  c.phys.activeCore = c.id;
  return c.run(3); // the instruction, HLT, then the halt is seen
}

export const GP = { kind: 'exception', vector: 13, errorCode: 0 };

/** RDMSR: EDX:EAX (the low halves of RDX and RAX), or the stop reason if it faulted. */
export function rdmsr(c: Cpu, index: number): bigint | StopReason {
  const stop = exec(c, 0x32, index, 0n);
  if (stop.kind !== 'halt') return stop;
  return (BigInt(c.r[4]! >>> 0) << 32n) | BigInt(c.r[0]! >>> 0);
}

/** WRMSR: 'ok', or the stop reason if it faulted. */
export function wrmsr(c: Cpu, index: number, value: bigint): 'ok' | StopReason {
  const stop = exec(c, 0x30, index, value);
  return stop.kind === 'halt' ? 'ok' : stop;
}
