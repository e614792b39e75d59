/**
 * A tiny ELF writer for tests (System V gABI "ELF Header", "Program
 * Header"): 32- or 64-bit little-endian executables made of PT_LOAD
 * segments, and Multiboot kernels wrapping keystone-assembled 32-bit code
 * (Multiboot Specification 0.6.96 §3.1). Fields can be overridden to make
 * malformed files on purpose.
 */
import { asm } from './asm.ts';

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PF_X = 1, PF_W = 2, PF_R = 4;
export const MULTIBOOT_MAGIC = 0x1badb002;

export interface SegmentSpec {
  paddr: number;
  /** Defaults to paddr. */
  vaddr?: number;
  data: Uint8Array;
  /** Defaults to data.length; larger values add zero-filled memory (bss). */
  memsz?: number;
  flags?: number;
}

export interface ElfSpec {
  bits: 32 | 64;
  entry: number;
  segments: SegmentSpec[];
  machine?: number;
  /** ET_EXEC (2) unless given. */
  type?: number;
}

/** Builds the file: header, program headers, then each segment's bytes at a 16-byte-aligned offset. */
export function writeElf(spec: ElfSpec): Uint8Array {
  const is64 = spec.bits === 64;
  const ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32;
  let offset = ehsize + phentsize * spec.segments.length;
  const offsets = spec.segments.map((s) => {
    offset = (offset + 15) & ~15;
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const out = new Uint8Array(offset);
  const dv = new DataView(out.buffer);
  const word = (at: number, v: number): void => {
    if (is64) dv.setBigUint64(at, BigInt(v), true);
    else dv.setUint32(at, v, true);
  };
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  dv.setUint16(16, spec.type ?? 2, true);
  dv.setUint16(18, spec.machine ?? (is64 ? EM_X86_64 : EM_386), true);
  dv.setUint32(20, 1, true); // e_version
  word(24, spec.entry);
  word(is64 ? 32 : 28, ehsize); // e_phoff
  dv.setUint16(is64 ? 52 : 40, ehsize, true);
  dv.setUint16(is64 ? 54 : 42, phentsize, true);
  dv.setUint16(is64 ? 56 : 44, spec.segments.length, true);
  spec.segments.forEach((s, k) => {
    const ph = ehsize + k * phentsize;
    const flags = s.flags ?? (PF_R | PF_W | PF_X);
    dv.setUint32(ph, 1, true); // PT_LOAD
    if (is64) {
      dv.setUint32(ph + 4, flags, true);
      word(ph + 8, offsets[k]!);
      word(ph + 16, s.vaddr ?? s.paddr);
      word(ph + 24, s.paddr);
      word(ph + 32, s.data.length);
      word(ph + 40, s.memsz ?? s.data.length);
      word(ph + 48, 0x1000);
    } else {
      word(ph + 4, offsets[k]!);
      word(ph + 8, s.vaddr ?? s.paddr);
      word(ph + 12, s.paddr);
      word(ph + 16, s.data.length);
      word(ph + 20, s.memsz ?? s.data.length);
      word(ph + 24, flags);
      word(ph + 28, 0x1000);
    }
    out.set(s.data, offsets[k]!);
  });
  return out;
}

/** A Multiboot header: magic, flags, checksum, then the five address fields when given (flags bit 16). */
export function multibootHeader(flags: number, addresses?: { header: number; load: number; loadEnd: number; bssEnd: number; entry: number }): Uint8Array {
  const out = new Uint8Array(addresses ? 32 : 12);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MULTIBOOT_MAGIC, true);
  dv.setUint32(4, flags >>> 0, true);
  dv.setUint32(8, (-(MULTIBOOT_MAGIC + flags)) >>> 0, true);
  if (addresses) {
    [addresses.header, addresses.load, addresses.loadEnd, addresses.bssEnd, addresses.entry].forEach((v, k) => dv.setUint32(12 + 4 * k, v, true));
  }
  return out;
}

export interface KernelOptions {
  /** Physical load address (default 1 MiB, where multiboot kernels usually live). */
  loadAddr?: number;
  /** Zero-filled bytes after the code. */
  bss?: number;
  /** Multiboot header flags (default 3: page-align modules, memory information). */
  flags?: number;
}

export const KERNEL_LOAD = 0x100000;
/** The multiboot header takes the first 12 bytes of the segment; code starts after it. */
export const KERNEL_ENTRY = KERNEL_LOAD + 12;

/** Assembles 32-bit `source` and wraps it in a Multiboot ELF: one segment, header first, code (the entry) after it. */
export async function multibootKernel(source: string, o: KernelOptions = {}): Promise<Uint8Array> {
  const load = o.loadAddr ?? KERNEL_LOAD;
  const header = multibootHeader(o.flags ?? 3);
  const code = await asm(source, 32, load + header.length);
  const data = new Uint8Array(header.length + code.length);
  data.set(header);
  data.set(code, header.length);
  return writeElf({ bits: 32, entry: load + header.length, segments: [{ paddr: load, data, memsz: data.length + (o.bss ?? 0) }] });
}
