/**
 * Differential decoding against iced-x86 (DESIGN decision 9). Seeded random
 * byte strings, and "plausible" ones built from prefixes, REX, opcodes the
 * core's table defines and random ModRM/SIB/displacement/immediate bytes,
 * are decoded by the core and by iced at the same code size.
 *
 * Every encoding the core ACCEPTS must be valid for iced too, with the same
 * length, memory operand, immediates, condition and mnemonic (up to the
 * alias table below). Encodings the core REFUSES are only counted: those
 * iced decodes are instructions not implemented yet, reported by mnemonic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opcodeTable } from '../../cpu/cpu.ts';
import { Decoder, raiseGP0, raiseUD, type Refusal } from '../../cpu/decode/decoder.ts';
import { EA } from '../../cpu/decode/effectiveAddress.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { icedDecode, type IcedInsn, type IcedReg } from '../support/iced.ts';

type Mode = 16 | 32 | 64;

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const ccNames = (stem: string) => CC.map((c) => stem + c);

/** Hints that never access their memory operand, which iced sizes as a byte. */
const HINTS = ['prefetch', 'prefetchw', 'prefetchwt1', 'cldemote', 'prefetchit0', 'prefetchit1'];

/**
 * The core names some instructions by family or by their operand-size-free
 * name; iced names the exact form. Each entry: core mnemonic → iced names.
 */
const ALIASES: Record<string, readonly string[]> = {
  jcc: ccNames('j'),
  cmov: ccNames('cmov'),
  setcc: ccNames('set'),
  // 90 is XCHG eAX,eAX, which is NOP (SDM Vol. 2B NOP).
  xchg: ['xchg', 'nop'],
  cbw: ['cbw', 'cwde', 'cdqe'],
  cwd: ['cwd', 'cdq', 'cqo'],
  jrcxz: ['jcxz', 'jecxz', 'jrcxz'],
  // D0-D3 and C0/C1 /6: SAL and SHL are the same instruction (SDM Vol. 2B SAL/SAR/SHL/SHR).
  shl: ['shl', 'sal'],
  // 0F 18-1F /r is the reserved-NOP hint space and 0F 0D /r the prefetch group (SDM Vol. 2B NOP,
  // PREFETCHW): iced names the unassigned forms "reservednop" and the hints by name; each executes
  // as a NOP here (prefetches are hints; CLDEMOTE and PREFETCHIT0/1 are absent, RDSSPD/Q need CET).
  nop: ['nop', 'reservednop', ...HINTS, 'rdsspd', 'rdsspq'],
};
const CONDITIONAL = new Set(['jcc', 'cmov', 'setcc']);
/** Core names iced spells with an operand-size suffix (b w d q): pushf → pushfq, movs → movsb. */
const SUFFIXED = new Set(['pushf', 'popf', 'pusha', 'popa', 'iret', 'sysret', 'sysexit', 'movs', 'cmps', 'stos', 'lods', 'scas', 'ins', 'outs', 'xlat']);

function mnemonicAgrees(core: string, iced: string): boolean {
  if (core === iced) return true;
  if (ALIASES[core]?.includes(iced)) return true;
  return SUFFIXED.has(core) && iced.length === core.length + 1 && iced.startsWith(core) && 'bwdq'.includes(iced.at(-1)!);
}

/**
 * Where iced's first operand is not sized like the instruction's operand
 * size: SMSW/STR/SLDT and MOV r, Sreg (8C) name a full register but move
 * 16 bits; CMPXCHG8B/16B and CRC32 size their operands
 * independently of the operand-size attribute; UD0/UD1 are listed in the
 * SDM only as "r32, r/m32" and raise #UD whatever their size; HINTS never
 * access their memory operand; RDPID's
 * r64 form in 64-bit mode receives a zero-extended 32-bit value, which a
 * 32-bit register write gives too (SDM Vol. 1 §3.4.1.1).
 */
const OPSIZE_UNCHECKED = new Set([
  'smsw', 'str', 'sldt', 'cmpxchg8b', 'cmpxchg16b', 'crc32', 'ud0', 'ud1',
  'rdpid', ...HINTS,
]);

const u64 = (lo: number, hi: number) => BigInt.asUintN(64, (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0));
const maskBits = (v: bigint, bits: number) => BigInt.asUintN(bits, v);

function coreReg(n: number): IcedReg {
  return n < 0 ? null : n;
}

function isAccepted(i: Insn): boolean {
  return i.exec !== raiseUD && i.exec !== raiseGP0;
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Field-by-field agreement of an accepted encoding; throws (via expect) on the first difference. */
function checkAccepted(i: Insn, ic: IcedInsn, bytes: Uint8Array, mode: Mode): void {
  const what = `${mode}-bit ${hex(bytes, Math.max(i.len, ic.length))}: core ${i.mnemonic}, iced '${ic.formatted}'`;
  expect(ic.invalid, `iced refuses ${what}`).toBe(false);
  expect(i.len, `length of ${what}`).toBe(ic.length);
  expect(mnemonicAgrees(i.mnemonic, ic.mnemonicText), `mnemonic of ${what}`).toBe(true);
  // Jcc/CMOVcc/SETcc carry the condition in Insn.cond (LOOPcc is told apart by its opcode).
  if (CONDITIONAL.has(i.mnemonic)) expect(i.cond, `condition of ${what}`).toBe(ic.cond);

  // Memory operand (ModRM or moffs). XLAT's table operand [rBX+AL] is implicit (no ModRM), though iced shows it.
  const memory = ic.mnemonicText === 'xlatb' ? null : ic.memory;
  expect(i.isMem, `memory operand presence of ${what}`).toBe(memory !== null);
  if (i.isMem && memory) {
    const m = memory;
    const ripRel = i.ea === EA.ea64Rip || i.ea === EA.ea32Rip;
    expect(i.addrSize, `address size of ${what}`).toBe(m.addrSize);
    expect(ripRel ? 'rip' : coreReg(i.base), `base of ${what}`).toBe(m.base);
    expect(coreReg(i.index), `index of ${what}`).toBe(m.index);
    if (m.index !== null) expect(i.scale, `scale of ${what}`).toBe(m.scale);
    expect(maskBits(u64(i.dispLo, i.dispHi), m.addrSize * 8), `displacement of ${what}`).toBe(m.displacement);
    expect(i.seg, `segment of ${what}`).toBe(m.segment);
  }

  // Immediates, relative branch displacements and far pointers.
  const imm = u64(i.imm, i.immHi);
  const firsts = ic.immediates.filter((x) => !x.second);
  if (firsts.length > 0) {
    expect(maskBits(imm, firsts[0]!.bits), `immediate of ${what}`).toBe(firsts[0]!.value);
    // A sign-extended immediate is extended to the operand size (PUSH imm, 83 /x, IMUL imm8).
    if (firsts[0]!.extended) expect(i.opSize * 8, `operand size (immediate) of ${what}`).toBe(firsts[0]!.bits);
  }
  const second = ic.immediates.find((x) => x.second);
  if (second) expect(BigInt(i.imm2), `second immediate of ${what}`).toBe(second.value);
  if (ic.branch) {
    expect(maskBits(imm, ic.branch.bits), `branch displacement of ${what}`).toBe(ic.branch.rel);
    // The target wraps at the operand size (SDM Vol. 2A JMP, Jcc, CALL: "truncated to 16 bits").
    expect(i.opSize * 8, `operand size (branch) of ${what}`).toBe(ic.branch.bits);
  }
  if (ic.far) {
    expect(i.imm >>> 0, `far offset of ${what}`).toBe(ic.far.offset);
    expect(i.imm2, `far selector of ${what}`).toBe(ic.far.selector);
  }

  // Register operands from ModRM.reg, ModRM.rm and the opcode's low bits (with REX, and AH..BH without it).
  for (const r of ic.regs) {
    if (r.kind === 'other') continue;
    const n = r.role === 'rm' ? i.rm : i.reg;
    const high = (r.role === 'rm' ? i.rmShift : i.regShift) === 8;
    expect(`${n}${high ? 'h' : ''}`, `${r.role} register of ${what}`).toBe(`${r.n}${r.high ? 'h' : ''}`);
  }

  // Operand size, where iced's first operand shows it (a far-pointer memory operand shows the pointer's size).
  if ([1, 2, 4, 8].includes(ic.opSize) && !OPSIZE_UNCHECKED.has(ic.mnemonicText) && i.opcode !== 0x8c && !ic.formatted.includes(' far ')) {
    expect(i.opSize, `operand size of ${what}`).toBe(ic.opSize);
  }
}

// ---- statistics of one run ------------------------------------------------------

class Tally {
  cases = 0;
  accepted = 0;
  refusedBothInvalid = 0;
  refusedValid = 0;
  readonly byMnemonic = new Map<string, number>();
  readonly byReason = new Map<string, number>();

  add(map: Map<string, number>, k: string): void {
    map.set(k, (map.get(k) ?? 0) + 1);
  }

  report(title: string, top = 30): string {
    const rows = [...this.byMnemonic].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
    const lines = [
      `${title}: ${this.cases} cases, ${this.accepted} accepted (all agree with iced), ` +
        `${this.refusedBothInvalid} refused and invalid for iced too, ${this.refusedValid} refused but valid for iced`,
      `  refusal reasons: ${[...this.byReason].map(([k, v]) => `${k}=${v}`).join(' ')}`,
      `  refused-but-valid by iced mnemonic (top ${top}):`,
      ...rows.map(([m, n]) => `    ${m.padEnd(14)} ${n}`),
    ];
    return lines.join('\n');
  }
}

/** Decodes `bytes` with both decoders and checks or counts the outcome. */
function compare(decoder: Decoder, tally: Tally, bytes: Uint8Array, mode: Mode): void {
  let reason: Refusal | undefined;
  decoder.onRefuse = (r) => { reason = r; };
  const i = decoder.decode({ bytes, start: 0, avail: bytes.length }, mode);
  expect(i, `core decoder needs more than ${bytes.length} bytes for ${hex(bytes, 16)}`).not.toBeNull();
  const ic = icedDecode(bytes, mode);
  tally.cases++;
  if (isAccepted(i!)) {
    checkAccepted(i!, ic, bytes, mode);
    tally.accepted++;
    return;
  }
  tally.add(tally.byReason, reason ?? 'handler');
  // An instruction longer than 15 bytes is never valid (SDM Vol. 2A §2.3.11).
  if (reason === 'too-long') expect(ic.invalid, `core says too long, iced decodes ${hex(bytes, 16)}`).toBe(true);
  if (ic.invalid) {
    tally.refusedBothInvalid++;
  } else {
    tally.refusedValid++;
    tally.add(tally.byMnemonic, ic.mnemonicText);
  }
}

// ---- generators ----------------------------------------------------------------

const BUFFER = 24; // longer than any instruction, so neither decoder runs out of bytes
const PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
const MAP_ESCAPES = [[], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]];

/** Opcode byte sequences (map escape + opcode) of every slot the core's table defines. */
function tableOpcodes(): number[][] {
  const out: number[][] = [];
  opcodeTable().slots.forEach((row, map) => {
    row.forEach((slot, op) => { if (slot) out.push([...MAP_ESCAPES[map]!, op]); });
  });
  return out;
}

const modeArb = fc.constantFrom<Mode>(16, 32, 64);

const randomBytes = fc.record({ mode: modeArb, bytes: fc.uint8Array({ minLength: BUFFER, maxLength: BUFFER }) });

/**
 * Prefixes (up to `maxPrefixes`, REX bytes among them when `rexAnywhere`), an optional REX
 * right before the opcode in 64-bit mode, an opcode, then random ModRM/SIB/displacement/immediate bytes.
 */
function plausible(opcodes: number[][], maxPrefixes: number, rexAnywhere: boolean) {
  const anyOpcode = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((b) => [b]),
    fc.integer({ min: 0, max: 255 }).map((b) => [0x0f, b]),
    fc.tuple(fc.constantFrom(0x38, 0x3a), fc.integer({ min: 0, max: 255 })).map(([m, b]) => [0x0f, m, b]),
  );
  return fc.record({
    mode: modeArb,
    prefixes: fc.array(
      rexAnywhere ? fc.oneof(fc.constantFrom(...PREFIXES), fc.integer({ min: 0x40, max: 0x4f })) : fc.constantFrom(...PREFIXES),
      { maxLength: maxPrefixes },
    ),
    rex: fc.option(fc.integer({ min: 0x40, max: 0x4f }), { freq: 2 }),
    opcode: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...opcodes) }, { weight: 1, arbitrary: anyOpcode }),
    tail: fc.uint8Array({ minLength: BUFFER, maxLength: BUFFER }),
  }).map(({ mode, prefixes, rex, opcode, tail }) => {
    const head = [...prefixes, ...(rex !== null && mode === 64 ? [rex] : []), ...opcode];
    const bytes = new Uint8Array(BUFFER);
    bytes.set(head.slice(0, BUFFER));
    bytes.set(tail.subarray(0, BUFFER - Math.min(head.length, BUFFER)), Math.min(head.length, BUFFER));
    return { mode, bytes };
  });
}

describe('decoder against iced-x86 (differential)', () => {
  const decoder = new Decoder(opcodeTable());

  it('agrees with iced on every accepted encoding of random bytes', () => {
    const tally = new Tally();
    fc.assert(fc.property(randomBytes, ({ mode, bytes }) => compare(decoder, tally, bytes, mode)), {
      seed: 42, numRuns: 12_000,
    });
    console.log(tally.report('random bytes'));
    expect(tally.accepted).toBeGreaterThan(0);
  });

  it('agrees with iced on every accepted encoding of plausible instructions', () => {
    const tally = new Tally();
    fc.assert(fc.property(plausible(tableOpcodes(), 4, false), ({ mode, bytes }) => compare(decoder, tally, bytes, mode)), {
      seed: 4242, numRuns: 25_000,
    });
    console.log(tally.report('plausible instructions'));
    // Most plausible encodings use an opcode the table defines: the accepted set must be large.
    expect(tally.accepted).toBeGreaterThan(tally.cases / 3);
  });

  it('agrees with iced on long prefix runs, misplaced REX and the 15-byte limit', () => {
    const tally = new Tally();
    const arb = plausible(tableOpcodes(), 15, true);
    fc.assert(fc.property(arb, ({ mode, bytes }) => compare(decoder, tally, bytes, mode)), { seed: 1515, numRuns: 6_000 });
    console.log(tally.report('prefix runs'));
    expect(tally.byReason.get('too-long') ?? 0).toBeGreaterThan(0);
  });
});
