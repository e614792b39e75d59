/**
 * The paging unit's entry points, called by the system-architecture code
 * whenever state that affects translation changes (SDM Vol. 3A ch. 4):
 * CR0.PG/WP/PE, CR4 paging bits, EFER.LMA/NXE, CPL and RFLAGS.AC (for
 * SMAP), CR3, and the invalidation instructions.
 *
 * Until the walker exists, translation is the identity and every change
 * flushes all cached translations.
 */
import type { Cpu } from '../cpu.ts';

/** After a write to CR0, CR4 or EFER, or a CPL or RFLAGS.AC change. */
export function pagingStateChanged(c: Cpu): void {
  c.mmu.flushAll();
  c.flushJumpCache();
}

/** MOV to CR3 (SDM Vol. 3A §4.10.4.1); the value is given as halves (bit 63 is the PCID no-flush bit). */
export function writeCr3(c: Cpu, lo: number, hi: number): void {
  c.cr3 = (hi & 0x7fffffff) * 0x100000000 + (lo >>> 0);
  c.mmu.flushAll();
  c.flushJumpCache();
}

/** INVLPG (SDM Vol. 3A §4.10.4.1). */
export function invalidatePage(c: Cpu, _la: number): void {
  c.mmu.flushAll();
  c.flushJumpCache();
}
