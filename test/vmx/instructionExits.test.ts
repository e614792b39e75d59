/**
 * VM exits of INVD, XSETBV (unconditional, SDM Vol. 3C §26.1.2), WBINVD,
 * INVLPG, INVPCID, RDPMC, MONITOR, MWAIT, RDRAND and RDSEED (§26.1.3),
 * their priority against the instructions' own faults (§26.1.1), their
 * exit qualifications (§28.2.1) and instruction information (§28.2.5);
 * and GETSEC/RSM, which #UD before they could exit. Expected values are
 * worked out by hand from the SDM's tables; a guest that does not exit
 * reaches the CPUID after the instruction, which always exits (reason 10).
 */
import { describe, expect, it } from 'vitest';
import { ExitReason } from '../../vmx/exitReason.ts';
import { controlledExit, CPL3_FIELDS, GUEST_CODE, modelWith, type ControlledRun } from '../support/vmxHarness.ts';

const MODEL = modelWith({
  proc: ['activateSecondaryControls', 'useMsrBitmaps', 'invlpgExiting', 'mwaitExiting', 'rdpmcExiting', 'monitorExiting'],
  proc2: ['wbinvdExiting', 'enableInvpcid', 'rdrandExiting', 'rdseedExiting'],
});

/** Runs `guest` (then CPUID) with the given controls, guest registers and extra CR4 bits, to its first exit. */
const run = (guest: string, r: ControlledRun = {}): ReturnType<typeof controlledExit> => controlledExit(guest, MODEL, r);

const at = (offset: number): bigint => BigInt(GUEST_CODE + offset);
const GP0 = { kind: 'exception', vector: 13, errorCode: 0 };
const UD = { kind: 'exception', vector: 6 };
const CR4_PCE = 1 << 8, CR4_OSXSAVE = 1 << 18;

/** The guest ran the instruction of `length` bytes and exited at the CPUID after it. */
function ranThrough(exit: { reason: number; guestRip: bigint } | undefined, length: number): void {
  expect(exit).toMatchObject({ reason: ExitReason.Cpuid, guestRip: at(length) });
}

describe('§26.1.2 instructions that exit unconditionally', () => {
  it('INVD exits with reason 13, qualification 0, the guest RIP of INVD and its length (§28.2.1, §28.3.3)', async () => {
    const { exit } = await run('invd');
    expect(exit).toMatchObject({ reason: 13, qualification: 0n, guestRip: at(0), instructionLength: 2 });
  });

  it('INVD at CPL 3 raises #GP(0) and does not exit: privilege faults come first (§26.1.1)', async () => {
    const { exit, stop } = await run('invd', { fields: CPL3_FIELDS });
    expect(exit).toBeUndefined();
    expect(stop).toMatchObject(GP0);
  });

  it('XSETBV exits with reason 55, even with ECX naming no XCR: the exit comes before the operand #GP (§26.1.1)', async () => {
    for (const rcx of [0n, 5n]) {
      const { exit } = await run('xsetbv', { regs: { rcx, rax: 3n, rdx: 0n }, cr4: CR4_OSXSAVE });
      expect(exit).toMatchObject({ reason: 55, qualification: 0n, guestRip: at(0), instructionLength: 3 });
    }
  });

  it('XSETBV raises #UD with CR4.OSXSAVE = 0 and #GP(0) at CPL 3, without exiting (§26.1.1)', async () => {
    const ud = await run('xsetbv', { regs: { rcx: 0n, rax: 3n, rdx: 0n } });
    expect([ud.exit, ud.stop]).toMatchObject([undefined, UD]);
    const gp = await run('xsetbv', { regs: { rcx: 0n, rax: 3n, rdx: 0n }, cr4: CR4_OSXSAVE, fields: CPL3_FIELDS });
    expect([gp.exit, gp.stop]).toMatchObject([undefined, GP0]);
  });

  it('GETSEC raises #UD, not exit 11: CR4.SMXE can never be set in this model (§26.1.2; Vol. 2D GETSEC)', async () => {
    const { exit, stop } = await run('getsec');
    expect(exit).toBeUndefined();
    expect(stop).toMatchObject(UD);
  });

  it('RSM raises #UD, not exit 17: it exits only in SMM, and the model has none (§26.1.3; Vol. 2B RSM)', async () => {
    const { exit, stop } = await run('rsm');
    expect(exit).toBeUndefined();
    expect(stop).toMatchObject(UD);
  });
});

describe('§26.1.3 WBINVD exiting', () => {
  it('WBINVD exits with reason 54 and qualification 0 when "WBINVD exiting" is 1', async () => {
    const { exit } = await run('wbinvd', { proc2: ['wbinvdExiting'] });
    expect(exit).toMatchObject({ reason: 54, qualification: 0n, guestRip: at(0), instructionLength: 2 });
  });

  it('WBNOINVD (F3 0F 09) exits with reason 54 under the same control', async () => {
    const { exit } = await run('.byte 0xf3, 0x0f, 0x09', { proc2: ['wbinvdExiting'] });
    expect(exit).toMatchObject({ reason: 54, guestRip: at(0), instructionLength: 3 });
  });

  it('control clear: WBINVD runs normally, no exit', async () => {
    ranThrough((await run('wbinvd')).exit, 2);
  });

  it('WBINVD at CPL 3 raises #GP(0) without exiting (§26.1.1)', async () => {
    const { exit, stop } = await run('wbinvd', { proc2: ['wbinvdExiting'], fields: CPL3_FIELDS });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });
});

describe('§26.1.3 INVLPG exiting: qualification = the linear address (§28.2.1)', () => {
  it('INVLPG [rax+rbx*4+10H] exits with reason 14 and the linear address', async () => {
    const { exit } = await run('invlpg [rax+rbx*4+0x10]', { proc: ['invlpgExiting'], regs: { rax: 0x12345000n, rbx: 0x100n } });
    expect(exit).toMatchObject({ reason: 14, qualification: 0x12345410n, guestRip: at(0), instructionLength: 5 });
  });

  it('a non-canonical operand still exits, with all 64 bits of the address', async () => {
    for (const rax of [0x0000_8000_0000_0000n, 0x1234_5678_9abc_def0n]) {
      const { exit } = await run('invlpg [rax+rbx*4+0x10]', { proc: ['invlpgExiting'], regs: { rax, rbx: 1n } });
      expect(exit).toMatchObject({ reason: 14, qualification: rax + 0x14n });
    }
  });

  it('the address includes the segment base (FS)', async () => {
    const { exit } = await run('invlpg fs:[rax]', {
      proc: ['invlpgExiting'], regs: { rax: 0x1234n }, fields: { guestFsBase: 0xffff_8000_0000_0000n },
    });
    expect(exit).toMatchObject({ reason: 14, qualification: 0xffff_8000_0000_1234n, instructionLength: 4 });
  });

  it('with a 32-bit address size (67H) the offset wraps at 32 bits', async () => {
    const { exit } = await run('invlpg [eax+0x10]', { proc: ['invlpgExiting'], regs: { rax: 0xffff_fff8n } });
    expect(exit).toMatchObject({ reason: 14, qualification: 8n, instructionLength: 5 });
  });

  it('control clear: INVLPG runs normally, no exit', async () => {
    ranThrough((await run('invlpg [rax+rbx*4+0x10]', { regs: { rax: 0x3000n, rbx: 0n } })).exit, 5);
  });

  it('INVLPG at CPL 3 raises #GP(0) without exiting (§26.1.1)', async () => {
    const { exit, stop } = await run('invlpg [rax]', { proc: ['invlpgExiting'], regs: { rax: 0x3000n }, fields: CPL3_FIELDS });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });
});

describe('§26.1.3 INVPCID: "enable INVPCID" and "INVLPG exiting"', () => {
  const both = { proc: ['invlpgExiting'], proc2: ['enableInvpcid'] } satisfies ControlledRun;

  it('exits with reason 58, the displacement as qualification (§28.2.1) and the INVPCID instruction information (§28.2.5)', async () => {
    const { exit } = await run('invpcid rcx, [rdx+rsi*8+0x1234]', { ...both, regs: { rcx: 0n, rdx: 0x3000n, rsi: 0n } });
    // Scaling 3 (x8), address size 2 (64-bit), segment DS (3), index RSI (6), base RDX (2), Reg2 RCX (1).
    const info = 3n | (2n << 7n) | (3n << 15n) | (6n << 18n) | (2n << 23n) | (1n << 28n);
    expect(exit).toMatchObject({ reason: 58, qualification: 0x1234n, guestRip: at(0), instructionLength: 10, information: info });
  });

  it('a negative displacement is sign-extended to 64 bits; R9/R12/R13 fill Reg2, base and index (§28.2.5)', async () => {
    const { exit } = await run('invpcid r9, [r12+r13*2-8]', { ...both, regs: { r9: 0n, r12: 0x3008n, r13: 0n } });
    const info = 1n | (2n << 7n) | (3n << 15n) | (13n << 18n) | (12n << 23n) | (9n << 28n);
    expect(exit).toMatchObject({ reason: 58, qualification: 0xffff_ffff_ffff_fff8n, instructionLength: 8, information: info });
  });

  it('RIP-relative addressing: qualification = displacement + RIP of the next instruction, base and index invalid', async () => {
    const { exit } = await run('invpcid rax, [rip+0x100]', { ...both, regs: { rax: 0n } });
    const length = 9;
    const info = (2n << 7n) | (3n << 15n) | (1n << 22n) | (1n << 27n);
    expect(exit).toMatchObject({ reason: 58, qualification: at(length) + 0x100n, instructionLength: length, information: info });
  });

  it('the exit comes before the #GP(0) for an invalid type (§26.1.1)', async () => {
    const { exit } = await run('invpcid rcx, [rdx]', { ...both, regs: { rcx: 7n, rdx: 0x3000n } });
    expect(exit).toMatchObject({ reason: 58, qualification: 0n });
  });

  it('"enable INVPCID" = 0: #UD in non-root operation, ahead of the CPL 3 #GP (§26.3)', async () => {
    for (const fields of [{}, CPL3_FIELDS]) {
      const { exit, stop } = await run('invpcid rcx, [rdx]', { proc: ['invlpgExiting'], fields, regs: { rcx: 2n, rdx: 0x3000n } });
      expect([exit, stop]).toMatchObject([undefined, UD]);
    }
  });

  it('"INVLPG exiting" clear: INVPCID runs normally, no exit', async () => {
    const { exit } = await run('invpcid rcx, [rdx]', { proc2: ['enableInvpcid'], regs: { rcx: 2n, rdx: 0x3000n } });
    ranThrough(exit, 5);
  });

  it('INVPCID at CPL 3 raises #GP(0) without exiting (§26.1.1)', async () => {
    const { exit, stop } = await run('invpcid rcx, [rdx]', { ...both, fields: CPL3_FIELDS, regs: { rcx: 2n, rdx: 0x3000n } });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });
});

describe('§26.1.3 RDPMC exiting', () => {
  it('RDPMC exits with reason 15 and qualification 0', async () => {
    const { exit } = await run('rdpmc', { proc: ['rdpmcExiting'], regs: { rcx: 0n } });
    expect(exit).toMatchObject({ reason: 15, qualification: 0n, guestRip: at(0), instructionLength: 2 });
  });

  it('control clear: RDPMC runs normally, which is #GP(0) as the model has no counters', async () => {
    const { exit, stop } = await run('rdpmc', { regs: { rcx: 0n } });
    expect([exit, stop]).toMatchObject([undefined, GP0]);
  });

  it('at CPL 3 with CR4.PCE = 0 the #GP(0) comes first; with CR4.PCE = 1 it exits (§26.1.1)', async () => {
    const gp = await run('rdpmc', { proc: ['rdpmcExiting'], fields: CPL3_FIELDS, regs: { rcx: 0n } });
    expect([gp.exit, gp.stop]).toMatchObject([undefined, GP0]);
    const ex = await run('rdpmc', { proc: ['rdpmcExiting'], fields: CPL3_FIELDS, regs: { rcx: 0n }, cr4: CR4_PCE });
    expect(ex.exit).toMatchObject({ reason: 15 });
  });
});

describe('§26.1.3 MONITOR and MWAIT exiting', () => {
  const monitorRegs = { rax: 0x3000n, rcx: 0n, rdx: 0n };

  it('MONITOR exits with reason 39 and qualification 0', async () => {
    const { exit } = await run('monitor', { proc: ['monitorExiting'], regs: monitorRegs });
    expect(exit).toMatchObject({ reason: 39, qualification: 0n, guestRip: at(0), instructionLength: 3 });
  });

  it('control clear: MONITOR runs normally, no exit', async () => {
    ranThrough((await run('monitor', { regs: monitorRegs })).exit, 3);
  });

  it('MWAIT exits with reason 36 and qualification 0 when the monitoring hardware is not armed (§28.2.1)', async () => {
    const { exit } = await run('mwait', { proc: ['mwaitExiting'], regs: monitorRegs });
    expect(exit).toMatchObject({ reason: 36, qualification: 0n, guestRip: at(0), instructionLength: 3 });
  });

  it('MWAIT after a MONITOR that ran exits with qualification 1: the hardware is armed (§28.2.1)', async () => {
    const { exit } = await run('monitor\nmwait', { proc: ['mwaitExiting'], regs: monitorRegs });
    expect(exit).toMatchObject({ reason: 36, qualification: 1n, guestRip: at(3) });
  });

  it('control clear: MWAIT runs normally, no exit', async () => {
    ranThrough((await run('mwait', { regs: monitorRegs })).exit, 3);
  });

  it('MONITOR and MWAIT at CPL 3 raise #UD without exiting (§26.1.1)', async () => {
    for (const [insn, proc] of [['monitor', 'monitorExiting'], ['mwait', 'mwaitExiting']] as const) {
      const { exit, stop } = await run(insn, { proc: [proc], fields: CPL3_FIELDS, regs: monitorRegs });
      expect([exit, stop]).toMatchObject([undefined, UD]);
    }
  });
});

describe('§26.1.3 RDRAND and RDSEED exiting: destination register and operand size (§28.2.5)', () => {
  it('RDRAND R10 exits with reason 57, Reg 10 in bits 6:3, operand size 2 (64-bit) in bits 12:11', async () => {
    const { exit } = await run('rdrand r10', { proc2: ['rdrandExiting'] });
    expect(exit).toMatchObject({ reason: 57, qualification: 0n, instructionLength: 4, information: (10n << 3n) | (2n << 11n) });
  });

  it('RDRAND ECX: register 1, operand size 1 (32-bit)', async () => {
    const { exit } = await run('rdrand ecx', { proc2: ['rdrandExiting'] });
    expect(exit).toMatchObject({ reason: 57, instructionLength: 3, information: (1n << 3n) | (1n << 11n) });
  });

  it('RDSEED AX exits with reason 61: register 0, operand size 0 (16-bit)', async () => {
    const { exit } = await run('rdseed ax', { proc2: ['rdseedExiting'] });
    expect(exit).toMatchObject({ reason: 61, qualification: 0n, instructionLength: 4, information: 0n });
  });

  it('controls clear: RDRAND and RDSEED run normally (CF = 1), no exit', async () => {
    for (const insn of ['rdrand ecx', 'rdseed ecx']) {
      const { exit, h } = await run(insn);
      ranThrough(exit, 3);
      expect(h.read('guestRflags') & 1n).toBe(1n); // the guest's RFLAGS, saved by the exit (§28.3.2)
    }
  });
});
