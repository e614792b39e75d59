/**
 * MOV DR in VMX non-root operation (SDM Vol. 3C §26.1.3 "MOV DR"): with
 * "MOV-DR exiting" every MOV to or from a debug register exits, basic
 * reason 29, qualification of §28.2.1 Table 28-4; these exits take
 * priority over the CPL #GP and the CR4.DE #UD for DR4/DR5 (the stated
 * exception to §26.1.1) and, being fault-like, over the general-detect #DB.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { startAtCpl3 } from '../support/vmxCpl3.ts';
import { GUEST_CODE, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const MOV_DR = 29, HLT = 12;
const CR4_DE = 1n << 3n, DR7_GD = 1n << 13n;

const FEATURES: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: { ...DEFAULT_VMX_MODEL.controls, proc: [...DEFAULT_VMX_MODEL.controls.proc, 'movDrExiting'] },
};

async function create(guest: string, exiting: boolean, fields: HarnessOptions['fields'] = {}): Promise<VmxHarness> {
  return VmxHarness.create(guest, {
    features: FEATURES, controls: { proc: exiting ? ['hltExiting', 'movDrExiting'] : ['hltExiting'], entry: ['loadDebugControls'] }, fields,
  });
}

/** Table 28-4: debug register 2:0, direction 4 (1 = MOV from DR), GPR 11:8. */
const qual = (dr: number, from: boolean, gpr: number): bigint => BigInt(dr | (+from << 4) | (gpr << 8));

describe('MOV DR (SDM Vol. 3C §26.1.3)', () => {
  it('MOV to DR7 exits: DR 7, direction 0, GPR 0 (§28.2.1 Table 28-4); DR7 keeps its value', async () => {
    const h = await create('mov dr7, rax\nhlt', true);
    const dr7 = h.t.cpu.sys.dr[14];
    h.launch(100);
    expect(h.exits).toEqual([{ reason: MOV_DR, qualification: qual(7, false, 0), guestRip: BigInt(GUEST_CODE), instructionLength: 3 }]);
    expect(h.t.cpu.sys.dr[14]).toBe(dr7);
  });

  it('MOV from DR3 to R11: DR 3, direction 1, GPR 11 (§28.2.1 Table 28-4)', async () => {
    const h = await create('mov r11, dr3\nhlt', true);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification, e.instructionLength])).toEqual([[MOV_DR, qual(3, true, 11), 4]]);
  });

  it('"MOV-DR exiting" clear: MOV DR runs without exiting (§26.1.3)', async () => {
    const h = await create('mov rax, 0x1234\nmov dr1, rax\nmov rbx, dr1\nhlt', false);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.reg('rbx')).toBe(0x1234n);
  });

  it('the exit takes priority over the #UD for DR4 with CR4.DE = 1, and reports DR 4 (§26.1.3 MOV DR, §28.2.1 Table 28-4)', async () => {
    const on = await create('mov rax, dr4\nhlt', true);
    on.write('guestCr4', on.read('guestCr4') | CR4_DE);
    on.launch(100);
    expect(on.exits.map((e) => [e.reason, e.qualification])).toEqual([[MOV_DR, qual(4, true, 0)]]);
    const off = await create('mov rax, dr4\nhlt', false);
    off.write('guestCr4', off.read('guestCr4') | CR4_DE);
    expect(off.launch(100)).toMatchObject({ kind: 'exception', vector: 6 });
  });

  it('the exit takes priority over the #GP(0) at CPL 3 (§26.1.3 MOV DR, exception to §26.1.1)', async () => {
    const on = await create('mov dr0, rax\nhlt', true);
    startAtCpl3(on);
    on.launch(100);
    expect(on.exits.map((e) => [e.reason, e.qualification])).toEqual([[MOV_DR, qual(0, false, 0)]]);
    const off = await create('mov dr0, rax\nhlt', false);
    startAtCpl3(off);
    expect(off.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });

  it('the exit takes priority over the general-detect #DB (DR7.GD = 1, loaded by "load debug controls"; §26.1.1 fault-like exits)', async () => {
    const on = await create('mov rax, dr0\nhlt', true, { guestDr7: 0x400n | DR7_GD });
    on.launch(100);
    expect(on.exits.map((e) => e.reason)).toEqual([MOV_DR]);
    const off = await create('mov rax, dr0\nhlt', false, { guestDr7: 0x400n | DR7_GD });
    expect(off.launch(100)).toMatchObject({ kind: 'exception', vector: 1 });
  });

  it('REX.R (DR8) stays a decode-time #UD, not an exit (§26.1.1 invalid-opcode exceptions)', async () => {
    const h = await create('.byte 0x44, 0x0f, 0x21, 0xc0\nhlt', true);
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 6 });
    expect(h.exits).toEqual([]);
  });
});
