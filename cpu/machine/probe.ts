/**
 * The read-only probe (DESIGN decision 1): what tracing, tests and a
 * debugger may see of a machine without changing what it does. It reads
 * core state and RAM; it never reads a device register (a UART read has
 * side effects) — MMIO and unbacked addresses read as all ones. Reading
 * a never-touched RAM page allocates it (zero-filled), which costs host
 * memory but changes nothing the guest can see.
 */
import { Activity, type Cpu } from '../cpu.ts';
import { readRflags } from '../flags.ts';
import { PAGE_SIZE, type PhysicalMemory } from '../memory/physical.ts';
import { REG64_NAMES, SEG_NAMES, toBigInt } from '../registers.ts';

export type RegisterName = (typeof REG64_NAMES)[number];

export interface CoreView {
  id: number;
  activity: 'active' | 'hlt' | 'shutdown' | 'wait-for-sipi';
  /** Retired instructions. */
  icount: number;
  /** icount + idle ticks: the core's time. */
  clock: number;
  idleTicks: number;
  rip: bigint;
  rflags: number;
  regs: Record<RegisterName, bigint>;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  mode: 16 | 32 | 64;
  segments: Record<(typeof SEG_NAMES)[number], { selector: number; base: number; limit: number; attr: number }>;
}

const ACTIVITY_NAMES = { [Activity.Active]: 'active', [Activity.Hlt]: 'hlt', [Activity.Shutdown]: 'shutdown', [Activity.WaitForSipi]: 'wait-for-sipi' } as const;

export class MachineProbe {
  constructor(
    private readonly cpus: readonly Cpu[],
    private readonly phys: PhysicalMemory,
    private readonly clock: () => number,
  ) {}

  get coreCount(): number {
    return this.cpus.length;
  }

  /** Machine time in ticks (one per instruction per core, nominally 1 ns). */
  get time(): number {
    return this.clock();
  }

  core(k: number): CoreView {
    const c = this.cpus[k];
    if (!c) throw new RangeError(`no core ${k} (the machine has ${this.cpus.length})`);
    const regs = {} as Record<RegisterName, bigint>;
    REG64_NAMES.forEach((name, n) => (regs[name] = toBigInt(c.r[2 * n]!, c.r[2 * n + 1]!)));
    const segments = {} as CoreView['segments'];
    SEG_NAMES.forEach((name, s) => (segments[name] = { selector: c.segSel[s]!, base: c.segBase[s]!, limit: c.segLimit[s]!, attr: c.segAttr[s]! }));
    return {
      id: c.id, activity: ACTIVITY_NAMES[c.activity], icount: c.icount, clock: c.clock, idleTicks: c.idleTicks,
      rip: BigInt.asUintN(64, BigInt(c.rip)), rflags: readRflags(c), regs,
      cr0: c.cr0, cr2: c.cr2, cr3: c.cr3, cr4: c.cr4, efer: c.efer, cpl: c.cpl, mode: c.codeSize, segments,
    };
  }

  /** Retired instructions of every core, in core order. */
  instructionCounts(): number[] {
    return this.cpus.map((c) => c.icount);
  }

  /** Physical memory bytes; MMIO and addresses beyond RAM read as 0xFF, without touching devices. */
  read(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length).fill(0xff);
    for (let k = 0; k < length;) {
      const a = addr + k;
      const ppn = Math.floor(a / PAGE_SIZE);
      const off = a - ppn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, length - k);
      const page = this.phys.ramPage(ppn);
      if (page) out.set(new Uint8Array(page.buffer, off, n), k);
      k += n;
    }
    return out;
  }

  read32(addr: number): number {
    const b = this.read(addr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
}
