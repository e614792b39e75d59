/**
 * VMFUNC and the EPTP-switching VM function (SDM Vol. 3C §26.5.6 "VM
 * Functions", §26.5.6.3 "EPTP Switching", the VMFUNC page of ch. 31; the
 * VM-function controls and EPTP-list address of §25.6.14; their VM-entry
 * checks in §27.2.1.1). A 64-bit guest runs under EPT "A" (the harness's,
 * identity) and may switch to EPT "B", which maps guest-physical page
 * 500000H onto host-physical 600000H and leaves 700000H not present. The
 * EPTP list holds A at index 0, B at 1, and EPTPs VM entry would refuse at
 * the indexes of INVALID. Expected values come from those tables and the
 * EPTP format (Table 25-9), not from the implementation.
 */
import { describe, expect, it } from 'vitest';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { EptBuilder, MT_UC } from '../support/eptBuilder.ts';
import { asm } from '../support/asm.ts';
import { GUEST_CODE, modelWith, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const VMCALL = 18, EPT_VIOLATION = 48, VMFUNC = 59, ENTRY_FAILURE_FLAG = 0x80000000;
const EPT_B_TABLES = 0x480000, EPT_B_END = 0x4c0000, EPTP_LIST = 0x4c0000;
const SWITCHED = 0x500000, REMAPPED = 0x600000, UNMAPPED_IN_B = 0x700000;

/** "enable EPT", "enable VPID", "enable VM functions" with EPTP switching; WB and 4-level walks only (no UC, no A/D). */
const VMFUNC_MODEL: VmxFeatures = {
  ...modelWith({ proc2: ['enableEpt', 'enableVpid', 'enableVmFunctions'] }),
  ept: ['executeOnly', 'pageWalkLength4', 'memoryTypeWb', 'pde2MPages', 'pdpte1GPages'],
  vmFunctions: ['eptpSwitching'],
};

/** EPTP (Table 25-9): memory type bits 2:0 (WB 6), page-walk length - 1 in bits 5:3, the PML4 table above. */
const eptp = (root: bigint, type = 6n, lengthMinus1 = 3n): bigint => root | type | (lengthMinus1 << 3n);

/** EPTP-list entries that fail a VM-entry check on the EPTP (§27.2.1.1), by index. */
function invalidEptps(rootB: bigint, physAddrBits: number): [string, number, bigint][] {
  return [
    ['memory type UC, which the model does not report (EPT_VPID_CAP bit 8 = 0)', 2, eptp(rootB, BigInt(MT_UC))],
    ['memory type 1 (reserved)', 3, eptp(rootB, 1n)],
    ['a 5-level walk (bits 5:3 = 4; EPT_VPID_CAP bit 7 = 0)', 4, eptp(rootB, 6n, 4n)],
    ['accessed and dirty flags (bit 6) without EPT_VPID_CAP bit 21', 5, eptp(rootB) | 0x40n],
    ['reserved bit 7', 6, eptp(rootB) | 0x80n],
    ['reserved bit 11', 7, eptp(rootB) | 0x800n],
    ['a bit at MAXPHYADDR', 8, eptp(rootB) | (1n << BigInt(physAddrBits))],
    ['all zero', 9, 0n],
  ];
}

interface Setup extends HarnessOptions {
  /** VM-function controls (default 1: EPTP switching). */
  functions?: number;
}

interface Run {
  h: VmxHarness;
  eptpA: bigint;
  eptpB: bigint;
}

/** A harness with EPT A, EPT B, the EPTP list and "enable VM functions"; `o.fields` may override any of it. */
async function create(guest: string, o: Setup = {}): Promise<Run> {
  const h = await VmxHarness.create(guest, {
    features: VMFUNC_MODEL,
    ept: (b) => b.identity(0, 0x800000, { size: '2M' }),
    ...o,
    controls: { ...o.controls, proc2: ['enableVmFunctions', ...(o.controls?.proc2 ?? [])] },
    fields: { vmFunctionControls: o.functions ?? 1, eptpListAddress: EPTP_LIST, ...o.fields },
  });
  const b = new EptBuilder(h.t.phys, EPT_B_TABLES, EPT_B_END)
    .identity(0, 0x400000, { size: '2M' })
    .identity(0x400000, SWITCHED)
    .map(SWITCHED, REMAPPED, 0x1000)
    .identity(SWITCHED + 0x1000, 0x800000)
    .unmap(UNMAPPED_IN_B, 1);
  const eptpA = h.read('eptp'), eptpB = b.eptp();
  const entry = (index: number, value: bigint): void => {
    h.t.phys.writeSized(EPTP_LIST + 8 * index, 4, Number(value & 0xffffffffn));
    h.t.phys.writeSized(EPTP_LIST + 8 * index + 4, 4, Number(value >> 32n));
  };
  entry(0, eptpA);
  entry(1, eptpB);
  for (const [, index, value] of invalidEptps(b.root, h.t.cpu.model.physAddrBits)) entry(index, value);
  h.t.phys.writeSized(SWITCHED, 4, 0x1111);
  h.t.phys.writeSized(REMAPPED, 4, 0x2222);
  return { h, eptpA, eptpB };
}

/** Where the instruction after `prefix` starts. */
async function after(prefix: string): Promise<bigint> {
  return BigInt(GUEST_CODE + (await asm(prefix, 64, GUEST_CODE)).length);
}

describe('EPTP switching, VM function 0 (§26.5.6.3)', () => {
  const guest = [
    `mov ebx, [${SWITCHED}]`, 'xor eax, eax', 'mov ecx, 1', 'stc', 'pushfq', 'pop r8', 'vmfunc',
    'pushfq', 'pop r9', `mov edx, [${SWITCHED}]`, 'vmcall',
  ].join('\n');

  it('VMFUNC with EAX = 0, ECX = 1 loads EPTP-list entry 1 without a VM exit: the EPTP field and translations change, registers and flags do not', async () => {
    const { h, eptpB } = await create(guest);
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.reg('rbx')).toBe(0x1111n);
    expect(h.reg('rdx')).toBe(0x2222n);
    expect(h.read('eptp')).toBe(eptpB);
    expect(h.reg('rax')).toBe(0n);
    expect(h.reg('rcx')).toBe(1n);
    // RFLAGS after VMFUNC is RFLAGS before it, CF (set by STC) included: "no flags are modified".
    expect(h.reg('r8') & 1n).toBe(1n);
    expect(h.reg('r9')).toBe(h.reg('r8'));
  });

  it('the switched EPTP is the VMCS field: VMRESUME keeps translating through EPT B (§26.5.6.3 "write tent_EPTP to the EPTP field")', async () => {
    const { h } = await create(`${guest}\nmov esi, [${SWITCHED}]\nvmcall`, { onExit: (_e, hh) => (hh.exits.length === 1 ? 'skip' : 'stop') });
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL, VMCALL]);
    expect(h.reg('rsi')).toBe(0x2222n);
  });

  it('with VPID, switching B → A → B reads each EPT\'s mapping: combined mappings are per EPT root (§29.4.1)', async () => {
    const src = [
      `mov ebx, [${SWITCHED}]`, 'xor eax, eax', 'mov ecx, 1', 'vmfunc', `mov edx, [${SWITCHED}]`,
      'xor ecx, ecx', 'vmfunc', `mov esi, [${SWITCHED}]`, 'mov ecx, 1', 'vmfunc', `mov edi, [${SWITCHED}]`, 'vmcall',
    ].join('\n');
    const { h, eptpB } = await create(src, { controls: { proc2: ['enableVpid'] }, fields: { vpid: 1 } });
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect([h.reg('rbx'), h.reg('rdx'), h.reg('rsi'), h.reg('rdi')]).toEqual([0x1111n, 0x2222n, 0x1111n, 0x2222n]);
    expect(h.read('eptp')).toBe(eptpB);
  });

  it('only ECX selects the entry: bits 63:32 of RCX are ignored in 64-bit mode ("IF ECX ≥ 512")', async () => {
    const { h, eptpB } = await create(`xor eax, eax\nmov rcx, 0x100000001\nvmfunc\nmov edx, [${SWITCHED}]\nvmcall`);
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.reg('rdx')).toBe(0x2222n);
    expect(h.read('eptp')).toBe(eptpB);
  });

  it('an access EPT B does not map is an EPT violation with B\'s guest-physical address (§29.3.3; qualification §28.2.1 Table 28-7)', async () => {
    const { h } = await create(`mov ebx, [${UNMAPPED_IN_B}]\nxor eax, eax\nmov ecx, 1\nvmfunc\nmov edx, [${UNMAPPED_IN_B}]\nvmcall`);
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([EPT_VIOLATION]);
    // Data read (bit 0), entry not present (bits 5:3 = 0), guest-linear address valid (bit 7), the access's own translation (bit 8).
    expect(h.exits[0]!.qualification).toBe(0x181n);
    expect(h.read('guestPhysicalAddress')).toBe(BigInt(UNMAPPED_IN_B));
    expect(h.exits[0]!.guestRip).toBe(await after(`mov ebx, [${UNMAPPED_IN_B}]\nxor eax, eax\nmov ecx, 1\nvmfunc`));
  });

  it('VMFUNC names no operating mode: a real-mode (unrestricted) guest switches EPTPs too (VMFUNC page; §26.6)', async () => {
    const features: VmxFeatures = { ...VMFUNC_MODEL, controls: { ...VMFUNC_MODEL.controls, proc2: [...VMFUNC_MODEL.controls.proc2, 'unrestrictedGuest'] } };
    const src = `xor eax, eax\nmov ecx, 1\nvmfunc\nmov esi, ${SWITCHED}\nmov ebx, [esi]\nvmcall`;
    // DS with a 4-GByte limit ("unreal" cache, §27.3.2.2) so that the 32-bit offset reaches 500000H.
    const { h, eptpB } = await create(src, { features, guestMode: 'real', fields: { guestDsLimit: 0xffffffff, guestDsAccessRights: 0x8093 } });
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.reg('rbx')).toBe(0x2222n);
    expect(h.read('eptp')).toBe(eptpB);
  });

  it('with "EPT-violation #VE" supported, the EPTP-index field takes ECX[15:0] (§26.5.6.3; §25.6.18)', async () => {
    const features: VmxFeatures = { ...VMFUNC_MODEL, controls: { ...VMFUNC_MODEL.controls, proc2: [...VMFUNC_MODEL.controls.proc2, 'eptViolationVe'] } };
    const { h } = await create('xor eax, eax\nmov ecx, 1\nvmfunc\nvmcall', { features });
    h.launch(1000);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.read('eptpIndex')).toBe(1n);
  });
});

describe('VMFUNC exits with basic reason 59 (§26.5.6.2, §26.5.6.3; Appendix C)', () => {
  const prefix = (eax: number, ecx: number): string => `mov eax, ${eax}\nmov ecx, ${ecx}`;

  async function expectExit(eax: number, ecx: number, o: Setup = {}): Promise<void> {
    const { h, eptpA } = await create(`${prefix(eax, ecx)}\nvmfunc\nvmcall`, o);
    h.launch(1000);
    expect(h.exits).toEqual([{ reason: VMFUNC, qualification: 0n, guestRip: await after(prefix(eax, ecx)), instructionLength: 3 }]);
    expect(h.read('eptp')).toBe(eptpA);
  }

  it('ECX = 512: past the 512-entry EPTP list', () => expectExit(0, 512));
  it('ECX = FFFFFFFFH (compared unsigned)', () => expectExit(0, 0xffffffff));
  it('EAX = 0 with VM-function control 0 clear (the function is not enabled)', () => expectExit(0, 1, { functions: 0 }));
  it('EAX = 1 and EAX = 63: VM functions not enabled (VM entry keeps their controls 0)', async () => {
    await expectExit(1, 1);
    await expectExit(63, 1);
  });

  for (const [why, index] of invalidEptps(0n, 46)) {
    it(`EPTP-list entry ${index}: ${why} — "would cause VM entry to fail if in EPTP"`, () => expectExit(0, index));
  }
});

describe('VMFUNC #UD before any exit (VMFUNC page, §26.1.1)', () => {
  async function expectUd(src: string, o: Setup = {}): Promise<void> {
    const { h } = await create(src, o);
    const stop = h.launch(1000);
    expect(stop).toMatchObject({ kind: 'exception', vector: 6 });
    expect(h.exits).toEqual([]);
    expect(h.t.cpu.nonRoot).toBe(true);
  }

  it('EAX = 64', () => expectUd('mov eax, 64\nmov ecx, 1\nvmfunc'));
  it('"enable VM functions" = 0, EPTP switching in the VM-function controls notwithstanding', () =>
    expectUd('xor eax, eax\nmov ecx, 1\nvmfunc', { fields: { secondaryProcessorBasedVmExecutionControls: 2 } }));
});

describe('VM-entry checks on the VM-function controls and the EPTP-list address (§27.2.1.1)', () => {
  async function failedCheck(o: Setup): Promise<string | undefined> {
    const { h } = await create('vmcall', o);
    expect(() => h.launch(100)).toThrow(/VMfailValid\(7\)/);
    return h.core.lastFailedCheck?.check;
  }

  it('a VM-function control IA32_VMX_VMFUNC reports 0 (bit 1) fails: VMfailValid(7)', async () => {
    expect(await failedCheck({ functions: 3 })).toBe('vmFunctionControlsReservedBits');
  });
  it('EPTP switching needs "enable EPT"', async () => {
    expect(await failedCheck({ ept: undefined, controls: { proc: ['activateSecondaryControls'] } })).toBe('eptpSwitchingNeedsEpt');
  });
  it('the EPTP-list address must be 4-KByte aligned', async () => {
    expect(await failedCheck({ fields: { eptpListAddress: EPTP_LIST + 8 } })).toBe('eptpListAddressAligned');
  });
  it('the EPTP-list address must be within the physical-address width', async () => {
    expect(await failedCheck({ fields: { eptpListAddress: 1n << 46n } })).toBe('eptpListAddressWithinWidth');
  });
  it('with "enable VM functions" = 0 neither the controls nor the list address is checked', async () => {
    const { h } = await create('vmcall', {
      functions: 2, fields: { eptpListAddress: 1, secondaryProcessorBasedVmExecutionControls: 2 },
    });
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.exits.every((e) => (e.reason & ENTRY_FAILURE_FLAG) === 0)).toBe(true);
  });
});
