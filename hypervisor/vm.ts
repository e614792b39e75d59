/**
 * A VM: its guest-physical memory (one range of host RAM, mapped from
 * guest-physical 0 by ept12), its vCPUs, and what L1 keeps for it — the
 * console output its guest printed and how it ended. The VM's memory is
 * L1's memory too: L1 reads and writes it directly (DESIGN decision 1).
 *
 * A 64-bit guest gets from L1 what a loader would give it: identity page
 * tables in its own memory (2-MByte pages over all of its RAM) and its
 * code at GUEST_CODE, entered in 64-bit mode with RSP = GUEST_STACK.
 */
import type { Vector } from '../cpu/exceptions.ts';
import type { PhysicalMemory } from '../cpu/memory/physical.ts';
import { Ept12 } from './ept12.ts';
import { HypervisorError } from './hypervisorError.ts';
import type { HostPages } from './l1/hostPages.ts';
import type { MmioDevice, MmioRegion } from './mmio.ts';
import type { Vcpu } from './vcpu.ts';

export const GUEST_PAGE_TABLES = 0x1000, GUEST_CODE = 0x10000, GUEST_STACK = 0x80000;
const TWO_MIB = 1 << 21;
/** The console text a VM keeps: 1 Mi characters. */
export const CONSOLE_LIMIT = 1 << 20;

/** How a VM ended, as the summary and the tests read it. */
export type VmOutcome =
  | { kind: 'running' }
  | { kind: 'passed'; detail: string }
  | { kind: 'failed'; detail: string }
  | { kind: 'stopped'; detail: string };

export class Vm {
  /** Host-physical address of guest-physical 0. */
  readonly ramHpa: number;
  readonly ramBytes: number;
  readonly ept: Ept12;
  private consoleText = '';
  /** Characters the guest wrote to its console beyond CONSOLE_LIMIT, dropped. */
  consoleDropped = 0;
  outcome: VmOutcome = { kind: 'running' };
  readonly vcpus: Vcpu[] = [];
  /** Exceptions L1 intercepts and reflects into the guest (exits/exception.ts); set before adding vCPUs. */
  interceptExceptions: readonly (Vector.UD | Vector.BP)[] = [];
  /** Memory-mapped devices, outside guest RAM (mmio.ts). */
  private readonly mmio: MmioRegion[] = [];
  private readonly phys: PhysicalMemory;

  constructor(readonly id: number, readonly name: string, memoryMiB: number, guestRam: HostPages, l1: HostPages) {
    this.ramBytes = Math.ceil(memoryMiB * (1 << 20) / TWO_MIB) * TWO_MIB;
    this.ramHpa = guestRam.allocate(this.ramBytes / 4096, TWO_MIB);
    this.ept = new Ept12(l1);
    this.ept.map2M(0, this.ramHpa, this.ramBytes);
    this.phys = guestRam.phys;
  }

  /** Bytes the guest wrote to its console (I/O port or hypercall), as text: the first CONSOLE_LIMIT of them. */
  get console(): string {
    return this.consoleText;
  }

  /**
   * The console's writers append (`vm.console += text`): the text is kept
   * up to CONSOLE_LIMIT characters and the rest counted in consoleDropped,
   * so that a guest printing without end can neither grow L1's memory
   * without bound nor reach the host's longest string (DESIGN decision 7).
   * Once full, an append costs no copy.
   */
  set console(text: string) {
    const kept = this.consoleText.length;
    if (text.length <= CONSOLE_LIMIT) {
      this.consoleText = text;
      return;
    }
    if (kept < CONSOLE_LIMIT) this.consoleText = text.slice(0, CONSOLE_LIMIT);
    this.consoleDropped += text.length - Math.max(kept, CONSOLE_LIMIT);
  }

  /** Copies `bytes` into guest-physical memory at `gpa`. */
  write(gpa: number, bytes: Uint8Array): void {
    if (gpa < 0 || gpa + bytes.length > this.ramBytes) {
      throw new HypervisorError(`VM ${this.name}: ${bytes.length} bytes at guest-physical 0x${gpa.toString(16)} do not fit in its ${this.ramBytes >> 20} MiB`);
    }
    this.phys.load(this.ramHpa + gpa, bytes);
  }

  /** `length` bytes of guest-physical memory at `gpa` (a guest's buffer, for a hypercall or ucall); out of range is an error of the guest's. */
  read(gpa: number, length: number): Uint8Array | null {
    if (gpa < 0 || length < 0 || gpa + length > this.ramBytes) return null;
    return this.phys.readBytes(this.ramHpa + gpa, length);
  }

  /** Puts `device` at guest-physical [gpa, gpa + size), which must lie beyond guest RAM and clear of the other devices. */
  addMmio(gpa: number, size: number, device: MmioDevice): void {
    const clash = this.mmio.find((r) => gpa < r.gpa + r.size && r.gpa < gpa + size);
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(size) || size <= 0 || gpa < this.ramBytes || clash) {
      throw new HypervisorError(`VM ${this.name}: MMIO ${device.name} at 0x${gpa.toString(16)}+0x${size.toString(16)} ` +
        (clash ? `overlaps ${clash.device.name}` : `must be a non-empty range beyond guest RAM (0x${this.ramBytes.toString(16)})`));
    }
    this.mmio.push({ gpa, size, device });
  }

  /** The device region holding guest-physical `gpa`, if any. */
  mmioAt(gpa: number): MmioRegion | undefined {
    return this.mmio.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }

  /** Identity page tables for a 64-bit guest at GUEST_PAGE_TABLES: PML4, PDPT, one PD of 2-MByte pages per GiB of RAM. */
  writeLongModePageTables(): void {
    const pml4 = GUEST_PAGE_TABLES, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
    const entry = (at: number, value: number): void => {
      this.phys.writeSized(this.ramHpa + at, 4, value | 0);
      this.phys.writeSized(this.ramHpa + at + 4, 4, 0);
    };
    const present = 0x3, large = 0x83;
    entry(pml4, pdpt + present);
    entry(pdpt, pd + present);
    for (let k = 0; k * TWO_MIB < this.ramBytes && k < 512; k++) entry(pd + 8 * k, k * TWO_MIB + large);
  }
}
