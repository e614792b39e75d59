/**
 * Differential execution against the host CPU (test/support/hostcpu/):
 * the harness itself on hand-computed cases, then integer ALU, data
 * movement and flag instructions on random inputs. Undefined flags are
 * masked per the SDM (test/support/hostcpu/undefinedFlags.ts).
 */
import { describe, expect, it } from 'vitest';
import { hostCpuAvailable, runOnHost, SCRATCH_BASE, type HostCase } from '../support/hostcpu/hostcpu.ts';
import { hostDiffSuite } from '../support/hostcpu/suite.ts';
import { ALU_TEMPLATES } from '../support/hostcpu/templates/alu.ts';
import { FLAG_TEMPLATES, MOV_TEMPLATES } from '../support/hostcpu/templates/mov.ts';

const avail = hostCpuAvailable();
const regs = (set: Record<number, bigint>) => Array.from({ length: 16 }, (_, n) => set[n] ?? 0n);
const hostCase = (code: number[], r: Record<number, bigint>, rflags = 0, scratch?: number[]): HostCase =>
  ({ code: Uint8Array.from(code), regs: regs(r), rflags, scratch: scratch && Uint8Array.from(scratch) });

describe.skipIf(!avail.ok)(avail.ok ? 'host CPU harness' : `host CPU harness (skipped: ${avail.why})`, () => {
  it('runs a batch: results in order, a #DE or #UD does not end it, DF does not leak into the next case', () => {
    const [add, div0, after, ud2, std, movsb] = runOnHost([
      // ADD EAX, EBX: 0xffffffff + 1 = 0 with CF ZF AF PF; the 32-bit write clears RAX[63:32] (SDM Vol. 1 §3.4.1.1).
      hostCase([0x01, 0xd8], { 0: 0x1_ffff_ffffn, 3: 1n }),
      // DIV ECX with ECX = 0: #DE, registers as before.
      hostCase([0xf7, 0xf1], { 0: 7n, 1: 0n, 2: 0n, 9: 0x99n }),
      // INC R9 after the fault still runs: 0x98 + 1.
      hostCase([0x49, 0xff, 0xc1], { 9: 0x98n }),
      hostCase([0x0f, 0x0b], { 5: 0x55n }),
      hostCase([0xfd], {}),
      // REP MOVSB, 3 bytes forward from scratch+0 to scratch+8 (DF was set by the previous case: must be clear again).
      hostCase([0xf3, 0xa4], { 1: 3n, 6: BigInt(SCRATCH_BASE), 7: BigInt(SCRATCH_BASE + 8) }, 0,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
    ]);
    expect(add!.event).toBe('OK');
    expect(add!.regs[0]).toBe(0n);
    expect(add!.rflags & 0x8d5).toBe(0x1 | 0x4 | 0x10 | 0x40);
    expect(div0!.event).toBe('DE');
    expect([div0!.regs[0], div0!.regs[9]]).toEqual([7n, 0x99n]);
    expect(after!.event).toBe('OK');
    expect(after!.regs[9]).toBe(0x99n);
    expect(ud2!.event).toBe('UD');
    expect(ud2!.regs[5]).toBe(0x55n);
    expect(std!.rflags & 0x400).toBe(0x400);
    expect(movsb!.event).toBe('OK');
    expect([...movsb!.scratch]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15]);
    expect([movsb!.regs[1], movsb!.regs[6], movsb!.regs[7]]).toEqual([0n, BigInt(SCRATCH_BASE + 3), BigInt(SCRATCH_BASE + 11)]);
  });
});

await hostDiffSuite('host CPU differential: ALU', ALU_TEMPLATES, 150);
await hostDiffSuite('host CPU differential: MOV, MOVZX/MOVSX, LEA, XCHG, CMOVcc, BSWAP, CBW/CWD', MOV_TEMPLATES, 150);
await hostDiffSuite('host CPU differential: flag instructions', FLAG_TEMPLATES, 50);
