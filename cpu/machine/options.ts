/**
 * What a Machine is built from, checked before anything is built (DESIGN
 * decision 7): a bad count, size or device name is a one-line
 * MachineConfigError naming the option.
 */
import type { Cpu } from '../cpu.ts';
import type { VmxUnit } from '../vmxPort.ts';

export const MAX_CPUS = 64;
/** At least 1 MiB of high memory above the legacy area. */
export const MIN_MEMORY_MIB = 2;
/** RAM is one linear range (lazily allocated); beyond this the page directory itself grows large. */
export const MAX_MEMORY_MIB = 16384;
export const DEFAULT_MEMORY_MIB = 128;
export const DEFAULT_QUANTUM = 1000;

/** Platform devices; each defaults to present. */
export interface DeviceOptions {
  /** 16550 UART at 0x3f8 (COM1, IRQ 4). */
  serial?: boolean;
  /** isa-debug-exit at 0xf4. */
  debugExit?: boolean;
  /** QEMU fw_cfg at 0x510/0x511. */
  fwCfg?: boolean;
  /** PCI configuration ports 0xcf8-0xcff (no devices) and the reset control register. */
  pci?: boolean;
  /** ACPI tables (RSDP, RSDT, XSDT, FADT, DSDT, MADT) in the BIOS area. */
  acpi?: boolean;
}

export const DEVICE_NAMES: readonly (keyof DeviceOptions)[] = ['serial', 'debugExit', 'fwCfg', 'pci', 'acpi'];

/** A source of bytes arriving over time (a Node readable stream fits). */
export interface ByteStream {
  on(event: 'data', listener: (chunk: Uint8Array | string) => void): unknown;
}

export interface SerialOptions {
  /** Bytes the guest will receive: all at once (a string, Latin-1) or as they arrive from a stream. */
  input?: string | ByteStream;
  /** Called with each byte the guest transmits, in order. */
  onOutput?: (byte: number) => void;
}

/** Makes core `c`'s VMX unit (vmx/ implements it; cpu/ never imports vmx/). */
export type VmxUnitFactory = (c: Cpu) => VmxUnit;

export interface MachineOptions {
  /** VMX on every core: the unit each core gets, and CPUID.1:ECX.VMX = 1. Without it VMX instructions raise #UD. */
  vmx?: VmxUnitFactory;
  /** Number of cores, 1-64 (default 1). Core 0 is the bootstrap processor. */
  cpus?: number;
  /** RAM in MiB (default 128). */
  memoryMiB?: number;
  /** Instructions a core runs per scheduling round (default 1000). */
  quantum?: number;
  devices?: DeviceOptions;
  serial?: SerialOptions;
}

export class MachineConfigError extends Error {
  override readonly name = 'MachineConfigError';
}

export interface MachineConfig {
  cpus: number;
  memoryMiB: number;
  quantum: number;
  devices: Required<DeviceOptions>;
}

function integerIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new MachineConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

export function resolveOptions(o: MachineOptions): MachineConfig {
  const devices = { serial: true, debugExit: true, fwCfg: true, pci: true, acpi: true };
  for (const [name, on] of Object.entries(o.devices ?? {})) {
    if (!(DEVICE_NAMES as readonly string[]).includes(name)) {
      throw new MachineConfigError(`unknown device option '${name}' (known: ${DEVICE_NAMES.join(', ')})`);
    }
    if (typeof on !== 'boolean') throw new MachineConfigError(`device option '${name}' must be true or false`);
    devices[name as keyof DeviceOptions] = on;
  }
  return {
    cpus: integerIn('cpus', o.cpus ?? 1, 1, MAX_CPUS),
    memoryMiB: integerIn('memoryMiB', o.memoryMiB ?? DEFAULT_MEMORY_MIB, MIN_MEMORY_MIB, MAX_MEMORY_MIB),
    quantum: integerIn('quantum', o.quantum ?? DEFAULT_QUANTUM, 1, 1_000_000_000),
    devices,
  };
}
