/**
 * SSE state instructions (SDM Vol. 2): XMM moves to and from XMM registers,
 * memory and general registers, the 128-bit bitwise logic, and MXCSR load
 * and store. They move bits only: no floating-point arithmetic happens, so
 * MXCSR's flags never change and no SIMD floating-point exception arises.
 *
 * Availability (SDM Vol. 3A Table 13-1, "Action taken for combinations of
 * OSFXSR, OSXMMEXCPT, SSE, SSE2, SSE3, EM, MP and TS"): CR0.EM = 1 or
 * CR4.OSFXSR = 0 raises #UD, which takes priority over #NM for CR0.TS = 1.
 * Legacy-encoded 128-bit memory operands must be 16-byte aligned (#GP(0),
 * whatever the segment) except for the explicitly unaligned moves
 * MOVUPS/MOVUPD/MOVDQU (SDM Vol. 2A, "Intel AVX and Intel SSE instruction
 * exception classification"). The check is on the linear address.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { addrOf, readE, writeE } from './operands.ts';

export const CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR4_OSFXSR = 1 << 9;

/**
 * MXCSR bits the core implements: flags, DAZ, masks, RC, FTZ (SDM Vol. 1
 * §10.2.3). Writing any other bit raises #GP(0); FXSAVE stores this mask.
 */
export const MXCSR_MASK = 0xffff;

/** The SSE availability checks, in their priority order. */
export function checkSse(c: Cpu): void {
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) fault(Vector.UD);
  if ((c.cr0 & CR0_TS) !== 0) fault(Vector.NM);
}

/** Linear address of the memory operand, #GP(0) unless it is a multiple of `align`. */
export function alignedEa(c: Cpu, i: Insn, align: number): number {
  const la = i.ea(c, i);
  if ((la & (align - 1)) !== 0) fault(Vector.GP, 0);
  return la;
}

/** The 128-bit source operand (W: XMM or memory), read completely before anything is written. */
const src = new Int32Array(4);

function readW(c: Cpu, i: Insn, aligned: boolean): void {
  if (!i.isMem) {
    const v = c.xmm, k = i.rm << 2;
    src[0] = v[k]!;
    src[1] = v[k + 1]!;
    src[2] = v[k + 2]!;
    src[3] = v[k + 3]!;
    return;
  }
  const la = aligned ? alignedEa(c, i, 16) : i.ea(c, i);
  const m = c.mmu;
  // Four reads first: a page fault on the second page leaves the destination unchanged.
  src[0] = m.read32(la);
  src[1] = m.read32(la + 4);
  src[2] = m.read32(la + 8);
  src[3] = m.read32(la + 12);
}

function store128(c: Cpu, la: number, x: number): void {
  const m = c.mmu, v = c.xmm, k = x << 2;
  m.probeWrite(la, 16);
  m.write64(la, v[k]!, v[k + 1]!);
  m.write64(la + 8, v[k + 2]!, v[k + 3]!);
}

function setXmm(c: Cpu, x: number, a: number, b: number, d: number, e: number): void {
  const v = c.xmm, k = x << 2;
  v[k] = a;
  v[k + 1] = b;
  v[k + 2] = d;
  v[k + 3] = e;
}

/** MOVAPS/MOVAPD/MOVDQA (aligned) and MOVUPS/MOVUPD/MOVDQU: xmm ← xmm/m128. */
function moveLoad(aligned: boolean): ExecFn {
  return (c, i) => {
    checkSse(c);
    readW(c, i, aligned);
    setXmm(c, i.reg, src[0]!, src[1]!, src[2]!, src[3]!);
  };
}

/** The store forms, and MOVNTPS/MOVNTPD/MOVNTDQ (aligned; the non-temporal hint has no effect here). */
function moveStore(aligned: boolean): ExecFn {
  return (c, i) => {
    checkSse(c);
    if (i.isMem) {
      store128(c, aligned ? alignedEa(c, i, 16) : i.ea(c, i), i.reg);
    } else {
      const v = c.xmm, s = i.reg << 2;
      setXmm(c, i.rm, v[s]!, v[s + 1]!, v[s + 2]!, v[s + 3]!);
    }
  };
}

/** PAND/PANDN/POR/PXOR and the PS/PD forms: xmm ← op(xmm, xmm/m128), lane by lane. */
function logic(op: (dst: number, s: number) => number): ExecFn {
  return (c, i) => {
    checkSse(c);
    readW(c, i, true);
    const v = c.xmm, d = i.reg << 2;
    setXmm(c, i.reg, op(v[d]!, src[0]!), op(v[d + 1]!, src[1]!), op(v[d + 2]!, src[2]!), op(v[d + 3]!, src[3]!));
  };
}
const and = logic((a, b) => a & b);
const andn = logic((a, b) => ~a & b);
const or = logic((a, b) => a | b);
const xor = logic((a, b) => a ^ b);

/** MOVD xmm, r/m32 and MOVQ xmm, r/m64 (66 REX.W 0F 6E): zero-extended to 128 bits. */
const movdToXmm: ExecFn = (c, i) => {
  checkSse(c);
  const lo = readE(c, i, addrOf(c, i));
  setXmm(c, i.reg, lo, i.opSize === 8 ? c.opHi : 0, 0, 0);
};

/** MOVD r/m32, xmm and MOVQ r/m64, xmm (66 0F 7E): a 32-bit register destination is zero-extended. */
const movdFromXmm: ExecFn = (c, i) => {
  checkSse(c);
  const k = i.reg << 2;
  writeE(c, i, addrOf(c, i), c.xmm[k]!, c.xmm[k + 1]!);
};

/**
 * For rows whose REX.W form has its own name (MOVD/MOVQ, FXSAVE/FXSAVE64...):
 * one handler, the mnemonic says which form was decoded.
 */
export function wideName(name: string, exec: ExecFn): (i: Insn) => ExecFn {
  return (i) => {
    if (i.opSize === 8) i.mnemonic = name;
    return exec;
  };
}

/** MOVQ xmm1, xmm2/m64 (F3 0F 7E): the low quadword, upper quadword cleared. */
const movqLoad: ExecFn = (c, i) => {
  checkSse(c);
  let lo: number, hi: number;
  if (i.isMem) {
    lo = c.mmu.read64(i.ea(c, i));
    hi = c.mmu.hi;
  } else {
    lo = c.xmm[i.rm << 2]!;
    hi = c.xmm[(i.rm << 2) + 1]!;
  }
  setXmm(c, i.reg, lo, hi, 0, 0);
};

/** MOVQ xmm2/m64, xmm1 (66 0F D6): a register destination gets its upper quadword cleared. */
const movqStore: ExecFn = (c, i) => {
  checkSse(c);
  const v = c.xmm, s = i.reg << 2;
  if (i.isMem) c.mmu.write64(i.ea(c, i), v[s]!, v[s + 1]!);
  else setXmm(c, i.rm, v[s]!, v[s + 1]!, 0, 0);
};

/** LDMXCSR m32 (SDM Vol. 2A LDMXCSR): a reserved bit set raises #GP(0) and MXCSR keeps its value. */
const ldmxcsr: ExecFn = (c, i) => {
  checkSse(c);
  const v = c.mmu.read32(i.ea(c, i));
  if ((v & ~MXCSR_MASK) !== 0) fault(Vector.GP, 0);
  c.mxcsr = v;
};

const stmxcsr: ExecFn = (c, i) => {
  checkSse(c);
  c.mmu.write32(i.ea(c, i), c.mxcsr);
};

const loadA = moveLoad(true), loadU = moveLoad(false);
const storeA = moveStore(true), storeU = moveStore(false);

/** One row per mandatory prefix: NP rows are the PS forms, 66 the PD/integer forms. */
function psPd(op: string, ps: string, pd: string, operands: string, exec: ExecFn): OpcodeDef[] {
  return [
    { op, mnemonic: ps, operands, prefix: 'NP', exec },
    { op, mnemonic: pd, operands, prefix: '66', exec },
  ];
}

export const SSE_OPCODES: OpcodeDef[] = [
  ...psPd('0F 10 /r', 'movups', 'movupd', 'Vx,Wx', loadU),
  ...psPd('0F 11 /r', 'movups', 'movupd', 'Wx,Vx', storeU),
  ...psPd('0F 28 /r', 'movaps', 'movapd', 'Vx,Wx', loadA),
  ...psPd('0F 29 /r', 'movaps', 'movapd', 'Wx,Vx', storeA),
  ...psPd('0F 2B /r', 'movntps', 'movntpd', 'Mx,Vx', storeA),
  ...psPd('0F 54 /r', 'andps', 'andpd', 'Vx,Wx', and),
  ...psPd('0F 55 /r', 'andnps', 'andnpd', 'Vx,Wx', andn),
  ...psPd('0F 56 /r', 'orps', 'orpd', 'Vx,Wx', or),
  ...psPd('0F 57 /r', 'xorps', 'xorpd', 'Vx,Wx', xor),
  { op: '0F 6F /r', mnemonic: 'movdqa', operands: 'Vx,Wx', prefix: '66', exec: loadA },
  { op: '0F 6F /r', mnemonic: 'movdqu', operands: 'Vx,Wx', prefix: 'F3', exec: loadU },
  { op: '0F 7F /r', mnemonic: 'movdqa', operands: 'Wx,Vx', prefix: '66', exec: storeA },
  { op: '0F 7F /r', mnemonic: 'movdqu', operands: 'Wx,Vx', prefix: 'F3', exec: storeU },
  { op: '0F E7 /r', mnemonic: 'movntdq', operands: 'Mx,Vx', prefix: '66', exec: storeA },
  { op: '0F DB /r', mnemonic: 'pand', operands: 'Vx,Wx', prefix: '66', exec: and },
  { op: '0F DF /r', mnemonic: 'pandn', operands: 'Vx,Wx', prefix: '66', exec: andn },
  { op: '0F EB /r', mnemonic: 'por', operands: 'Vx,Wx', prefix: '66', exec: or },
  { op: '0F EF /r', mnemonic: 'pxor', operands: 'Vx,Wx', prefix: '66', exec: xor },
  { op: '0F 6E /r', mnemonic: 'movd', operands: 'Vy,Ey', prefix: '66', select: wideName('movq', movdToXmm) },
  { op: '0F 7E /r', mnemonic: 'movd', operands: 'Ey,Vy', prefix: '66', select: wideName('movq', movdFromXmm) },
  { op: '0F 7E /r', mnemonic: 'movq', operands: 'Vq,Wq', prefix: 'F3', size: 'q', exec: movqLoad },
  { op: '0F D6 /r', mnemonic: 'movq', operands: 'Wq,Vq', prefix: '66', size: 'q', exec: movqStore },
  { op: '0F AE /2', mnemonic: 'ldmxcsr', operands: 'Md', prefix: 'NP', exec: ldmxcsr },
  { op: '0F AE /3', mnemonic: 'stmxcsr', operands: 'Md', prefix: 'NP', exec: stmxcsr },
];
