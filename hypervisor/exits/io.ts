/**
 * Port I/O (exit reason 30; L1 sets "unconditional I/O exiting"), decoded
 * from the exit qualification (SDM Vol. 3C §28.2.1 Table 28-5: bits 2:0
 * size - 1, bit 3 direction (1 = IN), bit 4 string, bits 31:16 port). The
 * devices L1 gives every guest:
 *   - the ucall port (ucall.ts), through which test guests report;
 *   - a console: OUT to 3F8H (COM1's data port) appends the byte;
 *   - debug exit: OUT to F4H ends the VM, passed if the value is 0;
 * every other port reads as all ones and ignores writes, as on a PC with
 * nothing there. String I/O is not emulated yet: the VM is stopped with a
 * report naming it.
 */
import { Reg } from '../../cpu/registers.ts';
import type { Vcpu } from '../vcpu.ts';
import { skip, stop, type Decision, type ExitHandler } from './decision.ts';
import { UCALL_PORT, ucall } from './ucall.ts';

const CONSOLE_PORT = 0x3f8, DEBUG_EXIT_PORT = 0xf4;

/** IN from a port with nothing behind it: all ones in AL/AX/EAX (EAX clears RAX bits 63:32; AL and AX keep the rest). */
function portIn(vcpu: Vcpu, size: number): Decision {
  const r = vcpu.host.c.r;
  if (size === 4) {
    r[Reg.RAX << 1] = -1;
    r[(Reg.RAX << 1) + 1] = 0;
  } else {
    r[Reg.RAX << 1] = r[Reg.RAX << 1]! | ((1 << (8 * size)) - 1);
  }
  return skip('io:unclaimed');
}

export const handleIo: ExitHandler = (vcpu, exit) => {
  const q = Number(exit.qualification & 0xffffffffn);
  const size = (q & 7) + 1, isIn = (q & 8) !== 0, isString = (q & 16) !== 0, port = q >>> 16;
  if (isString) return stop('io', { kind: 'stopped', detail: `string I/O to port 0x${port.toString(16)} is not emulated` });
  if (isIn) return portIn(vcpu, size);
  const value = vcpu.gpr32(Reg.RAX) & (size === 4 ? -1 : (1 << (8 * size)) - 1);
  switch (port) {
    case UCALL_PORT: return ucall(vcpu, value);
    case CONSOLE_PORT:
      vcpu.vm.console += String.fromCharCode(value & 0xff);
      return skip('io:console');
    case DEBUG_EXIT_PORT:
      return stop('io:debug-exit', value === 0
        ? { kind: 'passed', detail: 'debug exit 0' }
        : { kind: 'failed', detail: `debug exit ${value}` });
    default:
      return skip('io:unclaimed');
  }
};
