/**
 * Memory-type MSRs: IA32_PAT (277H, SDM Vol. 3A §13.12.2) and the MTRRs
 * (§13.11: IA32_MTRRCAP FEH, IA32_MTRR_DEF_TYPE 2FFH, the fixed-range
 * MTRRs 250H, 258H, 259H, 268H-26FH and eight variable-range pairs
 * 200H-20FH). They are stored and checked exactly (reserved bits and
 * invalid memory types raise #GP(0)), but have no effect on behaviour:
 * the machine has no caches whose behaviour a memory type could change,
 * so every access behaves the same whatever type it is given.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import type { FeatureName } from '../model/cpuidModel.ts';
import type { MsrDef } from './msrDef.ts';
import { loadMsr, storeMsr } from './platformState.ts';

/** Memory types valid in the PAT (UC WC WT WP WB UC-; §13.12.1) and in MTRRs (no UC-; §13.11.1). */
const PAT_TYPES = [0, 1, 4, 5, 6, 7];
const MTRR_TYPES = [0, 1, 4, 5, 6];

const VARIABLE_MTRRS = 8;
/** MTRRCAP: VCNT 8, fixed ranges (bit 8), write-combining (bit 10); no SMRR. */
const MTRRCAP = VARIABLE_MTRRS | (1 << 8) | (1 << 10);
/** PAT at power-up: WB WT UC- UC, twice (§13.12.4). */
const PAT_RESET_LO = 0x00070406;

function gp(): never {
  return fault(Vector.GP, 0);
}

/** Every byte of lo:hi is one of `types`. */
function bytesAreTypes(lo: number, hi: number, types: readonly number[]): boolean {
  for (let k = 0; k < 8; k++) {
    const b = ((k < 4 ? lo : hi) >>> ((k & 3) * 8)) & 0xff;
    if (!types.includes(b)) return false;
  }
  return true;
}

/** Bits MAXPHYADDR..63 of the high half are reserved in the range MTRRs. */
function highOk(c: Cpu, hi: number): boolean {
  return hi >>> (c.model.physAddrBits - 32) === 0;
}

/** A stored MSR of the `feature`, whose writes `valid` checks. */
function stored(index: number, name: string, feature: FeatureName, resetLo: number, resetHi: number,
  valid: (c: Cpu, lo: number, hi: number) => boolean): MsrDef {
  const present = (c: Cpu) => { if (!c.model.has(feature)) gp(); };
  return {
    index,
    name,
    read(c) {
      present(c);
      return loadMsr(c, index, resetLo, resetHi);
    },
    write(c, lo, hi) {
      present(c);
      if (!valid(c, lo, hi)) gp();
      storeMsr(c, index, lo, hi);
    },
  };
}

const pat = stored(0x277, 'IA32_PAT', 'pat', PAT_RESET_LO, PAT_RESET_LO, (_c, lo, hi) => bytesAreTypes(lo, hi, PAT_TYPES));

const mtrrCap: MsrDef = {
  index: 0xfe,
  name: 'IA32_MTRRCAP',
  read(c) {
    if (!c.model.has('mtrr')) gp();
    c.opHi = 0;
    return MTRRCAP;
  },
};

/** DEF_TYPE: type (bits 7:0, an MTRR type), FE (10), E (11); the rest reserved. */
const defType = stored(0x2ff, 'IA32_MTRR_DEF_TYPE', 'mtrr', 0, 0,
  (_c, lo, hi) => hi === 0 && (lo & ~0xcff) === 0 && MTRR_TYPES.includes(lo & 0xff));

const FIXED: [number, string][] = [
  [0x250, 'FIX64K_00000'], [0x258, 'FIX16K_80000'], [0x259, 'FIX16K_A0000'],
  ...[0xc0000, 0xc8000, 0xd0000, 0xd8000, 0xe0000, 0xe8000, 0xf0000, 0xf8000].map(
    (base, k): [number, string] => [0x268 + k, `FIX4K_${base.toString(16).toUpperCase()}`]),
];

const fixed = FIXED.map(([index, name]) =>
  stored(index, `IA32_MTRR_${name}`, 'mtrr', 0, 0, (_c, lo, hi) => bytesAreTypes(lo, hi, MTRR_TYPES)));

/** PHYSBASEn: type in bits 7:0, bits 11:8 reserved; PHYSMASKn: bits 10:0 reserved, valid in bit 11. */
const variable = Array.from({ length: VARIABLE_MTRRS }, (_, n) => [
  stored(0x200 + 2 * n, `IA32_MTRR_PHYSBASE${n}`, 'mtrr', 0, 0,
    (c, lo, hi) => highOk(c, hi) && (lo & 0xf00) === 0 && MTRR_TYPES.includes(lo & 0xff)),
  stored(0x201 + 2 * n, `IA32_MTRR_PHYSMASK${n}`, 'mtrr', 0, 0,
    (c, lo, hi) => highOk(c, hi) && (lo & 0x7ff) === 0),
]).flat();

export const MEMORY_TYPE_MSRS: MsrDef[] = [pat, mtrrCap, defType, ...fixed, ...variable];
