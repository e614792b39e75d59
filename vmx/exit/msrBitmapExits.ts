/**
 * RDMSR and WRMSR in VMX non-root operation (SDM Vol. 3C §26.1.3): without
 * "use MSR bitmaps" each one exits (basic reasons 31 and 32, no exit
 * qualification); with it, an MSR index in ECX outside 00000000H-00001FFFH
 * and C0000000H-C0001FFFH always exits, and one inside exits when its bit
 * is 1 in the MSR bitmaps (§25.6.9): the 4-KByte page at the MSR-bitmap
 * address holds the read bitmap for low MSRs at byte 0, for high MSRs at
 * 1024, the write bitmaps at 2048 and 3072, bit n for MSR n (low) or
 * C0000000H + n (high).
 *
 * The #GP(0) for CPL > 0 comes first (§26.1.1); the exit comes before the
 * #GP for an MSR the model does not have ("RDMSR of a non-existent MSR
 * with CPL = 0 generates a VM exit and not a general-protection
 * exception") or for a value the MSR refuses.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { Reg } from '../../cpu/registers.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import { SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import { natural } from '../transition/guestState.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const USE_MSR_BITMAPS = bit('proc', 'useMsrBitmaps');
const HIGH_MSRS = 0xc0000000;
/** Byte offsets of the bitmaps: read low, read high; the write bitmaps follow 2048 bytes on. */
const HIGH_OFFSET = 1024, WRITE_OFFSET = 2048;

function msrExits(s: VmxState, c: Cpu, write: boolean): boolean {
  const v = s.vmcs;
  if ((primaryControls(v) & USE_MSR_BITMAPS) === 0) return true;
  const index = c.r[Reg.RCX << 1]! >>> 0;
  let offset: number;
  if (index <= 0x1fff) offset = 0;
  else if (index - HIGH_MSRS >= 0 && index - HIGH_MSRS <= 0x1fff) offset = HIGH_OFFSET;
  else return true;
  const n = index & 0x1fff;
  const byte = c.phys.read8(natural(v, SLOT.msrBitmapsAddress) + offset + (write ? WRITE_OFFSET : 0) + (n >>> 3));
  return ((byte >>> (n & 7)) & 1) !== 0;
}

function msrAccess(reason: ExitReason.Rdmsr | ExitReason.Wrmsr) {
  return (s: VmxState, c: Cpu, i: Insn): boolean => {
    if (!msrExits(s, c, reason === ExitReason.Wrmsr)) return false;
    instructionExit(s, c, i, reason);
    return true;
  };
}

export const MSR_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.Rdmsr, msrAccess(ExitReason.Rdmsr)],
  [Intercept.Wrmsr, msrAccess(ExitReason.Wrmsr)],
];
