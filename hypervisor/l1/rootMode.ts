/**
 * Bringing a core into L1's root mode. The machine starts L1 on every core
 * the way the ELF64 loader starts a kernel: 64-bit mode, flat segments,
 * identity paging over all RAM (one set of page tables in L1's memory that
 * every core shares). From there L1 does what VMX software must (SDM Vol. 3C
 * §24.7 "Enabling and Entering VMX Operation"), through the operations the
 * instructions use: MOV to CR0 (NE, IA32_VMX_CR0_FIXED0) and CR4 (VMXE),
 * WRMSR IA32_FEATURE_CONTROL (lock, VMX outside SMX), then VMXON with a
 * region carrying the revision identifier of IA32_VMX_BASIC.
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { readMsr, writeMsr } from '../../cpu/exec/msr.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { mapIdentity } from '../../cpu/memory/identityMap.ts';
import { writeCr0, writeCr4 } from '../../cpu/system/controlRegs.ts';
import type { HostPages } from './hostPages.ts';
import { doVmxon, type HostCore } from './vmxOps.ts';

const IA32_FEATURE_CONTROL = 0x3a, IA32_VMX_BASIC = 0x480;
const FEATURE_CONTROL_LOCKED_VMX = 0x5;
const CR0_NE = 1 << 5, CR4_VMXE = 1 << 13;

/** Builds L1's identity page tables (once, for all cores) at `pageTables`, or reuses them, and enters 64-bit mode on `c`. */
function enterLongMode(c: Cpu, pageTables: number): void {
  enterFlatMode(c, 64);
  mapIdentity(c, pageTables);
  c.activity = Activity.Active;
  c.sipiVector = -1;
}

/** Core `h` in VMX root operation, with its VMXON region taken from `pages`. */
export function enterRootMode(h: HostCore, pages: HostPages, pageTables: number): void {
  const c = h.c;
  enterLongMode(c, pageTables);
  writeCr0(c, c.cr0 | CR0_NE);
  writeCr4(c, c.cr4 | CR4_VMXE);
  writeMsr(c, IA32_FEATURE_CONTROL, FEATURE_CONTROL_LOCKED_VMX, 0);
  const region = pages.allocate();
  pages.phys.writeSized(region, 4, readMsr(c, IA32_VMX_BASIC) & 0x7fffffff);
  doVmxon(h, region);
}
