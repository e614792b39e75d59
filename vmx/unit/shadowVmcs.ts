/**
 * VMCS shadowing (SDM Vol. 3C §25.10 "VMCS Types: Ordinary and Shadow",
 * §25.6.15 "VMCS Shadowing Bitmap Addresses", and the VMREAD and VMWRITE
 * pages): in VMX non-root operation with the "VMCS shadowing" control 1, a
 * VMREAD or VMWRITE whose field encoding has bits 63:15 clear and whose bit
 * in the VMREAD or VMWRITE bitmap (indexed by encoding bits 14:0) is 0 runs
 * instead of exiting, on the VMCS the VMCS link pointer names.
 *
 * Where the shadow VMCS lives: in its VMCS region, in the layout of
 * vmcsRegion.ts. The core caches only the current VMCS and writes the cache
 * back to the region whenever another VMCS becomes current or the VMCS is
 * cleared (vmcsPointer.ts), so every VMCS that is not current is exactly its
 * region; in non-root operation the current VMCS is the ordinary one that
 * runs the guest, and VM entry made sure the link pointer names a region
 * with the shadow-VMCS indicator set (§27.3.1.5), so not that one. The
 * guest's VMREADs and VMWRITEs therefore read and write the region at the
 * link pointer directly, and root software sees them after VMPTRLD of the
 * shadow VMCS, as on hardware.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { joinSigned } from '../../cpu/registers.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { lo, hi, SLOT } from '../entry/vmcsView.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

const VMCS_SHADOWING = bit('proc2', 'vmcsShadowing');

/** Encoding bits 14:0 index the 4-KByte bitmaps; any higher bit makes the instruction exit. */
const ENCODING_INDEX_BITS = 0x7fff;

/**
 * Whether VMREAD (`write` false) or VMWRITE in non-root operation runs on
 * the shadow VMCS instead of exiting: "VMCS shadowing" is 1, the encoding
 * register (64 bits in 64-bit mode, else 32) sets no bit in 63:15, and the
 * encoding's bit in the bitmap at the VMREAD-bitmap or VMWRITE-bitmap
 * address (physical) is 0.
 */
export function shadowedAccess(s: VmxState, c: Cpu, i: Insn, write: boolean): boolean {
  if ((secondaryControls(s.vmcs) & VMCS_SHADOWING) === 0) return false;
  const k = i.reg << 1;
  const encoding = c.r[k]!;
  if ((encoding & ~ENCODING_INDEX_BITS) !== 0 || (i.opSize === 8 && c.r[k + 1] !== 0)) return false;
  const slot = write ? SLOT.vmwriteBitmapAddress : SLOT.vmreadBitmapAddress;
  const bitmap = joinSigned(lo(s.vmcs, slot), hi(s.vmcs, slot));
  return (c.phys.read8(bitmap + (encoding >>> 3)) & (1 << (encoding & 7))) === 0;
}

/** The shadow VMCS a non-root VMREAD/VMWRITE accesses: the VMCS link pointer, or INVALID_POINTER for FFFFFFFF_FFFFFFFFH. */
export function shadowVmcsPointer(s: VmxState): number {
  const low = lo(s.vmcs, SLOT.vmcsLinkPointer), high = hi(s.vmcs, SLOT.vmcsLinkPointer);
  return (low & high) === -1 ? INVALID_POINTER : joinSigned(low, high);
}
