/**
 * Port I/O (exit reason 30; L1 sets "unconditional I/O exiting"), decoded
 * from the exit qualification (SDM Vol. 3C §28.2.1 Table 28-5: bits 2:0
 * size - 1, bit 3 direction (1 = IN), bit 4 string, bits 31:16 port). The
 * devices L1 gives every guest:
 *   - the ucall port (ucall.ts), through which test guests report;
 *   - debug exit: OUT to F4H ends the VM, passed if the value is 0;
 *   - the VM's port devices (devices/portDevices.ts): COM1, whose output
 *     is the VM's console, and fw_cfg;
 * every other port reads as all ones and ignores writes, as on a PC with
 * nothing there. String I/O is not emulated yet: the VM is stopped with a
 * report naming it.
 */
import { Reg } from '../../cpu/registers.ts';
import { portDevice } from '../devices/portDevices.ts';
import type { Vcpu } from '../vcpu.ts';
import { skip, stop, type Decision, type ExitHandler } from './decision.ts';
import { UCALL_PORT, ucall } from './ucall.ts';

const DEBUG_EXIT_PORT = 0xf4;

/** IN of `value` into AL/AX/EAX (EAX clears RAX bits 63:32; AL and AX keep the rest); -1 from a port with nothing behind it. */
function portIn(vcpu: Vcpu, size: number, value: number, handler: string): Decision {
  const r = vcpu.host.c.r;
  if (size === 4) {
    r[Reg.RAX << 1] = value;
    r[(Reg.RAX << 1) + 1] = 0;
  } else {
    const mask = (1 << (8 * size)) - 1;
    r[Reg.RAX << 1] = (r[Reg.RAX << 1]! & ~mask) | (value & mask);
  }
  return skip(handler);
}

export const handleIo: ExitHandler = (vcpu, exit) => {
  const q = Number(exit.qualification & 0xffffffffn);
  const size = (q & 7) + 1, isIn = (q & 8) !== 0, isString = (q & 16) !== 0, port = q >>> 16;
  if (isString) return stop('io', { kind: 'stopped', detail: `string I/O to port 0x${port.toString(16)} is not emulated` });
  const device = portDevice(vcpu.vm, port);
  if (isIn) return device ? portIn(vcpu, size, device.device.read(port, size), `io:${device.name}`) : portIn(vcpu, size, -1, 'io:unclaimed');
  const value = vcpu.gpr32(Reg.RAX) & (size === 4 ? -1 : (1 << (8 * size)) - 1);
  if (device) {
    device.device.write(port, size, value);
    return skip(`io:${device.name}`);
  }
  switch (port) {
    case UCALL_PORT: return ucall(vcpu, value);
    case DEBUG_EXIT_PORT:
      return stop('io:debug-exit', value === 0
        ? { kind: 'passed', detail: 'debug exit 0' }
        : { kind: 'failed', detail: `debug exit ${value}` });
    default:
      return skip('io:unclaimed');
  }
};
