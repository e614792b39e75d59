/**
 * The I/O port space seen by IN/OUT/INS/OUTS. Devices claim port ranges;
 * an unclaimed read returns all ones and an unclaimed write is ignored, as
 * on a PC (the machine layer counts them in the debug log).
 */
export interface PortDevice {
  readonly name: string;
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

export class PortBus {
  private readonly devices: (PortDevice | undefined)[] = new Array(0x10000);
  unclaimedReads = 0;
  unclaimedWrites = 0;

  claim(first: number, count: number, device: PortDevice): void {
    for (let p = first; p < first + count; p++) {
      const d = this.devices[p];
      if (d) throw new RangeError(`port 0x${p.toString(16)} claimed by ${d.name} and ${device.name}`);
      this.devices[p] = device;
    }
  }

  read(port: number, size: number): number {
    const d = this.devices[port & 0xffff];
    if (d) return d.read(port & 0xffff, size);
    this.unclaimedReads++;
    return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  }

  write(port: number, size: number, value: number): void {
    const d = this.devices[port & 0xffff];
    if (d) d.write(port & 0xffff, size, value);
    else this.unclaimedWrites++;
  }
}
