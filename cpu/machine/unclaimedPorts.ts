/**
 * The machine's port bus: the core's PortBus (unclaimed reads return all
 * ones, unclaimed writes are ignored, as on a PC), plus a note of which
 * unclaimed ports the guest touched. The first access to each such port is
 * logged at debug level; `summary()` gives the counts for a final report.
 */
import { PortBus } from '../portIo.ts';
import type { Logger } from 'tslog';

export class MachinePortBus extends PortBus {
  /** Unclaimed ports touched, in the order first touched, with access counts. */
  private readonly touched = new Map<number, { reads: number; writes: number }>();

  constructor(private readonly log: Logger<unknown>) {
    super();
  }

  override read(port: number, size: number): number {
    const before = this.unclaimedReads;
    const v = super.read(port, size);
    if (this.unclaimedReads !== before) this.note(port & 0xffff, size, 'read');
    return v;
  }

  override write(port: number, size: number, value: number): void {
    const before = this.unclaimedWrites;
    super.write(port, size, value);
    if (this.unclaimedWrites !== before) this.note(port & 0xffff, size, 'write');
  }

  /** E.g. "unclaimed ports: 3 reads, 1 write (0x61 r2, 0x80 w1)". */
  summary(): string {
    const ports = [...this.touched].map(([p, n]) => `0x${p.toString(16)}${n.reads ? ` r${n.reads}` : ''}${n.writes ? ` w${n.writes}` : ''}`);
    return `unclaimed ports: ${this.unclaimedReads} reads, ${this.unclaimedWrites} writes${ports.length ? ` (${ports.join(', ')})` : ''}`;
  }

  private note(port: number, size: number, op: 'read' | 'write'): void {
    let n = this.touched.get(port);
    if (!n) {
      n = { reads: 0, writes: 0 };
      this.touched.set(port, n);
      this.log.debug(`first ${size}-byte ${op} of unclaimed port 0x${port.toString(16)}`);
    }
    if (op === 'read') n.reads++;
    else n.writes++;
  }
}
