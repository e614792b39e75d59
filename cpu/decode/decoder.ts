/**
 * The x86-64 instruction decoder (SDM Vol. 2A ch. 2): legacy prefixes, REX,
 * the one-byte, 0F, 0F38 and 0F3A maps, ModRM/SIB, displacements and
 * immediates. It never throws for guest bytes: an undefined encoding decodes
 * to an instruction that raises #UD when executed, one longer than 15 bytes
 * to one that raises #GP(0) (SDM Vol. 2A §2.3.11).
 */
import { fault, Vector } from '../exceptions.ts';
import { Seg } from '../registers.ts';
import { noEa, selectEa } from './effectiveAddress.ts';
import { Insn, type ExecFn } from './insn.ts';
import type { CompiledDef, ImmKind, OpcodeTable, Slot } from './opcodeTable.ts';

export const MAX_INSN_LENGTH = 15;

export const raiseUD: ExecFn = () => fault(Vector.UD);
export const raiseGP0: ExecFn = () => fault(Vector.GP, 0);

/** Bytes of code to decode from: `bytes[start ..< start+avail]` can be fetched. */
export interface CodeBytes {
  bytes: Uint8Array;
  start: number;
  avail: number;
}

/** Why an encoding was refused, for counting in tests and the debug log. */
export type Refusal = 'undefined' | 'too-long' | 'lock' | 'vex';

export class Decoder {
  /** Called once per refused encoding (the core logs each distinct one once). */
  onRefuse?: (reason: Refusal, i: Insn, bytes: Uint8Array) => void;

  constructor(private readonly table: OpcodeTable) {}

  /**
   * Decodes one instruction for code size `mode` (16, 32, 64). Returns null
   * when the instruction runs past the fetchable bytes before its 15th byte
   * (the caller raises the fetch fault or ends the block there).
   */
  decode(code: CodeBytes, mode: 16 | 32 | 64): Insn | null {
    const { bytes, start } = code;
    const end = start + code.avail;
    const limit = start + MAX_INSN_LENGTH;
    let p = start;
    let opsize = false, adsize = false, lock = false, rep = 0, seg = -1;
    let rex = 0;
    let b = 0;
    // Legacy prefixes in any order; a REX counts only when it comes right before the opcode, a
    // REX followed by a legacy prefix is ignored (SDM Vol. 2A §2.2.1).
    for (;; p++) {
      if (p >= end) return this.short(code, mode);
      if (p >= limit) return this.refuse('too-long', code, MAX_INSN_LENGTH + 1, mode);
      b = bytes[p]!;
      if (mode === 64 && (b & 0xf0) === 0x40) { rex = b; continue; }
      if (b === 0x66) opsize = true;
      else if (b === 0x67) adsize = true;
      else if (b === 0xf0) lock = true;
      else if (b === 0xf2 || b === 0xf3) rep = b;
      else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) {
        // In 64-bit mode the ES/CS/SS/DS overrides are ignored (SDM Vol. 2A §2.1.1): one never
        // displaces an FS or GS override, whatever the order. Their bases read as 0 anyway.
        if (mode !== 64 || seg < Seg.FS) seg = (b >> 3) & 3;
      } else if (b === 0x64) seg = Seg.FS;
      else if (b === 0x65) seg = Seg.GS;
      else break;
      rex = 0;
    }
    // Opcode and map.
    let map = 0;
    p++;
    if (b === 0x0f) {
      if (p >= end) return this.short(code, mode);
      if (p >= limit) return this.refuse('too-long', code, MAX_INSN_LENGTH + 1, mode);
      b = bytes[p++]!;
      map = 1;
      if (b === 0x38 || b === 0x3a) {
        map = b === 0x38 ? 2 : 3;
        if (p >= end) return this.short(code, mode);
        if (p >= limit) return this.refuse('too-long', code, MAX_INSN_LENGTH + 1, mode);
        b = bytes[p++]!;
      }
    } else if (mode === 64 && (b === 0xc4 || b === 0xc5 || b === 0x62)) {
      // VEX/EVEX-encoded instructions (AVX) are not modelled: CPUID reports no AVX.
      return this.refuse('vex', code, p - start, mode);
    }
    const slot = this.table.slots[map]![b];
    if (!slot) return this.refuse('undefined', code, p - start, mode);

    let modrm = -1;
    if (slot.needsModrm) {
      if (p >= end) return this.short(code, mode);
      modrm = bytes[p++]!;
    }
    const mp = rep !== 0 ? rep : opsize ? 0x66 : -1;
    const addrSize = mode === 64 ? (adsize ? 4 : 8) : (mode === 32) !== adsize ? 4 : 2;
    const def = pick(slot, modrm, mp, mode);
    if (!def) return this.refuseForm(code, p, modrm, addrSize, rex, mode);

    const flags = def.flags;
    const i = new Insn(raiseUD, noEa);
    i.mnemonic = def.def.mnemonic;
    i.mode = mode;
    i.opcode = (map === 0 ? 0 : map === 1 ? 0x0f00 : map === 2 ? 0x0f3800 : 0x0f3a00) | b;
    i.rex = rex !== 0;
    i.lock = lock;
    i.rep = rep;
    i.modrm = modrm;
    i.cond = b & 0xf;
    i.segOverride = seg >= 0;
    i.seg = seg >= 0 ? seg : Seg.DS;

    // Operand size (SDM Vol. 1 §3.6, Vol. 2A §2.2.1.2).
    let v: number;
    if (mode === 64) {
      if (flags.has('f64') || (rex & 8)) v = 8;
      else if (opsize && !(def.prefix === 0x66)) v = 2;
      else v = flags.has('d64') ? 8 : 4;
    } else {
      const d = mode === 32;
      v = (d !== (opsize && def.prefix !== 0x66)) ? 4 : 2;
    }
    i.opSize = sizeFromLetter(def.sizeLetter, v, mode, rex);
    i.addrSize = addrSize;

    // Registers.
    const rexR = (rex & 4) << 1, rexX = (rex & 2) << 2, rexB = (rex & 1) << 3;
    if (def.regInOpcode) {
      setReg(i, (b & 7) | rexB, def.regIsByte, rex);
    }
    if (modrm >= 0) {
      const mod = modrm >> 6;
      const regField = ((modrm >> 3) & 7) | rexR;
      const rmField = (modrm & 7);
      if (!def.regInOpcode) setReg(i, regField, def.regIsByte, rex);
      if (mod === 3 || def.modIgnored) {
        const rm = rmField | rexB;
        if (def.rmIsByte && !rex && rm >= 4 && rm < 8) { i.rm = rm - 4; i.rmShift = 8; } else i.rm = rm;
      } else {
        i.isMem = true;
        const r = this.decodeMemory(i, bytes, p, end, mod, rmField, rexX, rexB, seg, mode);
        if (r < 0) return this.short(code, mode);
        p = r;
      }
    }

    // Immediates.
    let first = true;
    for (const k of def.imms) {
      const n = immLength(k, i);
      if (p + n > end) return this.short(code, mode);
      readImm(i, k, bytes, p, n, first);
      if (k === 'o') {
        // moffs (A0-A3): an absolute offset at the address size, in DS unless overridden.
        i.isMem = true;
        i.dispLo = n === 2 ? i.imm & 0xffff : i.imm >>> 0;
        i.dispHi = n === 8 ? i.immHi : 0;
        i.ea = selectEa(i.addrSize, -1, -1, false);
      }
      first = false;
      p += n;
    }
    const len = p - start;
    if (len > MAX_INSN_LENGTH) return this.refuse('too-long', code, len, mode);
    i.len = len;

    // LOCK is legal only on the listed read-modify-write forms with a memory destination (SDM Vol. 2A §2.1.1).
    if (lock && !(flags.has('lock') && i.isMem)) return this.refuse('lock', code, len, mode, i.mnemonic);
    i.exec = def.def.select ? def.def.select(i) : def.def.exec ?? raiseUD;
    i.endsBlock = flags.has('branch') || flags.has('stop');
    return i;
  }

  private decodeMemory(
    i: Insn, bytes: Uint8Array, p: number, end: number,
    mod: number, rm: number, rexX: number, rexB: number, seg: number, mode: number,
  ): number {
    let base = -1, index = -1, scale = 1, disp = 0, ripRel = false;
    let defaultSeg: number = Seg.DS;
    if (i.addrSize === 2) {
      if (mod === 0 && rm === 6) {
        if (p + 2 > end) return -1;
        disp = bytes[p]! | (bytes[p + 1]! << 8);
        p += 2;
      } else {
        base = BASES16[rm]!;
        index = INDEXES16[rm]!;
        if (rm === 2 || rm === 3 || rm === 6) defaultSeg = Seg.SS;
      }
      if (mod === 1) { if (p + 1 > end) return -1; disp = (bytes[p]! << 24) >> 24; p += 1; }
      else if (mod === 2) { if (p + 2 > end) return -1; disp = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >> 16; p += 2; }
    } else {
      // SDM Vol. 2A Tables 2-2 and 2-3.
      let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
      if (rm === 4) {
        if (p >= end) return -1;
        const sib = bytes[p++]!;
        scale = 1 << (sib >> 6);
        const idx = ((sib >> 3) & 7) | rexX;
        if (idx !== 4) index = idx;
        const sbase = sib & 7;
        if (sbase === 5 && mod === 0) dispSize = 4;
        else base = sbase | rexB;
      } else if (rm === 5 && mod === 0) {
        dispSize = 4;
        ripRel = mode === 64;
      } else {
        base = rm | rexB;
      }
      if (base === 4 || base === 5) defaultSeg = Seg.SS;
      if (p + dispSize > end) return -1;
      if (dispSize === 1) disp = (bytes[p]! << 24) >> 24;
      else if (dispSize === 4) disp = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24);
      p += dispSize;
    }
    i.base = base;
    i.index = index;
    i.scale = scale;
    i.dispLo = disp >>> 0;
    i.dispHi = disp < 0 ? -1 : 0;
    i.segOverride = seg >= 0;
    i.seg = seg >= 0 ? seg : defaultSeg;
    i.ea = selectEa(i.addrSize, base, index, ripRel);
    return p;
  }

  /**
   * No row takes this ModRM/prefix form of a defined opcode: #UD. Its
   * length still counts the SIB byte and displacement the ModRM byte asks
   * for, and a length over 15 bytes is reported before an invalid opcode
   * (SDM Vol. 3A Table 6-2, priority 7).
   */
  private refuseForm(code: CodeBytes, p: number, modrm: number, addrSize: number, rex: number, mode: 16 | 32 | 64): Insn | null {
    let q = p;
    if (modrm >= 0 && modrm >> 6 !== 3) {
      const scratch = new Insn(raiseUD, noEa);
      scratch.addrSize = addrSize;
      q = this.decodeMemory(scratch, code.bytes, p, code.start + code.avail, modrm >> 6, modrm & 7,
        (rex & 2) << 2, (rex & 1) << 3, -1, mode);
      if (q < 0) return this.short(code, mode);
    }
    const len = q - code.start;
    return this.refuse(len > MAX_INSN_LENGTH ? 'too-long' : 'undefined', code, len, mode);
  }

  /**
   * The instruction needs bytes past the fetchable ones. If 15 bytes were
   * fetchable it is too long whatever follows (#GP(0)); otherwise fetching
   * the next byte faults, which the caller raises (null).
   */
  private short(code: CodeBytes, mode: 16 | 32 | 64): Insn | null {
    return code.avail >= MAX_INSN_LENGTH ? this.refuse('too-long', code, MAX_INSN_LENGTH + 1, mode) : null;
  }

  private refuse(reason: Refusal, code: CodeBytes, len: number, mode: 16 | 32 | 64, mnemonic = '(bad)'): Insn {
    const i = new Insn(reason === 'too-long' ? raiseGP0 : raiseUD, noEa);
    i.len = Math.min(Math.max(len, 1), MAX_INSN_LENGTH);
    i.mnemonic = mnemonic;
    i.mode = mode;
    i.endsBlock = true;
    if (this.onRefuse) {
      this.onRefuse(reason, i, code.bytes.subarray(code.start, code.start + Math.min(i.len, code.avail)));
    }
    return i;
  }
}

/** 16-bit ModRM.rm → base and index register (SDM Vol. 2A Table 2-1): BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX. */
const BASES16 = [3, 3, 5, 5, 6, 7, 5, 3];
const INDEXES16 = [6, 7, 6, 7, -1, -1, -1, -1];

function setReg(i: Insn, reg: number, isByte: boolean, rex: number): void {
  if (isByte && !rex && reg >= 4 && reg < 8) { i.reg = reg - 4; i.regShift = 8; } else i.reg = reg;
}

/** Most specific row whose prefix, ModRM and mode constraints all hold. */
function pick(slot: Slot, modrm: number, mp: number, mode: number): CompiledDef | undefined {
  let best: CompiledDef | undefined;
  let bestScore = -1;
  const mod = modrm >> 6, reg = (modrm >> 3) & 7;
  for (const d of slot.defs) {
    if (d.flags.has('i64') && mode === 64) continue;
    if (d.flags.has('o64') && mode !== 64) continue;
    let score = 0;
    if (d.prefix !== 0) {
      const ok = d.prefix === -1 ? mp === -1 : d.prefix === -2 ? mp !== 0xf3 && mp !== 0xf2 : d.prefix === mp;
      if (!ok) continue;
      score += 4;
    }
    if (d.exactModrm >= 0) { if (d.exactModrm !== modrm) continue; score += 2; }
    if (d.digit >= 0) { if (d.digit !== reg) continue; score += 1; }
    if (d.form === 1 && mod === 3) continue;
    if (d.form === 2 && mod !== 3) continue;
    if (score > bestScore) { best = d; bestScore = score; }
  }
  return best;
}

function sizeFromLetter(letter: string, v: number, mode: number, rex: number): number {
  switch (letter) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    case 'q': return 8;
    case 'y': return mode === 64 && (rex & 8) ? 8 : 4;
    case 'm': return mode === 64 ? 8 : 4;
    case 'z': return v === 2 ? 2 : 4;
    default: return v;
  }
}

function immLength(k: ImmKind, i: Insn): number {
  switch (k) {
    case 'b': case 'bs': return 1;
    case 'w': return 2;
    case 'z': return i.opSize === 2 ? 2 : 4;
    case 'v': return i.opSize;
    case 'o': return i.addrSize;
    case 'p': return i.opSize === 2 ? 4 : 6;
  }
}

function le(bytes: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let k = n - 1; k >= 0; k--) v = v * 256 + bytes[p + k]!;
  return v;
}

/** The first immediate goes to imm/immHi; a second one (ENTER, far pointer selector) to imm2. */
function readImm(i: Insn, k: ImmKind, bytes: Uint8Array, p: number, n: number, first: boolean): void {
  if (k === 'p') {
    i.imm = le(bytes, p, n - 2) | 0;
    i.imm2 = le(bytes, p + n - 2, 2);
    return;
  }
  if (!first) { i.imm2 = le(bytes, p, n); return; }
  if (n === 8) {
    i.imm = le(bytes, p, 4) | 0;
    i.immHi = le(bytes, p + 4, 4) | 0;
    return;
  }
  const raw = le(bytes, p, n);
  if (k === 'bs' || k === 'z') {
    // Sign-extended to the operand size.
    const s = n === 1 ? (raw << 24) >> 24 : n === 2 ? (raw << 16) >> 16 : raw | 0;
    i.imm = s;
    i.immHi = s < 0 ? -1 : 0;
  } else {
    i.imm = raw | 0;
    i.immHi = 0;
  }
}
