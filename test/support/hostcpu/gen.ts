/**
 * Random inputs for the differential tests: fast-check arbitraries biased
 * toward the values where instructions have edges (0, 1, -1, the signed
 * limits of every width, shift counts around the operand size), and the
 * shape of one generated case.
 */
import fc from 'fast-check';
import { REG64_NAMES } from '../../../cpu/registers.ts';
import { ARITH_FLAGS, DF } from '../../../cpu/flags.ts';
import { SCRATCH_BASE } from './hostcpu.ts';

export type RegName = (typeof REG64_NAMES)[number];
export const regIndex = (name: RegName): number => REG64_NAMES.indexOf(name);

export const MASK64 = (1n << 64n) - 1n;

/** One case's inputs: everything the instruction may read. */
export interface CaseInput {
  /** The 16 GPRs in encoding order, as unsigned 64-bit values. */
  regs: bigint[];
  /** CF PF AF ZF SF OF and DF; the other bits are neither loaded nor compared. */
  rflags: number;
  /** The immediate patched into the encoding (unsigned, little-endian bytes), or 0n. */
  imm: bigint;
  /** Initial scratch bytes at SCRATCH_BASE (empty for register-only templates). */
  scratch: Uint8Array;
  /** A random number for templates that couple inputs (make RAX equal memory, keep a quotient in range...). */
  pick: number;
}

/** Values at the edges of a `bits`-wide field: 0, 1, 2, max, max-1, the signed limits. */
export function edgesOf(bits: number): bigint[] {
  const top = 1n << BigInt(bits - 1);
  const all = (1n << BigInt(bits)) - 1n;
  return [0n, 1n, 2n, top - 1n, top, top + 1n, all, all - 1n];
}

const EDGES = [8, 16, 32, 64].flatMap(edgesOf);
const LOW_EDGES = [8, 16, 32].map((bits) => ({ bits: BigInt(bits), edges: edgesOf(bits) }));

/**
 * A 64-bit register value: uniformly random (3 in 9), an edge of some width
 * (2 in 9), an edge in the low 8/16/32 bits under random upper bits, what a
 * narrow operation sees (3 in 9), or a small signed number (1 in 9). One
 * flat map over plain integers: bigint arbitraries would dominate the run time.
 */
export const edgy: fc.Arbitrary<bigint> = fc.tuple(fc.nat(8), fc.integer(), fc.integer(), fc.nat(63)).map(([kind, lo, hi, k]) => {
  const random = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  if (kind < 3) return random;
  if (kind < 5) return EDGES[k % EDGES.length]!;
  if (kind < 8) {
    const { bits, edges } = LOW_EDGES[kind - 5]!;
    return ((random >> bits) << bits) | edges[k % edges.length]!;
  }
  return BigInt((k % 33) - 16) & MASK64;
});

/** An immediate of `bytes` bytes: edges of that width or random. */
export function immOf(bytes: number): fc.Arbitrary<bigint> {
  const bits = bytes * 8;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...edgesOf(bits)) },
    { weight: 2, arbitrary: fc.bigInt(0n, (1n << BigInt(bits)) - 1n) },
  );
}

/** A shift or rotate count byte: 0, 1, around the operand size and the masks, or any byte. */
export function countByte(bits: number): fc.Arbitrary<bigint> {
  const around = [0, 1, 2, bits - 1, bits, bits + 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...around.map(BigInt)) },
    { weight: 1, arbitrary: fc.bigInt(0n, 0xffn) },
  );
}

/** A register whose low byte is a shift count (CL) and whose other bits are random. */
export function countReg(bits: number): fc.Arbitrary<bigint> {
  return fc.tuple(fc.bigInt(0n, MASK64 >> 8n), countByte(bits)).map(([hi, c]) => (hi << 8n) | c);
}

/** Middle of the scratch buffer used by memory templates: pointers stay within +-256 bytes of it. */
export const SCRATCH_MID = SCRATCH_BASE + 256;
const SCRATCH_LEN = 512;

/** A pointer register: SCRATCH_MID + an offset in [lo, hi]. */
export function pointer(lo = 0, hi = 0): fc.Arbitrary<bigint> {
  return fc.integer({ min: lo, max: hi }).map((d) => BigInt(SCRATCH_MID + d));
}

/**
 * Scratch contents: random bytes, or bytes from a small alphabet so that
 * comparisons often match. The bytes are expanded from one drawn number
 * (xorshift32): drawing 512 separate bytes would cost more than the test.
 */
export const scratchBytes: fc.Arbitrary<Uint8Array> = fc.tuple(fc.integer(), fc.boolean()).map(([seed, alphabet]) => {
  const out = new Uint8Array(SCRATCH_LEN);
  let s = seed | 1;
  for (let k = 0; k < SCRATCH_LEN; k++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[k] = alphabet ? [0, 0x41, 0xff][(s >>> 0) % 3]! : s & 0xff;
  }
  return out;
});

/** RFLAGS inputs: any combination of the six arithmetic flags and DF. */
export const rflagsArb: fc.Arbitrary<number> = fc.noBias(fc.nat(0xfff)).map((v) => v & (ARITH_FLAGS | DF));

export interface InputSpec {
  regs?: Partial<Record<RegName, fc.Arbitrary<bigint>>>;
  imm?: fc.Arbitrary<bigint>;
  scratch?: boolean;
}

/** The arbitrary of whole cases for a template's input spec. */
export function caseArb(spec: InputSpec): fc.Arbitrary<CaseInput> {
  const regs = REG64_NAMES.map((n) => (n === 'rsp' ? fc.constant(0n) : spec.regs?.[n] ?? edgy));
  return fc.record({
    regs: fc.tuple(...regs),
    rflags: rflagsArb,
    imm: spec.imm ?? fc.constant(0n),
    scratch: spec.scratch ? scratchBytes : fc.constant(new Uint8Array(0)),
    pick: fc.nat(),
  }).map((c) => ({ ...c, regs: [...c.regs], scratch: Uint8Array.from(c.scratch) }));
}

/** Writes `bytes` little-endian bytes of v into scratch at linear address `la`. */
export function scratchWrite(x: CaseInput, la: bigint, bytes: number, v: bigint): void {
  const off = Number(la) - SCRATCH_BASE;
  for (let k = 0; k < bytes; k++) x.scratch[off + k] = Number((v >> BigInt(8 * k)) & 0xffn);
}
