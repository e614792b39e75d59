/**
 * Control-register accesses in VMX non-root operation (SDM Vol. 3C
 * §26.1.3: CLTS, LMSW, MOV to/from CR0, CR3, CR4, CR8), basic exit reason
 * 28 with the qualification of §28.2.1 Table 28-3 "Exit Qualification for
 * Control-Register Accesses":
 *   3:0 the control register (0 for CLTS and LMSW); 5:4 access type
 *   (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW); 6 LMSW operand type
 *   (1 = memory); 11:8 the general-purpose register of MOV CR; 31:16 the
 *   LMSW source data; the other bits 0.
 * An LMSW with a memory operand also reports the operand's linear address
 * in the guest-linear-address field (§28.2.1).
 *
 * The instruction's exec asks after its CPL check (the #GP(0) for CPL > 0
 * comes first, §26.1.1) and before the checks on the value it would load:
 * a MOV to CR0 that sets PG without PE, or a MOV to CR8 with bits 63:4 set,
 * exits when the controls say so ("fault-like VM exits have priority over
 * exceptions other than those mentioned above"). LMSW reads its memory
 * operand first ("faults incurred while fetching instruction operands have
 * priority over VM exits that are conditioned based on the contents of
 * those operands").
 *
 * "Use TPR shadow" is not built: MOV CR8 exits on CR8-load/store exiting only.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { readMem } from '../../cpu/exec/operands.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import { hi, lo, SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { maskSlot, shadowSlot } from './crMasks.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const CR3_LOAD_EXITING = bit('proc', 'cr3LoadExiting');
const CR3_STORE_EXITING = bit('proc', 'cr3StoreExiting');
const CR8_LOAD_EXITING = bit('proc', 'cr8LoadExiting');
const CR8_STORE_EXITING = bit('proc', 'cr8StoreExiting');

/** Access types of Table 28-3, bits 5:4. */
const enum Access { MovTo = 0, MovFrom = 1, Clts = 2, Lmsw = 3 }

const CR0_TS = 1 << 3;
/** The CR3-target value fields (§25.6.7); the CR3-target count VM entry allows is at most the model's, and there are four fields. */
const CR3_TARGETS = [SLOT.cr3TargetValue0, SLOT.cr3TargetValue1, SLOT.cr3TargetValue2, SLOT.cr3TargetValue3];

/** Bit 6 of Table 28-3: LMSW with a memory operand. */
const LMSW_MEMORY = 1 << 6;

function crExit(s: VmxState, c: Cpu, i: Insn, cr: number, access: Access, gpr: number, extra = 0): true {
  instructionExit(s, c, i, ExitReason.CrAccess, cr | (access << 4) | (gpr << 8) | extra);
  return true;
}

/** Bits 31:0 / 63:32 of the source register of MOV to CR (32 bits outside 64-bit mode). */
const sourceLo = (c: Cpu, i: Insn): number => c.r[i.rm << 1]!;
const sourceHi = (c: Cpu, i: Insn): number => (i.mode === 64 ? c.r[(i.rm << 1) + 1]! : 0);

/**
 * MOV to CR0/CR4: exits "unless the value of its source operand matches,
 * for the position of each bit set in the ... guest/host mask, the
 * corresponding bit in the ... read shadow" (all 64 bits of the fields).
 */
function maskedBitsDiffer(s: VmxState, n: number, low: number, high: number): boolean {
  const v = s.vmcs, m = maskSlot(n), sh = shadowSlot(n);
  return ((low ^ lo(v, sh)) & lo(v, m)) !== 0 || ((high ^ hi(v, sh)) & hi(v, m)) !== 0;
}

/**
 * MOV to CR3 with "CR3-load exiting" exits unless the source equals one of
 * the first n CR3-target values, n the CR3-target count; with n = 0 it
 * always exits.
 */
function cr3LoadExits(s: VmxState, low: number, high: number): boolean {
  const v = s.vmcs;
  if ((primaryControls(v) & CR3_LOAD_EXITING) === 0) return false;
  const n = Math.min(lo(v, SLOT.cr3TargetCount), CR3_TARGETS.length);
  for (let k = 0; k < n; k++) {
    const t = CR3_TARGETS[k]!;
    if ((v.lo[t]! | 0) === (low | 0) && (v.hi[t]! | 0) === (high | 0)) return false;
  }
  return true;
}

function movToCr(s: VmxState, c: Cpu, i: Insn): boolean {
  const n = i.reg, low = sourceLo(c, i), high = sourceHi(c, i);
  let exits: boolean;
  switch (n) {
    case 0: case 4: exits = maskedBitsDiffer(s, n, low, high); break;
    case 3: exits = cr3LoadExits(s, low, high); break;
    case 8: exits = (primaryControls(s.vmcs) & CR8_LOAD_EXITING) !== 0; break;
    default: exits = false; // CR2 has no control
  }
  return exits && crExit(s, c, i, n, Access.MovTo, i.rm);
}

/** MOV from CR3 / CR8 exit on "CR3-store exiting" / "CR8-store exiting"; CR0 and CR4 read through the shadows instead. */
function movFromCr(s: VmxState, c: Cpu, i: Insn): boolean {
  const n = i.reg;
  const control = n === 3 ? CR3_STORE_EXITING : n === 8 ? CR8_STORE_EXITING : 0;
  return (primaryControls(s.vmcs) & control) !== 0 && crExit(s, c, i, n, Access.MovFrom, i.rm);
}

/** CLTS exits when bit 3 (TS) is set in both the CR0 guest/host mask and the CR0 read shadow. */
function clts(s: VmxState, c: Cpu, i: Insn): boolean {
  const v = s.vmcs;
  return (lo(v, SLOT.cr0GuestHostMask) & lo(v, SLOT.cr0ReadShadow) & CR0_TS) !== 0 && crExit(s, c, i, 0, Access.Clts, 0);
}

/**
 * LMSW "never clears bit 0 of CR0 (CR0.PE)", so it exits when PE is set in
 * the mask and the source but clear in the shadow, or when any of bits 3:1
 * is set in the mask and differs between the source and the shadow. The
 * qualification carries the whole 16-bit source.
 */
function lmsw(s: VmxState, c: Cpu, i: Insn): boolean {
  const la = i.isMem ? i.ea(c, i) : 0;
  const src = (i.isMem ? readMem(c, la, 2) : c.r[i.rm << 1]!) & 0xffff;
  const v = s.vmcs;
  const mask = lo(v, SLOT.cr0GuestHostMask) & 0xf, shadow = lo(v, SLOT.cr0ReadShadow) & 0xf;
  if ((mask & src & ~shadow & 1) === 0 && (mask & (src ^ shadow) & 0xe) === 0) return false;
  if (i.isMem) s.exitInfo.guestLinearAddress = c.codeSize === 64 ? la : la >>> 0;
  return crExit(s, c, i, 0, Access.Lmsw, 0, (i.isMem ? LMSW_MEMORY : 0) | (src << 16));
}

export const CR_ACCESS_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.MovToCr, movToCr],
  [Intercept.MovFromCr, movFromCr],
  [Intercept.Clts, clts],
  [Intercept.Lmsw, lmsw],
];
