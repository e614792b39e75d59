/**
 * The CR0 and CR4 guest/host masks and read shadows (SDM Vol. 3C §25.6.6):
 * the exits they cause live in crAccessExits.ts; this file is what they
 * change in the instructions that do not exit (§26.3 "Changes to
 * Instruction Behavior in VMX Non-Root Operation"), plus the rule of
 * §24.8 "Restrictions on VMX Operation" that a CR0/CR4 bit cannot be set
 * to a value IA32_VMX_CR0/CR4_FIXED0/1 forbid while in VMX operation.
 *
 * With "unrestricted guest", "CR0.PE and CR0.PG may be 0 in VMX non-root
 * operation (even if the capability MSR IA32_VMX_CR0_FIXED0 reports
 * otherwise)" (§24.8), and MOV to CR0 "does not cause a general-protection
 * exception simply because it would set either CR0.PE and CR0.PG to 0"
 * (§26.6): guest software may leave paging and protected mode. In root
 * operation both stay fixed.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { CR0_PE, CR0_PG } from '../../cpu/system/mode.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { hi, lo, SLOT } from '../entry/vmcsView.ts';
import { withinFixed } from '../entry/registerRules.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { VmxState } from '../unit/vmxState.ts';

const UNRESTRICTED_GUEST = bit('proc2', 'unrestrictedGuest');

/** The guest/host mask of CR `n` (0 or 4). */
export const maskSlot = (n: number): number => (n === 0 ? SLOT.cr0GuestHostMask : SLOT.cr4GuestHostMask);
/** The read shadow of CR `n` (0 or 4). */
export const shadowSlot = (n: number): number => (n === 0 ? SLOT.cr0ReadShadow : SLOT.cr4ReadShadow);

/**
 * MOV from CR0/CR4 and SMSW (§26.3): "for each position corresponding to a
 * bit set in the ... guest/host mask, the destination operand is loaded
 * with the value of the corresponding bit in the ... read shadow", the
 * other bits from the register. CR0 and CR4 have no bit above 31, so bits
 * 63:32 are the shadow's under the mask and 0 elsewhere.
 */
export function shadowCr(v: VmcsImage, c: Cpu, n: number, value: number): number {
  const m = maskSlot(n), sh = shadowSlot(n);
  c.opHi = hi(v, m) & hi(v, sh);
  return ((value & ~lo(v, m)) | (lo(v, sh) & lo(v, m))) >>> 0;
}

/**
 * The value CLTS, LMSW or MOV to CR0/CR4 loads when it does not exit:
 * masked bits keep the register's value in non-root operation (§26.3,
 * "leaves unmodified any bit ... corresponding to a bit set in the ...
 * guest/host mask"), then #GP(0) in VMX operation for a bit the fixed-bit
 * MSRs do not allow (§24.8). Bits 63:32 of the registers are 0, so masked
 * high bits become 0; the caller's reserved-bit check sees the result.
 */
export function loadCr(s: VmxState, c: Cpu, n: number, low: number, high: number): number {
  let l = low, h = high;
  if (c.nonRoot) {
    const v = s.vmcs, m = maskSlot(n);
    l = (l & ~lo(v, m)) | ((n === 0 ? c.cr0 : c.cr4) & lo(v, m));
    h &= ~hi(v, m);
  }
  if (s.inVmxOperation) {
    const f0 = s.model.read(n === 0 ? VMX_MSR.CR0_FIXED0 : VMX_MSR.CR4_FIXED0)!;
    const f1 = s.model.read(n === 0 ? VMX_MSR.CR0_FIXED1 : VMX_MSR.CR4_FIXED1)!;
    const free = n === 0 && c.nonRoot && (secondaryControls(s.vmcs) & UNRESTRICTED_GUEST) !== 0 ? CR0_PE | CR0_PG : 0;
    if (!withinFixed(l, 0, f0, f1, free)) fault(Vector.GP, 0);
  }
  c.opHi = h;
  return l >>> 0;
}
