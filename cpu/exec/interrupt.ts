/**
 * Software interrupts and the deliberately undefined opcodes: INT n, INT3,
 * INTO, INT1 (ICEBP), UD0, UD1, UD2 (SDM Vol. 2A INT n/INTO/INT3/INT1,
 * Vol. 2B UD). Each raises its architectural event; delivery through the
 * IDT belongs to the run loop's event hook.
 *
 * INT n, INT3, INTO and INT1 are traps: the instruction completes, and the
 * event's return address is the next instruction (softwareInterrupt). The
 * UD forms fault with RIP at the instruction.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, softwareInterrupt, Vector } from '../exceptions.ts';
import { IOPL, OF, VM } from '../flags.ts';
import { SoftwareKind } from '../system/registers.ts';

/**
 * Records which software event is raised and where its instruction is, for
 * delivery (INT1 skips the gate-DPL check, SDM Vol. 3A §6.12.1.1) and for a
 * fault during delivery, which is reported at the instruction (doubleFault.ts).
 */
function raise(c: Cpu, i: Insn, vector: number, kind: SoftwareKind): never {
  c.sys.softwareKind = kind;
  c.sys.softwareRip = c.rip - i.len;
  softwareInterrupt(vector);
}

/**
 * INT n in virtual-8086 mode with IOPL < 3 raises #GP(0) (SDM Vol. 2A INT n,
 * "Operation"). With CR4.VME the TSS interrupt-redirection bitmap would
 * decide first; virtual-8086 mode is not modelled (CR4.VME is reserved in
 * this model), so that case raises #GP(0) too.
 */
const intN: ExecFn = (c, i) => {
  if ((c.eflags & VM) !== 0 && (c.eflags & IOPL) !== IOPL) fault(Vector.GP, 0);
  raise(c, i, i.imm & 0xff, SoftwareKind.IntN);
};

/** INT3, INTO and INT1 are not IOPL-sensitive in virtual-8086 mode (same page, "Operation"). */
const int3: ExecFn = (c, i) => raise(c, i, Vector.BP, SoftwareKind.Exception);
const int1: ExecFn = (c, i) => raise(c, i, Vector.DB, SoftwareKind.Privileged);

/** INTO traps only when OF = 1. */
const into: ExecFn = (c, i) => {
  if ((c.fAux & OF) !== 0) raise(c, i, Vector.OF, SoftwareKind.Exception);
};

const ud: ExecFn = () => fault(Vector.UD);

export const INTERRUPT_OPCODES: OpcodeDef[] = [
  { op: 'CD', mnemonic: 'int', operands: 'Ib', flags: ['branch'], exec: intN },
  { op: 'CC', mnemonic: 'int3', flags: ['branch'], exec: int3 },
  { op: 'CE', mnemonic: 'into', flags: ['i64', 'branch'], exec: into },
  { op: 'F1', mnemonic: 'int1', flags: ['branch'], exec: int1 },
  { op: '0F 0B', mnemonic: 'ud2', exec: ud },
  // UD1 and UD0 take a ModRM (and its SIB/displacement) on Intel cores, which sets their length.
  { op: '0F B9 /r', mnemonic: 'ud1', operands: 'Gd,Ed', exec: ud },
  { op: '0F FF /r', mnemonic: 'ud0', operands: 'Gd,Ed', exec: ud },
];
