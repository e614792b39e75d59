/**
 * CR8, the guest's task-priority register (SDM Vol. 3A §11.8.6: CR8[3:0]
 * is TPR[7:4]). Without this, MOV to CR8 in non-root operation would set
 * the TPR of L1's own APIC (Vol. 3C §26.3, no TPR shadow) and could hold
 * back L1's kicks and timer; so L1 sets "CR8-load exiting" and "CR8-store
 * exiting" and the access goes to the vCPU's virtual APIC instead: a
 * control-register exit (reason 28) whose qualification (§28.2.1 Table
 * 28-3) has CR number 8, access type 0 (MOV to CR) or 1 (MOV from CR) in
 * bits 5:4 and the general-purpose register in bits 11:8. MOV to CR8 with
 * any of bits 63:4 set raises #GP(0) (Vol. 2B MOV—Move to/from Control
 * Registers); MOV from CR8 zero-extends TPR[7:4] into the register.
 */
import { writeGpr, readGpr } from './gprs.ts';
import { skip } from './decision.ts';
import { injectGp0 } from './inject.ts';
import type { PartialHandler } from './orElse.ts';

const CR8 = 8, MOV_TO_CR = 0, MOV_FROM_CR = 1;

export const cr8Access: PartialHandler = (vcpu, exit) => {
  const q = Number(exit.qualification & 0xffffn);
  const access = (q >>> 4) & 3, gpr = (q >>> 8) & 15;
  if ((q & 15) !== CR8 || (access !== MOV_TO_CR && access !== MOV_FROM_CR)) return null;
  const a = vcpu.lapic;
  if (access === MOV_FROM_CR) {
    writeGpr(vcpu, gpr, BigInt(a.tpr >>> 4));
    return skip('cr8:read');
  }
  const value = readGpr(vcpu, gpr);
  if (value > 0xfn) return injectGp0(vcpu, 'cr8:#GP');
  a.tpr = Number(value) << 4;
  return skip('cr8:write');
};
