/**
 * The PC platform devices around the cores, attached to the port bus and
 * written into memory as a QEMU "pc" machine has them for a -kernel boot:
 * COM1 (16550 UART, IRQ 4), isa-debug-exit at 0xf4, fw_cfg at 0x510,
 * the PCI configuration ports (no devices) with the reset control
 * register, the ACPI tables and the BIOS data area words.
 */
import { writeAcpiTables, type AcpiTables } from '../devices/acpi.ts';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit } from '../devices/debugExit.ts';
import { FW_CFG_PORT_SELECTOR, FwCfg, u32le, u64le } from '../devices/fwCfg.ts';
import { PCI_CONFIG_ADDRESS, PCI_PORT_COUNT, PciConfigSpace } from '../devices/pciConfig.ts';
import { COM1_IRQ, COM1_PORT, Uart16550 } from '../devices/uart16550.ts';
import type { PhysicalMemory } from '../memory/physical.ts';
import type { PortBus } from '../portIo.ts';
import { writeBiosDataArea } from './biosData.ts';
import { ACPI_TABLES_BASE, ACPI_TABLES_END, IOAPIC_BASE, LOCAL_APIC_BASE, memoryMap } from './layout.ts';
import type { MachineConfig } from './options.ts';
import type { MachineStop } from './stop.ts';

/** The IOAPIC's ID as the MADT reports it: 0, the reset value of its ID register (as QEMU's tables give it). */
export const IOAPIC_ID = 0;
const UART_PORTS = 8;
const FW_CFG_PORTS = 2;

export interface PlatformHooks {
  /** A device asks the machine to stop (debug exit, reset request). */
  requestStop(s: MachineStop): void;
  /** A device drives an ISA IRQ line. */
  setIrq(irq: number, level: boolean): void;
  /** A transmitted serial byte. */
  serialOutput(byte: number): void;
}

export interface Platform {
  uart: Uart16550 | null;
  fwCfg: FwCfg | null;
  acpi: AcpiTables | null;
}

/** QEMU's etc/e820 file: packed {u64 address, u64 length, u32 type} entries. */
function e820Table(ramBytes: number): Uint8Array {
  const map = memoryMap(ramBytes);
  const out = new Uint8Array(20 * map.length);
  map.forEach((r, k) => {
    out.set(u64le(r.base), 20 * k);
    out.set(u64le(r.length), 20 * k + 8);
    out.set(u32le(r.type), 20 * k + 16);
  });
  return out;
}

export function attachPlatform(phys: PhysicalMemory, io: PortBus, cfg: MachineConfig, hooks: PlatformHooks): Platform {
  const ramBytes = phys.size;
  const d = cfg.devices;
  let uart: Uart16550 | null = null;
  if (d.serial) {
    uart = new Uart16550({ onOutput: (b) => hooks.serialOutput(b), setIrq: (level) => hooks.setIrq(COM1_IRQ, level) });
    io.claim(COM1_PORT, UART_PORTS, uart);
  }
  if (d.debugExit) io.claim(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, new DebugExit((code) => hooks.requestStop({ kind: 'exit', code })));
  let fwCfg: FwCfg | null = null;
  if (d.fwCfg) {
    fwCfg = new FwCfg({ ramBytes, cpus: cfg.cpus });
    fwCfg.addFile('etc/e820', e820Table(ramBytes));
    io.claim(FW_CFG_PORT_SELECTOR, FW_CFG_PORTS, fwCfg);
  }
  if (d.pci) {
    const pci = new PciConfigSpace(() => hooks.requestStop({ kind: 'shutdown', cause: 'a reset through the reset control register (port 0xcf9)' }));
    io.claim(PCI_CONFIG_ADDRESS, PCI_PORT_COUNT, pci);
  }
  writeBiosDataArea(phys);
  const acpi = d.acpi
    ? writeAcpiTables(phys, {
      base: ACPI_TABLES_BASE, limit: ACPI_TABLES_END, cpus: cfg.cpus,
      localApicBase: LOCAL_APIC_BASE, ioapicId: IOAPIC_ID, ioapicBase: IOAPIC_BASE,
    })
    : null;
  return { uart, fwCfg, acpi };
}
