/**
 * Port 61H, the PC/AT "system control port B" (NMI status and control):
 * bit 0 gates PIT counter 2, bit 1 enables the speaker data, bits 2-3
 * enable parity/IOCHK NMIs (stored: no source raises them), bit 4 the
 * refresh toggle (flips every 15.085 us of machine time), bit 5 counter
 * 2's OUT, bits 6-7 the IOCHK/parity NMI status (always 0).
 */
import type { PortDevice } from '../portIo.ts';
import type { Pit8254 } from './pit8254.ts';

export const PORT_B = 0x61;
/** One refresh request every 15.085 us, in machine-time ticks (ns). */
const REFRESH_PERIOD = 15085;

export class PortB implements PortDevice {
  readonly name = 'port 61h';
  private bits = 0;

  constructor(private readonly pit: Pit8254, private readonly now: () => number) {}

  read(): number {
    const refresh = Math.floor(this.now() / REFRESH_PERIOD) & 1;
    return (this.bits & 0x0f) | (refresh << 4) | (this.pit.out2() ? 0x20 : 0);
  }

  write(_port: number, _size: number, value: number): void {
    this.bits = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }
}
