/**
 * Segment and gate descriptors (SDM Vol. 3A §3.4.5, §5.8.3, §6.11, §6.14.1)
 * and the VMX access-rights format the core keeps descriptor caches in
 * (SDM Vol. 3C §24.4.1): type[3:0], S[4], DPL[6:5], P[7], AVL[12], L[13],
 * D/B[14], G[15], unusable[16].
 */

export const AR_TYPE = 0xf, AR_S = 0x10, AR_DPL = 0x60, AR_P = 0x80,
  AR_L = 0x2000, AR_DB = 0x4000, AR_G = 0x8000, AR_UNUSABLE = 0x10000;

/** Type bits of code/data descriptors (S = 1). */
export const TYPE_ACCESSED = 1, TYPE_WRITABLE = 2, TYPE_READABLE = 2, TYPE_EXPAND_DOWN = 4,
  TYPE_CONFORMING = 4, TYPE_CODE = 8;

/** System descriptor types (S = 0), SDM Vol. 3A Table 3-2. */
export const enum SysType {
  Tss16 = 1, Ldt = 2, Tss16Busy = 3, CallGate16 = 4, TaskGate = 5, IntGate16 = 6, TrapGate16 = 7,
  Tss32 = 9, Tss32Busy = 0xb, CallGate32 = 0xc, IntGate32 = 0xe, TrapGate32 = 0xf,
}

/** Bit 1 of a TSS type: busy (SDM Vol. 3A §7.2.2). */
export const TSS_BUSY = 2;

/** Error code naming a selector (SDM Vol. 3A §6.13): index and TI, with EXT in bit 0. */
export function selectorError(sel: number, ext: number): number {
  return (sel & 0xfffc) | ext;
}

/** Error code naming an IDT entry: index = vector, IDT bit set. */
export function idtError(vector: number, ext: number): number {
  return (vector << 3) | 2 | ext;
}

/**
 * One descriptor as read from a table: its two low dwords, and for the
 * 16-byte system descriptors of IA-32e mode the third dword (base or
 * offset bits 63:32). Instances are reused scratch space, not values.
 */
export class Descriptor {
  lo = 0;
  hi = 0;
  upper = 0;

  set(lo: number, hi: number, upper = 0): this {
    this.lo = lo;
    this.hi = hi;
    this.upper = upper;
    return this;
  }

  /** Access rights in the VMX format. */
  get attr(): number {
    return ((this.hi >>> 8) & 0xff) | ((this.hi >>> 8) & 0xf000);
  }

  get type(): number { return (this.hi >>> 8) & 0xf; }
  get isSystem(): boolean { return (this.hi & 0x1000) === 0; }
  get dpl(): number { return (this.hi >>> 13) & 3; }
  get present(): boolean { return (this.hi & 0x8000) !== 0; }
  get isCode(): boolean { return !this.isSystem && (this.type & TYPE_CODE) !== 0; }
  get isData(): boolean { return !this.isSystem && (this.type & TYPE_CODE) === 0; }
  get conforming(): boolean { return this.isCode && (this.type & TYPE_CONFORMING) !== 0; }
  /** Data segments are readable; code segments when their R bit is set. */
  get readable(): boolean { return this.isData || (this.isCode && (this.type & TYPE_READABLE) !== 0); }
  get writableData(): boolean { return this.isData && (this.type & TYPE_WRITABLE) !== 0; }
  get long(): boolean { return (this.hi & 0x200000) !== 0; }
  get big(): boolean { return (this.hi & 0x400000) !== 0; }

  /** Segment base; 16-byte descriptors add bits 63:32 from the third dword. */
  get base(): number {
    const b32 = ((this.lo >>> 16) | ((this.hi & 0xff) << 16) | (this.hi & 0xff000000)) >>> 0;
    return this.upper === 0 ? b32 : (this.upper | 0) * 4294967296 + b32;
  }

  /** Limit in bytes - 1, scaled by G (SDM Vol. 3A §3.4.5). */
  get limit(): number {
    const raw = (this.lo & 0xffff) | (this.hi & 0xf0000);
    return (this.hi & 0x800000) !== 0 ? raw * 4096 + 0xfff : raw;
  }

  // ---- gates ----
  get gateSelector(): number { return this.lo >>> 16; }
  /** Gate offset: 16 bits for 16-bit gates, 32 bits, or 64 with the third dword in IA-32e mode. */
  get gateOffset(): number {
    const t = this.type;
    if (t === SysType.CallGate16 || t === SysType.IntGate16 || t === SysType.TrapGate16) return this.lo & 0xffff;
    const o32 = ((this.hi & 0xffff0000) | (this.lo & 0xffff)) >>> 0;
    return this.upper === 0 ? o32 : (this.upper | 0) * 4294967296 + o32;
  }
  get paramCount(): number { return this.hi & 0x1f; }
  get ist(): number { return this.hi & 7; }
}
