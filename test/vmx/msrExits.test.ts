/**
 * RDMSR and WRMSR in VMX non-root operation (SDM Vol. 3C §26.1.3): every
 * access exits without "use MSR bitmaps"; with it the MSR bitmaps of
 * §25.6.9 decide for 00000000H-00001FFFH and C0000000H-C0001FFFH and
 * everything else exits. Basic reasons 31 and 32 have no qualification
 * (§28.2.1). Priorities of §26.1.1; non-exiting accesses as in root, but
 * for IA32_BIOS_UPDATE_TRIG (§26.3).
 */
import { describe, expect, it } from 'vitest';
import { loadMsr } from '../../cpu/msr/platformState.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { startAtCpl3 } from '../support/vmxCpl3.ts';
import { GUEST_CODE, SCRATCH, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';
import { asm } from '../support/asm.ts';

const RDMSR = 31, WRMSR = 32, HLT = 12;
const IA32_PAT = 0x277, IA32_STAR = 0xc0000081, IA32_EFER = 0xc0000080;
const MSR_BITMAPS = SCRATCH + 0x2000;

const FEATURES: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: { ...DEFAULT_VMX_MODEL.controls, proc: [...DEFAULT_VMX_MODEL.controls.proc, 'useMsrBitmaps'] },
};

type Proc = NonNullable<NonNullable<HarnessOptions['controls']>['proc']>;

async function create(guest: string, proc: Proc = []): Promise<VmxHarness> {
  const h = await VmxHarness.create(guest, {
    features: FEATURES, controls: { proc: ['hltExiting', ...proc] }, fields: { msrBitmapsAddress: MSR_BITMAPS },
  });
  h.onExit = () => 'skip';
  return h;
}

/**
 * Sets the bitmap bit of `msr` for reads or writes, from the layout of
 * §25.6.9: read-low at byte 0, read-high at 1024, write-low at 2048,
 * write-high at 3072; bit n for MSR n or C0000000H + n.
 */
function intercept(h: VmxHarness, msr: number, write: boolean): void {
  const high = msr >= 0xc0000000, n = high ? msr - 0xc0000000 : msr;
  const at = MSR_BITMAPS + (write ? 2048 : 0) + (high ? 1024 : 0) + (n >> 3);
  h.t.phys.writeSized(at, 1, h.t.phys.readSized(at, 1) | (1 << (n & 7)));
}

const rdmsr = (msr: number): string => `mov ecx, ${msr}\nrdmsr`;
const wrmsr = (msr: number, lo: number, hi = 0): string => `mov ecx, ${msr}\nmov eax, ${lo}\nmov edx, ${hi}\nwrmsr`;
const reasons = (h: VmxHarness): number[] => h.exits.map((e) => e.reason);

describe('RDMSR and WRMSR without "use MSR bitmaps" (SDM Vol. 3C §26.1.3)', () => {
  it('RDMSR exits with basic reason 31, qualification 0, the instruction\'s RIP and length; WRMSR with 32 and changes nothing (§26.1.3, §28.2.1)', async () => {
    const prefix = rdmsr(IA32_PAT);
    const h = await create(`${prefix}\n${wrmsr(IA32_PAT, 0x06060606)}\nhlt`);
    const pat = loadMsr(h.t.cpu, IA32_PAT, 0, 0);
    h.launch(100);
    const at = async (code: string): Promise<bigint> => BigInt(GUEST_CODE + (await asm(code, 64, GUEST_CODE)).length);
    expect(h.exits).toEqual([
      { reason: RDMSR, qualification: 0n, guestRip: await at('mov ecx, 0x277'), instructionLength: 2 },
      { reason: WRMSR, qualification: 0n, guestRip: await at(`${prefix}\nmov ecx, 0x277\nmov eax, 0x06060606\nmov edx, 0`), instructionLength: 2 },
      expect.objectContaining({ reason: HLT }),
    ]);
    expect(loadMsr(h.t.cpu, IA32_PAT, 0, 0)).toBe(pat);
    expect(h.reg('rax')).toBe(0x06060606n); // the skipped RDMSR wrote nothing; EAX is WRMSR's source
  });

  it('RDMSR of an MSR the model does not have exits instead of raising #GP (§26.1.1 example)', async () => {
    const h = await create(`${rdmsr(0x12345678)}\nhlt`);
    h.launch(100);
    expect(reasons(h)).toEqual([RDMSR, HLT]);
  });

  it('at CPL 3 RDMSR and WRMSR raise #GP(0) before any exit (§26.1.1)', async () => {
    for (const code of [rdmsr(IA32_PAT), wrmsr(IA32_PAT, 0)]) {
      const h = await create(`${code}\nhlt`);
      startAtCpl3(h);
      expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
      expect(h.exits).toEqual([]);
    }
  });
});

describe('the MSR bitmaps (SDM Vol. 3C §26.1.3, §25.6.9)', () => {
  it('low MSRs: the read bitmap decides RDMSR, the write bitmap WRMSR; a clear bit lets the access run as in root (§25.6.9, §26.1.3)', async () => {
    const h = await create(`mov eax, 0xdead\n${rdmsr(IA32_PAT)}\nmov ebx, eax\n${wrmsr(IA32_PAT, 0x06060606, 0x04)}\n${rdmsr(0x3a)}\nmov esi, eax\n${wrmsr(0x3a, 5)}\nhlt`, ['useMsrBitmaps']);
    intercept(h, IA32_PAT, false);
    intercept(h, 0x3a, true);
    h.launch(100);
    expect(reasons(h)).toEqual([RDMSR, WRMSR, HLT]);
    expect(h.reg('rbx')).toBe(0xdeadn); // the intercepted RDMSR did not load EAX
    expect(loadMsr(h.t.cpu, IA32_PAT, 0, 0)).toBe(0x06060606); // the WRMSR ran
    expect(h.t.cpu.opHi).toBe(0x04);
    expect(h.reg('rsi')).toBe(5n); // RDMSR IA32_FEATURE_CONTROL ran (the harness locked it with value 5)
  });

  it('high MSRs: bit n of the high bitmaps is MSR C0000000H + n, apart from the low bitmaps (§25.6.9)', async () => {
    const h = await create(`${rdmsr(IA32_EFER)}\n${wrmsr(IA32_STAR, 0x1234, 0x10)}\n${rdmsr(IA32_STAR)}\nhlt`, ['useMsrBitmaps']);
    intercept(h, IA32_EFER, false);
    intercept(h, 0x81, true); // the low write bit with the same n as STAR: no effect on STAR
    h.launch(100);
    expect(reasons(h)).toEqual([RDMSR, HLT]);
    expect(h.exits[0]!.guestRip).toBe(BigInt(GUEST_CODE + 5)); // after MOV ECX, imm32
    expect([h.reg('rax'), h.reg('rdx')]).toEqual([0x1234n, 0x10n]); // WRMSR and RDMSR of STAR ran
  });

  it('WRMSR exits on the write-high bit (§25.6.9, §26.1.3)', async () => {
    const h = await create(`${wrmsr(IA32_STAR, 0x1234)}\nhlt`, ['useMsrBitmaps']);
    intercept(h, IA32_STAR, true);
    h.launch(100);
    expect(reasons(h)).toEqual([WRMSR, HLT]);
  });

  it('MSRs outside 00000000H-00001FFFH and C0000000H-C0001FFFH always exit, even with clear bitmaps (§26.1.3)', async () => {
    const h = await create([0x2000, 0xc0002000, 0x40000000, 0xbfffffff, 0xffffffff].map(rdmsr).join('\n') + `\n${wrmsr(0x2000, 0)}\nhlt`, ['useMsrBitmaps']);
    h.launch(100);
    expect(reasons(h)).toEqual([RDMSR, RDMSR, RDMSR, RDMSR, RDMSR, WRMSR, HLT]);
  });

  it('only ECX selects the MSR: bits 63:32 of RCX are ignored (§26.1.3 "the value of ECX")', async () => {
    const h = await create('mov rcx, 0x10000003a\nrdmsr\nhlt', ['useMsrBitmaps']);
    h.launch(100);
    expect(reasons(h)).toEqual([HLT]);
    expect(h.reg('rax')).toBe(5n);
  });

  it('a non-exiting RDMSR of an MSR the model does not have raises #GP(0), as in root operation (§26.1.1, §26.3)', async () => {
    const h = await create(`${rdmsr(0x1fff)}\nhlt`, ['useMsrBitmaps']);
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
  });

  it('a non-exiting WRMSR to IA32_BIOS_UPDATE_TRIG (79H) loads no update and goes on to the next instruction (§26.3)', async () => {
    const h = await create(`${wrmsr(0x79, 0x3000)}\nhlt`, ['useMsrBitmaps']);
    h.launch(100);
    expect(reasons(h)).toEqual([HLT]);
  });
});
