/**
 * PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2)
 * on a bus with no devices: CONFIG_ADDRESS at 0xcf8 (doubleword accesses
 * only) reads back what was written, with the reserved bits 30:24 and 1:0
 * as zero; CONFIG_DATA at 0xcfc-0xcff reads all ones, the master-abort
 * value that tells software "no device here" (vendor ID FFFFh), and
 * ignores writes.
 *
 * Byte port 0xcf9 is the Reset Control Register of the PC chipsets (Intel
 * PIIX/ICH "RST_CNT"): writing a 1 to bit 2 (RST_CPU) when it was 0 asks
 * the platform to reset. The machine does not reboot; it stops and
 * reports the request, as QEMU does with -no-reboot. Other sub-doubleword
 * accesses to 0xcf8-0xcfb are not configuration cycles: reads return all
 * ones and writes are ignored.
 */
import type { PortDevice } from '../portIo.ts';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
export const RESET_CONTROL_PORT = 0xcf9;
/** 0xcf8-0xcff. */
export const PCI_PORT_COUNT = 8;

const ADDRESS_WRITABLE = 0x80fffffc; // enable bit 31, bus, device, function, register
const RST_CPU = 0x04;
const RESET_CONTROL_WRITABLE = 0x0e; // SYS_RST, RST_CPU, FULL_RST

export class PciConfigSpace implements PortDevice {
  readonly name = 'pci-config';
  private address = 0;
  private resetControl = 0;

  constructor(private readonly onResetRequest: () => void) {}

  read(port: number, size: number): number {
    if (port === PCI_CONFIG_ADDRESS && size === 4) return this.address | 0;
    if (port === RESET_CONTROL_PORT && size === 1) return this.resetControl;
    return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  }

  write(port: number, size: number, value: number): void {
    if (port === PCI_CONFIG_ADDRESS && size === 4) {
      this.address = (value & ADDRESS_WRITABLE) >>> 0;
    } else if (port === RESET_CONTROL_PORT && size === 1) {
      const before = this.resetControl;
      this.resetControl = value & RESET_CONTROL_WRITABLE;
      if ((before & RST_CPU) === 0 && (value & RST_CPU) !== 0) this.onResetRequest();
    }
  }
}
