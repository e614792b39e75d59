/**
 * Why a machine run ended. Some endings are final (the guest exited, a
 * core shut down, the platform was asked to reset, an exception had no
 * handler): running again returns the same reason. The others ('limit',
 * 'idle') leave the machine ready to continue.
 */
import { VECTOR_NAMES } from '../exceptions.ts';

export type MachineStop =
  /** isa-debug-exit: code = (value << 1) | 1, as QEMU computes it. */
  | { kind: 'exit'; code: number }
  /** A core entered the shutdown state (SDM Vol. 3A §6.15, triple fault). `report` names the fault chain or CR0/CR3/CR4 and RIP. */
  | { kind: 'triple-fault'; core: number; report: string }
  /** The guest asked the platform to reset (port 0xcf9); the machine stops instead of rebooting, like QEMU -no-reboot. */
  | { kind: 'shutdown'; cause: string }
  /** The instruction budget given to run() is used up. */
  | { kind: 'limit' }
  /** Every core is halted or waiting for SIPI and nothing (event or timer) can wake any of them. */
  | { kind: 'idle' }
  /** An exception reached a core whose exception hook stops the run (no IDT delivery installed). */
  | { kind: 'exception'; core: number; vector: number; errorCode: number; rip: number }
  /** A core stopped for another reason its code gave. */
  | { kind: 'stop'; core: number; why: string };

export function isFinal(s: MachineStop): boolean {
  return s.kind !== 'limit' && s.kind !== 'idle';
}

const hex = (v: number): string => '0x' + (v < 0 ? BigInt.asUintN(64, BigInt(v)) : v).toString(16);

/** One line saying how the run ended. */
export function describeStop(s: MachineStop): string {
  switch (s.kind) {
    case 'exit': return `guest exited through isa-debug-exit with code ${s.code}`;
    case 'triple-fault': return `core ${s.core} entered the shutdown state: ${s.report.split('\n').join('; ')}`;
    case 'shutdown': return `guest requested ${s.cause}; the machine stops instead of rebooting`;
    case 'limit': return 'instruction limit reached';
    case 'idle': return 'every core is halted and no interrupt or timer can wake one';
    case 'exception': {
      const name = VECTOR_NAMES[s.vector] ?? `vector ${s.vector}`;
      const err = s.errorCode >= 0 ? `(${hex(s.errorCode)})` : '';
      return `unhandled ${name}${err} on core ${s.core} at rip=${hex(s.rip)} (no exception delivery installed)`;
    }
    case 'stop': return `core ${s.core} stopped: ${s.why}`;
  }
}
