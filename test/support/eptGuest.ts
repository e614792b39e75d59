/**
 * A harness guest for the tests of cached EPT translations (SDM Vol. 3C
 * §29.4): a 64-bit guest on its own 4-level paging structures at
 * GUEST_TABLES (2-MByte pages below 4 MiB, 4-KByte pages for 4-8 MiB, A and
 * D preset in every entry; Vol. 3A §4.5), under identity EPT (4-KByte pages
 * for 4-8 MiB, 2-MByte pages below), RSI = X, a marker quadword at X and at
 * NEW + 8.
 *
 * How a test sees which cache served an access: the EPT entry of X's page
 * is changed in memory without INVEPT (remap), so the value read says
 * whether a cached guest-physical or combined mapping was used; and the
 * guest's own PTE for X has its accessed flag cleared, which only a walk of
 * the guest's paging structures sets again (Vol. 3A §4.8), so the PTE says
 * whether a combined mapping was used.
 */
import type { StopReason } from '../../cpu/cpu.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { A, D, P, PageTables, U, W } from '../memory/pageTables.ts';
import { EptBuilder } from './eptBuilder.ts';
import { type ExitAction, VmxHarness } from './vmxHarness.ts';

export const GUEST_TABLES = 0x110000n;
/** The guest-physical (= linear) page the tests read at X, and the pages its EPT entry is changed to. */
export const OLD = 0x417000n, NEW = 0x418000n, NEW2 = 0x419000n, X = OLD + 8n;
const CR4_PCIDE = 0x20000n;

/** A recognisable quadword for each address. */
export const marker = (pa: bigint): bigint => 0x5a5a000000000000n | pa;
export const write64 = (h: VmxHarness, pa: bigint, v: bigint): void =>
  h.t.phys.ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), v, true);
export const read64 = (h: VmxHarness, pa: bigint): bigint =>
  h.t.phys.ramPage(Number(pa >> 12n))!.getBigUint64(Number(pa & 0xfffn), true);
/** An INVEPT/INVVPID descriptor as the operations take it: four 32-bit words, bits 31:0 first. */
export const descriptor = (lo64: bigint, hi64 = 0n): Int32Array =>
  new Int32Array([lo64, lo64 >> 32n, hi64, hi64 >> 32n].map((v) => Number(BigInt.asIntN(32, v))));

export interface EptGuestOptions {
  /** "enable VPID" with this VPID (default: no VPID). */
  vpid?: number;
  /** EPTP bit 6 (EPT accessed and dirty flags). */
  accessedDirty?: boolean;
  /** "enable INVPCID". */
  invpcid?: boolean;
  /** Guest CR4.PCIDE = 1 with this PCID in CR3 bits 11:0. */
  pcid?: number;
  regs?: Record<string, bigint>;
  /** Changes to the EPT layout. */
  ept?: (b: EptBuilder) => void;
  /** The n-th exit (from 1), with the guest's page tables. */
  onExit: (n: number, h: VmxHarness, pt: PageTables) => ExitAction;
}

export interface EptGuest {
  h: VmxHarness;
  pt: PageTables;
  stop: StopReason;
}

/** The standard EPT layout: identity over the harness's 8 MiB. */
export function identityEpt(b: EptBuilder): void {
  b.identity(0, 0x400000, { size: '2M' });
  b.identity(0x400000, 0x800000);
}

export async function eptGuest(guest: string, o: EptGuestOptions): Promise<EptGuest> {
  let pt: PageTables | undefined;
  let n = 0;
  const h = await VmxHarness.create(guest, {
    features: FULL_VMX_MODEL,
    controls: { proc2: [...(o.vpid ? ['enableVpid' as const] : []), ...(o.invpcid ? ['enableInvpcid' as const] : [])] },
    fields: o.vpid ? { vpid: o.vpid } : {},
    ept: (b) => {
      identityEpt(b);
      o.ept?.(b);
    },
    onExit: (_e, hh) => o.onExit(++n, hh, pt!),
  });
  pt = new PageTables(h.t.phys, '4level', Number(GUEST_TABLES));
  const upper = P | W | U | A;
  for (let a = 0n; a < 0x400000n; a += 1n << 21n) pt.map(a, a, { size: 1n << 21n, flags: W | A | D, upper });
  for (let a = 0x400000n; a < 0x800000n; a += 0x1000n) pt.map(a, a, { flags: W | A | D, upper });
  h.write('guestCr3', GUEST_TABLES | BigInt(o.pcid ?? 0));
  if (o.pcid !== undefined) h.write('guestCr4', h.read('guestCr4') | CR4_PCIDE);
  if (o.accessedDirty) h.write('eptp', h.ept!.eptp({ accessedDirty: true }));
  write64(h, X, marker(X));
  write64(h, NEW + 8n, marker(NEW + 8n));
  write64(h, NEW2 + 8n, marker(NEW2 + 8n));
  h.t.setReg('rsi', X);
  for (const [k, v] of Object.entries(o.regs ?? {})) h.t.setReg(k as never, v);
  const stop = h.launch(10_000);
  return { h, pt, stop };
}

/** X's page now maps `to` in EPT `b` (no INVEPT). */
export function remap(b: EptBuilder, to: bigint = NEW): void {
  b.setEntry(OLD, 1, EptBuilder.leaf(to));
}

/** Clears the accessed flag of the guest's PTE for X (no INVLPG). */
export function clearAccessed(pt: PageTables): void {
  pt.setEntry(X, 3, pt.entry(X, 3) & ~A);
}

/** The accessed flag of the guest's PTE for X: A if a walk of the guest's structures ran since clearAccessed. */
export const accessedFlag = (pt: PageTables): bigint => pt.entry(X, 3) & A;
