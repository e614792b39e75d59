/**
 * Hand-picked tricky encodings, decoded by the core and checked field by
 * field against values worked out from the SDM (Vol. 2A ch. 2: §2.1.1
 * prefixes, §2.1.5 and Tables 2-1 to 2-3 ModRM/SIB, §2.2.1 REX,
 * §2.2.1.6 RIP-relative addressing, §2.3.11 the 15-byte limit).
 */
import { describe, expect, it } from 'vitest';
import { opcodeTable } from '../../cpu/cpu.ts';
import { Decoder, raiseGP0, raiseUD } from '../../cpu/decode/decoder.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { Seg } from '../../cpu/registers.ts';
import { makeCore, runAsm } from '../support/machine.ts';

type Mode = 16 | 32 | 64;

const decoder = new Decoder(opcodeTable());

function bytesOf(hex: string): Uint8Array {
  return Uint8Array.from(hex.trim().split(/\s+/), (h) => parseInt(h, 16));
}

/** Decodes `hex` (padded with zero bytes to 24 unless `avail` limits it). */
function dec(mode: Mode, hex: string, avail?: number): Insn | null {
  const b = bytesOf(hex);
  const bytes = new Uint8Array(Math.max(24, b.length));
  bytes.set(b);
  return decoder.decode({ bytes, start: 0, avail: avail ?? bytes.length }, mode);
}

/** The fields a case may pin down; displacement and immediate as unsigned 64-bit values. */
interface Want {
  mnemonic?: string;
  len?: number;
  opSize?: number;
  addrSize?: number;
  isMem?: boolean;
  base?: number;
  index?: number;
  scale?: number;
  disp?: bigint;
  seg?: number;
  segOverride?: boolean;
  reg?: number;
  regShift?: number;
  rm?: number;
  rmShift?: number;
  imm?: bigint;
  lock?: boolean;
}

const u64 = (lo: number, hi: number) => BigInt.asUintN(64, (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0));

function fieldsOf(i: Insn, want: Want): Want {
  const got: Record<string, unknown> = {};
  for (const k of Object.keys(want) as (keyof Want)[]) {
    if (k === 'disp') got.disp = u64(i.dispLo, i.dispHi);
    else if (k === 'imm') got.imm = u64(i.imm, i.immHi);
    else got[k] = i[k];
  }
  return got as Want;
}

const NONE = -1;
const { ES, CS, SS, DS, FS, GS } = { ES: Seg.ES, CS: Seg.CS, SS: Seg.SS, DS: Seg.DS, FS: Seg.FS, GS: Seg.GS };

const CASES: [string, Mode, string, Want][] = [
  // ---- REX placement (SDM Vol. 2A §2.2.1: a REX not immediately before the opcode is ignored) ----
  ['REX.W then 66: REX ignored, 16-bit operand', 64, '48 66 89 c0', { len: 4, opSize: 2, reg: 0, rm: 0 }],
  ['66 then REX.W: REX.W wins over 66', 64, '66 48 89 c0', { len: 4, opSize: 8 }],
  ['REX.B then a segment prefix: REX.B ignored', 64, '41 3e 89 c0', { len: 4, opSize: 4, rm: 0 }],
  ['two REX: only the last counts', 64, '48 41 89 c0', { len: 4, opSize: 4, rm: 8, reg: 0 }],
  ['REX.R extends ModRM.reg', 64, '44 89 c0', { reg: 8, rm: 0, opSize: 4 }],
  ['66 + REX.W: MOV r64, imm64 keeps its 8-byte immediate', 64, '66 48 b8 88 77 66 55 44 33 22 11',
    { len: 11, opSize: 8, reg: 0, imm: 0x1122334455667788n }],
  ['66: MOV r16, imm16', 64, '66 b8 34 12', { len: 4, opSize: 2, imm: 0x1234n }],
  // ---- address size in 64-bit mode ----
  ['67 in 64-bit mode: 32-bit addressing', 64, '67 8b 03', { len: 3, addrSize: 4, base: 3, index: NONE, isMem: true }],
  ['RIP-relative', 64, '8b 05 f0 ff ff ff', { len: 6, addrSize: 8, base: NONE, index: NONE, disp: 0xfffffffffffffff0n }],
  ['RIP-relative with 67 (EIP-relative)', 64, '67 8b 05 10 00 00 00', { len: 7, addrSize: 4, base: NONE, index: NONE, disp: 0x10n }],
  ['RIP-relative ignores REX.B', 64, '41 8b 05 10 00 00 00', { len: 7, base: NONE, index: NONE }],
  // ---- SIB (Table 2-3) ----
  ['SIB, mod 00 base 101: disp32, no base', 64, '8b 04 25 78 56 34 12', { len: 7, base: NONE, index: NONE, disp: 0x12345678n }],
  ['SIB, mod 00 base 101 with an index', 64, '8b 04 8d 00 01 00 00', { len: 7, base: NONE, index: 1, scale: 4, disp: 0x100n }],
  ['SIB, mod 00 base 101 with REX.B: still no base', 64, '41 8b 04 25 00 00 00 80', { len: 8, base: NONE, index: NONE, disp: 0xffffffff80000000n }],
  ['SIB index 100 is none; REX.X makes it r12', 64, '42 8b 04 24', { len: 4, base: 4, index: 12, seg: SS }],
  ['32-bit mode: mod 00 rm 101 is disp32, not RIP-relative', 32, '8b 05 00 10 00 00', { len: 6, addrSize: 4, base: NONE, disp: 0x1000n }],
  // ---- r12 and r13 as base: the rsp/rbp encodings with REX.B ----
  ['[r12] needs a SIB byte', 64, '41 8b 04 24', { len: 4, base: 12, index: NONE, seg: DS }],
  ['[r13] needs a disp8 (mod 01)', 64, '41 8b 45 00', { len: 4, base: 13, index: NONE, disp: 0n, seg: DS }],
  ['[rbp+disp8] defaults to SS', 64, '8b 45 f8', { len: 3, base: 5, disp: 0xfffffffffffffff8n, seg: SS }],
  ['[rsp] defaults to SS', 64, '8b 04 24', { len: 3, base: 4, index: NONE, seg: SS }],
  // ---- segment overrides in 64-bit mode (§2.1.1: ES/CS/SS/DS ignored, FS/GS kept) ----
  ['ES override decoded in 64-bit mode', 64, '26 8b 00', { len: 3, seg: ES, segOverride: true }],
  ['CS override decoded in 64-bit mode', 64, '2e 8b 00', { len: 3, seg: CS, segOverride: true }],
  ['FS then DS: DS cannot displace FS in 64-bit mode', 64, '64 3e 8b 00', { len: 4, seg: FS }],
  ['DS then GS', 64, '3e 65 8b 00', { len: 4, seg: GS }],
  ['16-bit: SS override on [bx]', 16, '36 8b 07', { len: 3, seg: SS, base: 3 }],
  // ---- moffs (A0-A3): the offset is as wide as the address size ----
  ['moffs, 16-bit address size', 16, 'a1 34 12', { len: 3, addrSize: 2, disp: 0x1234n, isMem: true, opSize: 2, seg: DS }],
  ['moffs, 16-bit mode with 67', 16, '67 a1 78 56 34 12', { len: 6, addrSize: 4, disp: 0x12345678n }],
  ['moffs, 32-bit address size', 32, 'a1 78 56 34 12', { len: 5, addrSize: 4, disp: 0x12345678n, opSize: 4 }],
  ['moffs, 32-bit mode with 67', 32, '67 a2 34 12', { len: 4, addrSize: 2, disp: 0x1234n, opSize: 1 }],
  ['moffs, 64-bit address size', 64, 'a1 08 07 06 05 04 03 02 81', { len: 9, addrSize: 8, disp: 0x8102030405060708n, opSize: 4 }],
  ['moffs, 64-bit with REX.W', 64, '48 a3 08 07 06 05 04 03 02 01', { len: 10, addrSize: 8, disp: 0x0102030405060708n, opSize: 8 }],
  ['moffs, 64-bit mode with 67', 64, '67 a1 78 56 34 82', { len: 6, addrSize: 4, disp: 0x82345678n }],
  ['moffs with an FS override', 64, '64 a0 00 10 00 00 00 00 00 00', { len: 10, seg: FS, opSize: 1 }],
  // ---- byte registers (§2.2.1.2: with any REX, 4-7 are SPL BPL SIL DIL) ----
  ['AH as ModRM.reg without REX', 64, '88 e0', { reg: 0, regShift: 8, rm: 0, rmShift: 0 }],
  ['SPL as ModRM.reg with an empty REX', 64, '40 88 e0', { reg: 4, regShift: 0, rm: 0 }],
  ['AH as ModRM.rm without REX', 64, '88 c4', { rm: 0, rmShift: 8, reg: 0, regShift: 0 }],
  ['SPL as ModRM.rm with REX', 64, '40 88 c4', { rm: 4, rmShift: 0 }],
  ['R12B as ModRM.rm with REX.B', 64, '41 88 c4', { rm: 12, rmShift: 0 }],
  ['R12B as ModRM.reg with REX.R', 64, '44 88 e0', { reg: 12, regShift: 0 }],
  ['DH from B6 without REX', 64, 'b6 7f', { reg: 2, regShift: 8, imm: 0x7fn, len: 2 }],
  ['SIL from B6 with REX', 64, '40 b6 7f', { reg: 6, regShift: 0, len: 3 }],
  ['R14B from B6 with REX.B', 64, '41 b6 7f', { reg: 14, regShift: 0, len: 3 }],
  ['BH in 32-bit mode (no REX there: 40 is INC)', 32, '88 ff', { reg: 3, regShift: 8, rm: 3, rmShift: 8 }],
  ['word register 4 is SP, never AH', 64, '66 89 e0', { reg: 4, regShift: 0, opSize: 2 }],
  // ---- immediates ----
  ['83 /0 sign-extends imm8 to 64 bits', 64, '48 83 c0 ff', { imm: 0xffffffffffffffffn, opSize: 8, len: 4 }],
  ['81 /0 with REX.W: imm32 sign-extended', 64, '48 81 c0 00 00 00 80', { imm: 0xffffffff80000000n, len: 7 }],
  ['66 05: imm16 for a 16-bit operand', 32, '66 05 34 12', { len: 4, opSize: 2 }],
  ['16-bit mode 05: imm16', 16, '05 34 12', { len: 3, opSize: 2 }],
  ['16-bit mode 66 05: imm32', 16, '66 05 78 56 34 12', { len: 6, opSize: 4 }],
  // ---- near branches in 64-bit mode: 66 is ignored (Intel), the displacement stays 32 bits ----
  ['E8 rel32 in 64-bit mode', 64, 'e8 00 00 00 80', { len: 5, opSize: 8, imm: 0xffffffff80000000n }],
  ['66 E8 in 64-bit mode still takes rel32', 64, '66 e8 10 00 00 00', { len: 6, opSize: 8, imm: 0x10n }],
  ['66 E9 in 32-bit mode takes rel16', 32, '66 e9 fe ff', { len: 4, opSize: 2, imm: 0xfffffffffffffffen }],
  ['push in 64-bit mode defaults to 64 bits, 66 makes it 16', 64, '66 50', { len: 2, opSize: 2, reg: 0 }],
  ['push r9', 64, '41 51', { len: 2, opSize: 8, reg: 9 }],
];

const MODRM16: [string, string, Partial<Want>][] = [
  // SDM Vol. 2A Table 2-1: rm → base, index, default segment; mod 00 rm 110 is disp16 alone.
  ['[bx+si]', '8b 00', { base: 3, index: 6, seg: DS, len: 2 }],
  ['[bx+di]', '8b 01', { base: 3, index: 7, seg: DS, len: 2 }],
  ['[bp+si]', '8b 02', { base: 5, index: 6, seg: SS, len: 2 }],
  ['[bp+di]', '8b 03', { base: 5, index: 7, seg: SS, len: 2 }],
  ['[si]', '8b 04', { base: 6, index: NONE, seg: DS, len: 2 }],
  ['[di]', '8b 05', { base: 7, index: NONE, seg: DS, len: 2 }],
  ['[disp16]', '8b 06 34 12', { base: NONE, index: NONE, seg: DS, disp: 0x1234n, len: 4 }],
  ['[bx]', '8b 07', { base: 3, index: NONE, seg: DS, len: 2 }],
  ['[bx+si+disp8] sign-extends', '8b 40 80', { base: 3, index: 6, disp: 0xffffffffffffff80n, len: 3 }],
  ['[bp+disp8]', '8b 46 02', { base: 5, index: NONE, seg: SS, disp: 2n, len: 3 }],
  ['[bp+disp16]', '8b 86 00 80', { base: 5, seg: SS, disp: 0xffffffffffff8000n, len: 4 }],
  ['[di+disp16]', '8b 85 34 12', { base: 7, seg: DS, disp: 0x1234n, len: 4 }],
];

describe('decoder: tricky encodings (SDM Vol. 2A ch. 2)', () => {
  it.each(CASES)('%s', (_name, mode, hex, want) => {
    const i = dec(mode, hex)!;
    expect(i).not.toBeNull();
    expect(i.exec).not.toBe(raiseUD);
    expect(i.exec).not.toBe(raiseGP0);
    expect(fieldsOf(i, want)).toEqual(want);
  });

  it.each(MODRM16)('16-bit ModRM %s (Table 2-1)', (_name, hex, want) => {
    const i = dec(16, hex)!;
    expect(i.addrSize).toBe(2);
    expect(i.isMem).toBe(true);
    expect(fieldsOf(i, want)).toEqual(want);
  });

  it('16-bit ModRM under 67 in 32-bit mode uses Table 2-1', () => {
    expect(fieldsOf(dec(32, '67 8b 02')!, { base: 5, index: 6, seg: SS, len: 3, addrSize: 2 }))
      .toEqual({ base: 5, index: 6, seg: SS, len: 3, addrSize: 2 });
  });
});

describe('decoder: effective addresses', () => {
  it('RIP-relative: the next instruction address plus disp32 (SDM Vol. 2A §2.2.1.6)', () => {
    const t = makeCore(64);
    const i = dec(64, '8b 05 f0 ff ff ff')!;
    t.cpu.rip = 0x401006; // handlers run with RIP past the instruction
    expect(i.ea(t.cpu, i)).toBe(0x401006 - 0x10);
  });

  it('EIP-relative (67): the sum is truncated to 32 bits', () => {
    const t = makeCore(64);
    const i = dec(64, '67 8b 05 10 00 00 00')!;
    t.cpu.rip = 0x1_0000_0020;
    expect(i.ea(t.cpu, i)).toBe(0x30);
  });

  it('ES/CS/SS/DS overrides have base 0 in 64-bit mode; FS keeps its base', () => {
    const t = makeCore(64);
    t.setReg('rax', 0x2000n);
    t.cpu.segBase[Seg.FS] = 0x10000;
    const es = dec(64, '26 8b 00')!;
    expect(es.ea(t.cpu, es)).toBe(0x2000);
    const fs = dec(64, '26 64 26 8b 00')!;
    expect(fs.seg).toBe(Seg.FS);
    expect(fs.ea(t.cpu, fs)).toBe(0x12000);
  });

  it('32-bit addressing in 64-bit mode wraps at 4 GiB before the FS base is added', () => {
    const t = makeCore(64);
    t.setReg('rbx', 0xffff_fff0n);
    t.cpu.segBase[Seg.FS] = 0x1_0000_0000;
    const i = dec(64, '64 67 8b 43 20')!; // mov eax, fs:[ebx+0x20]
    expect(i.ea(t.cpu, i)).toBe(0x1_0000_0000 + 0x10);
  });

  it('SIB with index and scale: base + index*scale + disp', () => {
    const t = makeCore(64);
    t.setReg('rbx', 0x1000n);
    t.setReg('r12', 0x30n);
    const i = dec(64, '42 8b 44 a3 08')!; // mov eax, [rbx + r12*4 + 8]
    expect(i.ea(t.cpu, i)).toBe(0x1000 + 0x30 * 4 + 8);
  });

  it('16-bit [bx+si+disp] wraps at 64 KiB', () => {
    const t = makeCore(16);
    t.setReg('rbx', 0xfff0n);
    t.setReg('rsi', 0x20n);
    const i = dec(16, '8b 40 01')!;
    expect(i.ea(t.cpu, i)).toBe(0x11);
  });
});

describe('decoder: the 15-byte limit (SDM Vol. 2A §2.3.11)', () => {
  const prefixes = (n: number) => Array(n).fill('66').join(' ');

  it('fourteen 66 prefixes + 90 is 15 bytes and decodes', () => {
    const i = dec(64, `${prefixes(14)} 90`)!;
    expect(i.len).toBe(15);
    expect(i.exec).not.toBe(raiseGP0);
    expect(i.exec).not.toBe(raiseUD);
  });

  it('fifteen 66 prefixes + 90 raises #GP(0)', () => {
    const i = dec(64, `${prefixes(15)} 90`)!;
    expect(i.exec).toBe(raiseGP0);
  });

  it('a 15-byte limit crossed inside the displacement raises #GP(0)', () => {
    // 9 prefixes + 8B 80 disp32 = 15 bytes: fine; one more prefix makes 16.
    expect(dec(64, `${prefixes(9)} 8b 80 00 00 00 00`)!.len).toBe(15);
    expect(dec(64, `${prefixes(10)} 8b 80 00 00 00 00`)!.exec).toBe(raiseGP0);
  });

  it('a REX as the fifteenth byte leaves no room for the opcode', () => {
    expect(dec(64, `${prefixes(14)} 48 90`)!.exec).toBe(raiseGP0);
  });

  it('an undefined form (FF /7) counts its SIB and displacement, and too long beats #UD (SDM Vol. 3A Table 6-2)', () => {
    const ud = dec(64, 'ff bc 24 00 00 00 00')!; // FF /7, mod 10, SIB, disp32
    expect(ud.exec).toBe(raiseUD);
    expect(ud.len).toBe(7);
    expect(dec(64, `${prefixes(8)} ff bc 24 00 00 00 00`)!.exec).toBe(raiseUD); // 15 bytes
    expect(dec(64, `${prefixes(9)} ff bc 24 00 00 00 00`)!.exec).toBe(raiseGP0); // 16 bytes
  });

  it('#GP(0) even when only the first 15 bytes can be fetched', () => {
    // Byte 16 is never fetched: the limit is reached first, so no fetch fault.
    expect(dec(64, `${prefixes(15)} 90`, 15)!.exec).toBe(raiseGP0);
    expect(dec(64, `${prefixes(10)} 8b 80 00 00 00 00`, 15)!.exec).toBe(raiseGP0);
  });

  it('an instruction cut short by unfetchable bytes within its first 15 is a fetch fault (null)', () => {
    expect(dec(64, '8b 80 00 00', 4)).toBeNull();
    expect(dec(64, `${prefixes(13)} 0f`, 14)).toBeNull();
  });
});

describe('decoder: LOCK (SDM Vol. 2A §2.1.1, LOCK)', () => {
  it('LOCK on a non-lockable instruction raises #UD', () => {
    expect(dec(64, 'f0 89 00')!.exec).toBe(raiseUD); // mov [rax], eax
    expect(dec(64, 'f0 90')!.exec).toBe(raiseUD);
  });

  it('LOCK with a register destination raises #UD', () => {
    expect(dec(64, 'f0 01 c0')!.exec).toBe(raiseUD); // add eax, eax
  });

  it('LOCK on a lockable instruction with a memory destination decodes', () => {
    const i = dec(64, 'f0 01 00')!; // lock add [rax], eax
    expect(i.exec).not.toBe(raiseUD);
    expect(i.lock).toBe(true);
    expect(i.len).toBe(3);
  });
});

describe('operand widths the decoder hands to handlers', () => {
  it('MOVSXD r16, m16 (66 63 /r) reads a word, not a doubleword (SDM Vol. 2B MOVSX/MOVSXD)', async () => {
    const widths: number[] = [];
    const t = await runAsm('.byte 0x66, 0x63, 0x04, 0x25, 0x00, 0x00, 0x0f, 0x00', { // movsxd ax, word ptr [0xf0000]
      regs: { rax: 0x1111222233334444n },
      setup: (c) => c.phys.addMmio(0xf0000, 0x1000, {
        name: 'probe',
        read: (_a, size) => { widths.push(size); return 0x8001; },
        write: () => {},
      }),
    });
    expect(t.stop.kind).toBe('halt');
    expect(widths).toEqual([2]);
    expect(t.reg('rax')).toBe(0x1111222233338001n);
  });
});
