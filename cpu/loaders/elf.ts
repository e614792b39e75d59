/**
 * ELF executable headers and program headers (System V gABI, "ELF Header"
 * and "Program Header"), 32- and 64-bit little-endian, read only as far as
 * loading needs: the entry point and the PT_LOAD segments. Everything that
 * does not fit the file or the rules is a LoadError naming the problem.
 */
import { hex, LoadError } from './loadError.ts';

export const EM_386 = 3;
export const EM_X86_64 = 62;
const ET_EXEC = 2, ET_DYN = 3;
const PT_LOAD = 1;
/** p_flags bit: executable segment. */
export const PF_X = 1;

export interface ElfSegment {
  /** Where its bytes are in the file. */
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface ElfImage {
  bits: 32 | 64;
  machine: number;
  entry: number;
  /** PT_LOAD segments with a non-zero memory size, in file order. */
  segments: ElfSegment[];
}

/** Reads ELF fields at their class's widths; 64-bit values must be below 2^53. */
class Fields {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string, readonly bits: 32 | 64) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(at: number): number { return this.dv.getUint16(at, true); }
  u32(at: number): number { return this.dv.getUint32(at, true); }
  u64(at: number, what: string): number {
    const hi = this.dv.getUint32(at + 4, true);
    if (hi >= 0x200000) throw new LoadError(this.file, `${what} 0x${hi.toString(16)}${this.dv.getUint32(at, true).toString(16).padStart(8, '0')} is beyond the machine's address range`);
    return hi * 0x100000000 + this.dv.getUint32(at, true);
  }
  /** An address-sized field (Elf32_Addr/Off or Elf64_Addr/Off/Xword). */
  word(at: number, what: string): number {
    return this.bits === 32 ? this.u32(at) : this.u64(at, what);
  }
}

export function parseElf(bytes: Uint8Array, file: string): ElfImage {
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new LoadError(file, 'not an ELF file (no \\x7fELF magic at the start)');
  }
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) throw new LoadError(file, `unknown ELF class ${cls} (expected 1 for 32-bit or 2 for 64-bit)`);
  if (bytes[5] !== 1) throw new LoadError(file, `ELF data encoding ${bytes[5]} is not little-endian (x86 needs ELFDATA2LSB)`);
  if (bytes[6] !== 1) throw new LoadError(file, `ELF identification version ${bytes[6]} is not 1 (EV_CURRENT)`);
  const bits = cls === 1 ? 32 : 64;
  const f = new Fields(bytes, file, bits);
  const ehsize = bits === 32 ? 52 : 64;
  if (bytes.length < ehsize) throw new LoadError(file, `truncated ELF header (${bytes.length} bytes, a ${bits}-bit header has ${ehsize})`);
  const type = f.u16(16);
  if (type !== ET_EXEC && type !== ET_DYN) throw new LoadError(file, `ELF type ${type} is not an executable (ET_EXEC or ET_DYN)`);
  const machine = f.u16(18);
  const entry = f.word(24, 'entry point');
  const phoff = f.word(bits === 32 ? 28 : 32, 'program header offset');
  const phentsize = f.u16(bits === 32 ? 42 : 54);
  const phnum = f.u16(bits === 32 ? 44 : 56);
  const minEntry = bits === 32 ? 32 : 56;
  if (phnum === 0) throw new LoadError(file, 'ELF file has no program headers');
  if (phnum === 0xffff) throw new LoadError(file, 'ELF program header count is in section 0 (PN_XNUM), which is not supported');
  if (phentsize < minEntry) throw new LoadError(file, `ELF program header entry size ${phentsize} is smaller than ${minEntry}`);
  if (phoff + phnum * phentsize > bytes.length) {
    throw new LoadError(file, `ELF program headers (${phnum} at offset ${hex(phoff)}) run past the end of the file (${bytes.length} bytes)`);
  }
  const segments: ElfSegment[] = [];
  for (let k = 0; k < phnum; k++) {
    const at = phoff + k * phentsize;
    if (f.u32(at) !== PT_LOAD) continue;
    const s: ElfSegment = bits === 32
      ? { offset: f.u32(at + 4), vaddr: f.u32(at + 8), paddr: f.u32(at + 12), filesz: f.u32(at + 16), memsz: f.u32(at + 20), flags: f.u32(at + 24) }
      : {
        flags: f.u32(at + 4), offset: f.u64(at + 8, 'segment offset'), vaddr: f.u64(at + 16, 'segment address'),
        paddr: f.u64(at + 24, 'segment address'), filesz: f.u64(at + 32, 'segment size'), memsz: f.u64(at + 40, 'segment size'),
      };
    if (s.filesz > s.memsz) throw new LoadError(file, `segment ${k} has more file bytes (${hex(s.filesz)}) than memory bytes (${hex(s.memsz)})`);
    if (s.offset + s.filesz > bytes.length) {
      throw new LoadError(file, `segment ${k} (file offset ${hex(s.offset)}, ${hex(s.filesz)} bytes) runs past the end of the file (${bytes.length} bytes)`);
    }
    if (s.memsz > 0) segments.push(s);
  }
  if (segments.length === 0) throw new LoadError(file, 'ELF file has no loadable (PT_LOAD) segments');
  return { bits, machine, entry, segments };
}
