/**
 * Single bits: BT BTS BTR BTC, BSF BSR, TZCNT LZCNT POPCNT, SETcc (SDM
 * Vol. 2A "BT", "BTS", "BTR", "BTC", "BSF", "BSR", "LZCNT", "POPCNT",
 * Vol. 2B "TZCNT", "SETcc").
 *
 * Undefined flags, chosen once:
 * - BT/BTS/BTR/BTC change CF only; OF, SF, AF and PF keep their values (ZF
 *   is architecturally unaffected).
 * - BSF/BSR: CF = OF = SF = AF = 0; PF is the parity of the bit index found,
 *   or 1 when the source is 0 (the NetBurst row of sandpile.org's table).
 *   When the source is 0 the destination is left unchanged, all 64 bits of
 *   it, as Intel cores do although the SDM calls the content undefined.
 * - TZCNT/LZCNT: OF = SF = AF = 0 and PF is the parity of the count, the
 *   same rule as BSF/BSR.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { CF, testCondition } from '../flags.ts';
import { TWO32 } from '../registers.ts';
import { checkCanonical } from '../memory/canonical.ts';
import {
  addrOf, readE, readG, readMem, readMemRmw, readReg, selectWithSub, signExtend, writeE, writeG, writeMem, writeReg,
} from './operands.ts';

/** The BT family in the order of 0F BA /4../7. */
const enum BitOp { Bt = 0, Bts = 1, Btr = 2, Btc = 3 }


/**
 * Tests bit k (0..63) of (lo, hi) into CF and applies `op` to it. Returns
 * the low half of the new value, the high half in c.opHi.
 */
function bitApply(c: Cpu, op: number, lo: number, hi: number, k: number): number {
  const m = 1 << (k & 31);
  const w = k < 32 ? lo : hi;
  c.fAux = (c.fAux & ~CF) | ((w & m) !== 0 ? CF : 0);
  const nw = op === BitOp.Bts ? w | m : op === BitOp.Btr ? w & ~m : op === BitOp.Btc ? w ^ m : w;
  c.opHi = k < 32 ? hi : nw;
  return k < 32 ? nw : lo;
}

/**
 * Address of the operand-sized unit holding the bit at the signed offset
 * (lo, hi) from the bit base `la` (SDM Vol. 2A BT, "Range of Bit Positions
 * Specified by Bit Offset Operands"): la + 2/4/8 * (offset SAR 4/5/6), the
 * sum formed at the address size like the effective address itself.
 */
function bitUnitAddress(c: Cpu, i: Insn, la: number, lo: number, hi: number): number {
  const size = i.opSize;
  // Byte displacement (offset SAR 3) rounded down to the unit size, as 64-bit halves.
  const dLo = (size === 8 ? (lo >>> 3) | (hi << 29) : lo >> 3) & -size;
  const dHi = size === 8 ? hi >> 3 : dLo >> 31;
  if (i.addrSize === 8) return checkCanonical(la + dHi * TWO32 + (dLo >>> 0), i.seg);
  const base = c.segBase[i.seg]!;
  const off = i.addrSize === 4 ? (la - base + dLo) >>> 0 : (la - base + dLo) & 0xffff;
  return i.mode === 64 ? checkCanonical(base + off, i.seg) : (base + off) >>> 0;
}


/** BT/BTS/BTR/BTC with the bit offset (lo, hi); `fromReg` gives a memory operand the bit-string reach. */
function bitTest(c: Cpu, i: Insn, lo: number, hi: number, fromReg: boolean): void {
  const size = i.opSize, op = i.sub;
  const k = lo & (size * 8 - 1);
  if (!i.isMem) {
    const v = readReg(c, i.rm, size, 0);
    const r = bitApply(c, op, v, size === 8 ? c.opHi : 0, k);
    if (op !== BitOp.Bt) writeReg(c, i.rm, size, 0, r, c.opHi);
    return;
  }
  let la = i.ea(c, i);
  if (fromReg) la = bitUnitAddress(c, i, la, lo, hi);
  if (op === BitOp.Bt) {
    const v = readMem(c, la, size);
    bitApply(c, op, v, size === 8 ? c.opHi : 0, k);
    return;
  }
  const v = readMemRmw(c, la, size);
  const r = bitApply(c, op, v, size === 8 ? c.opHi : 0, k);
  writeMem(c, la, size, r, c.opHi);
}

/** BTx r/m, r: the offset register is signed (16-bit offsets sign-extend). */
const btEG: ExecFn = (c, i) => {
  const lo = readG(c, i);
  if (i.opSize === 8) bitTest(c, i, lo, c.opHi, true);
  else { const s = signExtend(lo, i.opSize); bitTest(c, i, s, s >> 31, true); }
};

/** BTx r/m, imm8: the immediate is taken modulo the operand width and never moves the address. */
const btEI: ExecFn = (c, i) => bitTest(c, i, i.imm, 0, false);

/** Source operand of the scan/count family: returns the low half, high half in c.opHi (0 below 64 bits). */
function readSource(c: Cpu, i: Insn): number {
  const lo = readE(c, i, addrOf(c, i));
  if (i.opSize !== 8) c.opHi = 0;
  return lo;
}

function lowestSet(lo: number, hi: number): number {
  return lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
}

function highestSet(lo: number, hi: number): number {
  return hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
}

/** ZF from `zero`, CF from `carry`, PF from `parityOf`; SF = OF = AF = 0 (see the header). */
function countFlags(c: Cpu, zero: boolean, carry: number, parityOf: number): void {
  c.fZ = zero ? 0 : 1;
  c.fS = 0;
  c.fP = parityOf;
  c.fAux = carry;
}

/** BSF (i.sub 0) / BSR (1): ZF=1 and the destination untouched when the source is 0. */
const bitScan: ExecFn = (c, i) => {
  const lo = readSource(c, i), hi = c.opHi;
  if ((lo | hi) === 0) { countFlags(c, true, 0, 0); return; }
  const k = i.sub === 0 ? lowestSet(lo, hi) : highestSet(lo, hi);
  countFlags(c, false, 0, k);
  writeG(c, i, k, 0);
};

/** TZCNT (i.sub 0) / LZCNT (1): a zero source gives the operand width and CF=1; ZF means a count of 0. */
const bitCount: ExecFn = (c, i) => {
  const lo = readSource(c, i), hi = c.opHi;
  const bits = i.opSize * 8;
  let n = bits;
  if ((lo | hi) !== 0) n = i.sub === 0 ? lowestSet(lo, hi) : bits - 1 - highestSet(lo, hi);
  countFlags(c, n === 0, n === bits ? CF : 0, n);
  writeG(c, i, n, 0);
};

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** POPCNT: OF SF ZF AF CF PF are cleared, then ZF is set for a zero source (SDM POPCNT). */
const popcnt: ExecFn = (c, i) => {
  const lo = readSource(c, i), hi = c.opHi;
  const n = popcount32(lo) + popcount32(hi);
  countFlags(c, n === 0, 0, 1); // parity source 1 (odd) reads as PF = 0
  writeG(c, i, n, 0);
};

/** SETcc r/m8: 1 if the condition holds, else 0; ModRM.reg is ignored. */
const setcc: ExecFn = (c, i) => writeE(c, i, addrOf(c, i), testCondition(c, i.cond) ? 1 : 0, 0);

const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const BT_NAMES = ['bt', 'bts', 'btr', 'btc'];
const BT_REG_OPCODES = ['A3', 'AB', 'B3', 'BB'];

export const BITS_OPCODES: OpcodeDef[] = [];
for (let op = 0; op < 4; op++) {
  const flags = op === BitOp.Bt ? [] : ['lock' as const];
  BITS_OPCODES.push(
    { op: `0F ${BT_REG_OPCODES[op]} /r`, mnemonic: BT_NAMES[op]!, operands: 'Ev,Gv', flags, select: selectWithSub(op, btEG) },
    { op: `0F BA /${op + 4}`, mnemonic: BT_NAMES[op]!, operands: 'Ev,Ib', flags, select: selectWithSub(op, btEI) },
  );
}
BITS_OPCODES.push(
  { op: '0F BC /r', mnemonic: 'bsf', operands: 'Gv,Ev', select: selectWithSub(0, bitScan) },
  { op: '0F BD /r', mnemonic: 'bsr', operands: 'Gv,Ev', select: selectWithSub(1, bitScan) },
  { op: '0F BC /r', mnemonic: 'tzcnt', prefix: 'F3', operands: 'Gv,Ev', select: selectWithSub(0, bitCount) },
  { op: '0F BD /r', mnemonic: 'lzcnt', prefix: 'F3', operands: 'Gv,Ev', select: selectWithSub(1, bitCount) },
  { op: '0F B8 /r', mnemonic: 'popcnt', prefix: 'F3', operands: 'Gv,Ev', exec: popcnt },
);
for (let cc = 0; cc < 16; cc++) {
  BITS_OPCODES.push({ op: `0F ${(0x90 + cc).toString(16).toUpperCase()} /r`, mnemonic: `set${CC_NAMES[cc]}`, operands: 'Eb', exec: setcc });
}
