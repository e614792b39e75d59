/**
 * RDMSR/WRMSR (SDM Vol. 2B) and the platform MSRs (SDM Vol. 4 Table 2-2;
 * Vol. 3B §18.17 for the TSC; Vol. 3A §13.11-13.12 for MTRRs and PAT),
 * each with its #GP(0) rules, executed as instructions on a core.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../cpu/cpu.ts';
import { enterFlatMode } from '../../cpu/flatMode.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { DEFAULT_CPU_MODEL, type CpuModel } from '../../cpu/model/cpuidModel.ts';
import { runAsm } from '../support/machine.ts';
import { GP, rdmsr, wrmsr } from './msrAccess.ts';

function core(opts: { model?: CpuModel; bits?: 16 | 32 | 64 } = {}): Cpu {
  const c = new Cpu({ phys: new PhysicalMemory(1 << 16) });
  enterFlatMode(c, opts.bits ?? 64);
  if (opts.model) c.model = opts.model;
  return c;
}

const without = (f: Parameters<typeof DEFAULT_CPU_MODEL.has>[0]) => DEFAULT_CPU_MODEL.with({ features: { [f]: false } });

describe('RDMSR / WRMSR (SDM Vol. 2B)', () => {
  it('CPL > 0 raises #GP(0) for both, before looking at the index', () => {
    const c = core();
    c.cpl = 3;
    expect(rdmsr(c, 0x10)).toMatchObject({ ...GP, rip: 0xe000 });
    expect(wrmsr(c, 0x277, 0x0007040600070406n)).toMatchObject(GP);
    expect(rdmsr(c, 0x12345678)).toMatchObject(GP);
  });

  it('an index the model does not have raises #GP(0); RAX and RDX keep their values', () => {
    const c = core();
    for (const index of [0x12345678, 0xc0000fff, 0x40000000, 0x1a1, 0x210, 0x251]) {
      expect(rdmsr(c, index)).toMatchObject(GP);
      expect([c.r[0], c.r[1], c.r[4], c.r[5]]).toEqual([0, -1, 0, -1]);
      expect(wrmsr(c, index, 0n)).toMatchObject(GP);
    }
  });

  it('RDMSR writes EDX:EAX and clears the upper halves of RAX and RDX; the upper half of RCX is ignored', () => {
    const c = core();
    expect(rdmsr(c, 0x277)).toBe(0x0007040600070406n);
    expect([c.r[1], c.r[5]]).toEqual([0, 0]);
  });

  it('works in real mode (CPL 0)', () => {
    const c = core({ bits: 16 });
    expect(rdmsr(c, 0x277)).toBe(0x0007040600070406n);
  });

  it('WRMSR to a read-only MSR raises #GP(0): IA32_MTRRCAP, IA32_PLATFORM_ID', () => {
    const c = core();
    expect(wrmsr(c, 0xfe, 0x508n)).toMatchObject(GP);
    expect(wrmsr(c, 0x17, 0n)).toMatchObject(GP);
  });

  it('the local APIC MSRs raise #GP(0) on a core without a local APIC', () => {
    const c = core();
    expect(rdmsr(c, 0x1b)).toMatchObject(GP);
    expect(rdmsr(c, 0x6e0)).toMatchObject(GP);
    expect(rdmsr(c, 0x802)).toMatchObject(GP);
  });
});

describe('§18.17 time-stamp counter MSRs', () => {
  it('IA32_TIME_STAMP_COUNTER (10H) reads the TSC; a write makes the TSC continue from the written value', async () => {
    const t = await runAsm(`
      nop
      mov ecx, 0x10
      rdmsr
      mov r8d, eax
      mov eax, 0x89abcdef
      mov edx, 0x1234
      wrmsr
      rdtsc`, { setup: (t) => { t.cpu.tscOffset = 500; } });
    expect(t.reg('r8')).toBe(502n); // RDMSR at clock 2
    // WRMSR at clock 6 sets TSC(6) = 123489ABCDEFH; RDTSC runs at clock 7.
    expect((t.reg('rdx') << 32n) | t.reg('rax')).toBe(0x123489abcdefn + 1n);
  });

  it('IA32_TSC_ADJUST (3BH) follows TSC writes, and writing it moves the TSC by the same amount (§18.17.3)', () => {
    const c = core();
    c.idleTicks = 1000;
    // Each access below is the MSR instruction and a HLT: two ticks of the clock.
    expect(rdmsr(c, 0x3b)).toBe(0n); // at clock 1000
    expect(wrmsr(c, 0x10, 5000n)).toBe('ok'); // at clock 1002: TSC 1002 -> 5000
    expect(rdmsr(c, 0x3b)).toBe(5000n - 1002n);
    expect(wrmsr(c, 0x3b, 0n)).toBe('ok'); // adjust -3998: the TSC follows
    expect(c.tscOffset).toBe(0);
    expect(rdmsr(c, 0x10)).toBe(1008n); // TSC = clock again
  });

  it('a negative adjustment reads back as its 64-bit two\'s complement', () => {
    const c = core();
    expect(wrmsr(c, 0x3b, (1n << 64n) - 100n)).toBe('ok');
    expect(rdmsr(c, 0x3b)).toBe((1n << 64n) - 100n);
    expect(c.tscOffset).toBe(-100);
  });

  it('IA32_TSC_AUX (C0000103H): bits 31:0 for RDTSCP/RDPID; bits 63:32 reserved', async () => {
    const c = core();
    expect(wrmsr(c, 0xc0000103, 0x1_0000_0000n)).toMatchObject(GP);
    expect(wrmsr(c, 0xc0000103, 0x87654321n)).toBe('ok');
    expect(rdmsr(c, 0xc0000103)).toBe(0x87654321n);
    const t = await runAsm('mov ecx, 0xc0000103\nmov eax, 7\nxor edx, edx\nwrmsr\nrdtscp');
    expect(t.reg('rcx')).toBe(7n);
  });

  it('each raises #GP(0) when the model lacks its feature (TSC_ADJUST; TSC_AUX without RDTSCP and RDPID)', () => {
    expect(rdmsr(core({ model: without('tscAdjust') }), 0x3b)).toMatchObject(GP);
    const noAux = DEFAULT_CPU_MODEL.with({ features: { rdtscp: false, rdpid: false } });
    expect(rdmsr(core({ model: noAux }), 0xc0000103)).toMatchObject(GP);
    expect(rdmsr(core({ model: without('rdtscp') }), 0xc0000103)).toBe(0n);
  });
});

describe('§13.12 IA32_PAT (277H)', () => {
  it('power-up value 0007040600070406H: WB WT UC- UC twice', () => {
    expect(rdmsr(core(), 0x277)).toBe(0x0007040600070406n);
  });

  it('accepts UC WC WT WP WB UC- (0, 1, 4, 5, 6, 7) in every entry; 2, 3 and 8 and up raise #GP(0)', () => {
    const c = core();
    expect(wrmsr(c, 0x277, 0x0706050401000607n)).toBe('ok');
    expect(rdmsr(c, 0x277)).toBe(0x0706050401000607n);
    for (const bad of [0x02n, 0x03n << 8n, 0x08n << 56n, 0x10n << 24n]) {
      expect(wrmsr(c, 0x277, bad)).toMatchObject(GP);
    }
    expect(rdmsr(c, 0x277)).toBe(0x0706050401000607n);
  });

  it('raises #GP(0) when the model has no PAT', () => {
    expect(rdmsr(core({ model: without('pat') }), 0x277)).toMatchObject(GP);
  });
});

describe('§13.11 MTRRs', () => {
  it('IA32_MTRRCAP (FEH): 8 variable ranges, fixed ranges, write-combining, no SMRR', () => {
    expect(rdmsr(core(), 0xfe)).toBe(0x508n);
  });

  it('IA32_MTRR_DEF_TYPE (2FFH): type, FE (10), E (11); reserved bits and UC- or reserved types raise #GP(0)', () => {
    const c = core();
    expect(rdmsr(c, 0x2ff)).toBe(0n);
    expect(wrmsr(c, 0x2ff, 0xc06n)).toBe('ok');
    expect(rdmsr(c, 0x2ff)).toBe(0xc06n);
    for (const bad of [0x1006n, 0xc02n, 0xc07n, 0x200n | 6n, 1n << 32n]) expect(wrmsr(c, 0x2ff, bad)).toMatchObject(GP);
  });

  it('fixed-range MTRRs 250H, 258H, 259H, 268H-26FH hold eight valid types each', () => {
    const c = core();
    for (const index of [0x250, 0x258, 0x259, 0x268, 0x26b, 0x26f]) {
      expect(wrmsr(c, index, 0x0605040100060504n)).toBe('ok');
      expect(rdmsr(c, index)).toBe(0x0605040100060504n);
      expect(wrmsr(c, index, 0x0706050401000606n)).toMatchObject(GP); // UC- is not an MTRR type
    }
  });

  it('variable ranges 200H-20FH: PHYSBASE reserved bits 11:8, PHYSMASK reserved bits 10:0, both above MAXPHYADDR (46)', () => {
    const c = core();
    expect(wrmsr(c, 0x200, 0x3fff_8000_0006n)).toBe('ok');
    expect(rdmsr(c, 0x200)).toBe(0x3fff_8000_0006n);
    expect(wrmsr(c, 0x20f, 0x3fff_ffff_f800n)).toBe('ok');
    expect(rdmsr(c, 0x20f)).toBe(0x3fff_ffff_f800n);
    for (const [index, bad] of [[0x200, 0x8000_0106n], [0x200, 0x8000_0002n], [0x202, 1n << 46n], [0x201, 0xffff_f400n], [0x20d, 1n << 63n]] as const) {
      expect(wrmsr(c, index, bad)).toMatchObject(GP);
    }
  });

  it('the values are only stored: reads return them, nothing else changes', async () => {
    const t = await runAsm(`
      mov ecx, 0x2ff
      mov eax, 0xc00
      xor edx, edx
      wrmsr
      mov dword ptr [0x3000], 0x1234
      mov eax, dword ptr [0x3000]`);
    expect(t.reg('rax')).toBe(0x1234n);
  });

  it('raise #GP(0) when the model has no MTRRs', () => {
    const c = core({ model: without('mtrr') });
    for (const index of [0xfe, 0x2ff, 0x250, 0x200]) expect(rdmsr(c, index)).toMatchObject(GP);
  });
});

describe('identification and feature control (SDM Vol. 4 Table 2-2)', () => {
  it('IA32_FEATURE_CONTROL (3AH): unlocked at reset; the lock bit makes every later write #GP(0)', () => {
    const c = core();
    expect(rdmsr(c, 0x3a)).toBe(0n);
    expect(wrmsr(c, 0x3a, 1n)).toBe('ok');
    expect(rdmsr(c, 0x3a)).toBe(1n);
    expect(wrmsr(c, 0x3a, 1n)).toMatchObject(GP);
    expect(wrmsr(c, 0x3a, 0n)).toMatchObject(GP);
  });

  it('IA32_FEATURE_CONTROL: the VMX-enable bits stay 0 without VMX; with VMX, "VMX outside SMX" (bit 2) is writable', () => {
    expect(wrmsr(core(), 0x3a, 4n)).toMatchObject(GP);
    expect(wrmsr(core(), 0x3a, 2n)).toMatchObject(GP); // VMX inside SMX: no SMX
    const v = core({ model: DEFAULT_CPU_MODEL.with({ features: { vmx: true } }) });
    expect(wrmsr(v, 0x3a, 5n)).toBe('ok');
    expect(rdmsr(v, 0x3a)).toBe(5n);
  });

  it('IA32_MISC_ENABLE (1A0H): fast strings on, BTS and PEBS unavailable; only bits 0, 3, 23 change', () => {
    const c = core();
    expect(rdmsr(c, 0x1a0)).toBe(0x1801n);
    expect(wrmsr(c, 0x1a0, 0x1800n)).toBe('ok');
    expect(wrmsr(c, 0x1a0, 0x801808n)).toBe('ok');
    expect(rdmsr(c, 0x1a0)).toBe(0x801808n);
    for (const bad of [0x801808n | (1n << 22n), 0x801808n | (1n << 34n), 0x800808n, 0x801808n | (1n << 7n)]) {
      expect(wrmsr(c, 0x1a0, bad)).toMatchObject(GP);
    }
  });

  it('IA32_PLATFORM_ID (17H) reads 0; IA32_BIOS_SIGN_ID (8BH) reports the microcode revision in bits 63:32 and accepts writes', () => {
    const c = core();
    expect(rdmsr(c, 0x17)).toBe(0n);
    expect(wrmsr(c, 0x8b, 0n)).toBe('ok');
    expect(rdmsr(c, 0x8b)).toBe(0x2b000000n << 32n);
  });
});
