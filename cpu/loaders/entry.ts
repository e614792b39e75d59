/**
 * How a loaded program starts: the mode the bootstrap processor is put in,
 * the first instruction's address and the registers the boot protocol
 * defines. Other general registers are 0.
 */
import { Activity, type Cpu } from '../cpu.ts';
import { enterFlatMode } from '../flatMode.ts';
import { BOOT_PAGE_TABLES_END } from '../machine/layout.ts';
import { identityMapSize, mapIdentity } from '../memory/identityMap.ts';
import { Reg, Seg } from '../registers.ts';
import { setSegmentBase } from '../system/mode.ts';

export interface EntryPoint {
  /** 16: real mode; 32: flat protected mode, paging off; 64: flat 64-bit mode. */
  bits: 16 | 32 | 64;
  /** Linear (= physical) address of the first instruction. */
  address: number;
  /** 32-bit register values, zero-extended (e.g. multiboot's EAX and EBX). */
  regs?: { reg: Reg; value: number }[];
  /** For 64-bit entry: where the identity page tables go (BOOT_PAGE_TABLES, reserved by the loader). */
  identityMapAt?: number;
}

export function enterAt(c: Cpu, e: EntryPoint): void {
  enterFlatMode(c, e.bits);
  c.r.fill(0);
  for (const { reg, value } of e.regs ?? []) c.r[reg << 1] = value | 0;
  if (e.bits === 16) {
    // Real mode: CS:IP = (address >> 4):(address & 0xF), so any address below 1 MiB can be the entry.
    c.segSel[Seg.CS] = e.address >>> 4;
    setSegmentBase(c, Seg.CS, (e.address >>> 4) * 16);
    c.rip = e.address & 0xf;
  } else {
    c.rip = e.address;
  }
  if (e.identityMapAt !== undefined) {
    // 1-GByte pages fit the two reserved pages; a model without them needs a directory per GiB.
    if (identityMapSize(c) > BOOT_PAGE_TABLES_END - e.identityMapAt) {
      throw new RangeError('64-bit entry needs 1-GByte pages in the CPU model (page1gb) for its identity page tables');
    }
    mapIdentity(c, e.identityMapAt);
  }
  c.activity = Activity.Active;
  c.flushJumpCache();
}
