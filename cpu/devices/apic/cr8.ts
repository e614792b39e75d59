/**
 * CR8, the task-priority register as a control register (SDM Vol. 3A
 * §11.8.6): MOV to CR8 writes TPR[7:4] from bits 3:0 and clears TPR[3:0];
 * MOV from CR8 reads TPR[7:4]. The system part's MOV CR8 calls these.
 * A core without a local APIC keeps the value in c.cr8 alone.
 */
import type { Cpu } from '../../cpu.ts';
import { localApicOf } from './registry.ts';

export function readCr8(c: Cpu): number {
  const apic = localApicOf(c);
  return apic ? apic.tpr >>> 4 : c.cr8;
}

/** `v` is CR8's new value; bits 63:4 are reserved and checked (#GP) by the caller. */
export function writeCr8(c: Cpu, v: number): void {
  const apic = localApicOf(c);
  if (apic) apic.setTpr((v & 0xf) << 4);
  else c.cr8 = v & 0xf;
}
