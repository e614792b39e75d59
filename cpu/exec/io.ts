/**
 * Port I/O: IN and OUT with an immediate port (E4-E7) or the port in DX
 * (EC-EF), at 8, 16 or 32 bits (SDM Vol. 2A IN, Vol. 2B OUT), through the
 * core's port bus. INS/OUTS (string.ts) share the permission check.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { IOPL, VM } from '../flags.ts';
import { Reg } from '../registers.ts';
import { readReg, writeReg } from './operands.ts';
import { ioBitmapAllows } from '../system/tss.ts';
import { Intercept } from '../vmxPort.ts';

/**
 * Protected-mode I/O permission (SDM Vol. 1 §19.5, "Protected-Mode I/O"):
 * with CR0.PE set, CPL <= IOPL (and not virtual-8086 mode) allows every
 * port; otherwise the I/O permission bitmap of the TSS decides for the
 * `size` bytes at `port` (cpu/system/tss.ts), #GP(0) when it denies.
 * Real mode never checks.
 */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  if ((c.cr0 & 1) === 0) return;
  if (c.cpl <= ((c.eflags & IOPL) >> 12) && (c.eflags & VM) === 0) return;
  if (!ioBitmapAllows(c, port, size)) fault(Vector.GP, 0);
}

/** The port in DX (always 16 bits, whatever the operand or address size). */
export function portInDx(c: Cpu): number {
  return c.r[Reg.RDX << 1]! & 0xffff;
}

/**
 * In VMX non-root operation the I/O-instruction exit comes after the
 * I/O-permission check (SDM Vol. 3C §26.1.1) and before the access.
 */
function portIn(c: Cpu, i: Insn, port: number): void {
  checkIoPermission(c, port, i.opSize);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Io)) return;
  // A 32-bit IN zero-extends into RAX like any 32-bit register write (SDM Vol. 1 §3.4.1.1).
  writeReg(c, Reg.RAX, i.opSize, 0, c.io.read(port, i.opSize), 0);
}

function portOut(c: Cpu, i: Insn, port: number): void {
  checkIoPermission(c, port, i.opSize);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Io)) return;
  c.io.write(port, i.opSize, readReg(c, Reg.RAX, i.opSize, 0));
}

const inImm: ExecFn = (c, i) => portIn(c, i, i.imm & 0xff);
const inDx: ExecFn = (c, i) => portIn(c, i, portInDx(c));
const outImm: ExecFn = (c, i) => portOut(c, i, i.imm & 0xff);
const outDx: ExecFn = (c, i) => portOut(c, i, portInDx(c));

// The 'z' size keeps the 32-bit form under REX.W: there is no 64-bit port access.
export const IO_OPCODES: OpcodeDef[] = [
  { op: 'E4', mnemonic: 'in', operands: 'AL,Ib', exec: inImm },
  { op: 'E5', mnemonic: 'in', operands: 'eAX,Ib', size: 'z', exec: inImm },
  { op: 'EC', mnemonic: 'in', operands: 'AL,DX', exec: inDx },
  { op: 'ED', mnemonic: 'in', operands: 'eAX,DX', size: 'z', exec: inDx },
  { op: 'E6', mnemonic: 'out', operands: 'Ib,AL', exec: outImm },
  { op: 'E7', mnemonic: 'out', operands: 'Ib,eAX', size: 'z', exec: outImm },
  { op: 'EE', mnemonic: 'out', operands: 'DX,AL', exec: outDx },
  { op: 'EF', mnemonic: 'out', operands: 'DX,eAX', size: 'z', exec: outDx },
];
