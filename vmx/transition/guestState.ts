/**
 * The guest-state area and the processor: what VM entry loads (SDM Vol. 3C
 * §27.3.2 "Loading Guest State") and what VM exit saves (§28.3 "Saving
 * Guest State"), field by field, as 32-bit halves of the cached VMCS.
 *
 * Registers the model does not have are neither loaded nor saved:
 * IA32_DEBUGCTL (no branch tracing), IA32_PERF_GLOBAL_CTRL, SMBASE, and
 * the pending-debug-exceptions field (no debug traps yet) which VM exit
 * saves as 0.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { Activity } from '../../cpu/cpu.ts';
import { FIXED_ONE, readRflags, writeRflags } from '../../cpu/flags.ts';
import { loadMsr, storeMsr } from '../../cpu/msr/platformState.ts';
import { joinSigned, Seg, TWO32 } from '../../cpu/registers.ts';
import { CR0_PG, EFER_LMA, EFER_LME, updateMode } from '../../cpu/system/mode.ts';
import { controlMask } from '../model/controls.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { secondaryControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { pdpteRegisters } from '../../cpu/memory/paging.ts';
import { PagingMode, pagingMode } from '../../cpu/memory/pagingUnit.ts';
import { enterGuestAddressSpace } from './addressSpace.ts';

const IA32_PAT = 0x277;
const PAT_RESET_LO = 0x00070406;

const ENTRY_LOAD_DEBUG = controlMask('entry', ['loadDebugControls']);
const ENTRY_IA32E = controlMask('entry', ['ia32eModeGuest']);
const ENTRY_LOAD_PAT = controlMask('entry', ['loadPat']);
const ENTRY_LOAD_EFER = controlMask('entry', ['loadEfer']);
const EXIT_SAVE_DEBUG = controlMask('exit', ['saveDebugControls']);
const EXIT_SAVE_PAT = controlMask('exit', ['savePat']);
const EXIT_SAVE_EFER = controlMask('exit', ['saveEfer']);
const ENABLE_EPT = controlMask('proc2', ['enableEpt']);
/** The guest PDPTE fields, PDPTE0 first. */
export const PDPTE_FIELDS = [SLOT.guestPdpte0, SLOT.guestPdpte1, SLOT.guestPdpte2, SLOT.guestPdpte3];
/** DR7 bits VM entry loads as 0 and as 1 whatever the field holds (§27.3.2.1). */
const DR7_ENTRY_ZEROS = 0xd000, DR7_ENTRY_ONES = 0x400;

/**
 * CR0 bits VM entry and VM exit leave alone (§27.3.2.1, §28.5.1): ET, CD,
 * NW and the reserved bits 28:19, 17, 15:6. (Bits 63:32 are not kept.)
 */
export const CR0_UNCHANGED = (0x10 | 0x40000000 | 0x20000000 | 0x1ff80000 | 0x20000 | 0xffc0) >>> 0;

/** Interruptibility-state bits (§25.4.2 Table 25-3). */
export const BLOCKING_BY_STI = 1 << 0, BLOCKING_BY_MOV_SS = 1 << 1, BLOCKING_BY_NMI = 1 << 3;

/** Segment registers whose base VM entry loads as 32 bits, as a mask of Seg numbers (§27.3.2.2). */
const BASE_32 = (1 << Seg.ES) | (1 << Seg.SS) | (1 << Seg.DS);

/** The VMCS slots of each segment register's selector, base, limit and access rights, by Seg number. */
const SEGMENT_SLOTS = (['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const).map((n) => ({
  sel: SLOT[`guest${n}Selector`], base: SLOT[`guest${n}Base`], limit: SLOT[`guest${n}Limit`], ar: SLOT[`guest${n}AccessRights`],
}));

/** A natural-width field as a number (addresses kept sign-extended, DESIGN decision 5). */
export const natural = (v: VmcsImage, slot: number): number => joinSigned(v.lo[slot]!, v.hi[slot]!);

/** Writes a number (a canonical address, or a value below 2^53) into a natural-width field. */
export function setNatural(v: VmcsImage, slot: number, x: number): void {
  const high = Math.floor(x / TWO32);
  v.lo[slot] = (x - high * TWO32) | 0;
  v.hi[slot] = high | 0;
}

function setPair(v: VmcsImage, slot: number, low: number, high: number): void {
  v.lo[slot] = low | 0;
  v.hi[slot] = high | 0;
}

/**
 * Loads the processor from the guest-state area (§27.3.2.1-§27.3.2.5), the
 * checks of §27.3.1 having passed: control registers, debug registers and
 * MSRs, segment and descriptor-table registers, RIP/RSP/RFLAGS. The
 * non-register state (activity, interruptibility) is entry.ts's. An
 * unrestricted guest (§26.6) loads the same way: with CR0.PE = 0 the core
 * is in real-address mode (updateMode) with the segment caches the VMCS
 * gives, bases other than selector × 16 and 4-GByte limits included.
 */
export function loadGuestState(s: VmxState, c: Cpu): void {
  const v = s.vmcs;
  const entry = lo(v, SLOT.vmEntryControls);
  c.cr0 = ((c.cr0 & CR0_UNCHANGED) | (lo(v, SLOT.guestCr0) & ~CR0_UNCHANGED)) >>> 0;
  c.cr3 = natural(v, SLOT.guestCr3);
  c.cr4 = lo(v, SLOT.guestCr4);
  if ((entry & ENTRY_LOAD_DEBUG) !== 0) {
    // Bits 12 and 15:14 load as 0 and bit 10 as 1, whatever the field holds (§27.3.2.1).
    c.sys.dr[14] = (v.lo[SLOT.guestDr7]! & ~DR7_ENTRY_ZEROS) | DR7_ENTRY_ONES;
    c.sys.dr[15] = v.hi[SLOT.guestDr7]!;
  }
  c.sys.sysenterCs = lo(v, SLOT.guestIa32SysenterCs);
  c.sys.sysenterEsp = natural(v, SLOT.guestIa32SysenterEsp);
  c.sys.sysenterEip = natural(v, SLOT.guestIa32SysenterEip);
  if ((entry & ENTRY_LOAD_PAT) !== 0) storeMsr(c, IA32_PAT, v.lo[SLOT.guestIa32Pat]!, v.hi[SLOT.guestIa32Pat]!);
  if ((entry & ENTRY_LOAD_EFER) !== 0) {
    c.efer = lo(v, SLOT.guestIa32Efer);
  } else {
    // "IA-32e mode guest" is loaded into LMA, and into LME only when CR0.PG is loaded as 1: an
    // unrestricted guest entered with paging off keeps the host's LME (§27.3.2.1). Other bits stay.
    const mask = (c.cr0 & CR0_PG) !== 0 ? EFER_LMA | EFER_LME : EFER_LMA;
    c.efer = (entry & ENTRY_IA32E) !== 0 ? c.efer | mask : c.efer & ~mask;
  }
  for (let seg = 0; seg < 6; seg++) {
    const f = SEGMENT_SLOTS[seg]!;
    c.segSel[seg] = lo(v, f.sel);
    c.segLimit[seg] = lo(v, f.limit);
    c.segAttr[seg] = lo(v, f.ar);
    // ES, SS and DS: bits 63:32 of the base load as 0 (the checks make them 0 for usable segments, §27.3.2.2).
    c.sys.descBase[seg] = ((BASE_32 >> seg) & 1) !== 0 ? v.lo[f.base]! >>> 0 : natural(v, f.base);
  }
  const sys = c.sys;
  sys.ldtrSel = lo(v, SLOT.guestLdtrSelector);
  sys.ldtrBase = natural(v, SLOT.guestLdtrBase);
  sys.ldtrLimit = lo(v, SLOT.guestLdtrLimit);
  sys.ldtrAttr = lo(v, SLOT.guestLdtrAccessRights);
  sys.trSel = lo(v, SLOT.guestTrSelector);
  sys.trBase = natural(v, SLOT.guestTrBase);
  sys.trLimit = lo(v, SLOT.guestTrLimit);
  sys.trAttr = lo(v, SLOT.guestTrAccessRights);
  sys.gdtrBase = natural(v, SLOT.guestGdtrBase);
  sys.gdtrLimit = lo(v, SLOT.guestGdtrLimit) & 0xffff;
  sys.idtrBase = natural(v, SLOT.guestIdtrBase);
  sys.idtrLimit = lo(v, SLOT.guestIdtrLimit) & 0xffff;
  c.cpl = (c.segAttr[Seg.SS]! >>> 5) & 3;
  c.r[8] = v.lo[SLOT.guestRsp]!;
  c.r[9] = v.hi[SLOT.guestRsp]!;
  c.rip = natural(v, SLOT.guestRip);
  writeRflags(c, lo(v, SLOT.guestRflags), 0xffffffff);
  enterGuestAddressSpace(s, c);
  updateMode(c);
}

/**
 * Saves the processor into the guest-state area at a VM exit (§28.3.1
 * control, debug and MSR registers; §28.3.2 segment and descriptor-table
 * registers; §28.3.3 RIP, RSP, RFLAGS; §28.3.4 activity and
 * interruptibility). `rip` is the guest RIP the exit reports: the
 * instruction's own for faults and instruction exits, the next one for
 * traps (§28.3.3).
 */
export function saveGuestState(v: VmcsImage, c: Cpu, rip: number): void {
  const exit = lo(v, SLOT.vmExitControls);
  setPair(v, SLOT.guestCr0, c.cr0, 0);
  setNatural(v, SLOT.guestCr3, c.cr3);
  setPair(v, SLOT.guestCr4, c.cr4, 0);
  if ((exit & EXIT_SAVE_DEBUG) !== 0) setPair(v, SLOT.guestDr7, c.sys.dr[14]!, c.sys.dr[15]!);
  setPair(v, SLOT.guestIa32SysenterCs, c.sys.sysenterCs, 0);
  setNatural(v, SLOT.guestIa32SysenterEsp, c.sys.sysenterEsp);
  setNatural(v, SLOT.guestIa32SysenterEip, c.sys.sysenterEip);
  if ((exit & EXIT_SAVE_PAT) !== 0) setPair(v, SLOT.guestIa32Pat, loadMsr(c, IA32_PAT, PAT_RESET_LO, PAT_RESET_LO), c.opHi);
  if ((exit & EXIT_SAVE_EFER) !== 0) setPair(v, SLOT.guestIa32Efer, c.efer, 0);
  for (let s = 0; s < 6; s++) {
    const f = SEGMENT_SLOTS[s]!;
    setPair(v, f.sel, c.segSel[s]!, 0);
    setPair(v, f.limit, c.segLimit[s]!, 0);
    setPair(v, f.ar, c.segAttr[s]!, 0);
    setNatural(v, f.base, c.sys.descBase[s]!);
  }
  const sys = c.sys;
  setPair(v, SLOT.guestLdtrSelector, sys.ldtrSel, 0);
  setNatural(v, SLOT.guestLdtrBase, sys.ldtrBase);
  setPair(v, SLOT.guestLdtrLimit, sys.ldtrLimit, 0);
  setPair(v, SLOT.guestLdtrAccessRights, sys.ldtrAttr, 0);
  setPair(v, SLOT.guestTrSelector, sys.trSel, 0);
  setNatural(v, SLOT.guestTrBase, sys.trBase);
  setPair(v, SLOT.guestTrLimit, sys.trLimit, 0);
  setPair(v, SLOT.guestTrAccessRights, sys.trAttr, 0);
  setNatural(v, SLOT.guestGdtrBase, sys.gdtrBase);
  setPair(v, SLOT.guestGdtrLimit, sys.gdtrLimit, 0);
  setNatural(v, SLOT.guestIdtrBase, sys.idtrBase);
  setPair(v, SLOT.guestIdtrLimit, sys.idtrLimit, 0);
  setPair(v, SLOT.guestRsp, c.r[8]!, c.r[9]!);
  setNatural(v, SLOT.guestRip, rip);
  setPair(v, SLOT.guestRflags, readRflags(c) | FIXED_ONE, 0);
  setPair(v, SLOT.guestActivityState, c.activity === Activity.Active ? 0 : c.activity, 0);
  let blocking = 0;
  if (c.inhibitUntil > c.icount) blocking |= c.inhibitByMovSs ? BLOCKING_BY_MOV_SS : BLOCKING_BY_STI;
  if (c.sys.nmiBlocked) blocking |= BLOCKING_BY_NMI;
  setPair(v, SLOT.guestInterruptibilityState, blocking, 0);
  setPair(v, SLOT.guestPendingDebugExceptions, 0, 0);
  // With EPT under PAE paging the PDPTE registers are saved too (§28.3.4).
  if ((secondaryControls(v) & ENABLE_EPT) !== 0 && pagingMode(c.cr0, c.cr4, c.efer) === PagingMode.Pae) {
    const r = pdpteRegisters(c);
    for (let i = 0; i < 4; i++) setPair(v, PDPTE_FIELDS[i]!, r[2 * i]!, r[2 * i + 1]!);
  }
}
