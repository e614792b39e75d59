/**
 * Privileged instructions with nothing to do on this machine beyond their
 * checks (SDM Vol. 2A INVD, MONITOR, MWAIT; Vol. 2B RDPMC, WBINVD):
 * memory is always coherent (no caches to write back or drop), MWAIT
 * returns at once as a wake-up event may always end it, and the model has
 * no performance counters. MONITOR arms the monitoring hardware and MWAIT
 * disarms it; nothing else is tracked (stores to the range do not disarm
 * it), which only a VM exit on MWAIT can observe.
 *
 * In VMX non-root operation each may exit (SDM Vol. 3C §26.1.2 INVD,
 * §26.1.3 the others) after its #UD and privilege checks and before the
 * checks on its operands (§26.1.1).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { Access } from '../memory/access.ts';
import { checkCanonical } from '../memory/canonical.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { Intercept } from '../vmxPort.ts';
import { CR4_PCE } from './controlRegs.ts';
import { requireCpl0 } from './privilege.ts';

/** INVD, WBINVD, WBNOINVD: CPL 0, else #GP(0). */
function cacheFlush(what: Intercept): ExecFn {
  return (c, i) => {
    requireCpl0(c);
    if (c.nonRoot) c.vmx!.intercept(c, i, what);
  };
}

/** MONITOR and MWAIT exist at CPL 0 only: #UD otherwise (SDM Vol. 2A MONITOR, MWAIT exceptions). */
function requireMonitorCpl(c: Cpu): void {
  if (c.cpl !== 0) fault(Vector.UD);
}

/**
 * The linear address of DS:rAX (segment override allowed) at the address
 * size, checked as a read: segment limit or canonical form, then paging.
 */
function monitorAddress(c: Cpu, i: Insn): number {
  const seg = i.segOverride ? i.seg : Seg.DS;
  const k = Reg.RAX << 1;
  if (i.addrSize === 8) return checkCanonical(c.r[k + 1]! * TWO32 + (c.r[k]! >>> 0) + c.segBase[seg]!, seg);
  const off = i.addrSize === 4 ? c.r[k]! >>> 0 : c.r[k]! & 0xffff;
  if (i.mode === 64) return checkCanonical(off + c.segBase[seg]!, seg);
  if (off < c.sys.segLo[seg]! || off > c.sys.segHi[seg]!) fault(seg === Seg.SS ? Vector.SS : Vector.GP, 0);
  return (c.segBase[seg]! + off) >>> 0;
}

/** MONITOR: ECX carries no extensions (#GP(0) if non-zero); the address is translated and the monitoring hardware armed. */
const monitor: ExecFn = (c, i) => {
  requireMonitorCpl(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Monitor)) return;
  if (c.r[Reg.RCX << 1] !== 0) fault(Vector.GP, 0);
  c.mmu.translate(monitorAddress(c, i), Access.Read);
  c.monitorArmed = true;
};

/** MWAIT: no extensions are enumerated (CPUID.05H), so ECX must be 0 (#GP(0)); returns at once, the monitor disarmed. */
const mwait: ExecFn = (c, i) => {
  requireMonitorCpl(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Mwait)) return;
  if (c.r[Reg.RCX << 1] !== 0) fault(Vector.GP, 0);
  c.monitorArmed = false;
};

/**
 * RDPMC: #GP(0) at CPL > 0 in protected mode with CR4.PCE = 0 (a privilege
 * fault, ahead of "RDPMC exiting"), and for any counter index in ECX, since
 * CPUID leaf 0AH reports no counters (after the exit).
 */
const rdpmc: ExecFn = (c, i) => {
  if ((c.cr4 & CR4_PCE) === 0 && c.cpl !== 0 && (c.cr0 & 1) !== 0) fault(Vector.GP, 0);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Rdpmc)) return;
  fault(Vector.GP, 0);
};

export const PROCESSOR_CONTROL_OPCODES: OpcodeDef[] = [
  { op: '0F 08', mnemonic: 'invd', exec: cacheFlush(Intercept.Invd) },
  { op: '0F 09', mnemonic: 'wbinvd', prefix: 'NP|66', exec: cacheFlush(Intercept.Wbinvd) },
  // WBNOINVD (F3 0F 09) may keep the caches valid; with no caches it is WBINVD, "WBINVD exiting" included.
  { op: '0F 09', mnemonic: 'wbnoinvd', prefix: 'F3', exec: cacheFlush(Intercept.Wbinvd) },
  { op: '0F 01 C8', mnemonic: 'monitor', exec: monitor },
  { op: '0F 01 C9', mnemonic: 'mwait', exec: mwait },
  { op: '0F 33', mnemonic: 'rdpmc', exec: rdpmc },
];
