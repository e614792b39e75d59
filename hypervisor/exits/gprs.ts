/**
 * The guest's general-purpose registers as the exit handlers that emulate
 * an instruction see them: after a VM exit the core still holds them, all
 * but RSP, which the exit saved in the guest-state area (SDM Vol. 3C
 * §28.3.1) and the next VM entry loads from there (§27.3.2.1). Register
 * numbers are those of the instruction encoding (0 = RAX ... 15 = R15).
 */
import { Reg } from '../../cpu/registers.ts';
import { vmreadField, vmwriteField } from '../l1/vmxOps.ts';
import type { Vcpu } from '../vcpu.ts';

/** The guest's 64-bit register `n`. */
export function readGpr(vcpu: Vcpu, n: number): bigint {
  if (n === Reg.RSP) return vmreadField(vcpu.host, 'guestRsp');
  const r = vcpu.host.c.r;
  return (BigInt(r[2 * n + 1]! >>> 0) << 32n) | BigInt(r[2 * n]! >>> 0);
}

export function writeGpr(vcpu: Vcpu, n: number, value: bigint): void {
  const v = BigInt.asUintN(64, value);
  if (n === Reg.RSP) {
    vmwriteField(vcpu.host, 'guestRsp', v);
    return;
  }
  const r = vcpu.host.c.r;
  r[2 * n] = Number(v & 0xffffffffn) | 0;
  r[2 * n + 1] = Number(v >> 32n) | 0;
}

const mask = (size: number): bigint => (1n << BigInt(8 * size)) - 1n;

/** A `size`-byte register operand: register `n`, or with `shift` 8 its bits 15:8 (AH, CH, DH, BH). */
export function readOperand(vcpu: Vcpu, n: number, shift: number, size: number): bigint {
  return (readGpr(vcpu, n) >> BigInt(shift)) & mask(size);
}

/**
 * Writes a `size`-byte register operand as x86 does (SDM Vol. 1 §3.4.1.1):
 * a 32-bit result is zero-extended to 64 bits, an 8- or 16-bit result
 * leaves the register's other bits alone.
 */
export function writeOperand(vcpu: Vcpu, n: number, shift: number, size: number, value: bigint): void {
  if (size >= 4) {
    writeGpr(vcpu, n, value & mask(size));
    return;
  }
  const field = mask(size) << BigInt(shift);
  writeGpr(vcpu, n, (readGpr(vcpu, n) & ~field) | ((value << BigInt(shift)) & field));
}
