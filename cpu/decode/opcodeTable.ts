/**
 * Compiles the family tables into per-map lookup slots. Map 0 is the
 * one-byte map, 1 is 0F, 2 is 0F 38, 3 is 0F 3A (SDM Vol. 2 Appendix A).
 */
import type { OpcodeDef, OpcodeFlag } from './opcodeDef.ts';

export const enum OpMap { One = 0, F0F = 1, F38 = 2, F3A = 3 }

export type ImmKind = 'b' | 'bs' | 'w' | 'z' | 'v' | 'p' | 'o';

export interface CompiledDef {
  readonly def: OpcodeDef;
  readonly map: OpMap;
  readonly opcode: number;
  /** -1 any, 0..7 ModRM.reg must equal it. */
  readonly digit: number;
  /** -1 or the exact ModRM byte. */
  readonly exactModrm: number;
  readonly needsModrm: boolean;
  /** 1: memory form only, 2: register form only, 0: either. */
  readonly form: 0 | 1 | 2;
  /** 0: any; -1: none of 66/F2/F3 ('NP'); -2: neither F2 nor F3 ('NP|66'); else that prefix. */
  readonly prefix: 0 | 0x66 | 0xf3 | 0xf2 | -1 | -2;
  /** Immediates in encoding order. */
  readonly imms: ImmKind[];
  /** The operand-size letter of the first sized operand. */
  readonly sizeLetter: string;
  /** Register in the opcode's low three bits (50+r, B8+r, ...). */
  readonly regInOpcode: boolean;
  /** Byte registers: which operands are byte-sized (for AH..BH naming). */
  readonly regIsByte: boolean;
  readonly rmIsByte: boolean;
  /** Control/debug register moves ignore mod and always use a register. */
  readonly modIgnored: boolean;
  readonly flags: ReadonlySet<OpcodeFlag>;
}

export interface Slot {
  needsModrm: boolean;
  defs: CompiledDef[];
}

const MODRM_LETTERS = new Set(['E', 'G', 'M', 'R', 'S', 'C', 'D', 'V', 'W', 'U', 'N', 'P', 'Q', 'H']);

const FIXED_SIZES: Record<string, string> = {
  AL: 'b', CL: 'b', DL: 'b', BL: 'b', AH: 'b', AX: 'w', eAX: 'v', rAX: 'v', EAX: 'd',
};

function parseHex(s: string): number {
  if (!/^[0-9A-Fa-f]{2}$/.test(s)) throw new Error(`bad opcode byte '${s}'`);
  return parseInt(s, 16);
}

function compile(def: OpcodeDef): CompiledDef[] {
  const parts = def.op.trim().split(/\s+/);
  let map = OpMap.One;
  let k = 0;
  if (parts[0] === '0F') {
    k = 1;
    map = OpMap.F0F;
    if (parts[1] === '38') { map = OpMap.F38; k = 2; } else if (parts[1] === '3A') { map = OpMap.F3A; k = 2; }
  }
  const opTok = parts[k++]!;
  const regInOpcode = opTok.endsWith('+r');
  const opcode = parseHex(regInOpcode ? opTok.slice(0, -2) : opTok);
  let digit = -1;
  let exactModrm = -1;
  let slashR = false;
  for (; k < parts.length; k++) {
    const t = parts[k]!;
    if (t === '/r') slashR = true;
    else if (/^\/[0-7]$/.test(t)) digit = Number(t[1]);
    else exactModrm = parseHex(t);
  }
  const ops = def.operands ? def.operands.split(',').map((s) => s.trim()) : [];
  const imms: ImmKind[] = [];
  let form: 0 | 1 | 2 = 0;
  let sizeLetter = def.size ?? '';
  let usesModrm = slashR || digit >= 0 || exactModrm >= 0;
  let regIsByte = false;
  let rmIsByte = false;
  let modIgnored = false;
  for (const o of ops) {
    const letter = o[0]!;
    const size = o.slice(1);
    const isAddressingToken = /^[A-Z][a-z]{1,3}$/.test(o) || o === 'M';
    if (!isAddressingToken) {
      // A fixed register name such as AL, rAX, DX, CL or 1: only its size matters.
      if (!sizeLetter) sizeLetter = FIXED_SIZES[o] ?? '';
      continue;
    }
    if (!sizeLetter && size && 'EGMRZO'.includes(letter)) sizeLetter = size;
    if (MODRM_LETTERS.has(letter)) usesModrm = true;
    if (letter === 'M') form = 1;
    if (letter === 'R' || letter === 'U' || letter === 'N') form = 2;
    if (letter === 'C' || letter === 'D') modIgnored = true;
    if (letter === 'G' && size === 'b') regIsByte = true;
    if ((letter === 'E' || letter === 'R') && size === 'b') rmIsByte = true;
    if (letter === 'Z' && size === 'b') regIsByte = true;
    if (letter === 'I') imms.push(size === 'bs' ? 'bs' : (size as ImmKind));
    if (letter === 'J') imms.push(size === 'b' ? 'bs' : 'z');
    if (letter === 'O') imms.push('o');
    if (letter === 'A') imms.push('p');
  }
  if (modIgnored) form = 0;
  const prefix = def.prefix === 'NP' ? -1 : def.prefix === 'NP|66' ? -2 : def.prefix === '66' ? 0x66 : def.prefix === 'F3' ? 0xf3 : def.prefix === 'F2' ? 0xf2 : 0;
  const base: Omit<CompiledDef, 'opcode'> = {
    def, map, digit, exactModrm, needsModrm: usesModrm, form, prefix, imms, sizeLetter,
    regInOpcode, regIsByte, rmIsByte, modIgnored, flags: new Set(def.flags ?? []),
  };
  if (!regInOpcode) return [{ ...base, opcode }];
  const out: CompiledDef[] = [];
  for (let r = 0; r < 8; r++) out.push({ ...base, opcode: opcode + r });
  return out;
}

export class OpcodeTable {
  /** slots[map][opcode] */
  readonly slots: (Slot | undefined)[][] = [[], [], [], []];
  /** Every mnemonic the core implements, for reports. */
  readonly mnemonics = new Set<string>();

  constructor(defs: readonly OpcodeDef[]) {
    for (const d of defs) {
      this.mnemonics.add(d.mnemonic);
      for (const cd of compile(d)) {
        const row = this.slots[cd.map]!;
        let slot = row[cd.opcode];
        if (!slot) {
          slot = { needsModrm: cd.needsModrm, defs: [] };
          row[cd.opcode] = slot;
        } else if (slot.needsModrm !== cd.needsModrm) {
          throw new Error(`opcode table: ${d.op} (${d.mnemonic}) disagrees with its slot on ModRM`);
        }
        slot.defs.push(cd);
      }
    }
  }
}
