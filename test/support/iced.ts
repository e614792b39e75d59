/**
 * iced-x86 as the decoder oracle in tests (DESIGN decision 9): decodes one
 * instruction and returns plain JS values, freeing every wasm object it
 * made. Values that iced reports as absolute addresses (branch targets,
 * RIP-relative operands) are given back relative to the next instruction,
 * which is how the core's decoder stores them.
 */
import {
  Code, Decoder, DecoderOptions, Formatter, FormatterSyntax, type Instruction, MemorySizeExt, Mnemonic,
  type OpCodeInfo, OpCodeOperandKind, OpKind, Register, RegisterExt,
} from 'iced-x86';

/** A register named the core's way: GPR number 0..15 (ModRM/REX order), 'rip', or null for none. */
export type IcedReg = number | 'rip' | null;

export interface IcedMemory {
  base: IcedReg;
  index: IcedReg;
  /** 1, 2, 4 or 8 (meaningful only with an index). */
  scale: number;
  /** Displacement at the address size, as an unsigned value (RIP-relative: relative to the next instruction). */
  displacement: bigint;
  /** Effective segment in the core's Seg numbering (ES=0 CS=1 SS=2 DS=3 FS=4 GS=5). */
  segment: number;
  /** Address size in bytes (2, 4, 8). */
  addrSize: number;
  /** Size of the memory operand in bytes (0 when iced gives none). */
  size: number;
}

export interface IcedImmediate {
  /** Unsigned value at `bits` width (sign-extended forms are extended to that width first). */
  value: bigint;
  bits: number;
  /** True for ENTER's second immediate (iced's Immediate8_2nd). */
  second: boolean;
  /** True when iced sign-extended it to the operand size (Immediate8to16/32/64, Immediate32to64). */
  extended: boolean;
}

/** A register operand and where its number came from in the encoding. */
export interface IcedRegOperand {
  /** 'reg': ModRM.reg (+REX.R); 'rm': ModRM.rm (+REX.B); 'opcode': low bits of the opcode (+REX.B). */
  role: 'reg' | 'rm' | 'opcode';
  kind: 'gpr' | 'xmm' | 'cr' | 'dr' | 'other';
  /** Register number (for AH..BH: 0..3 with `high`). */
  n: number;
  high: boolean;
  /** Size in bytes. */
  size: number;
}

export interface IcedInsn {
  length: number;
  invalid: boolean;
  /** iced's mnemonic in lower case ('jne', 'pushfq', 'nop'...). */
  mnemonicText: string;
  /** Intel syntax, as iced formats it. */
  formatted: string;
  memory: IcedMemory | null;
  immediates: IcedImmediate[];
  /** Register operands encoded in ModRM or the opcode (implicit ones such as AL in 04 ib are left out). */
  regs: IcedRegOperand[];
  /** Near branch: target minus the next instruction's address, unsigned at `bits` width. */
  branch: { rel: bigint; bits: number } | null;
  /** Far pointer operand (9A/EA ptr16:16/32). */
  far: { selector: number; offset: number } | null;
  /** Condition code 0..15 (SDM Vol. 2 Appendix B.1.4.7 tttn order), or -1. */
  cond: number;
  /** Size in bytes of the first general-register or memory operand (DX as a port skipped), else 0. */
  opSize: number;
  lock: boolean;
}

/** One formatter for the whole process (never freed: it lives as long as the module). */
let formatter: Formatter | undefined;

const SEGMENTS: Partial<Record<Register, number>> = {
  [Register.ES]: 0, [Register.CS]: 1, [Register.SS]: 2, [Register.DS]: 3, [Register.FS]: 4, [Register.GS]: 5,
};

const IMM_BITS: Partial<Record<OpKind, number>> = {
  [OpKind.Immediate8]: 8, [OpKind.Immediate8_2nd]: 8, [OpKind.Immediate16]: 16, [OpKind.Immediate32]: 32,
  [OpKind.Immediate64]: 64, [OpKind.Immediate8to16]: 16, [OpKind.Immediate8to32]: 32,
  [OpKind.Immediate8to64]: 64, [OpKind.Immediate32to64]: 64,
};

const HIGH_BYTE = new Set([Register.AH, Register.CH, Register.DH, Register.BH]);

function regOperand(r: Register, opKindName: string): IcedRegOperand | null {
  const role = opKindName.endsWith('_reg') ? 'reg' : opKindName.endsWith('_opcode') ? 'opcode'
    : opKindName.endsWith('_rm') || opKindName.endsWith('_or_mem') ? 'rm' : null;
  if (!role) return null;
  const kind = RegisterExt.isGPR(r) ? 'gpr' : RegisterExt.isXMM(r) ? 'xmm' : RegisterExt.isCR(r) ? 'cr'
    : RegisterExt.isDR(r) ? 'dr' : 'other';
  const high = HIGH_BYTE.has(r);
  const n = kind === 'gpr' ? RegisterExt.number(RegisterExt.fullRegister(r)) : RegisterExt.number(r);
  return { role, kind, n, high, size: RegisterExt.size(r) };
}

const EXTENDED = new Set([OpKind.Immediate8to16, OpKind.Immediate8to32, OpKind.Immediate8to64, OpKind.Immediate32to64]);

const BRANCH_BITS: Partial<Record<OpKind, number>> = {
  [OpKind.NearBranch16]: 16, [OpKind.NearBranch32]: 32, [OpKind.NearBranch64]: 64,
};

function mask(v: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, v);
}

function gpr(r: Register): IcedReg {
  if (r === Register.None) return null;
  if (RegisterExt.isIP(r)) return 'rip';
  return RegisterExt.number(RegisterExt.fullRegister(r));
}

function addrSizeOf(ins: Instruction, bitness: number): number {
  for (const r of [ins.memoryBase, ins.memoryIndex]) {
    if (r !== Register.None) return RegisterExt.size(r);
  }
  // No register: the displacement size says it (moffs and disp-only forms).
  const d = ins.memoryDisplSize;
  if (d === 2 || d === 4 || d === 8) return d;
  return bitness / 8;
}

function memoryOf(ins: Instruction, bitness: number): IcedMemory | null {
  for (let k = 0; k < ins.opCount; k++) {
    if (ins.opKind(k) !== OpKind.Memory) continue;
    const addrSize = addrSizeOf(ins, bitness);
    const base = gpr(ins.memoryBase);
    const bits = addrSize * 8;
    let displacement = mask(ins.memoryDisplacementU64, bits);
    if (base === 'rip') displacement = mask(displacement - BigInt(ins.length), bits);
    return {
      base,
      index: gpr(ins.memoryIndex),
      scale: ins.memoryIndexScale,
      displacement,
      segment: SEGMENTS[ins.memorySegment] ?? -1,
      addrSize,
      size: MemorySizeExt.size(ins.memorySize),
    };
  }
  return null;
}

const MEMORY_KINDS = new Set([
  OpKind.Memory, OpKind.MemorySegSI, OpKind.MemorySegESI, OpKind.MemorySegRSI, OpKind.MemorySegDI,
  OpKind.MemorySegEDI, OpKind.MemorySegRDI, OpKind.MemoryESDI, OpKind.MemoryESEDI, OpKind.MemoryESRDI,
]);

/** Size of the first general-register or memory operand, skipping DX as an I/O port (IN/OUT/INS/OUTS). */
function operandSize(ins: Instruction, opCode: OpCodeInfo | undefined): number {
  for (let k = 0; k < ins.opCount; k++) {
    const kind = ins.opKind(k);
    if (MEMORY_KINDS.has(kind)) return MemorySizeExt.size(ins.memorySize);
    if (kind !== OpKind.Register) return 0;
    if (opCode?.opKind(k) === OpCodeOperandKind.dx) continue;
    const r = ins.opRegister(k);
    return RegisterExt.isGPR(r) ? RegisterExt.size(r) : 0;
  }
  return 0;
}

function describe(ins: Instruction, bitness: number): IcedInsn {
  formatter ??= new Formatter(FormatterSyntax.Intel);
  const immediates: IcedImmediate[] = [];
  const regs: IcedRegOperand[] = [];
  let branch: IcedInsn['branch'] = null;
  let far: IcedInsn['far'] = null;
  const opCode = ins.code === Code.INVALID ? undefined : ins.opCode;
  let opSize = 0;
  try {
    opSize = operandSize(ins, opCode);
    for (let k = 0; k < ins.opCount; k++) {
      const kind = ins.opKind(k);
      const encoded = opCode ? opCode.opKind(k) : OpCodeOperandKind.None;
      if (kind === OpKind.Register) {
        const ro = regOperand(ins.opRegister(k), OpCodeOperandKind[encoded] ?? '');
        if (ro) regs.push(ro);
      }
      const ib = IMM_BITS[kind];
      // The implicit 1 of D0/D1 (shift by one) is shown as an operand but has no bytes.
      if (ib !== undefined && encoded !== OpCodeOperandKind.imm8_const_1) immediates.push({
        value: mask(ins.immediate(k), ib), bits: ib, second: kind === OpKind.Immediate8_2nd, extended: EXTENDED.has(kind),
      });
      const bb = BRANCH_BITS[kind];
      if (bb !== undefined) branch = { rel: mask(ins.nearBranchTarget - BigInt(ins.length), bb), bits: bb };
      if (kind === OpKind.FarBranch16) far = { selector: ins.farBranchSelector, offset: ins.farBranch16 };
      if (kind === OpKind.FarBranch32) far = { selector: ins.farBranchSelector, offset: ins.farBranch32 };
    }
  } finally {
    opCode?.free();
  }
  const invalid = ins.code === Code.INVALID;
  return {
    length: ins.length,
    invalid,
    mnemonicText: (Mnemonic[ins.mnemonic] ?? '').toLowerCase(),
    formatted: formatter.format(ins),
    memory: invalid ? null : memoryOf(ins, bitness),
    immediates,
    regs,
    branch,
    far,
    cond: ins.conditionCode - 1,
    opSize,
    lock: ins.hasLockPrefix,
  };
}

/** Decodes the first instruction of `bytes` at IP 0 for a code size of `bitness` bits. */
export function icedDecode(bytes: Uint8Array, bitness: 16 | 32 | 64): IcedInsn {
  const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
  decoder.ip = 0n;
  const ins = decoder.decode();
  try {
    return describe(ins, bitness);
  } finally {
    ins.free();
    decoder.free();
  }
}
