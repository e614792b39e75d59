/**
 * The system-architecture MSRs (SDM Vol. 4 Table 2-2; Vol. 3A §2.2.1,
 * §5.8.7, §5.8.8): IA32_EFER, the SYSCALL MSRs STAR/LSTAR/CSTAR/FMASK, the
 * FS/GS bases and KERNEL_GS_BASE, and the SYSENTER MSRs. Address-valued
 * MSRs must be canonical (#GP(0)); reserved bits raise #GP(0).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { pagingStateChanged } from '../memory/paging.ts';
import type { MsrDef } from '../msr/msrDef.ts';
import { Seg, TWO32 } from '../registers.ts';
import { EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, setSegmentBase, CR0_PG } from './mode.ts';

/** Returns the low half of a canonical address held as a number; the high half goes to c.opHi. */
export function splitAddress(c: Cpu, v: number): number {
  c.opHi = Math.floor(v / TWO32) | 0;
  return v >>> 0;
}

/** A canonical address from halves (bits 63:47 equal), else #GP(0). */
export function canonicalFromHalves(lo: number, hi: number): number {
  if ((hi << 16) >> 16 !== hi) fault(Vector.GP, 0);
  return hi * TWO32 + (lo >>> 0);
}

/** EFER bits software may set: SCE, LME and NXE as the model enumerates them; LMA is read-only. */
function eferWritable(c: Cpu): number {
  return (c.model.has('syscall') ? EFER_SCE : 0) | (c.model.has('lm') ? EFER_LME : 0) |
    (c.model.has('nx') ? EFER_NXE : 0);
}

/**
 * WRMSR IA32_EFER: #GP(0) for reserved bits, and for changing LME while
 * paging is enabled (SDM Vol. 3A §10.8.5). LMA ignores writes: it follows
 * CR0.PG.
 */
function writeEfer(c: Cpu, lo: number, hi: number): void {
  const writable = eferWritable(c);
  if (hi !== 0 || (lo & ~(writable | EFER_LMA)) !== 0) fault(Vector.GP, 0);
  const next = (lo & writable) | (c.efer & EFER_LMA);
  if (((next ^ c.efer) & EFER_LME) !== 0 && (c.cr0 & CR0_PG) !== 0) fault(Vector.GP, 0);
  const changed = next !== c.efer;
  c.efer = next;
  if (changed) pagingStateChanged(c);
}

function addressMsr(index: number, name: string, get: (c: Cpu) => number, set: (c: Cpu, v: number) => void): MsrDef {
  return {
    index, name,
    read: (c) => splitAddress(c, get(c)),
    write: (c, lo, hi) => set(c, canonicalFromHalves(lo, hi)),
  };
}

function segmentBaseMsr(index: number, name: string, s: number): MsrDef {
  return addressMsr(index, name, (c) => c.sys.descBase[s]!, (c, v) => setSegmentBase(c, s, v));
}

export const SYSTEM_MSRS: MsrDef[] = [
  {
    index: 0xc0000080, name: 'IA32_EFER',
    read: (c) => { c.opHi = 0; return c.efer; },
    write: writeEfer,
  },
  {
    // SYSCALL/SYSRET selectors in bits 47:32 and 63:48; bits 31:0 are kept but unused on Intel 64.
    index: 0xc0000081, name: 'IA32_STAR',
    read: (c) => { c.opHi = c.sys.starHi; return c.sys.starLo; },
    write: (c, lo, hi) => { c.sys.starLo = lo; c.sys.starHi = hi; },
  },
  addressMsr(0xc0000082, 'IA32_LSTAR', (c) => c.sys.lstar, (c, v) => { c.sys.lstar = v; }),
  addressMsr(0xc0000083, 'IA32_CSTAR', (c) => c.sys.cstar, (c, v) => { c.sys.cstar = v; }),
  {
    // The RFLAGS mask: bits 63:32 are reserved.
    index: 0xc0000084, name: 'IA32_FMASK',
    read: (c) => { c.opHi = 0; return c.sys.fmask; },
    write: (c, lo, hi) => { if (hi !== 0) fault(Vector.GP, 0); c.sys.fmask = lo; },
  },
  segmentBaseMsr(0xc0000100, 'IA32_FS_BASE', Seg.FS),
  segmentBaseMsr(0xc0000101, 'IA32_GS_BASE', Seg.GS),
  addressMsr(0xc0000102, 'IA32_KERNEL_GS_BASE', (c) => c.sys.kernelGsBase, (c, v) => { c.sys.kernelGsBase = v; }),
  {
    // Bits 15:0 hold the selector; the rest of the low half is kept, the high half reads as 0.
    index: 0x174, name: 'IA32_SYSENTER_CS',
    read: (c) => { c.opHi = 0; return c.sys.sysenterCs; },
    write: (c, lo) => { c.sys.sysenterCs = lo; },
  },
  addressMsr(0x175, 'IA32_SYSENTER_ESP', (c) => c.sys.sysenterEsp, (c, v) => { c.sys.sysenterEsp = v; }),
  addressMsr(0x176, 'IA32_SYSENTER_EIP', (c) => c.sys.sysenterEip, (c, v) => { c.sys.sysenterEip = v; }),
];
