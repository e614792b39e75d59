/**
 * Loading host state at VM exit and at a VM-entry failure after the
 * guest-state checks (SDM Vol. 3C §28.5 "Loading Host State", §27.8): the
 * host-state fields, plus the fixed values the SDM gives for everything the
 * host-state area does not hold. The VM-entry checks of §27.2.2-§27.2.4
 * have made the fields consistent.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { FIXED_ONE, writeRflags } from '../../cpu/flags.ts';
import { loadPdptes } from '../../cpu/memory/paging.ts';
import { PagingMode, pagingMode } from '../../cpu/memory/pagingUnit.ts';
import { storeMsr } from '../../cpu/msr/platformState.ts';
import { Seg } from '../../cpu/registers.ts';
import { EFER_LMA, EFER_LME, updateMode } from '../../cpu/system/mode.ts';
import { controlMask } from '../model/controls.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { enterHostAddressSpace } from './addressSpace.ts';
import { CR0_UNCHANGED, natural } from './guestState.ts';

const IA32_PAT = 0x277;
const EXIT_HOST_64 = controlMask('exit', ['hostAddressSpaceSize']);
const EXIT_LOAD_PAT = controlMask('exit', ['loadPat']);
const EXIT_LOAD_EFER = controlMask('exit', ['loadEfer']);

/** Access rights VM exit gives the host's segments (§28.5.2), in the VMX format (§25.4.1). */
const AR_UNUSABLE = 1 << 16;
const CODE_AR_64 = 0xb | 0x10 | 0x80 | 0x2000 | 0x8000; // execute/read accessed, S, P, L, G
const CODE_AR_32 = 0xb | 0x10 | 0x80 | 0x4000 | 0x8000; // ... D instead of L
const DATA_AR = 0x3 | 0x10 | 0x80 | 0x4000 | 0x8000; // read/write accessed, S, P, B, G
const TSS_AR = 0xb | 0x80; // busy 64-bit (or 32-bit) TSS, P

const DATA_SLOTS: readonly [Seg, number][] = [
  [Seg.ES, SLOT.hostEsSelector], [Seg.SS, SLOT.hostSsSelector], [Seg.DS, SLOT.hostDsSelector],
  [Seg.FS, SLOT.hostFsSelector], [Seg.GS, SLOT.hostGsSelector],
];

/**
 * Loads the host state (§28.5.1 control registers, debug registers and
 * MSRs; §28.5.2 segment and descriptor-table registers; §28.5.3 RIP, RSP,
 * RFLAGS). Returns false when the host's PDPTEs cannot be loaded (a
 * 32-bit PAE host, §28.5.4): the caller then aborts (VMX abort 2).
 */
export function loadHostState(v: VmcsImage, c: Cpu): boolean {
  const exit = lo(v, SLOT.vmExitControls);
  const host64 = (exit & EXIT_HOST_64) !== 0;
  c.cr0 = ((c.cr0 & CR0_UNCHANGED) | (lo(v, SLOT.hostCr0) & ~CR0_UNCHANGED)) >>> 0;
  c.cr3 = natural(v, SLOT.hostCr3);
  c.cr4 = lo(v, SLOT.hostCr4);
  // DR7 ← 400H; IA32_DEBUGCTL ← 0 (the model has no DEBUGCTL to clear).
  c.sys.dr[14] = 0x400;
  c.sys.dr[15] = 0;
  c.sys.sysenterCs = lo(v, SLOT.hostIa32SysenterCs);
  c.sys.sysenterEsp = natural(v, SLOT.hostIa32SysenterEsp);
  c.sys.sysenterEip = natural(v, SLOT.hostIa32SysenterEip);
  if ((exit & EXIT_LOAD_PAT) !== 0) storeMsr(c, IA32_PAT, v.lo[SLOT.hostIa32Pat]!, v.hi[SLOT.hostIa32Pat]!);
  if ((exit & EXIT_LOAD_EFER) !== 0) {
    c.efer = lo(v, SLOT.hostIa32Efer);
  } else {
    c.efer = host64 ? c.efer | EFER_LMA | EFER_LME : c.efer & ~(EFER_LMA | EFER_LME);
  }
  c.segSel[Seg.CS] = lo(v, SLOT.hostCsSelector);
  c.segLimit[Seg.CS] = 0xffffffff;
  c.segAttr[Seg.CS] = host64 ? CODE_AR_64 : CODE_AR_32;
  c.sys.descBase[Seg.CS] = 0;
  for (const [s, slot] of DATA_SLOTS) {
    const sel = lo(v, slot);
    c.segSel[s] = sel;
    c.segLimit[s] = 0xffffffff;
    c.segAttr[s] = sel === 0 ? AR_UNUSABLE : DATA_AR;
    c.sys.descBase[s] = 0;
  }
  c.sys.descBase[Seg.FS] = natural(v, SLOT.hostFsBase);
  c.sys.descBase[Seg.GS] = natural(v, SLOT.hostGsBase);
  const sys = c.sys;
  sys.trSel = lo(v, SLOT.hostTrSelector);
  sys.trBase = natural(v, SLOT.hostTrBase);
  sys.trLimit = 0x67;
  sys.trAttr = TSS_AR;
  sys.ldtrSel = 0;
  sys.ldtrBase = 0;
  sys.ldtrLimit = 0;
  sys.ldtrAttr = AR_UNUSABLE;
  sys.gdtrBase = natural(v, SLOT.hostGdtrBase);
  sys.gdtrLimit = 0xffff;
  sys.idtrBase = natural(v, SLOT.hostIdtrBase);
  sys.idtrLimit = 0xffff;
  c.cpl = 0;
  c.r[8] = v.lo[SLOT.hostRsp]!;
  c.r[9] = host64 ? v.hi[SLOT.hostRsp]! : 0;
  const rip = natural(v, SLOT.hostRip);
  c.rip = host64 ? rip : rip >>> 0;
  writeRflags(c, FIXED_ONE, 0xffffffff);
  enterHostAddressSpace(v, c);
  updateMode(c);
  return pagingMode(c.cr0, c.cr4, c.efer) !== PagingMode.Pae || loadPdptes(c, c.cr3);
}
