/**
 * isa-debug-exit, as QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=4`
 * provides it: a write of value v to the port stops the machine with exit
 * code (v << 1) | 1, so a guest can never exit with status 0 through it and
 * the host tells "the guest chose to exit" from other endings. The value is
 * the written byte, word or doubleword (IN/OUT widths), zero-extended; the
 * code is kept exactly (up to 33 bits), and a process exit status is its
 * low 8 bits, as the operating system truncates QEMU's exit().
 * Reads return all ones, as from a port with nothing behind it.
 */
import type { PortDevice } from '../portIo.ts';

export const DEBUG_EXIT_PORT = 0xf4;
/** Ports 0xf4-0xf7: a 4-byte I/O region, so 1-, 2- and 4-byte writes at 0xf4 all reach it. */
export const DEBUG_EXIT_SIZE = 4;

/** The exit code QEMU computes for a write of `value`. */
export function debugExitCode(value: number): number {
  return (value >>> 0) * 2 + 1;
}

export class DebugExit implements PortDevice {
  readonly name = 'isa-debug-exit';

  constructor(private readonly onExit: (code: number) => void) {}

  read(_port: number, size: number): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  }

  write(_port: number, size: number, value: number): void {
    const v = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
    this.onExit(debugExitCode(v));
  }
}
