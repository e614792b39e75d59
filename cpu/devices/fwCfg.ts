/**
 * QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), the
 * x86 I/O-port interface without DMA: a 16-bit selector register at 0x510
 * and an 8-bit data register at 0x511.
 *
 * Writing the selector picks an item and resets the data offset to 0;
 * each data read returns the item's next byte, and 0 once past its end
 * (or for an item that does not exist). Data writes are ignored, as since
 * QEMU 2.4. A wider read of the data port returns successive bytes in
 * increasing byte order (the "string-preserving" rule the MMIO variant
 * states). The selector's bit 14 (write channel) and bit 15 (architecture-
 * specific items) are part of the key; x86-specific items are not provided.
 *
 * Item values and the file directory follow the same document and the
 * Linux uapi header qemu_fw_cfg.h: integers are little-endian, the file
 * directory is big-endian.
 */
import type { PortDevice } from '../portIo.ts';

export const FW_CFG_PORT_SELECTOR = 0x510;
export const FW_CFG_PORT_DATA = 0x511;

/** Well-known selector keys (qemu_fw_cfg.h). */
export const enum FwCfgKey {
  Signature = 0x00,
  Id = 0x01,
  Uuid = 0x02,
  RamSize = 0x03,
  NoGraphic = 0x04,
  NbCpus = 0x05,
  KernelAddr = 0x07,
  KernelSize = 0x08,
  InitrdAddr = 0x0a,
  InitrdSize = 0x0b,
  BootMenu = 0x0e,
  MaxCpus = 0x0f,
  KernelEntry = 0x10,
  KernelData = 0x11,
  InitrdData = 0x12,
  CmdlineSize = 0x14,
  CmdlineData = 0x15,
  FileDir = 0x19,
  FileFirst = 0x20,
}

/** FW_CFG_ID bit 0: the traditional (port) interface. Bit 1 (DMA) stays clear. */
const ID_TRADITIONAL = 1;
/** Bytes in a file name field, NUL terminator included. */
const FILE_NAME_SIZE = 56;
const FILE_ENTRY_SIZE = 64;

export function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
}

export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** A 64-bit little-endian integer from a non-negative safe integer. */
export function u64le(v: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, v % 0x100000000, true);
  dv.setUint32(4, Math.floor(v / 0x100000000), true);
  return b;
}

/** A NUL-terminated Latin-1 string. */
export function cString(s: string): Uint8Array {
  const b = new Uint8Array(s.length + 1);
  for (let k = 0; k < s.length; k++) b[k] = s.charCodeAt(k) & 0xff;
  return b;
}

/** An item's bytes, or a function giving them when the item is first selected (for large items). */
export type FwCfgData = Uint8Array | (() => Uint8Array);

export interface FwCfgBasics {
  ramBytes: number;
  cpus: number;
}

export class FwCfg implements PortDevice {
  readonly name = 'fw_cfg';
  private readonly items = new Map<number, FwCfgData>();
  private readonly files: { name: string; key: number }[] = [];
  private selector = 0;
  private offset = 0;

  constructor(basics: FwCfgBasics) {
    this.set(FwCfgKey.Signature, cString('QEMU').subarray(0, 4));
    this.set(FwCfgKey.Id, u32le(ID_TRADITIONAL));
    this.set(FwCfgKey.Uuid, new Uint8Array(16));
    this.set(FwCfgKey.RamSize, u64le(basics.ramBytes));
    this.set(FwCfgKey.NoGraphic, u16le(1));
    this.set(FwCfgKey.NbCpus, u16le(basics.cpus));
    this.set(FwCfgKey.MaxCpus, u16le(basics.cpus)); // APIC IDs are 0..cpus-1: the ID limit is the count
    this.set(FwCfgKey.BootMenu, u16le(0));
    this.set(FwCfgKey.FileDir, this.directory());
  }

  /** Sets (or replaces) the item at `key`. */
  set(key: number, data: FwCfgData): void {
    this.items.set(key & 0xffff, data);
  }

  /** The item's bytes (building a lazy item's bytes once). */
  get(key: number): Uint8Array | undefined {
    const item = this.items.get(key & 0xffff);
    if (typeof item !== 'function') return item;
    const bytes = item();
    this.items.set(key & 0xffff, bytes);
    return bytes;
  }

  /** Adds a named item at the next file key and lists it in the file directory. */
  addFile(name: string, data: Uint8Array): number {
    if (name.length >= FILE_NAME_SIZE) throw new RangeError(`fw_cfg file name '${name}' is longer than ${FILE_NAME_SIZE - 1} characters`);
    if (this.files.some((f) => f.name === name)) throw new RangeError(`fw_cfg file '${name}' added twice`);
    const key = FwCfgKey.FileFirst + this.files.length;
    this.files.push({ name, key });
    this.set(key, data);
    this.set(FwCfgKey.FileDir, this.directory());
    return key;
  }

  read(port: number, size: number): number {
    if (port !== FW_CFG_PORT_DATA) return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.nextByte() << (8 * k);
    return v;
  }

  write(port: number, size: number, value: number): void {
    // Only a 16-bit write of the selector selects; data writes are ignored.
    if (port === FW_CFG_PORT_SELECTOR && size >= 2) {
      this.selector = value & 0xffff;
      this.offset = 0;
    }
  }

  private nextByte(): number {
    const item = this.get(this.selector);
    if (!item || this.offset >= item.length) return 0;
    return item[this.offset++]!;
  }

  /** FWCfgFiles: a big-endian count, then 64-byte entries {size BE32, select BE16, reserved, name[56]}. */
  private directory(): Uint8Array {
    const out = new Uint8Array(4 + FILE_ENTRY_SIZE * this.files.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, this.files.length, false);
    this.files.forEach((f, k) => {
      const at = 4 + k * FILE_ENTRY_SIZE;
      dv.setUint32(at, this.get(f.key)!.length, false);
      dv.setUint16(at + 4, f.key, false);
      out.set(cString(f.name), at + 8);
    });
    return out;
  }
}
