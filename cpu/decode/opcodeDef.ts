/**
 * The shape of one opcode-table row (DESIGN decision 4). Family files under
 * cpu/exec/ export arrays of these; cpu/decode/opcodeTable.ts compiles them
 * into lookup slots once. The notation follows SDM Vol. 2 Appendix A:
 *
 *   op        "01 /r", "83 /7", "0F AF /r", "0F 01 C1" (a byte after the
 *             opcode is an exact ModRM), "0F 38 F0 /r", "50+r" (register in
 *             the low three bits), "D8-DF /r" would be a range (not used).
 *   operands  comma-separated: E/G/M/R/Z/I/J/O/S/C/D/V/W/U/A tokens with a
 *             size letter (b w d q v y z p x), or fixed names (AL, rAX, DX).
 *   prefix    a mandatory prefix: 'NP' (none of 66/F2/F3), '66', 'F3', 'F2',
 *             or 'NP|66' (no F2/F3; 66 stays an operand-size prefix).
 *   flags     d64: operand size defaults to 64 in 64-bit mode; f64: forced 64;
 *             i64: invalid in 64-bit mode; o64: valid only in 64-bit mode;
 *             lock: LOCK allowed (with a memory destination);
 *             branch: transfers control (ends a decoded block);
 *             stop: ends a decoded block after it (mode or state changes).
 */
import type { ExecFn, Insn } from './insn.ts';

export type OpcodeFlag = 'd64' | 'f64' | 'i64' | 'o64' | 'lock' | 'branch' | 'stop';

export interface OpcodeDef {
  op: string;
  mnemonic: string;
  operands?: string;
  prefix?: 'NP' | '66' | 'F3' | 'F2' | 'NP|66';
  /**
   * Operand-size letter when the operands don't say it (b w d q v y z), or
   * 'm' for the mode's width whatever the prefixes: 64 bits in 64-bit mode,
   * else 32 (INVPCID's register operand, SDM Vol. 2A INVPCID).
   */
  size?: string;
  flags?: OpcodeFlag[];
  /** The handler, when one function serves every form. */
  exec?: ExecFn;
  /** Picks the handler for the decoded form (size, register or memory). */
  select?: (i: Insn) => ExecFn;
}
