/**
 * Control-register accesses in VMX non-root operation: the exits of SDM
 * Vol. 3C §26.1.3 (CLTS, LMSW, MOV to/from CR0, CR3, CR4, CR8), their
 * qualification (§28.2.1 Table 28-3), the changed behaviour of the
 * instructions that do not exit (§26.3), the priorities of §26.1.1 and
 * the fixed bits of VMX operation (§24.8). Expected values are computed
 * here from the SDM's rules, from the guest's CR0/CR4 as the VMCS holds
 * them before launch.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_VMX_MODEL, MINIMAL_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { asm } from '../support/asm.ts';
import { startAtCpl3 } from '../support/vmxCpl3.ts';
import { GUEST_CODE, PAGE_TABLES, SCRATCH, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const CR_ACCESS = 28, HLT = 12;
const CR0_MP = 1n << 1n, CR0_EM = 1n << 2n, CR0_TS = 1n << 3n, CR0_NE = 1n << 5n;
const CR4_VMXE = 1n << 13n;

/** The default model plus CR8 exiting, four CR3 targets, and TRUE controls that free CR3-load/store exiting. */
const FEATURES: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: {
    ...DEFAULT_VMX_MODEL.controls,
    proc: [...DEFAULT_VMX_MODEL.controls.proc, 'cr3LoadExiting', 'cr3StoreExiting', 'cr8LoadExiting', 'cr8StoreExiting'],
  },
  trueControls: true,
  trueAllowed0: { proc: ['cr3LoadExiting', 'cr3StoreExiting'], exit: [], entry: [] },
  cr3TargetCount: 4,
};

type Proc = NonNullable<NonNullable<HarnessOptions['controls']>['proc']>;

/** A harness for `guest` with HLT exiting (the guest's end marker) plus `proc`; `setup` runs before launch. */
async function create(guest: string, proc: Proc = [], fields: HarnessOptions['fields'] = {}, features = FEATURES): Promise<VmxHarness> {
  return VmxHarness.create(guest, { features, controls: { proc: ['hltExiting', ...proc] }, fields });
}

/** Address of the instruction after `prefix` in a guest that starts with it. */
async function after(prefix: string): Promise<bigint> {
  return BigInt(GUEST_CODE + (await asm(prefix, 64, GUEST_CODE)).length);
}

/** Table 28-3: CR number, access type, GPR, LMSW operand type and source. */
const qual = (cr: number, type: number, gpr = 0, lmswMem = 0, lmswSrc = 0): bigint =>
  BigInt(cr | (type << 4) | (lmswMem << 6) | (gpr << 8)) | (BigInt(lmswSrc) << 16n);

describe('MOV to CR0 and CR4 (SDM Vol. 3C §26.1.3, §26.3)', () => {
  it('MOV to CR0 exits when a masked bit differs from the CR0 read shadow, qualification CR 0, MOV to CR, GPR 3 (§28.2.1 Table 28-3)', async () => {
    const prefix = 'mov rbx, cr0\nor rbx, 8';
    const h = await create(`${prefix}\nmov cr0, rbx\nhlt`, [], { cr0GuestHostMask: CR0_TS, cr0ReadShadow: 0 });
    const cr0 = h.read('guestCr0');
    h.launch(100);
    expect(h.exits).toEqual([{ reason: CR_ACCESS, qualification: qual(0, 0, 3), guestRip: await after(prefix), instructionLength: 3 }]);
    expect(h.read('guestCr0')).toBe(cr0); // the instruction did not execute
  });

  it('the GPR field names R8-R15 (§28.2.1 Table 28-3 bits 11:8): MOV to CR4 from R13', async () => {
    const h = await create('mov r13, cr4\nxor r13, 0x80\nmov cr4, r13\nhlt', [], { cr4GuestHostMask: 0x80, cr4ReadShadow: 0 });
    h.launch(100);
    expect(h.exits[0]!.reason).toBe(CR_ACCESS);
    expect(h.exits[0]!.qualification).toBe(qual(4, 0, 13));
    expect(h.exits[0]!.instructionLength).toBe(4);
  });

  it('no exit when every masked bit matches the shadow: masked bits keep CR0\'s value, the others load, MOV from CR0 shows the shadow (§26.3)', async () => {
    const h = await create('mov rax, cr0\nor rax, 2\nmov cr0, rax\nmov rbx, cr0\nhlt', [], { cr0GuestHostMask: CR0_TS, cr0ReadShadow: CR0_TS });
    const cr0 = h.read('guestCr0');
    expect(cr0 & CR0_TS).toBe(0n);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr0')).toBe(cr0 | CR0_MP); // TS stays 0 although the source had it set
    expect(h.reg('rbx')).toBe(cr0 | CR0_MP | CR0_TS); // the shadow's TS
  });

  it('a zero CR0 guest/host mask never exits (§26.1.3 MOV to CR0, "control clear")', async () => {
    const h = await create('mov rax, cr0\nor rax, 0xa\nmov cr0, rax\nhlt', [], { cr0GuestHostMask: 0, cr0ReadShadow: 0xffffffff });
    const cr0 = h.read('guestCr0');
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr0')).toBe(cr0 | CR0_MP | CR0_TS);
  });

  it('the exit has priority over the #GP(0) for PG without PE (§26.1.1 fault-like VM exits)', async () => {
    const h = await create('mov eax, 0x80000030\nmov cr0, rax\nhlt', [], { cr0GuestHostMask: 1, cr0ReadShadow: 1 });
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[CR_ACCESS, qual(0, 0, 0)]]);
  });

  it('at CPL 3 MOV to CR0 raises #GP(0) instead of exiting (§26.1.1 faults based on privilege level)', async () => {
    const h = await create('mov cr0, rax\nhlt', [], { cr0GuestHostMask: 0xffffffff, cr0ReadShadow: 0 });
    startAtCpl3(h);
    const stop = h.launch(100);
    expect(stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
  });

  it('a non-exiting MOV to CR0 that clears CR0.NE raises #GP(0): NE is fixed to 1 in VMX operation (§26.3, §24.8 IA32_VMX_CR0_FIXED0)', async () => {
    const h = await create('mov rax, cr0\nbtr rax, 5\nmov cr0, rax\nhlt', [], { cr0GuestHostMask: 0 });
    const stop = h.launch(100);
    expect(stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
    expect(h.t.cpu.cr0 & Number(CR0_NE)).not.toBe(0);
  });

  it('but clearing a fixed bit the mask covers only keeps it (§26.3): MOV to CR4 without VMXE under a VMXE mask', async () => {
    const prefix = 'mov rax, cr4\nmov rcx, rax\nmov cr4, rax\nmov rdx, cr4\nor rax, 0x2000';
    const h = await create(`${prefix}\nmov cr4, rax\nhlt`, [], { cr4GuestHostMask: CR4_VMXE, cr4ReadShadow: 0 });
    const cr4 = h.read('guestCr4');
    expect(cr4 & CR4_VMXE).toBe(CR4_VMXE);
    h.launch(100);
    // MOV from CR4 shows the shadow's VMXE (0); writing it back matches the shadow, keeps VMXE and does not exit;
    // setting VMXE differs from the shadow and exits.
    expect(h.reg('rcx')).toBe(cr4 & ~CR4_VMXE);
    expect(h.reg('rdx')).toBe(cr4 & ~CR4_VMXE);
    expect(h.exits).toEqual([{ reason: CR_ACCESS, qualification: qual(4, 0, 0), guestRip: await after(prefix), instructionLength: 3 }]);
    expect(h.read('guestCr4')).toBe(cr4);
  });

  it('in VMX root operation MOV to CR4 clearing CR4.VMXE raises #GP(0) (§24.8 Restrictions on VMX Operation)', async () => {
    // The harness core is in VMX root operation at GUEST_CODE before launch: run the code there as root software.
    const h = await create('mov rax, cr4\nor rax, 0x80\nmov cr4, rax\nbtr rax, 13\nmov cr4, rax\nhlt');
    const cr4 = h.t.cpu.cr4;
    const stop = h.run(100);
    expect(stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.t.cpu.nonRoot).toBe(false);
    expect(h.t.cpu.cr4).toBe(cr4 | 0x80); // PGE loaded, VMXE kept
  });

  it('all 64 bits of the CR4 mask and shadow count: bit 32 reads from the shadow and its change exits (§26.1.3, §26.3)', async () => {
    const prefix = 'mov rax, cr4\nmov rbx, rax\nmov cr4, rax\nbtr rax, 32';
    const h = await create(`${prefix}\nmov cr4, rax\nhlt`, [], { cr4GuestHostMask: 1n << 32n, cr4ReadShadow: 1n << 32n });
    const cr4 = h.read('guestCr4');
    h.launch(100);
    expect(h.reg('rbx')).toBe(cr4 | (1n << 32n));
    // The write of bit 32 = 1 matched the shadow: no exit, and no #GP for the reserved bit, which stays unmodified.
    expect(h.exits.map((e) => [e.reason, e.qualification, e.guestRip])).toEqual([[CR_ACCESS, qual(4, 0, 0), await after(prefix)]]);
    expect(h.read('guestCr4')).toBe(cr4);
  });
});

describe('MOV from CR0 and SMSW read through the mask (SDM Vol. 3C §26.3)', () => {
  it('masked bits come from the CR0 read shadow, the others from CR0, for MOV from CR0, SMSW r32, SMSW m16 and SMSW r64 (§26.3)', async () => {
    const mask = 0x0000ffffn | (0xffffffffn << 32n), shadow = 0x1234abcdn | (5n << 32n);
    const h = await create(`mov rax, cr0
smsw ebx
smsw word ptr [${SCRATCH}]
smsw rcx
hlt`, [], { cr0GuestHostMask: mask, cr0ReadShadow: shadow });
    const cr0 = h.read('guestCr0');
    h.launch(100);
    const seen = (cr0 & ~mask) | (shadow & mask);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.reg('rax')).toBe(seen);
    expect(h.reg('rbx')).toBe(seen & 0xffffffffn);
    expect(BigInt(h.t.phys.readSized(SCRATCH, 2))).toBe(0xabcdn);
    expect(h.reg('rcx')).toBe(seen);
    expect(h.read('guestCr0')).toBe(cr0);
  });
});

describe('CLTS (SDM Vol. 3C §26.1.3, §26.3)', () => {
  it('exits when TS is set in both the CR0 guest/host mask and the read shadow, access type 2 (§28.2.1 Table 28-3)', async () => {
    const h = await create('clts\nhlt', [], { cr0GuestHostMask: CR0_TS, cr0ReadShadow: CR0_TS });
    h.write('guestCr0', h.read('guestCr0') | CR0_TS);
    h.launch(100);
    expect(h.exits).toEqual([{ reason: CR_ACCESS, qualification: qual(0, 2), guestRip: BigInt(GUEST_CODE), instructionLength: 2 }]);
    expect(h.read('guestCr0') & CR0_TS).toBe(CR0_TS);
  });

  it('TS set in the mask but clear in the shadow: no exit and CR0.TS unmodified (§26.3 CLTS)', async () => {
    const h = await create('clts\nhlt', [], { cr0GuestHostMask: CR0_TS, cr0ReadShadow: 0 });
    h.write('guestCr0', h.read('guestCr0') | CR0_TS);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr0') & CR0_TS).toBe(CR0_TS);
  });

  it('TS clear in the mask ("control clear"): CLTS clears CR0.TS without exiting (§26.1.3 CLTS)', async () => {
    const h = await create('clts\nhlt', [], { cr0GuestHostMask: 0, cr0ReadShadow: CR0_TS });
    h.write('guestCr0', h.read('guestCr0') | CR0_TS);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr0') & CR0_TS).toBe(0n);
  });
});

describe('LMSW (SDM Vol. 3C §26.1.3, §26.3)', () => {
  it('a register source that changes a masked bit exits: access type 3, the 16-bit source in bits 31:16, operand type 0 (§28.2.1 Table 28-3)', async () => {
    const h = await create('mov eax, 0xabc3\nlmsw ax\nhlt', [], { cr0GuestHostMask: 0xf, cr0ReadShadow: 1 });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: CR_ACCESS, qualification: qual(0, 3, 0, 0, 0xabc3), guestRip: await after('mov eax, 0xabc3'), instructionLength: 3 }]);
  });

  it('a memory source sets bit 6 and reports the operand\'s guest-linear address (§28.2.1)', async () => {
    const at = SCRATCH + 0x100;
    const h = await create(`mov rbx, ${at}\nlmsw word ptr [rbx + 6]\nhlt`, [], { cr0GuestHostMask: CR0_TS, cr0ReadShadow: 0 });
    h.t.phys.writeSized(at + 6, 2, 0x0009);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[CR_ACCESS, qual(0, 3, 0, 1, 0x0009)]]);
    expect(h.read('guestLinearAddress')).toBe(BigInt(at + 6));
  });

  // §26.1.3: PE exits only when set in the mask and the source and clear in the shadow (LMSW never clears PE);
  // bits 3:1 exit when masked and different from the shadow.
  const cases: [string, number, number, number, boolean][] = [
    ['PE masked, set in the source, clear in the shadow', 0x1, 0x0, 0x1, true],
    ['PE masked, clear in the source, set in the shadow', 0x1, 0x1, 0x0, false],
    ['PE masked, clear in both', 0x1, 0x0, 0x0, false],
    ['EM masked and different', 0x4, 0x0, 0x5, true],
    ['MP and TS masked and equal, EM unmasked and different', 0xa, 0xa, 0xf, false],
    ['nothing masked', 0x0, 0xf, 0x0, false],
  ];
  for (const [what, mask, shadow, source, exits] of cases) {
    it(`${what}: ${exits ? 'exits' : 'no exit'} (§26.1.3 LMSW)`, async () => {
      const h = await create(`mov eax, ${source}\nlmsw ax\nhlt`, [], { cr0GuestHostMask: mask, cr0ReadShadow: shadow });
      h.launch(100);
      expect(h.exits[0]!.reason).toBe(exits ? CR_ACCESS : HLT);
    });
  }

  it('a non-exiting LMSW leaves masked bits unmodified and loads the others (§26.3 LMSW)', async () => {
    const h = await create('mov eax, 7\nlmsw ax\nhlt', [], { cr0GuestHostMask: CR0_MP, cr0ReadShadow: CR0_MP });
    const cr0 = h.read('guestCr0');
    expect(cr0 & (CR0_MP | CR0_EM)).toBe(0n);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr0')).toBe(cr0 | CR0_EM); // MP stays 0, EM loads
  });

  it('a fault fetching the memory operand comes before the exit (§26.1.1): non-canonical address, #GP(0)', async () => {
    const h = await create('mov rbx, 0x800000000000\nlmsw word ptr [rbx]\nhlt', [], { cr0GuestHostMask: 0xf, cr0ReadShadow: 0 });
    const stop = h.launch(100);
    expect(stop).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
  });
});

describe('MOV to/from CR3 (SDM Vol. 3C §26.1.3)', () => {
  it('default1 CR3-load/store exiting (must be 1 without TRUE controls, Appendix A.3.2): MOV to CR3 with target count 0 and MOV from CR3 always exit (§26.1.3; §28.2.1 Table 28-3)', async () => {
    const noTrueControls = { ...MINIMAL_VMX_MODEL, controls: { ...MINIMAL_VMX_MODEL.controls, proc: ['hltExiting' as const] } };
    const h = await create('mov rdx, 0x100000\nmov cr3, rdx\nmov rsi, cr3\nhlt', [], {}, noTrueControls);
    h.onExit = () => 'skip';
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification, e.instructionLength])).toEqual([
      [CR_ACCESS, qual(3, 0, 2), 3],
      [CR_ACCESS, qual(3, 1, 6), 3],
      [HLT, 0n, 1],
    ]);
    expect(h.reg('rsi')).toBe(0n); // the skipped MOV from CR3 left RSI as it was
  });

  it('no exit when the source equals one of the first n CR3-target values; the n+1st does not count (§26.1.3 MOV to CR3, §25.6.7)', async () => {
    const prefix = 'mov rax, 0x100008\nmov cr3, rax\nmov rax, 0x100010';
    const h = await create(`${prefix}\nmov cr3, rax\nhlt`, ['cr3LoadExiting'], {
      cr3TargetCount: 2, cr3TargetValue0: PAGE_TABLES, cr3TargetValue1: PAGE_TABLES | 0x8, cr3TargetValue2: PAGE_TABLES | 0x10,
    });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: CR_ACCESS, qualification: qual(3, 0, 0), guestRip: await after(prefix), instructionLength: 3 }]);
    expect(h.read('guestCr3')).toBe(BigInt(PAGE_TABLES | 0x8));
  });

  it('CR3-load exiting 0 ("control clear", TRUE controls): MOV to CR3 loads without exiting (§26.1.3 MOV to CR3)', async () => {
    const h = await create('mov rax, 0x100010\nmov cr3, rax\nhlt', [], { cr3TargetCount: 0 });
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.read('guestCr3')).toBe(BigInt(PAGE_TABLES | 0x10));
  });

  it('CR3-store exiting: MOV from CR3 exits with access type 1 and the destination GPR; clear, it reads CR3 (§26.1.3 MOV from CR3; §28.2.1 Table 28-3)', async () => {
    const on = await create('mov r10, cr3\nhlt', ['cr3StoreExiting']);
    on.launch(100);
    expect(on.exits.map((e) => [e.reason, e.qualification, e.instructionLength])).toEqual([[CR_ACCESS, qual(3, 1, 10), 4]]);
    const off = await create('mov r10, cr3\nhlt');
    off.launch(100);
    expect(off.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(off.reg('r10')).toBe(BigInt(PAGE_TABLES));
  });
});

describe('MOV to/from CR8 and CR2 (SDM Vol. 3C §26.1.3)', () => {
  it('CR8-load exiting: MOV to CR8 exits, before the #GP(0) for bits 63:4 (§26.1.1)', async () => {
    const h = await create('mov eax, 0x15\nmov cr8, rax\nhlt', ['cr8LoadExiting']);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification, e.instructionLength])).toEqual([[CR_ACCESS, qual(8, 0, 0), 4]]);
  });

  it('CR8-store exiting: MOV from CR8 exits with access type 1 (§26.1.3 MOV from CR8; §28.2.1 Table 28-3)', async () => {
    const h = await create('mov rcx, cr8\nhlt', ['cr8StoreExiting']);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[CR_ACCESS, qual(8, 1, 1)]]);
  });

  it('both CR8 controls clear: MOV to and from CR8 run normally (§26.1.3 MOV to/from CR8)', async () => {
    const h = await create('mov eax, 5\nmov cr8, rax\nmov rcx, cr8\nhlt');
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.reg('rcx')).toBe(5n);
  });

  it('MOV to and from CR2 never exit, whatever the controls (§26.1.3 lists no CR2 exit)', async () => {
    const h = await create('mov rax, 0x1234\nmov cr2, rax\nmov rbx, cr2\nhlt',
      ['cr3LoadExiting', 'cr3StoreExiting', 'cr8LoadExiting', 'cr8StoreExiting'], { cr0GuestHostMask: -1n, cr4GuestHostMask: -1n });
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(h.reg('rbx')).toBe(0x1234n);
  });
});
