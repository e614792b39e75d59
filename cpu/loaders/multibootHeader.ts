/**
 * The Multiboot (version 0.6.96) header: a 32-bit-aligned structure in the
 * first 8192 bytes of the kernel file with magic 0x1BADB002, flags, and a
 * checksum making the three sum to 0 (Multiboot Specification §3.1.1).
 * When flags bit 16 is set, five address fields follow (§3.1.3, the
 * "a.out kludge"). As QEMU's -kernel does, a candidate whose checksum does
 * not add up is skipped and the search goes on.
 */
import { hex, LoadError } from './loadError.ts';

export const MULTIBOOT_MAGIC = 0x1badb002;
/** Scan limit (§3.1.1), less the 48 bytes of the longest header, as QEMU scans. */
const SEARCH_BYTES = 8192;
const LONGEST_HEADER = 48;
/** Flags bit 16: the header's address fields are valid. */
export const MB_FLAG_ADDRESSES = 1 << 16;
/** Flags bit 2: the kernel asks for a video mode (not provided). */
export const MB_FLAG_VIDEO = 1 << 2;

export interface MultibootHeader {
  /** Offset of the magic in the file. */
  offset: number;
  flags: number;
  /** The a.out-kludge fields (valid when flags bit 16 is set). */
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

export function findMultibootHeader(bytes: Uint8Array, file: string): MultibootHeader {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(SEARCH_BYTES - LONGEST_HEADER, bytes.length - 12);
  let badChecksum = -1;
  for (let at = 0; at <= limit; at += 4) {
    if (dv.getUint32(at, true) !== MULTIBOOT_MAGIC) continue;
    const flags = dv.getUint32(at + 4, true);
    if (((MULTIBOOT_MAGIC + flags + dv.getUint32(at + 8, true)) >>> 0) !== 0) {
      if (badChecksum < 0) badChecksum = at;
      continue;
    }
    const field = (k: number): number => (at + 12 + 4 * k + 4 <= bytes.length ? dv.getUint32(at + 12 + 4 * k, true) : 0);
    if ((flags & MB_FLAG_ADDRESSES) !== 0 && at + 32 > bytes.length) {
      throw new LoadError(file, `multiboot header at offset ${hex(at)} sets flag 16 but its address fields run past the end of the file`);
    }
    return { offset: at, flags, headerAddr: field(0), loadAddr: field(1), loadEndAddr: field(2), bssEndAddr: field(3), entryAddr: field(4) };
  }
  if (badChecksum >= 0) throw new LoadError(file, `multiboot header at offset ${hex(badChecksum)} has a bad checksum (magic + flags + checksum must be 0 mod 2^32)`);
  throw new LoadError(file, `no multiboot header (magic ${hex(MULTIBOOT_MAGIC)}) in the first ${SEARCH_BYTES} bytes`);
}
