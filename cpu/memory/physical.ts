/**
 * Guest-physical memory of the machine: RAM allocated lazily in 4 KiB pages
 * (a 4 GiB machine that touches 8 MiB uses a few MiB of host memory), MMIO
 * regions registered by devices, and reads of unbacked addresses returning
 * all ones as on a PC. Pages that hold decoded code are tracked so that a
 * write to them invalidates the decoded blocks (self-modifying code).
 */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export interface MmioDevice {
  readonly name: string;
  /** `size` is 1, 2, 4 or 8 bytes; 8-byte accesses are split by the caller into two 4-byte ones. */
  read(addr: number, size: number): number;
  write(addr: number, size: number, value: number): void;
}

interface MmioRange { base: number; end: number; device: MmioDevice }

/** Listener told when a page holding decoded code is written. */
export type CodeWriteListener = (ppn: number) => void;

/** A cache of host page views (a core's TLB) that must drop them when pages change kind. */
export interface PageViewCache {
  flushAll(): void;
  flushWrites(): void;
}

export class PhysicalMemory {
  readonly size: number;
  private readonly pages: (DataView | undefined)[];
  private readonly mmioRanges: MmioRange[] = [];
  /** Page numbers with at least one MMIO range: consulted only on slow paths. */
  private readonly mmioPages = new Set<number>();
  /** Number of decoded blocks per page; non-zero pages are write-watched. */
  readonly codePages: Map<number, number> = new Map();
  private codeWriteListeners: CodeWriteListener[] = [];
  /**
   * The core whose access is being served: per-core MMIO (each core's local
   * APIC page) dispatches on it. The machine sets it before running a core.
   */
  activeCore = 0;
  /** Translation caches holding host views of pages; told when a page changes kind. */
  private readonly caches: PageViewCache[] = [];

  constructor(sizeBytes: number) {
    if (!Number.isInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size must be a positive multiple of 4 KiB, got ${sizeBytes}`);
    }
    this.size = sizeBytes;
    this.pages = new Array<DataView | undefined>(sizeBytes / PAGE_SIZE);
  }

  /** Host bytes held by RAM pages touched so far. */
  get allocatedBytes(): number {
    let n = 0;
    for (const p of this.pages) if (p) n += PAGE_SIZE;
    return n;
  }

  addMmio(base: number, length: number, device: MmioDevice): void {
    const end = base + length;
    for (const r of this.mmioRanges) {
      if (base < r.end && r.base < end) {
        throw new RangeError(`MMIO range ${device.name} at 0x${base.toString(16)} overlaps ${r.device.name}`);
      }
    }
    this.mmioRanges.push({ base, end, device });
    for (let p = Math.floor(base / PAGE_SIZE); p * PAGE_SIZE < end; p++) this.mmioPages.add(p);
    for (const c of this.caches) c.flushAll();
  }

  attachCache(cache: PageViewCache): void {
    this.caches.push(cache);
  }

  onCodeWrite(listener: CodeWriteListener): void {
    this.codeWriteListeners.push(listener);
  }

  /**
   * The RAM page backing physical page `ppn`, allocating it on first use, or
   * undefined if the page is MMIO or outside RAM (slow path only).
   */
  ramPage(ppn: number): DataView | undefined {
    if (ppn < 0 || ppn >= this.pages.length || this.mmioPages.has(ppn)) return undefined;
    let p = this.pages[ppn];
    if (!p) {
      p = new DataView(new ArrayBuffer(PAGE_SIZE));
      this.pages[ppn] = p;
    }
    return p;
  }

  isCodePage(ppn: number): boolean {
    return this.codePages.has(ppn);
  }

  /** A decoded block now depends on page `ppn`: writes to it must be seen. */
  retainCodePage(ppn: number): void {
    const n = this.codePages.get(ppn) ?? 0;
    this.codePages.set(ppn, n + 1);
    // Writes to this page must now take the slow path, which invalidates code.
    if (n === 0) for (const c of this.caches) c.flushWrites();
  }

  releaseCodePage(ppn: number): void {
    const n = this.codePages.get(ppn) ?? 0;
    if (n <= 1) this.codePages.delete(ppn);
    else this.codePages.set(ppn, n - 1);
  }

  /** Called by every write path before it writes to a code page. */
  noteWrite(ppn: number): void {
    if (this.codePages.has(ppn)) for (const l of this.codeWriteListeners) l(ppn);
  }

  private mmioAt(addr: number): MmioRange | undefined {
    for (const r of this.mmioRanges) if (addr >= r.base && addr < r.end) return r;
    return undefined;
  }

  /** Byte-granular slow access used for MMIO, unbacked memory and page-crossing accesses. */
  read8(addr: number): number {
    const ppn = Math.floor(addr / PAGE_SIZE);
    const page = this.ramPage(ppn);
    if (page) return page.getUint8(addr - ppn * PAGE_SIZE);
    const r = this.mmioAt(addr);
    return r ? r.device.read(addr - r.base, 1) & 0xff : 0xff;
  }

  write8(addr: number, v: number): void {
    const ppn = Math.floor(addr / PAGE_SIZE);
    const page = this.ramPage(ppn);
    if (page) {
      this.noteWrite(ppn);
      page.setUint8(addr - ppn * PAGE_SIZE, v);
      return;
    }
    const r = this.mmioAt(addr);
    if (r) r.device.write(addr - r.base, 1, v & 0xff);
  }

  /**
   * An aligned-or-not access of `size` (1, 2, 4) bytes that stays within one
   * page: MMIO devices see one access of the right width.
   */
  readSized(addr: number, size: number): number {
    const r = this.mmioPages.has(Math.floor(addr / PAGE_SIZE)) ? this.mmioAt(addr) : undefined;
    if (r) return r.device.read(addr - r.base, size);
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = (v * 256) + this.read8(addr + k);
    return size === 4 ? v | 0 : v;
  }

  writeSized(addr: number, size: number, value: number): void {
    const r = this.mmioPages.has(Math.floor(addr / PAGE_SIZE)) ? this.mmioAt(addr) : undefined;
    if (r) {
      r.device.write(addr - r.base, size, value);
      return;
    }
    for (let k = 0; k < size; k++) this.write8(addr + k, (value >>> (8 * k)) & 0xff);
  }

  /** Bulk load for loaders and tests (not a guest access). */
  load(addr: number, bytes: Uint8Array): void {
    if (addr < 0 || addr + bytes.length > this.size) {
      throw new RangeError(`load of ${bytes.length} bytes at 0x${addr.toString(16)} is outside RAM (${this.size} bytes)`);
    }
    for (let k = 0; k < bytes.length; k++) this.write8(addr + k, bytes[k]!);
  }

  readBytes(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let k = 0; k < length; k++) out[k] = this.read8(addr + k);
    return out;
  }
}
