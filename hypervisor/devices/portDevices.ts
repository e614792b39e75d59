/**
 * The port-I/O devices of a VM beyond L1's own ports (exits/io.ts: ucall,
 * debug exit), the device models the machine itself uses (cpu/devices/),
 * one set per VM, as KVM's user space gives each VM its own:
 *   - COM1, 3F8H-3FFH: a 16550A UART whose transmitted bytes are the VM's
 *     console (Vm.console), with the registers a driver programs and polls
 *     (divisor latch, line control, LSR with the transmitter always empty);
 *     nothing is ever received and its interrupt line goes nowhere (L1
 *     gives its guests no interrupt controller but their local APICs);
 *   - fw_cfg, 510H-511H: QEMU's firmware configuration device, with the
 *     VM's RAM size and its vCPU count (FW_CFG_NB_CPUS).
 * The set is made at the VM's first port access, once its vCPUs are all
 * there. A device is named in the exit trace by its handler, "io:<name>";
 * COM1 keeps the name "console" that L1's console port has always had.
 */
import { FW_CFG_PORT_SELECTOR, FwCfg } from '../../cpu/devices/fwCfg.ts';
import { COM1_PORT, Uart16550 } from '../../cpu/devices/uart16550.ts';
import type { PortDevice } from '../../cpu/portIo.ts';
import type { Vm } from '../vm.ts';

export interface VmPortDevice {
  readonly first: number;
  readonly count: number;
  /** The name in the exit trace's handler ("io:<name>"). */
  readonly name: string;
  readonly device: PortDevice;
}

const devices = new WeakMap<Vm, readonly VmPortDevice[]>();

function devicesOf(vm: Vm): readonly VmPortDevice[] {
  let d = devices.get(vm);
  if (!d) {
    d = [
      { first: COM1_PORT, count: 8, name: 'console', device: new Uart16550({ onOutput: (b) => { vm.console += String.fromCharCode(b); } }) },
      { first: FW_CFG_PORT_SELECTOR, count: 2, name: 'fw_cfg', device: new FwCfg({ ramBytes: vm.ramBytes, cpus: vm.vcpus.length }) },
    ];
    devices.set(vm, d);
  }
  return d;
}

/** The device of `vm` at `port`, if any. */
export function portDevice(vm: Vm, port: number): VmPortDevice | undefined {
  return devicesOf(vm).find((d) => port >= d.first && port < d.first + d.count);
}
