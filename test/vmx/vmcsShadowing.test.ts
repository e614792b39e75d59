/**
 * VMCS shadowing (SDM Vol. 3C §25.10 "VMCS Types: Ordinary and Shadow",
 * §25.6.15 "VMCS Shadowing Bitmap Addresses", the VMREAD and VMWRITE pages
 * of ch. 31; VMPTRLD's shadow-VMCS indicator, §25.2; VM entry with a shadow
 * VMCS current, §27.1; the VMCS link pointer checks of §27.3.1.5 and their
 * failure, §27.8). Guests run under the TypeScript harness; root software's
 * part (putting values into the shadow VMCS, reading them back) uses the
 * harness's VMPTRLD/VMWRITE/VMREAD, the operations root instructions call.
 *
 * Expected values come from the SDM (Appendix B encodings, Appendix C exit
 * reasons, §31.4 error numbers, §31.2 flag rules) and from the documented
 * VMCS region layout of vmx/unit/vmcsRegion.ts (field k at offset 16 + 8k),
 * where the model keeps a VMCS that is not current, the shadow VMCS
 * included.
 */
import { describe, expect, it } from 'vitest';
import { MINIMAL_VMX_MODEL, VMCS_REVISION_ID } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { vmEntry } from '../../vmx/transition/vmEntry.ts';
import { vmclear, vmptrld } from '../../vmx/unit/vmcsPointer.ts';
import { VMCS_FIELDS } from '../../vmx/vmcs/fields.ts';
import { SCRATCH, VMCS_REGION, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const D = MINIMAL_VMX_MODEL;
const SHADOW_MODEL: VmxFeatures = {
  ...D,
  controls: { ...D.controls, proc: [...D.controls.proc, 'activateSecondaryControls'], proc2: ['vmcsShadowing'] },
};

const READ_BITMAP = SCRATCH, WRITE_BITMAP = SCRATCH + 0x1000, SHADOW = SCRATCH + 0x2000, ORDINARY = SCRATCH + 0x3000;
const BUF = SCRATCH + 0x4000;
const SHADOW_HEADER = (VMCS_REVISION_ID | 0x80000000) | 0;

/** Field encodings (Appendix B). */
const ENC = {
  guestEsSelector: 0x0800, vmcsLinkPointer: 0x2800, guestIa32Debugctl: 0x2802, guestIa32DebugctlHigh: 0x2803,
  eptp: 0x201a, vmInstructionError: 0x4400, exitReason: 0x4402, guestRip: 0x681e,
};

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
/** Sets CF, PF, AF and SF (0 - 1), so that VMsucceed and VMfail visibly clear them. */
const DIRTY_FLAGS = 'xor ecx, ecx\nsub ecx, 1';
/** Saves the arithmetic flags in r8 and leaves non-root operation (VMCALL: reason 18). */
const END = 'pushfq\npop r8\nvmcall';

const SHADOWING = (o: { features?: VmxFeatures; link?: number | bigint; fields?: HarnessOptions['fields'] } = {}): HarnessOptions => ({
  features: o.features ?? SHADOW_MODEL,
  controls: { proc: ['activateSecondaryControls'], proc2: ['vmcsShadowing'] },
  fields: { vmreadBitmapAddress: READ_BITMAP, vmwriteBitmapAddress: WRITE_BITMAP, vmcsLinkPointer: o.link ?? SHADOW, ...o.fields },
});

/** A harness whose shadow VMCS region at SHADOW has the shadow-VMCS indicator set (§25.2). */
async function harness(guest: string, o: HarnessOptions): Promise<VmxHarness> {
  const h = await VmxHarness.create(guest, o);
  h.t.phys.writeSized(SHADOW, 4, SHADOW_HEADER);
  h.t.phys.writeSized(ORDINARY, 4, VMCS_REVISION_ID);
  return h;
}

/** Runs `op` with the shadow VMCS current, as root software fills one (VMPTRLD, VMWRITE...), then makes the harness VMCS current again. */
function withShadowCurrent(h: VmxHarness, op: () => void): void {
  vmptrld(h.core, h.t.cpu, SHADOW);
  expect(h.t.flags() & ARITH).toBe(0);
  op();
  vmptrld(h.core, h.t.cpu, VMCS_REGION);
  expect(h.t.flags() & ARITH).toBe(0);
}

const slotOf = (enc: number): number => VMCS_FIELDS.findIndex((f) => f.encoding === enc);
/** The 64 bits the region at `pa` holds for field `enc` (vmcsRegion.ts layout). */
function regionField(h: VmxHarness, pa: number, enc: number): bigint {
  const at = pa + 16 + 8 * slotOf(enc);
  return BigInt(h.t.phys.readSized(at, 4) >>> 0) | (BigInt(h.t.phys.readSized(at + 4, 4) >>> 0) << 32n);
}

/** Skips exiting instructions until the guest's final VMCALL (reason 18). */
const skipUntilVmcall = (e: { reason: number }): 'skip' | 'stop' => (e.reason === 18 ? 'stop' : 'skip');
const exitReasons = (h: VmxHarness): number[] => h.exits.map((e) => e.reason);
const savedFlags = (h: VmxHarness): number => Number(h.reg('r8')) & ARITH;

/** Sets the bitmap bit for `enc` (bits 14:0 index bits of the 4-KByte bitmap, §25.6.15). */
function setBitmapBit(h: VmxHarness, bitmap: number, enc: number): void {
  const at = bitmap + (enc >>> 3);
  h.t.phys.write8(at, h.t.phys.read8(at) | (1 << (enc & 7)));
}

describe('VMREAD and VMWRITE with VMCS shadowing (§25.10; VMREAD/VMWRITE pages)', () => {
  it('VMREAD of a field whose VMREAD-bitmap bit is 0 reads the shadow VMCS without a VM exit, VMsucceed (§25.10)', async () => {
    const h = await harness(`${DIRTY_FLAGS}\nmov eax, ${ENC.guestRip}\nvmread rbx, rax\n${END}`, SHADOWING());
    withShadowCurrent(h, () => h.write('guestRip', 0x1122334455667788n));
    h.launch();
    expect(exitReasons(h)).toEqual([18]);
    expect(h.reg('rbx')).toBe(0x1122334455667788n);
    expect(savedFlags(h)).toBe(0);
  });

  it('VMREAD to memory stores the shadow field\'s 64 bits (VMREAD page)', async () => {
    const h = await harness(`mov eax, ${ENC.guestRip}\nvmread qword ptr [rdi], rax\n${END}`, SHADOWING());
    withShadowCurrent(h, () => h.write('guestRip', 0xfedcba9876543210n));
    h.t.setReg('rdi', BigInt(BUF));
    h.launch();
    expect(exitReasons(h)).toEqual([18]);
    expect(BigInt(h.t.phys.readSized(BUF, 4) >>> 0) | (BigInt(h.t.phys.readSized(BUF + 4, 4) >>> 0) << 32n)).toBe(0xfedcba9876543210n);
  });

  it('VMWRITE of a field whose VMWRITE-bitmap bit is 0 writes the shadow VMCS, not the ordinary one (§25.10)', async () => {
    const h = await harness(`${DIRTY_FLAGS}\nmov eax, ${ENC.guestRip}\nmov rbx, 0xabcdef012345\nvmwrite rax, rbx\n${END}`, SHADOWING());
    h.launch();
    expect(exitReasons(h)).toEqual([18]);
    expect(savedFlags(h)).toBe(0);
    // The ordinary VMCS's guest RIP is the VMCALL's address, saved by the exit.
    expect(h.read('guestRip')).toBe(h.exits[0]!.guestRip);
    expect(regionField(h, SHADOW, ENC.guestRip)).toBe(0xabcdef012345n);
    let viaRoot = 0n;
    withShadowCurrent(h, () => { viaRoot = h.read('guestRip'); });
    expect(viaRoot).toBe(0xabcdef012345n);
  });

  it('field widths apply to the shadow VMCS: a 16-bit field keeps 15:0, high access writes bits 63:32 (VMWRITE page)', async () => {
    const h = await harness(`
mov eax, ${ENC.guestEsSelector}
mov rbx, 0xffffffffffff1234
vmwrite rax, rbx
mov rcx, -1
vmread rcx, rax
mov eax, ${ENC.guestIa32Debugctl}
mov rbx, 0x1122334455667788
vmwrite rax, rbx
mov eax, ${ENC.guestIa32DebugctlHigh}
mov rbx, 0xffffffffaabbccdd
vmwrite rax, rbx
${END}`, SHADOWING());
    h.launch();
    expect(exitReasons(h)).toEqual([18]);
    expect(h.reg('rcx')).toBe(0x1234n);
    expect(regionField(h, SHADOW, ENC.guestEsSelector)).toBe(0x1234n);
    expect(regionField(h, SHADOW, ENC.guestIa32Debugctl)).toBe(0xaabbccdd55667788n);
  });

  it('a VMREAD-bitmap bit of 1 makes VMREAD exit with reason 23; the VMWRITE bitmap is separate (§25.6.15)', async () => {
    const h = await harness(`mov eax, ${ENC.guestRip}\nmov rbx, 5\nvmwrite rax, rbx\nvmread rbx, rax\n${END}`, SHADOWING());
    setBitmapBit(h, READ_BITMAP, ENC.guestRip);
    h.onExit = skipUntilVmcall;
    h.launch();
    expect(exitReasons(h)).toEqual([23, 18]);
    expect(regionField(h, SHADOW, ENC.guestRip)).toBe(5n);
  });

  it('a VMWRITE-bitmap bit of 1 makes VMWRITE exit with reason 25; bits of other encodings do not (§25.6.15)', async () => {
    const h = await harness(`mov eax, ${ENC.guestRip}\nmov rbx, 5\nvmwrite rax, rbx\nvmread rcx, rax\n${END}`, SHADOWING());
    setBitmapBit(h, WRITE_BITMAP, ENC.guestRip);
    // Neighbours of bit 0x681e: bits 0x681d and 0x681f, and the same bit in the VMREAD bitmap's next byte.
    setBitmapBit(h, READ_BITMAP, ENC.guestRip + 1);
    setBitmapBit(h, READ_BITMAP, ENC.guestRip - 1);
    h.onExit = skipUntilVmcall;
    h.launch();
    expect(exitReasons(h)).toEqual([25, 18]);
    expect(h.reg('rcx')).toBe(0n);
    expect(regionField(h, SHADOW, ENC.guestRip)).toBe(0n);
  });

  for (const [what, enc] of [['bit 15', 0x8000n], ['bit 32 (64-bit register)', (1n << 32n) | BigInt(ENC.guestRip)]] as const) {
    it(`an encoding that sets ${what} (bits 63:15 not all 0) exits whatever the bitmaps say (VMREAD/VMWRITE pages)`, async () => {
      const h = await harness(`mov rax, ${enc}\nvmread rbx, rax\nvmwrite rax, rbx\n${END}`, SHADOWING());
      h.onExit = skipUntilVmcall;
      h.launch();
      expect(exitReasons(h)).toEqual([23, 25, 18]);
    });
  }

  it('VMfailInvalid when the VMCS link pointer is FFFFFFFF_FFFFFFFFH; the destination is unchanged (VMREAD/VMWRITE pages)', async () => {
    const h = await harness(`
mov eax, ${ENC.guestRip}
mov rbx, 7
${DIRTY_FLAGS}
vmread rbx, rax
pushfq
pop r9
mov eax, 0x1000
vmwrite rax, rbx
${END}`, SHADOWING({ link: -1n }));
    h.launch();
    expect(exitReasons(h)).toEqual([18]);
    expect(h.reg('rbx')).toBe(7n);
    expect(Number(h.reg('r9')) & ARITH).toBe(CF);
    // VMfailInvalid comes before the check on the encoding (0x1000: reserved bit 12).
    expect(savedFlags(h)).toBe(CF);
  });

  for (const [what, enc] of [['reserved bit 12 set', 0x1000], ['EPT pointer on a model without EPT', ENC.eptp]] as const) {
    it(`unsupported component (${what}): VMfailValid(12) in the ordinary VMCS's VM-instruction error field (§31.2, §31.4)`, async () => {
      const h = await harness(`mov eax, ${enc}\nmov rbx, 9\nvmread rbx, rax\n${END}`, SHADOWING());
      h.launch();
      expect(exitReasons(h)).toEqual([18]);
      expect(savedFlags(h)).toBe(ZF);
      expect(h.reg('rbx')).toBe(9n);
      expect(h.read('vmInstructionError')).toBe(12n);
      expect(regionField(h, SHADOW, ENC.vmInstructionError)).toBe(0n);
    });
  }

  it('VMWRITE to a VM-exit information field through shadowing: VMfailValid(13) without IA32_VMX_MISC bit 29', async () => {
    const h = await harness(`mov eax, ${ENC.exitReason}\nmov ebx, 77\nvmwrite rax, rbx\n${END}`, SHADOWING());
    h.launch();
    expect(savedFlags(h)).toBe(ZF);
    expect(h.read('vmInstructionError')).toBe(13n);
    expect(regionField(h, SHADOW, ENC.exitReason)).toBe(0n);
  });

  it('VMWRITE to a VM-exit information field through shadowing writes the shadow VMCS with IA32_VMX_MISC bit 29', async () => {
    const h = await harness(`mov eax, ${ENC.exitReason}\nmov ebx, 77\nvmwrite rax, rbx\n${END}`,
      SHADOWING({ features: { ...SHADOW_MODEL, vmwriteAnyField: true } }));
    h.launch();
    expect(savedFlags(h)).toBe(0);
    expect(regionField(h, SHADOW, ENC.exitReason)).toBe(77n);
    expect(h.read('exitReason')).toBe(18n);
  });

  it('at CPL 3 a VMREAD that shadowing lets run raises #GP(0): the CPL check follows the exit decision (VMREAD page)', async () => {
    const cpl3 = { guestCsSelector: 0x1b, guestCsAccessRights: 0xa0fb, guestSsSelector: 0x23, guestSsAccessRights: 0xc0f3 };
    const h = await harness(`mov eax, ${ENC.guestRip}\nvmread rbx, rax\n${END}`, SHADOWING({ fields: cpl3 }));
    expect(h.launch()).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
    const exits = await harness(`mov eax, ${ENC.guestRip}\nvmread rbx, rax\n${END}`, SHADOWING({ fields: cpl3 }));
    setBitmapBit(exits, READ_BITMAP, ENC.guestRip);
    exits.launch();
    expect(exitReasons(exits)).toEqual([23]);
  });

  it('"VMCS shadowing" needs "activate secondary controls": without it VMREAD exits (§27.2.1.1)', async () => {
    const o = SHADOWING({ link: -1n });
    const h = await harness(`mov eax, ${ENC.guestRip}\nvmread rbx, rax\n${END}`, { ...o, controls: { proc2: ['vmcsShadowing'] } });
    h.launch();
    expect(exitReasons(h)).toEqual([23]);
  });
});

describe('shadow VMCSs in VMX root operation (§25.10, VMPTRLD page, §27.1)', () => {
  it('VMPTRLD of a region with the shadow-VMCS indicator: VMfailValid(11) without "VMCS shadowing" (§25.2)', async () => {
    const h = await harness('vmcall', { features: MINIMAL_VMX_MODEL });
    vmptrld(h.core, h.t.cpu, SHADOW);
    expect(h.t.flags() & ARITH).toBe(ZF);
    expect(h.read('vmInstructionError')).toBe(11n);
    expect(h.core.currentVmcs).toBe(VMCS_REGION);
  });

  it('VMPTRLD of a shadow VMCS succeeds with "VMCS shadowing"; VMREAD/VMWRITE then access it (§25.10)', async () => {
    const h = await harness('vmcall', SHADOWING());
    vmptrld(h.core, h.t.cpu, SHADOW);
    expect(h.t.flags() & ARITH).toBe(0);
    expect(h.core.currentVmcs).toBe(SHADOW);
    expect(h.core.currentIsShadow).toBe(true);
    h.write('guestRip', 0x4242n);
    expect(h.read('guestRip')).toBe(0x4242n);
    vmclear(h.core, h.t.cpu, SHADOW);
    expect(regionField(h, SHADOW, ENC.guestRip)).toBe(0x4242n);
    expect(h.t.phys.readSized(SHADOW, 4)).toBe(SHADOW_HEADER);
  });

  for (const launch of [true, false]) {
    it(`${launch ? 'VMLAUNCH' : 'VMRESUME'} with a shadow VMCS current fails with VMfailInvalid (§27.1 check 4)`, async () => {
      const h = await harness('vmcall', SHADOWING());
      vmptrld(h.core, h.t.cpu, SHADOW);
      vmEntry(h.core, h.t.cpu, launch);
      expect(h.t.flags() & ARITH).toBe(CF);
      expect(h.t.cpu.nonRoot).toBe(false);
      expect(h.trace).toEqual([]);
    });
  }
});

describe('VMCS link pointer checks at VM entry (§27.3.1.5), failing with reason 33 and qualification 4 (§27.8)', () => {
  const ENTRY_FAILURE_33 = (0x80000000 | 33) >>> 0;

  it('passes with "VMCS shadowing" and a shadow VMCS, and with the link pointer FFFFFFFF_FFFFFFFFH', async () => {
    for (const link of [SHADOW, -1n]) {
      const h = await harness('vmcall', SHADOWING({ link }));
      h.launch();
      expect(exitReasons(h)).toEqual([18]);
    }
  });

  const failing: [string, (h: VmxHarness) => void, HarnessOptions][] = [
    ['bit 31 of the linked region (0, an ordinary VMCS) differs from "VMCS shadowing" (1)', () => {}, SHADOWING({ link: ORDINARY })],
    ['bit 31 of the linked region (1, a shadow VMCS) differs from "VMCS shadowing" (0)', () => {},
      { features: SHADOW_MODEL, fields: { vmcsLinkPointer: SHADOW } }],
    ['bits 11:0 of the link pointer are not 0', (h) => h.t.phys.writeSized(SHADOW + 8, 4, SHADOW_HEADER), SHADOWING({ link: SHADOW + 8 })],
    ['the link pointer sets a bit beyond the physical-address width (46)', () => {}, SHADOWING({ link: 1n << 46n })],
    ['bits 30:0 of the linked region are not the VMCS revision identifier', (h) => h.t.phys.writeSized(SHADOW, 4, SHADOW_HEADER + 1), SHADOWING()],
  ];
  for (const [what, prepare, o] of failing) {
    it(`${what}: exit reason 33 with bit 31 set, qualification 4`, async () => {
      const h = await harness('vmcall', o);
      prepare(h);
      h.launch();
      expect(exitReasons(h)).toEqual([ENTRY_FAILURE_33]);
      expect(h.exits[0]!.qualification).toBe(4n);
      expect(h.core.lastFailedCheck?.check).toMatch(/^vmcsLinkPointer/);
    });
  }

  it('the link pointer equal to the current-VMCS pointer fails with qualification 4 (§27.3.1.5: "must not contain the current VMCS pointer")', async () => {
    const h = await harness('vmcall', { features: SHADOW_MODEL, fields: { vmcsLinkPointer: VMCS_REGION } });
    h.launch();
    expect(exitReasons(h)).toEqual([ENTRY_FAILURE_33]);
    expect(h.exits[0]!.qualification).toBe(4n);
    expect(h.core.lastFailedCheck?.check).toBe('vmcsLinkPointerNotCurrentVmcs');
  });
});
