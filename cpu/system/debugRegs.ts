/**
 * MOV to/from DR0-DR7 (SDM Vol. 2B "MOV—Move to/from Debug Registers";
 * Vol. 3A §18.2). The registers are kept and read back with their fixed
 * bits; breakpoints and single-step traps themselves are not modelled (no
 * #DB is raised for DR0-DR3 matches, DR7 enables or EFLAGS.TF), except the
 * general-detect fault of MOV DR itself.
 *
 * DR4 and DR5 alias DR6 and DR7 while CR4.DE = 0; with CR4.DE = 1 they
 * raise #UD. REX.R registers (DR8-15) do not exist: #UD.
 *
 * In VMX non-root operation the "MOV-DR exiting" exit comes before every
 * check of resolve(): it takes priority over the CR4.DE #UD, the CPL #GP
 * (SDM Vol. 3C §26.1.3, MOV DR) and the general-detect #DB. A #DB that then
 * causes a VM exit leaves DR6 and DR7 as they were (§28.1): there the
 * registers change when the #DB is delivered (doubleFault.ts).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { wr32, wr64 } from '../exec/operands.ts';
import { CR4_DE } from './controlRegs.ts';
import { crForm } from './operandForms.ts';
import { requireCpl0 } from './privilege.ts';
import { Intercept } from '../vmxPort.ts';

/** DR6: B0-B3, BD, BS, BT are writable; bits 4-11 and 16-31 read as 1, bit 12 as 0 (§18.2.3). */
const DR6_WRITABLE = 0xe00f, DR6_ONES = 0xffff0ff0 | 0;
/** DR7: bit 10 reads as 1; bits 11, 12, 14 and 15 as 0 (§18.2.4). */
const DR7_WRITABLE = 0xffff23ff | 0, DR7_ONES = 0x400;
const DR6_BD = 1 << 13, DR7_GD = 1 << 13;

/** Entering the #DB handler: DR6 gets the cause bits `dr6`, DR7.GD is cleared (§18.2.3, §18.2.4). */
export function debugExceptionState(c: Cpu, dr6: number): void {
  const dr = c.sys.dr;
  dr[12] = dr[12]! | dr6;
  dr[14] = dr[14]! & ~DR7_GD;
}

/** The register a MOV DR really names, after the checks in SDM order of the exception lists. */
function resolve(c: Cpu, i: Insn): number {
  let n = i.reg;
  if (n === 4 || n === 5) {
    if ((c.cr4 & CR4_DE) !== 0) fault(Vector.UD);
    n += 2;
  }
  requireCpl0(c);
  const dr = c.sys.dr;
  if ((dr[14]! & DR7_GD) !== 0) {
    // General detect (§18.2.4): a debug-exception fault before the access, with DR6.BD.
    c.faultPayload = DR6_BD;
    if (!c.nonRoot) debugExceptionState(c, DR6_BD);
    fault(Vector.DB);
  }
  return n;
}

const movFromDr: ExecFn = (c, i) => {
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.MovDr)) return;
  const n = resolve(c, i);
  const dr = c.sys.dr;
  if (i.mode === 64) wr64(c, i.rm, dr[n * 2]!, dr[n * 2 + 1]!);
  else wr32(c, i.rm, dr[n * 2]!);
};

const movToDr: ExecFn = (c, i) => {
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.MovDr)) return;
  const n = resolve(c, i);
  const lo = c.r[i.rm << 1]!, hi = i.mode === 64 ? c.r[(i.rm << 1) + 1]! : 0;
  const dr = c.sys.dr;
  if (n >= 6) {
    // Bits 63:32 of DR6 and DR7 are reserved: #GP(0) in 64-bit mode.
    if (hi !== 0) fault(Vector.GP, 0);
    dr[n * 2] = n === 6 ? (lo & DR6_WRITABLE) | DR6_ONES : (lo & DR7_WRITABLE) | DR7_ONES;
    dr[n * 2 + 1] = 0;
  } else {
    dr[n * 2] = lo;
    dr[n * 2 + 1] = hi;
  }
};

export const DEBUG_REGISTER_OPCODES: OpcodeDef[] = [
  { op: '0F 21 /r', mnemonic: 'mov', operands: 'Rd,Dd', select: crForm(movFromDr, 0xff) },
  { op: '0F 23 /r', mnemonic: 'mov', operands: 'Dd,Rd', select: crForm(movToDr, 0xff) },
];
