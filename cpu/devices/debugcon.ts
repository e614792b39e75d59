/**
 * The debug console: a write-only byte port (0xe9 by convention, as in
 * Bochs and QEMU's isa-debugcon). Reads return 0xe9, which is how software
 * probes for it. Bytes written are delivered to a sink in order.
 */
import type { PortDevice } from '../portIo.ts';

export const DEBUGCON_PORT = 0xe9;

export class DebugConsole implements PortDevice {
  readonly name = 'debugcon';
  private readonly bytes: number[] = [];

  constructor(private readonly sink?: (byte: number) => void) {}

  read(): number {
    return DEBUGCON_PORT;
  }

  write(_port: number, _size: number, value: number): void {
    const b = value & 0xff;
    this.bytes.push(b);
    this.sink?.(b);
  }

  /** Everything written so far, as Latin-1 text. */
  text(): string {
    return String.fromCharCode(...this.bytes);
  }
}
