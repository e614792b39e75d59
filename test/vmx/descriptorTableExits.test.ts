/**
 * "Descriptor-table exiting" (SDM Vol. 3C §26.1.3): LGDT, LIDT, SGDT, SIDT
 * exit with reason 46, LLDT, LTR, SLDT, STR with reason 47; qualification
 * = the displacement (§28.2.1); instruction information per §28.2.5's
 * tables "... as Used for LIDT, LGDT, SIDT, or SGDT" and "... as Used for
 * LLDT, LTR, SLDT, and STR". Expected fields are assembled here from those
 * tables by hand: scaling 1:0, Reg1 6:3, address size 9:7, Mem/Reg 10,
 * operand size 11, segment 17:15, index 21:18 (invalid 22), base 26:23
 * (invalid 27), identity 29:28. The operand-size bit is undefined for
 * exits from 64-bit mode, so it is masked out before comparing.
 */
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { memoryOperand, registerOrMemory } from '../../vmx/exit/instructionInformation.ts';
import { displacementQualification } from '../../vmx/exit/operandQualification.ts';
import { asm } from '../support/asm.ts';
import { makeCore } from '../support/machine.ts';
import { CPL3_FIELDS, firstExit, GUEST_CODE, modelWith, type HarnessOptions } from '../support/vmxHarness.ts';

const MODEL = modelWith({ proc: ['activateSecondaryControls'], proc2: ['descriptorTableExiting'] });
const GP0 = { kind: 'exception', vector: 13, errorCode: 0 };

const ES = 0n, SS = 2n, DS = 3n, FS = 4n;
const A64 = 2n << 7n;
const OPERAND_SIZE_BIT = 1n << 11n;
const scaling = (s: bigint): bigint => s;
const index = (r: bigint): bigint => r << 18n;
const base = (r: bigint): bigint => r << 23n;
const seg = (s: bigint): bigint => s << 15n;
const identity = (n: bigint): bigint => n << 28n;
const NO_INDEX = 1n << 22n, NO_BASE = 1n << 27n;
const REGISTER = 1n << 10n;
const reg1 = (r: bigint): bigint => r << 3n;

function run(guest: string, o: { exiting?: boolean; fields?: HarnessOptions['fields']; regs?: Record<string, bigint> } = {}): ReturnType<typeof firstExit> {
  return firstExit(`${guest}\ncpuid`, {
    features: MODEL,
    controls: { proc: ['activateSecondaryControls'], proc2: o.exiting === false ? [] : ['descriptorTableExiting'] },
    fields: o.fields,
    before: (h) => {
      for (const [name, v] of Object.entries(o.regs ?? { rax: 0x3000n, rbx: 0x3000n, rcx: 0n, rbp: 0x3400n, rsi: 0n, r8: 0n })) {
        h.t.setReg(name as 'rax', v);
      }
    },
  });
}

const withoutOperandSize = (info: bigint | undefined): bigint | undefined => (info === undefined ? undefined : info & ~OPERAND_SIZE_BIT);

describe('§26.1.3 descriptor-table exiting: LGDT, LIDT, SGDT, SIDT → reason 46', () => {
  it('SGDT [rax+20H]: qualification 20H; DS, base RAX, no index, identity 0 (SGDT)', async () => {
    const { exit } = await run('sgdt [rax+0x20]');
    expect(exit).toMatchObject({ reason: 46, qualification: 0x20n, guestRip: BigInt(GUEST_CODE), instructionLength: 4 });
    expect(withoutOperandSize(exit?.information)).toBe(A64 | seg(DS) | NO_INDEX | base(0n) | identity(0n));
  });

  it('LIDT [rbp+rcx*2-100H]: qualification sign-extended; SS (RBP base), scaling 1, index RCX, base RBP, identity 3 (LIDT)', async () => {
    const { exit } = await run('lidt [rbp+rcx*2-0x100]');
    expect(exit).toMatchObject({ reason: 46, qualification: 0xffff_ffff_ffff_ff00n, instructionLength: 8 });
    expect(withoutOperandSize(exit?.information)).toBe(scaling(1n) | A64 | seg(SS) | index(1n) | base(5n) | identity(3n));
  });

  it('LGDT [rip+40H]: qualification = RIP of the next instruction + 40H; base and index invalid; identity 2 (LGDT)', async () => {
    const { exit } = await run('lgdt [rip+0x40]');
    expect(exit).toMatchObject({ reason: 46, qualification: BigInt(GUEST_CODE + 7 + 0x40), instructionLength: 7 });
    expect(withoutOperandSize(exit?.information)).toBe(A64 | seg(DS) | NO_INDEX | NO_BASE | identity(2n));
  });

  it('SIDT fs:[r8]: segment FS, base R8, identity 1 (SIDT), qualification 0', async () => {
    const { exit } = await run('sidt fs:[r8]');
    expect(exit).toMatchObject({ reason: 46, qualification: 0n, instructionLength: 5 });
    expect(withoutOperandSize(exit?.information)).toBe(A64 | seg(FS) | NO_INDEX | base(8n) | identity(1n));
  });

  it('the exit comes before the memory operand is touched: SGDT to a non-canonical address exits (§26.1.1)', async () => {
    const { exit } = await run('sgdt [rax]', { regs: { rax: 0x0000_8000_0000_0000n } });
    expect(exit).toMatchObject({ reason: 46, qualification: 0n });
  });

  it('control clear: SGDT runs normally, storing GDTR, no exit', async () => {
    const { exit, h } = await run('sgdt [rax+0x20]', { exiting: false });
    expect(exit).toMatchObject({ reason: 10, guestRip: BigInt(GUEST_CODE + 4) });
    expect(h.t.phys.readSized(0x3020, 2)).toBe(Number(h.read('guestGdtrLimit')));
  });

  it('LGDT at CPL 3 raises #GP(0) without exiting; SGDT at CPL 3 exits (not privileged) (§26.1.1)', async () => {
    const lgdt = await run('lgdt [rax]', { fields: CPL3_FIELDS });
    expect([lgdt.exit, lgdt.stop]).toMatchObject([undefined, GP0]);
    const sgdt = await run('sgdt [rax]', { fields: CPL3_FIELDS });
    expect(sgdt.exit).toMatchObject({ reason: 46 });
  });
});

describe('§26.1.3 descriptor-table exiting: LLDT, LTR, SLDT, STR → reason 47', () => {
  it('SLDT AX (register form): qualification 0, Reg1 = RAX, Mem/Reg = 1, identity 0 (SLDT)', async () => {
    const { exit } = await run('sldt ax');
    expect(exit).toMatchObject({ reason: 47, qualification: 0n, guestRip: BigInt(GUEST_CODE), instructionLength: 4, information: reg1(0n) | REGISTER | identity(0n) });
  });

  it('STR R11D (register form): Reg1 = R11, identity 1 (STR)', async () => {
    const { exit } = await run('str r11d');
    expect(exit).toMatchObject({ reason: 47, qualification: 0n, instructionLength: 4, information: reg1(11n) | REGISTER | identity(1n) });
  });

  it('LLDT [rbx+8]: qualification 8; memory operand, DS, base RBX, identity 2 (LLDT)', async () => {
    const { exit } = await run('lldt [rbx+8]');
    expect(exit).toMatchObject({ reason: 47, qualification: 8n, instructionLength: 4, information: A64 | seg(DS) | NO_INDEX | base(3n) | identity(2n) });
  });

  it('LTR [rsi*4] (SIB without base, disp32 0): scaling 2, index RSI, base invalid, identity 3 (LTR)', async () => {
    const { exit } = await run('ltr word ptr [rsi*4]');
    expect(exit).toMatchObject({ reason: 47, qualification: 0n, instructionLength: 8, information: scaling(2n) | A64 | seg(DS) | index(6n) | NO_BASE | identity(3n) });
  });

  it('an ES override shows in the segment field', async () => {
    const { exit } = await run('lldt es:[rbx]');
    expect(exit).toMatchObject({ reason: 47, information: A64 | seg(ES) | NO_INDEX | base(3n) | identity(2n) });
  });

  it('control clear: SLDT runs normally, no exit', async () => {
    const { exit, h } = await run('sldt ax', { exiting: false, regs: { rax: 0xffffn } });
    expect(exit).toMatchObject({ reason: 10, guestRip: BigInt(GUEST_CODE + 4) });
    expect(h.reg('rax') & 0xffffn).toBe(h.read('guestLdtrSelector'));
  });

  it('LLDT and LTR at CPL 3 raise #GP(0) without exiting; SLDT and STR at CPL 3 exit (§26.1.1)', async () => {
    for (const insn of ['lldt ax', 'ltr ax']) {
      const r = await run(insn, { fields: CPL3_FIELDS });
      expect([r.exit, r.stop]).toMatchObject([undefined, GP0]);
    }
    for (const insn of ['sldt ax', 'str ax']) {
      expect((await run(insn, { fields: CPL3_FIELDS })).exit).toMatchObject({ reason: 47 });
    }
  });
});

describe('§28.2.1 displacement and §28.2.5 memory-operand fields outside 64-bit mode (decoded 16- and 32-bit forms)', () => {
  const decode = async (source: string, mode: 16 | 32): Promise<Insn> => {
    const bytes = await asm(source, mode, 0);
    const i = makeCore(mode).cpu.decoder.decode({ bytes, start: 0, avail: bytes.length }, mode);
    if (!i) throw new Error(`cannot decode ${source}`);
    return i;
  };
  const c = { opHi: 0, rip: 0 } as Cpu;
  const qualification = (i: Insn): bigint => {
    const lo = displacementQualification(c, i);
    return (BigInt(c.opHi >>> 0) << 32n) | BigInt(lo >>> 0);
  };
  const A16 = 0n << 7n, A32 = 1n << 7n;

  it('32-bit addressing: address size 1, scaling 2 (x4), index ESI, base EBX; displacement 10H', async () => {
    const i = await decode('sgdt [ebx+esi*4+0x10]', 32);
    expect(BigInt(memoryOperand(i))).toBe(scaling(2n) | A32 | seg(DS) | index(6n) | base(3n));
    expect(qualification(i)).toBe(0x10n);
  });

  it('16-bit addressing [bp+di-2]: address size 0, SS, base BP, index DI; the displacement sign-extended to 64 bits', async () => {
    const i = await decode('lidt [bp+di-2]', 16);
    expect(BigInt(memoryOperand(i))).toBe(A16 | seg(SS) | index(7n) | base(5n));
    expect(qualification(i)).toBe(0xffff_ffff_ffff_fffen);
  });

  it('a 16-bit direct address [8000H] has no base or index, and its 16-bit displacement is sign-extended', async () => {
    const i = await decode('lldt word ptr [0x8000]', 16);
    expect(BigInt(memoryOperand(i))).toBe(A16 | seg(DS) | NO_INDEX | NO_BASE);
    expect(qualification(i)).toBe(0xffff_ffff_ffff_8000n);
  });

  it('a register operand has qualification 0 and Reg1 with Mem/Reg = 1 (LLDT/LTR/SLDT/STR format)', async () => {
    const i = await decode('ltr dx', 32);
    expect(qualification(i)).toBe(0n);
    expect(BigInt(registerOrMemory(i))).toBe(reg1(2n) | REGISTER);
  });
});
