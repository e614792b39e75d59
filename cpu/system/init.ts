/**
 * INIT and SIPI (SDM Vol. 3A §10.1.1 Table 10-1, §10.4; "INIT" column).
 * INIT resets the registers as RESET does but keeps the caches, the MSRs
 * (EFER.LMA follows CR0.PG = 0), x87/SSE state, XCR0, CD and NW. Then the
 * BSP (IA32_APIC_BASE.BSP) starts at the reset vector F000:FFF0 while an
 * AP enters wait-for-SIPI (§9.4.2 of older editions: "each logical processor
 * examines its BSP flag"). A SIPI with vector VV starts an AP waiting for it
 * in real mode at VV00:0000, i.e. physical address VV000H.
 */
import { Activity, type Cpu } from '../cpu.ts';
import { localApicOf } from '../devices/apic/registry.ts';
import { FIXED_ONE, writeArithFlags } from '../flags.ts';
import { pagingStateChanged } from '../memory/paging.ts';
import { Seg } from '../registers.ts';
import { CR0_CD, CR0_ET, CR0_NW, EFER_LMA, updateMode } from './mode.ts';

/** Present, read/write (data) or execute/read (code), accessed: real-mode segments after reset. */
const DATA_AR = 0x93, CODE_AR = 0x9b;
const cpuidOut = new Int32Array(4);

/** The BSP flag of IA32_APIC_BASE when the core has a local APIC; else core 0 is the BSP. */
export function isBootstrapProcessor(c: Cpu): boolean {
  const apic = localApicOf(c);
  return apic ? apic.bsp : c.id === 0;
}

function setRealSegment(c: Cpu, s: number, sel: number, base: number, attr: number): void {
  c.segSel[s] = sel;
  c.segLimit[s] = 0xffff;
  c.segAttr[s] = attr;
  c.sys.descBase[s] = base;
}

/** Sets the processor state INIT gives (Table 10-1, INIT column), with CS:IP at the reset vector. */
export function resetToInitState(c: Cpu): void {
  c.r.fill(0);
  c.model.query(c, 1, 0, cpuidOut);
  c.r[2 * 2] = cpuidOut[0]!; // EDX: processor signature (family, model, stepping)
  c.rip = 0xfff0;
  writeArithFlags(c, 0);
  c.eflags = FIXED_ONE;
  c.cr0 = ((c.cr0 & (CR0_CD | CR0_NW)) | CR0_ET) >>> 0;
  c.cr2 = 0;
  c.cr3 = 0;
  c.cr4 = 0;
  c.cr8 = 0;
  c.efer &= ~EFER_LMA;
  for (let s = 0; s < 6; s++) setRealSegment(c, s, 0, 0, DATA_AR);
  setRealSegment(c, Seg.CS, 0xf000, 0xffff0000, CODE_AR);
  const sys = c.sys;
  sys.gdtrBase = 0; sys.gdtrLimit = 0xffff;
  sys.idtrBase = 0; sys.idtrLimit = 0xffff;
  sys.ldtrSel = 0; sys.ldtrBase = 0; sys.ldtrLimit = 0xffff; sys.ldtrAttr = 0x82;
  sys.trSel = 0; sys.trBase = 0; sys.trLimit = 0xffff; sys.trAttr = 0x8b;
  sys.dr.fill(0);
  sys.dr[12] = 0xffff0ff0 | 0;
  sys.dr[14] = 0x400;
  sys.nmiBlocked = false;
  c.inhibitUntil = 0;
  c.cpl = 0;
  pagingStateChanged(c);
  updateMode(c);
  c.flushJumpCache();
}

/** Takes an INIT: reset, then the BSP runs from the reset vector and an AP waits for a SIPI. */
export function takeInit(c: Cpu): void {
  resetToInitState(c);
  c.activity = isBootstrapProcessor(c) ? Activity.Active : Activity.WaitForSipi;
}

/** Leaves wait-for-SIPI at CS = vector << 8 (base vector << 12), IP = 0, in real mode. */
export function takeSipi(c: Cpu, vector: number): void {
  setRealSegment(c, Seg.CS, (vector & 0xff) << 8, (vector & 0xff) << 12, CODE_AR);
  c.rip = 0;
  c.activity = Activity.Active;
  updateMode(c);
  c.flushJumpCache();
}
