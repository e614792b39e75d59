/**
 * Saving and restoring x87 and SSE state: FXSAVE/FXRSTOR (SDM Vol. 1
 * §10.5), the standard form of XSAVE/XRSTOR (Vol. 1 §13.4-§13.8),
 * XGETBV/XSETBV, and the x87 control instructions system code uses to probe
 * and initialise the FPU: FNINIT, FNSTCW, FLDCW, FNSTSW. There is no x87
 * arithmetic: the x87 state is only stored, restored and initialised, so no
 * x87 exception ever becomes pending and FOP/FIP/FDP change only by FXRSTOR,
 * XRSTOR and FNINIT (CPUID reports FDP_EXCPTN_ONLY and FCS/FDS deprecation).
 *
 * `c.ftw` holds the abridged tag word of the FXSAVE format: bit i is 1 when
 * ST(i)'s physical register is not empty (FFFFH in the full format is 00H).
 *
 * Memory layout (Vol. 1 Table 10-2 / §13.4.1), with REX.W ("64-bit format"):
 *   0 FCW, 2 FSW, 4 FTW (abridged), 5 reserved, 6 FOP, 8 FIP (64), 16 FDP (64),
 *   24 MXCSR, 28 MXCSR_MASK, 32 + 16i ST(i) (10 bytes, 6 reserved), 160 + 16i XMMi.
 * Without REX.W, 8 FIP[31:0], 12 FCS, 16 FDP[31:0], 20 FDS; FCS/FDS are
 * stored as 0 (deprecated). Reserved bytes of 0-159 are written as 0;
 * bytes 416-511 are never written. Outside 64-bit mode only XMM0-7 exist
 * for these instructions (bytes 288-415 are neither written nor read).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { XCR0_SUPPORTED, XSAVE_AREA_SIZE } from '../model/cpuidModel.ts';
import { Reg } from '../registers.ts';
import { Intercept } from '../vmxPort.ts';
import { wr16, wr32 } from './operands.ts';
import { alignedEa, CR0_EM, CR0_TS, MXCSR_MASK, wideName } from './sse.ts';

const CR4_OSXSAVE = 1 << 18;
const X87 = 1, SSE = 2;
/** x87 initial configuration (SDM Vol. 1 §13.6; FNINIT): FCW 037FH, all else 0, all registers empty. */
const FCW_INIT = 0x37f;
const HEADER = 512;
const LEGACY_X87_END = 160;

/** The area being saved or restored, staged here so no memory or state changes before a fault. */
const area = new Uint8Array(XSAVE_AREA_SIZE);
const view = new DataView(area.buffer);

function xmmCount(i: Insn): number {
  return i.mode === 64 ? 16 : 8;
}

// ---- staging: state <-> area ---------------------------------------------------

function packX87(c: Cpu, wide: boolean): void {
  const p = c.fpuLast;
  view.setUint16(0, c.fcw, true);
  view.setUint16(2, c.fsw, true);
  area[4] = c.ftw;
  area[5] = 0;
  view.setUint16(6, p[0]! & 0x7ff, true);
  view.setInt32(8, p[1]!, true);
  view.setInt32(12, wide ? p[2]! : 0, true); // FIP[63:32], or FCS (deprecated: 0) and reserved
  view.setInt32(16, p[3]!, true);
  view.setInt32(20, wide ? p[4]! : 0, true); // FDP[63:32], or FDS (deprecated: 0) and reserved
  for (let r = 0; r < 8; r++) {
    for (let b = 0; b < 16; b++) area[32 + 16 * r + b] = b < 10 ? c.fpr[10 * r + b]! : 0;
  }
}

function unpackX87(c: Cpu, wide: boolean): void {
  const p = c.fpuLast;
  c.fcw = view.getUint16(0, true);
  c.fsw = view.getUint16(2, true);
  c.ftw = area[4]!;
  p[0] = view.getUint16(6, true) & 0x7ff;
  p[1] = view.getInt32(8, true);
  p[2] = wide ? view.getInt32(12, true) : 0;
  p[3] = view.getInt32(16, true);
  p[4] = wide ? view.getInt32(20, true) : 0;
  for (let r = 0; r < 8; r++) {
    for (let b = 0; b < 10; b++) c.fpr[10 * r + b] = area[32 + 16 * r + b]!;
  }
}

function packSse(c: Cpu, n: number): void {
  view.setInt32(24, c.mxcsr, true);
  view.setInt32(28, MXCSR_MASK, true);
  for (let k = 0; k < 4 * n; k++) view.setInt32(LEGACY_X87_END + 4 * k, c.xmm[k]!, true);
}

function unpackXmm(c: Cpu, n: number): void {
  for (let k = 0; k < 4 * n; k++) c.xmm[k] = view.getInt32(LEGACY_X87_END + 4 * k, true);
}

/** FNINIT's part of the x87 initialisation: control, status, tags and pointers (ST0-7 kept). */
function initX87Control(c: Cpu): void {
  c.fcw = FCW_INIT;
  c.fsw = 0;
  c.ftw = 0;
  c.fpuLast.fill(0);
}

/**
 * XINUSE (SDM Vol. 1 §13.6): a component not in its initial configuration
 * is in use. The core tracks it exactly, which the SDM allows (a component
 * in its initial configuration may be reported either way). XINUSE[1]
 * covers the XMM registers only, not MXCSR.
 */
function xinuse(c: Cpu): number {
  let x87 = c.fcw !== FCW_INIT || c.fsw !== 0 || c.ftw !== 0;
  for (let k = 0; k < 5 && !x87; k++) x87 = c.fpuLast[k] !== 0;
  for (let k = 0; k < 80 && !x87; k++) x87 = c.fpr[k] !== 0;
  let sse = false;
  for (let k = 0; k < 64 && !sse; k++) sse = c.xmm[k] !== 0;
  return (x87 ? X87 : 0) | (sse ? SSE : 0);
}

// ---- memory transfers (all offsets are multiples of 4) ----------------------------

function readArea(c: Cpu, la: number, from: number, to: number): void {
  for (let k = from; k < to; k += 4) view.setInt32(k, c.mmu.read32(la + k), true);
}

function writeArea(c: Cpu, la: number, from: number, to: number): void {
  for (let k = from; k < to; k += 4) c.mmu.write32(la + k, view.getInt32(k, true));
}

// ---- availability -------------------------------------------------------------

/** x87 instructions: #NM when CR0.EM or CR0.TS is set (SDM Vol. 3A §2.5, Table 2-1). */
function checkFpu(c: Cpu): void {
  if ((c.cr0 & (CR0_EM | CR0_TS)) !== 0) fault(Vector.NM);
}

/**
 * FXSAVE/FXRSTOR (SDM Vol. 2A): #UD when CR0.EM is set, which wins over
 * #NM for CR0.TS as for SSE instructions ("if EM is set, TS has no effect",
 * Vol. 3A §2.5). CR4.OSFXSR does not matter.
 */
function checkFxsr(c: Cpu): void {
  if ((c.cr0 & CR0_EM) !== 0) fault(Vector.UD);
  if ((c.cr0 & CR0_TS) !== 0) fault(Vector.NM);
}

/** XSAVE/XRSTOR (SDM Vol. 1 §13.7, §13.8): #UD unless CR4.OSXSAVE, then #NM when CR0.TS. */
function checkXsave(c: Cpu): void {
  checkOsxsave(c);
  if ((c.cr0 & CR0_TS) !== 0) fault(Vector.NM);
}

function checkOsxsave(c: Cpu): void {
  if ((c.cr4 & CR4_OSXSAVE) === 0) fault(Vector.UD);
}

// ---- FXSAVE / FXRSTOR --------------------------------------------------------------

/**
 * FXSAVE (SDM Vol. 2A FXSAVE). XMM registers and MXCSR are saved whatever
 * CR4.OSFXSR says (the SDM leaves that implementation-dependent).
 */
const fxsave: ExecFn = (c, i) => {
  checkFxsr(c);
  const la = alignedEa(c, i, 16);
  const end = LEGACY_X87_END + 16 * xmmCount(i);
  packX87(c, i.opSize === 8);
  packSse(c, xmmCount(i));
  c.mmu.probeWrite(la, end);
  writeArea(c, la, 0, end);
};

/** FXRSTOR (SDM Vol. 2A FXRSTOR): a reserved MXCSR bit in the image raises #GP(0) and nothing is loaded. */
const fxrstor: ExecFn = (c, i) => {
  checkFxsr(c);
  const la = alignedEa(c, i, 16);
  const n = xmmCount(i);
  readArea(c, la, 0, LEGACY_X87_END + 16 * n);
  const mxcsr = view.getInt32(24, true);
  if ((mxcsr & ~MXCSR_MASK) !== 0) fault(Vector.GP, 0);
  unpackX87(c, i.opSize === 8);
  c.mxcsr = mxcsr;
  unpackXmm(c, n);
};

// ---- XSAVE / XRSTOR (standard form) ------------------------------------------------

/** RFBM = XCR0 AND EDX:EAX; no supported component lives in the high half. */
function rfbm(c: Cpu): number {
  return c.xcr0 & c.r[Reg.RAX << 1]!;
}

/**
 * XSAVE (SDM Vol. 1 §13.7): component i is saved iff RFBM[i]; MXCSR and
 * MXCSR_MASK go with RFBM[1]; XSTATE_BV[i] becomes XINUSE[i] for i in RFBM
 * and keeps its memory value otherwise; nothing else of the header is written.
 */
const xsave: ExecFn = (c, i) => {
  checkXsave(c);
  const la = alignedEa(c, i, 64);
  const rf = rfbm(c);
  const n = xmmCount(i);
  c.mmu.probeWrite(la, XSAVE_AREA_SIZE);
  const bv = (c.mmu.read32(la + HEADER) & ~rf) | (xinuse(c) & rf);
  if (rf & X87) {
    packX87(c, i.opSize === 8);
    writeArea(c, la, 0, 24);
    writeArea(c, la, 32, LEGACY_X87_END);
  }
  if (rf & SSE) {
    packSse(c, n);
    writeArea(c, la, 24, 32);
    writeArea(c, la, LEGACY_X87_END, LEGACY_X87_END + 16 * n);
  }
  c.mmu.write32(la + HEADER, bv);
};

/**
 * XRSTOR, standard form (SDM Vol. 1 §13.8.1). #GP(0) when bytes 23:8 of the
 * header are not 0 (so XCOMP_BV[63] = 1, the compacted form, is refused:
 * CPUID reports no XSAVEC), when XSTATE_BV sets a bit XCR0 lacks, or when
 * MXCSR (loaded whenever RFBM[1] is set, even if XSTATE_BV[1] = 0) has a
 * reserved bit. Components in RFBM are loaded when XSTATE_BV has them and
 * initialised otherwise; the others are left alone. All checks and reads
 * come before the first state change.
 */
const xrstor: ExecFn = (c, i) => {
  checkXsave(c);
  const la = alignedEa(c, i, 64);
  const rf = rfbm(c);
  const n = xmmCount(i);
  readArea(c, la, HEADER, HEADER + 24);
  const bvLo = view.getInt32(HEADER, true), bvHi = view.getInt32(HEADER + 4, true);
  for (let k = 8; k < 24; k += 4) if (view.getInt32(HEADER + k, true) !== 0) fault(Vector.GP, 0);
  if ((bvLo & ~c.xcr0) !== 0 || bvHi !== 0) fault(Vector.GP, 0);
  const load = rf & bvLo;
  if (load & X87) { readArea(c, la, 0, 24); readArea(c, la, 32, LEGACY_X87_END); }
  if (rf & SSE) readArea(c, la, 24, 28);
  if (load & SSE) readArea(c, la, LEGACY_X87_END, LEGACY_X87_END + 16 * n);
  const mxcsr = view.getInt32(24, true);
  if ((rf & SSE) !== 0 && (mxcsr & ~MXCSR_MASK) !== 0) fault(Vector.GP, 0);
  if (load & X87) unpackX87(c, i.opSize === 8);
  else if (rf & X87) { initX87Control(c); c.fpr.fill(0); }
  if (load & SSE) unpackXmm(c, n);
  else if (rf & SSE) c.xmm.fill(0, 0, 4 * n);
  if (rf & SSE) c.mxcsr = mxcsr;
};

// ---- XGETBV / XSETBV --------------------------------------------------------------

/** XGETBV (SDM Vol. 2C): only XCR0 exists (ECX = 1 needs XGETBV_ECX_1, not reported). Any CPL. */
const xgetbv: ExecFn = (c) => {
  checkOsxsave(c);
  if (c.r[Reg.RCX << 1] !== 0) fault(Vector.GP, 0);
  wr32(c, Reg.RAX, c.xcr0);
  wr32(c, Reg.RDX, 0);
};

/**
 * XSETBV (SDM Vol. 2C): CPL 0 only, ECX = 0 (XCR0), bit 0 (x87) must stay
 * set and no unsupported bit may be set. With x87|SSE the only supported
 * bits, the AVX-needs-SSE rule (XCR0[2:1] = 10b) is covered by the latter.
 * In VMX non-root operation it always exits (SDM Vol. 3C §26.1.2), after
 * the #UD and CPL checks and before the operand checks (§26.1.1).
 */
const xsetbv: ExecFn = (c, i) => {
  checkOsxsave(c);
  if (c.cpl !== 0) fault(Vector.GP, 0);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Xsetbv)) return;
  if (c.r[Reg.RCX << 1] !== 0) fault(Vector.GP, 0);
  const lo = c.r[Reg.RAX << 1]!, hi = c.r[Reg.RDX << 1]!;
  if (hi !== 0 || (lo & ~XCR0_SUPPORTED) !== 0 || (lo & X87) === 0) fault(Vector.GP, 0);
  c.xcr0 = lo;
};

// ---- x87 control ------------------------------------------------------------------

const fninit: ExecFn = (c) => {
  checkFpu(c);
  initX87Control(c);
};

const fnstcw: ExecFn = (c, i) => {
  checkFpu(c);
  c.mmu.write16(i.ea(c, i), c.fcw);
};

/** FLDCW: with no x87 arithmetic, unmasking a flagged exception leaves nothing to deliver. */
const fldcw: ExecFn = (c, i) => {
  checkFpu(c);
  c.fcw = c.mmu.read16(i.ea(c, i));
};

const fnstswM: ExecFn = (c, i) => {
  checkFpu(c);
  c.mmu.write16(i.ea(c, i), c.fsw);
};

const fnstswAX: ExecFn = (c) => {
  checkFpu(c);
  wr16(c, Reg.RAX, c.fsw);
};

export const XSAVE_OPCODES: OpcodeDef[] = [
  { op: '0F AE /0', mnemonic: 'fxsave', operands: 'M', size: 'y', prefix: 'NP', select: wideName('fxsave64', fxsave) },
  { op: '0F AE /1', mnemonic: 'fxrstor', operands: 'M', size: 'y', prefix: 'NP', select: wideName('fxrstor64', fxrstor) },
  { op: '0F AE /4', mnemonic: 'xsave', operands: 'M', size: 'y', prefix: 'NP', select: wideName('xsave64', xsave) },
  { op: '0F AE /5', mnemonic: 'xrstor', operands: 'M', size: 'y', prefix: 'NP', select: wideName('xrstor64', xrstor) },
  { op: '0F 01 D0', mnemonic: 'xgetbv', prefix: 'NP', exec: xgetbv },
  { op: '0F 01 D1', mnemonic: 'xsetbv', prefix: 'NP', exec: xsetbv },
  { op: 'DB E3', mnemonic: 'fninit', exec: fninit },
  { op: 'D9 /7', mnemonic: 'fnstcw', operands: 'Mw', exec: fnstcw },
  { op: 'D9 /5', mnemonic: 'fldcw', operands: 'Mw', exec: fldcw },
  { op: 'DD /7', mnemonic: 'fnstsw', operands: 'Mw', exec: fnstswM },
  { op: 'DF E0', mnemonic: 'fnstsw', operands: 'AX', exec: fnstswAX },
];
