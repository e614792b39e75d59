/**
 * The MSR areas of VM entries and VM exits (SDM Vol. 3C §27.4 "Loading
 * MSRs", §28.4 "Saving MSRs", §28.6 "Loading MSRs"; §25.7.2, §25.8.2 for
 * the areas): `count` entries of 16 bytes at a physical address, each with
 * the MSR index in bits 31:0, bits 63:32 reserved, the value in bits
 * 127:64. The entries are processed in order, as WRMSR / RDMSR at CPL 0
 * would, and processing stops at the first that fails.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { CpuException } from '../../cpu/exceptions.ts';
import { findMsr } from '../../cpu/msr/index.ts';
import type { MsrDef } from '../../cpu/msr/msrDef.ts';

const IA32_FS_BASE = 0xc0000100, IA32_GS_BASE = 0xc0000101, IA32_SMBASE = 0x9e;
/** MSRs 800H-8FFH reach APIC registers in x2APIC mode: never in an MSR area (§27.4, §28.4). */
const isX2apicRange = (index: number): boolean => index >>> 8 === 0x8;

function msrAt(c: Cpu, index: number): MsrDef | undefined {
  return findMsr(index) ?? c.vmx?.findMsr(index);
}

/**
 * Loads the MSRs of the area at `pa` (the VM-entry MSR-load area, §27.4,
 * or the VM-exit MSR-load area, §28.6). Returns 0 when every entry loaded,
 * else the 1-based number of the entry that failed: FS_BASE or GS_BASE, an
 * x2APIC MSR, reserved bits 63:32 set, or a value WRMSR would refuse.
 */
export function loadMsrArea(c: Cpu, pa: number, count: number): number {
  for (let k = 0; k < count; k++) {
    const at = pa + 16 * k;
    const index = c.phys.readSized(at, 4) >>> 0;
    const reserved = c.phys.readSized(at + 4, 4);
    const m = msrAt(c, index);
    if (index === IA32_FS_BASE || index === IA32_GS_BASE || isX2apicRange(index) || reserved !== 0 || !m?.write) return k + 1;
    try {
      m.write(c, c.phys.readSized(at + 8, 4), c.phys.readSized(at + 12, 4));
    } catch (e) {
      if (e instanceof CpuException) return k + 1;
      throw e;
    }
  }
  return 0;
}

/**
 * Stores the MSRs named by the VM-exit MSR-store area at `pa` into their
 * entries' bits 127:64 (§28.4). Returns 0 on success, else the 1-based
 * number of the entry that failed: IA32_SMBASE, an x2APIC MSR, reserved
 * bits set, or an MSR RDMSR would refuse.
 */
export function storeMsrArea(c: Cpu, pa: number, count: number): number {
  for (let k = 0; k < count; k++) {
    const at = pa + 16 * k;
    const index = c.phys.readSized(at, 4) >>> 0;
    const m = msrAt(c, index);
    if (index === IA32_SMBASE || isX2apicRange(index) || c.phys.readSized(at + 4, 4) !== 0 || !m) return k + 1;
    try {
      const low = m.read(c);
      c.phys.writeSized(at + 8, 4, low);
      c.phys.writeSized(at + 12, 4, c.opHi);
    } catch (e) {
      if (e instanceof CpuException) return k + 1;
      throw e;
    }
  }
  return 0;
}
