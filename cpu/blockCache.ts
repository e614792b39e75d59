/**
 * Decoded basic blocks, cached by physical address and code size
 * (DESIGN decision 6). A block never spans two pages, except a single
 * instruction that straddles a page boundary, which is decoded afresh each
 * time and never cached. A write to a page holding decoded code invalidates
 * every block decoded from it, so self-modifying code behaves as on
 * silicon after the write retires.
 */
import { LRUCache } from 'lru-cache';
import type { Insn } from './decode/insn.ts';
import { PAGE_SIZE, type PhysicalMemory } from './memory/physical.ts';

export class Block {
  valid = true;
  constructor(
    readonly insns: Insn[],
    readonly pa: number,
    readonly mode: 16 | 32 | 64,
    readonly cacheable: boolean,
  ) {}
  get ppn(): number { return Math.floor(this.pa / PAGE_SIZE); }
}

export function blockKey(pa: number, mode: 16 | 32 | 64): number {
  return pa * 4 + (mode === 16 ? 0 : mode === 32 ? 1 : 2);
}

export class BlockCache {
  private readonly lru: LRUCache<number, Block>;
  private readonly byPage = new Map<number, Set<Block>>();
  invalidations = 0;

  constructor(private readonly phys: PhysicalMemory, maxBlocks = 32768) {
    this.lru = new LRUCache<number, Block>({
      max: maxBlocks,
      dispose: (b) => this.unlink(b),
    });
    phys.onCodeWrite((ppn) => this.invalidatePage(ppn));
  }

  get size(): number { return this.lru.size; }

  get(pa: number, mode: 16 | 32 | 64): Block | undefined {
    return this.lru.get(blockKey(pa, mode));
  }

  add(b: Block): void {
    const ppn = b.ppn;
    let set = this.byPage.get(ppn);
    if (!set) {
      set = new Set();
      this.byPage.set(ppn, set);
    }
    set.add(b);
    this.phys.retainCodePage(ppn);
    this.lru.set(blockKey(b.pa, b.mode), b);
  }

  invalidatePage(ppn: number): void {
    const set = this.byPage.get(ppn);
    if (!set) return;
    for (const b of [...set]) {
      b.valid = false;
      this.lru.delete(blockKey(b.pa, b.mode));
    }
    this.invalidations++;
  }

  clear(): void {
    this.lru.clear();
  }

  private unlink(b: Block): void {
    b.valid = false;
    const set = this.byPage.get(b.ppn);
    if (set?.delete(b)) {
      this.phys.releaseCodePage(b.ppn);
      if (set.size === 0) this.byPage.delete(b.ppn);
    }
  }
}
