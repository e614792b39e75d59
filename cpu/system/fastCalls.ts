/**
 * Fast system calls (SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SYSEXIT,
 * SWAPGS; Vol. 3A §5.8.7, §5.8.8). They load CS and SS with fixed flat
 * descriptors (base 0, limit 4 GiB, the selectors from IA32_STAR or
 * IA32_SYSENTER_CS) without reading the GDT.
 *
 * Intel processors raise #UD for SYSCALL and SYSRET outside 64-bit mode.
 * SYSRET to 64-bit code with a non-canonical RCX raises #GP(0) at CPL 0
 * (the Intel behaviour the SDM's SYSRET "Operation" gives).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { IF, readRflags, RF, VM, writeRflags } from '../flags.ts';
import { isCanonical } from '../memory/canonical.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { CR0_PE, EFER_SCE, inLongMode, setSegmentBase, updateMode, updateSegmentRange } from './mode.ts';
import { requireCpl0 } from './privilege.ts';
import { setCpl } from './segmentLoad.ts';
import { loadStackPointer } from './stackCursor.ts';

/** Flat descriptors in the VMX access-rights format: G, D/B or L, P, DPL, S, type. */
const CODE64_DPL0 = 0xa09b, CODE32_DPL0 = 0xc09b, DATA_DPL0 = 0xc093;
const CODE64_DPL3 = 0xa0fb, CODE32_DPL3 = 0xc0fb, DATA_DPL3 = 0xc0f3;

function loadFlat(c: Cpu, s: number, sel: number, attr: number): void {
  c.segSel[s] = sel;
  c.segLimit[s] = 0xffffffff;
  c.segAttr[s] = attr;
  setSegmentBase(c, s, 0);
  updateSegmentRange(c, s);
}

function requireSyscall(c: Cpu): void {
  if (c.codeSize !== 64 || (c.efer & EFER_SCE) === 0) fault(Vector.UD);
}

/** RIP as 64-bit halves into register n. */
function saveRip(c: Cpu, n: number): void {
  c.r[n << 1] = c.rip >>> 0;
  c.r[(n << 1) + 1] = Math.floor(c.rip / TWO32) | 0;
}

/** SYSCALL: RCX = RIP, R11 = RFLAGS, RFLAGS &= ~FMASK; CS = STAR[47:32] & FFFCH, SS = that + 8; RIP = LSTAR. */
const syscall: ExecFn = (c) => {
  requireSyscall(c);
  const sel = c.sys.starHi & 0xffff;
  saveRip(c, Reg.RCX);
  const flags = readRflags(c);
  c.r[Reg.R11 << 1] = flags;
  c.r[(Reg.R11 << 1) + 1] = 0;
  writeRflags(c, flags & ~c.sys.fmask, -1);
  loadFlat(c, Seg.CS, sel & 0xfffc, CODE64_DPL0);
  loadFlat(c, Seg.SS, (sel + 8) & 0xffff, DATA_DPL0);
  setCpl(c, 0);
  updateMode(c);
  c.rip = c.sys.lstar;
};

/**
 * SYSRET: CPL 0 (#GP(0)); RFLAGS = (R11 & 3C7FD7H) | 2. With REX.W it
 * returns to 64-bit code at RCX (canonical, else #GP(0)) with CS =
 * STAR[63:48] + 16; without, to compatibility mode at ECX with CS =
 * STAR[63:48]. SS = STAR[63:48] + 8; both with RPL 3.
 */
const sysret: ExecFn = (c, i) => {
  requireSyscall(c);
  requireCpl0(c);
  const k = Reg.RCX << 1;
  const to64 = i.opSize === 8;
  const target = to64 ? c.r[k + 1]! * TWO32 + (c.r[k]! >>> 0) : c.r[k]! >>> 0;
  if (to64 && !isCanonical(target)) fault(Vector.GP, 0);
  const base = c.sys.starHi >>> 16;
  writeRflags(c, (c.r[Reg.R11 << 1]! & 0x3c7fd7) | 2, -1);
  loadFlat(c, Seg.CS, ((to64 ? base + 16 : base) | 3) & 0xffff, to64 ? CODE64_DPL3 : CODE32_DPL3);
  loadFlat(c, Seg.SS, ((base + 8) | 3) & 0xffff, DATA_DPL3);
  setCpl(c, 3);
  updateMode(c);
  c.rip = target;
};

/**
 * SYSENTER: protected mode and a non-null IA32_SYSENTER_CS (#GP(0));
 * clears VM, IF and RF; CS = SYSENTER_CS & FFFCH (64-bit code in IA-32e
 * mode), SS = that + 8; RSP/RIP from SYSENTER_ESP/EIP (32 bits outside
 * IA-32e mode).
 */
const sysenter: ExecFn = (c) => {
  const cs = c.sys.sysenterCs & 0xfffc;
  if ((c.cr0 & CR0_PE) === 0 || cs === 0) fault(Vector.GP, 0);
  const long = inLongMode(c);
  c.eflags &= ~(VM | IF | RF);
  loadFlat(c, Seg.CS, cs, long ? CODE64_DPL0 : CODE32_DPL0);
  loadFlat(c, Seg.SS, (cs + 8) & 0xffff, DATA_DPL0);
  setCpl(c, 0);
  updateMode(c);
  loadStackPointer(c, long ? c.sys.sysenterEsp : c.sys.sysenterEsp >>> 0, long ? 8 : 4);
  c.rip = long ? c.sys.sysenterEip : c.sys.sysenterEip >>> 0;
};

/**
 * SYSEXIT: CPL 0 in protected mode with a non-null SYSENTER_CS (#GP(0)).
 * With REX.W to 64-bit code: RSP = RCX, RIP = RDX (canonical, else
 * #GP(0)), CS = SYSENTER_CS + 32, SS + 40; without: ESP = ECX, EIP = EDX,
 * CS + 16, SS + 24; RPL 3.
 */
const sysexit: ExecFn = (c, i) => {
  const cs = c.sys.sysenterCs & 0xfffc;
  if ((c.cr0 & CR0_PE) === 0 || cs === 0) fault(Vector.GP, 0);
  requireCpl0(c);
  const to64 = i.opSize === 8;
  const rcx = Reg.RCX << 1, rdx = Reg.RDX << 1;
  const rsp = to64 ? c.r[rcx + 1]! * TWO32 + (c.r[rcx]! >>> 0) : c.r[rcx]! >>> 0;
  const rip = to64 ? c.r[rdx + 1]! * TWO32 + (c.r[rdx]! >>> 0) : c.r[rdx]! >>> 0;
  if (to64 && (!isCanonical(rsp) || !isCanonical(rip))) fault(Vector.GP, 0);
  loadFlat(c, Seg.CS, ((cs + (to64 ? 32 : 16)) | 3) & 0xffff, to64 ? CODE64_DPL3 : CODE32_DPL3);
  loadFlat(c, Seg.SS, ((cs + (to64 ? 40 : 24)) | 3) & 0xffff, DATA_DPL3);
  setCpl(c, 3);
  updateMode(c);
  loadStackPointer(c, rsp, to64 ? 8 : 4);
  c.rip = rip;
};

/** SWAPGS (64-bit mode only: o64; CPL 0): exchanges the GS base with IA32_KERNEL_GS_BASE. */
const swapgs: ExecFn = (c) => {
  requireCpl0(c);
  const gs = c.sys.descBase[Seg.GS]!;
  setSegmentBase(c, Seg.GS, c.sys.kernelGsBase);
  c.sys.kernelGsBase = gs;
};

export const FAST_CALL_OPCODES: OpcodeDef[] = [
  { op: '0F 05', mnemonic: 'syscall', flags: ['branch'], exec: syscall },
  { op: '0F 07', mnemonic: 'sysret', size: 'v', flags: ['branch'], exec: sysret },
  { op: '0F 34', mnemonic: 'sysenter', flags: ['branch'], exec: sysenter },
  { op: '0F 35', mnemonic: 'sysexit', size: 'v', flags: ['branch'], exec: sysexit },
  { op: '0F 01 F8', mnemonic: 'swapgs', flags: ['o64'], exec: swapgs },
];
