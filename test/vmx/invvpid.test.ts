/**
 * INVVPID—Invalidate Translations Based on VPID (SDM Vol. 3C ch. 31) in VMX
 * root operation, and VPID-tagged translations across VM entries and exits
 * (§29.4 "Caching Translation Information"; §29.4.3 "Invalidating Cached
 * Translation Information").
 *
 * Expected values come from the INVVPID page: its #UD/#GP conditions, the
 * order of its checks, VMfail(Invalid operand to INVEPT/INVVPID) = error
 * 28 (§31.4), the flag conventions of §31.2 and the capability bits of
 * Appendix A.10. A stale translation is allowed (a processor may keep one
 * until it is invalidated) and this machine's TLB is deterministic, so the
 * behavioural tests show both: the old page while no invalidation happened,
 * the new one after the invalidation the SDM requires.
 */
import { describe, expect, it } from 'vitest';
import { ARITH, failedInvalid, failedValid, faulted, succeeded } from '../support/vmxOutcome.ts';
import { storeMsr } from '../../cpu/msr/platformState.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import type { VpidCap } from '../../vmx/model/capabilityBits.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { invalidationTypeOk } from '../../vmx/unit/invalidation.ts';
import { invvpid } from '../../vmx/unit/invvpid.ts';
import { vmclear } from '../../vmx/unit/vmcsPointer.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { vmxoff } from '../../vmx/unit/vmxOperation.ts';
import { asm } from '../support/asm.ts';
import { makeCore } from '../support/machine.ts';
import { enterPaged32, IDENTITY_4M_PDE } from '../support/vmxAsm.ts';
import {
  CPU_VMX, mapTestPage, runInRoot, SCRATCH, TEST_LINEAR, testPte, VMCS_REGION, VmxHarness, type Exit,
} from '../support/vmxHarness.ts';

const INVALID_OPERAND = 28n;
const ALL_TYPES: VpidCap[] = [
  'invvpid', 'invvpidIndividualAddress', 'invvpidSingleContext', 'invvpidAllContext', 'invvpidSingleContextRetainingGlobals',
];
/** DEFAULT_VMX_MODEL ("enable VPID" included) with the VPID capabilities `vpid` (Appendix A.10: EPT_VPID_CAP bits 32, 40-43). */
const vpidModel = (vpid: VpidCap[] = ALL_TYPES): VmxFeatures => ({ ...DEFAULT_VMX_MODEL, vpid });
const VPID_MODEL = vpidModel();
/** DEFAULT_VMX_MODEL without VPIDs: no "enable VPID" (IA32_VMX_PROCBASED_CTLS2 bit 37 = 0) and no VPID capabilities. */
const NO_VPID_MODEL: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: { ...DEFAULT_VMX_MODEL.controls, proc2: DEFAULT_VMX_MODEL.controls.proc2.filter((k) => k !== 'enableVpid') },
  vpid: [],
};

/** The descriptor: VPID (bits 15:0 with 63:16) at [rbx], linear address at [rbx + 8]. */
const DESC = SCRATCH;
const descriptor = (low: bigint, la = 0n) => (h: VmxHarness): void => {
  for (const [at, v] of [[DESC, low], [DESC + 8, la]] as const) {
    h.t.phys.writeSized(at, 4, Number(v & 0xffffffffn) | 0);
    h.t.phys.writeSized(at + 4, 4, Number((v >> 32n) & 0xffffffffn) | 0);
  }
  h.t.setReg('rbx', BigInt(DESC));
};

/** INVVPID with type `type` (RAX) and descriptor `low`/`la` in root operation; RFLAGS saved in R15 right after. */
function invvpidInRoot(type: bigint, low: bigint, la = 0n, o: { features?: VmxFeatures; setup?: (h: VmxHarness) => void } = {}) {
  return runInRoot('invvpid rax, [rbx]\npushfq\npop r15', {
    features: o.features ?? VPID_MODEL,
    setup: (h) => {
      descriptor(low, la)(h);
      h.t.setReg('rax', type);
      o.setup?.(h);
    },
  });
}

/** VMfailValid(28), "invalid operand to INVEPT/INVVPID" (§31.4). */
const failedInvalidOperand = (h: VmxHarness): void => failedValid(h, INVALID_OPERAND);

describe('INVVPID—exceptions (SDM Vol. 3C ch. 31, INVVPID page)', () => {
  it('#UD if not in VMX operation', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { setup: (h) => vmxoff(h.core, h.t.cpu) }), 6);
  });

  it('#UD if the processor does not support VPIDs (IA32_VMX_PROCBASED_CTLS2 bit 37 = 0: DEFAULT_VMX_MODEL without "enable VPID")', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { features: NO_VPID_MODEL }), 6);
  });

  it('#UD if it supports VPIDs but not INVVPID (IA32_VMX_EPT_VPID_CAP bit 32 = 0)', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { features: vpidModel(ALL_TYPES.filter((k) => k !== 'invvpid')) }), 6);
  });

  it('#GP(0) if CPL > 0 in VMX root operation', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { setup: (h) => { h.t.cpu.cpl = 3; } }), 13, 0);
  });

  it('#UD, not #GP(0), at CPL 3 when the processor lacks INVVPID (the #UD conditions come first)', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { features: NO_VPID_MODEL, setup: (h) => { h.t.cpu.cpl = 3; } }), 6);
  });

  it('#UD for a register operand (ModRM.mod = 11B: INVVPID r64, m128 has only the memory form)', async () => {
    // 66 0F 38 81 C3 = invvpid rax, rbx (not encodable in the assembler).
    faulted(await runInRoot('.byte 0x66, 0x0f, 0x38, 0x81, 0xc3', { features: VPID_MODEL, setup: (h) => h.t.setReg('rax', 1n) }), 6);
  });

  it('#GP(0) if the memory operand is in DS and non-canonical (64-Bit Mode Exceptions)', async () => {
    faulted(await invvpidInRoot(1n, 1n, 0n, { setup: (h) => h.t.setReg('rbx', 0x800000000000n) }), 13, 0);
  });

  it('#SS(0) if the memory operand is in SS and non-canonical (64-Bit Mode Exceptions)', async () => {
    const h = await runInRoot('invvpid rax, [rbp]', {
      features: VPID_MODEL,
      setup: (h) => { h.t.setReg('rax', 1n); h.t.setReg('rbp', 0xffff7ffffffff000n); },
    });
    faulted(h, 12, 0);
  });

  it('#PF if a page fault occurs in accessing the memory operand: all 128 bits are read (CR2 = the second quadword)', async () => {
    const at = TEST_LINEAR + 0xff8;
    const h = await runInRoot('invvpid rax, [rbx]', {
      features: VPID_MODEL,
      setup: (h) => {
        mapTestPage(h, 0, SCRATCH + 0x5000);
        h.t.setReg('rax', 1n);
        h.t.setReg('rbx', BigInt(at));
      },
    });
    // Supervisor-mode read of a not-present page: error code 0 (SDM Vol. 3A §4.7).
    faulted(h, 14, 0);
    expect(h.t.cpu.cr2).toBe(at + 8);
  });
});

describe('INVVPID—VMfail(Invalid operand to INVEPT/INVVPID) (SDM Vol. 3C ch. 31, INVVPID page; §31.4 error 28)', () => {
  it('an undefined type (4) fails with VMfailValid(28)', async () => {
    failedInvalidOperand(await invvpidInRoot(4n, 1n));
  });

  const bits: Record<number, VpidCap> = {
    0: 'invvpidIndividualAddress', 1: 'invvpidSingleContext', 2: 'invvpidAllContext', 3: 'invvpidSingleContextRetainingGlobals',
  };
  for (const [type, cap] of Object.entries(bits)) {
    it(`type ${type} fails when IA32_VMX_EPT_VPID_CAP bit ${40 + Number(type)} (${cap}) is 0`, async () => {
      failedInvalidOperand(await invvpidInRoot(BigInt(type), 1n, 0n, { features: vpidModel(ALL_TYPES.filter((k) => k !== cap)) }));
    });
  }

  it('in 64-bit mode the type register has 64 bits: RAX = 1_00000001H is no type', async () => {
    failedInvalidOperand(await invvpidInRoot(0x100000001n, 1n));
  });

  it('VMfailInvalid (CF) when there is no current VMCS', async () => {
    const h = await invvpidInRoot(4n, 1n, 0n, { setup: (h) => vmclear(h.core, h.t.cpu, VMCS_REGION) });
    failedInvalid(h);
  });

  it('the type is checked before the descriptor is read: no #GP(0) for a non-canonical operand with type 4', async () => {
    failedInvalidOperand(await invvpidInRoot(4n, 1n, 0n, { setup: (h) => h.t.setReg('rbx', 0x800000000000n) }));
  });

  for (const type of [0n, 1n, 2n, 3n]) {
    for (const low of [0x10001n, 0x8000000000000001n]) {
      it(`type ${type}: INVVPID_DESC[63:16] ≠ 0 fails (descriptor bits 63:0 = ${low.toString(16)}H)`, async () => {
        failedInvalidOperand(await invvpidInRoot(type, low, 0x1000n));
      });
    }
  }

  it('type 0 (individual-address) with VPID = 0 fails', async () => {
    failedInvalidOperand(await invvpidInRoot(0n, 0n, 0x1000n));
  });

  it('type 0 with a non-canonical linear address (0000_8000_0000_0000H) fails', async () => {
    failedInvalidOperand(await invvpidInRoot(0n, 1n, 0x800000000000n));
  });

  it('type 0 with a canonical upper-half linear address (FFFF_8000_0000_0000H) succeeds', async () => {
    succeeded(await invvpidInRoot(0n, 1n, 0xffff800000000000n));
  });

  it('type 1 (single-context) with VPID = 0 fails', async () => {
    failedInvalidOperand(await invvpidInRoot(1n, 0n));
  });

  it('type 1 ignores the linear address: a non-canonical one succeeds', async () => {
    succeeded(await invvpidInRoot(1n, 1n, 0x800000000000n));
  });

  it('type 3 (single-context retaining globals) with VPID = 0 fails', async () => {
    failedInvalidOperand(await invvpidInRoot(3n, 0n));
  });

  it('type 2 (all-context) ignores the VPID: VPID 0 succeeds', async () => {
    succeeded(await invvpidInRoot(2n, 0n));
  });

  it('VMsucceed clears CF, PF, AF, ZF, SF and OF that were set before (§31.2)', async () => {
    // 0x7f + 0x81 = 0x100 in AL sets CF, AF, ZF, PF; SF and OF come from the cmp that follows.
    const h = await runInRoot('mov al, 0x7f\nadd al, 0x81\ninvvpid rcx, [rbx]\npushfq\npop r15', {
      features: VPID_MODEL,
      setup: (h) => { descriptor(1n)(h); h.t.setReg('rcx', 1n); },
    });
    succeeded(h);
  });

  it('outside 64-bit mode the type register has 32 bits: with RAX = 1_00000001H, INVVPID EAX is type 1 and succeeds', async () => {
    // 32-bit protected mode with 32-bit paging (one 4-MByte identity page, SDM Vol. 3A §4.3): VMX operation needs CR0.PG.
    const PD = 0x30000, VMXON = 0x10000, VMCS = 0x11000, D = 0x20000;
    const code = await asm(`${enterPaged32(PD)}
mov dword ptr [ebx], ${VMXON}
vmxon [ebx]
mov dword ptr [ebx], ${VMCS}
vmptrld [ebx]
mov dword ptr [ebx], 1
invvpid esi, [ebx]
pushfd
pop edi
hlt`, 32, 0x1000);
    const t = makeCore(32);
    t.cpu.model = CPU_VMX;
    t.cpu.vmx = new VmxCore(new VmxModel(VPID_MODEL, { cr4Settable: cr4Settable(CPU_VMX) }));
    storeMsr(t.cpu, 0x3a, 5, 0);
    t.phys.load(0x1000, code);
    t.phys.writeSized(PD, 4, IDENTITY_4M_PDE);
    for (const r of [VMXON, VMCS]) t.phys.writeSized(r, 4, 1);
    t.setReg('rbx', BigInt(D));
    t.setReg('rsi', 0x100000001n);
    t.run(1000);
    expect(t.stop).toEqual({ kind: 'halt' });
    expect(Number(t.reg('rdi')) & ARITH).toBe(0);
  });
});

// ---- VPID-tagged translations (§29.4) --------------------------------------------------------------

const PAGE_A = SCRATCH + 0x1000, PAGE_B = SCRATCH + 0x2000, PAGE_C = SCRATCH + 0x3000, PAGE_D = SCRATCH + 0x4000;
const A = 0xa0a0a0a, B = 0xb0b0b0b, C = 0xc0c0c0c, D = 0xd0d0d0d;
const GLOBAL = 0x100, CR4_PGE = 0x80;

/** Host-side INVVPID, as the TypeScript hypervisor runs it (DESIGN decision 1): the instruction's own checks and operation. */
function hostInvvpid(h: VmxHarness, type: number, vpid: number, la = 0): void {
  const c = h.t.cpu;
  expect(invalidationTypeOk(h.core, c, false, type)).toBe(true);
  invvpid(h.core, c, type, new Int32Array([vpid, 0, la % 2 ** 32, Math.floor(la / 2 ** 32)]));
  expect(h.t.flags() & ARITH).toBe(0);
}

interface VpidRun {
  /** VPID of the guest; 0: "enable VPID" = 0. */
  vpid: number;
  /** What the host does at exit k (CPUID exits, each skipped). */
  atExit: (k: number, h: VmxHarness, exit: Exit) => void;
  features?: VmxFeatures;
  guestCr4?: number;
}

/**
 * A guest reading TEST_LINEAR (page 0) into R8, R9, R10 and TEST_LINEAR +
 * 4096 (page 1) into R11, R12, R13, with a CPUID exit after each pair; the
 * pages start mapped to A (page 0) and C (page 1) with `flags0`/`flags1`.
 */
async function vpidGuest(r: VpidRun, prelude = '', flags0 = 0x63, flags1 = 0x63): Promise<VmxHarness> {
  const h = await VmxHarness.create(`
${prelude}
mov rsi, ${TEST_LINEAR}
mov r8, [rsi]
mov r11, [rsi + 4096]
cpuid
mov r9, [rsi]
mov r12, [rsi + 4096]
cpuid
mov r10, [rsi]
mov r13, [rsi + 4096]
cpuid`, {
    features: r.features ?? VPID_MODEL,
    controls: { proc: ['activateSecondaryControls'], proc2: r.vpid ? ['enableVpid'] : [] },
    fields: r.vpid ? { vpid: r.vpid } : {},
    onExit: (exit, hh) => {
      const k = hh.exits.length - 1;
      if (k === 2) return 'stop';
      r.atExit(k, hh, exit);
      return 'skip';
    },
  });
  if (r.guestCr4) h.write('guestCr4', h.t.cpu.cr4 | r.guestCr4);
  for (const [pa, v] of [[PAGE_A, A], [PAGE_B, B], [PAGE_C, C], [PAGE_D, D]] as const) h.t.phys.writeSized(pa, 4, v);
  mapTestPage(h, 0, PAGE_A, flags0);
  mapTestPage(h, 1, PAGE_C, flags1);
  h.launch();
  expect(h.exits.map((e) => e.reason)).toEqual([10, 10, 10]);
  return h;
}

/** At exit 0 the host maps page 0 to B and page 1 to D without invalidating anything; at exit 1 it runs `then`. */
const remapThen = (then: (h: VmxHarness) => void = () => {}) => (k: number, h: VmxHarness): void => {
  if (k === 0) {
    mapTestPage(h, 0, PAGE_B, Number(h.t.phys.readSized(testPte(0), 4)) & 0xfff);
    mapTestPage(h, 1, PAGE_D, Number(h.t.phys.readSized(testPte(1), 4)) & 0xfff);
  } else {
    then(h);
  }
};

const values = (h: VmxHarness, ...regs: ('r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13')[]): number[] => regs.map((r) => Number(h.reg(r)));

describe('VPID-tagged translations across VM entries and exits (SDM Vol. 3C §29.4.3.3)', () => {
  it('with VPID 1, a PTE the host changes without invalidation keeps its stale translation after an exit and re-entry', async () => {
    const h = await vpidGuest({ vpid: 1, atExit: remapThen() });
    expect(values(h, 'r8', 'r9', 'r10')).toEqual([A, A, A]);
  });

  it('with VPID 1, INVVPID single-context (type 1) for VPID 1 makes the guest see the new translation (§29.4.3.1)', async () => {
    const h = await vpidGuest({ vpid: 1, atExit: remapThen((hh) => hostInvvpid(hh, 1, 1)) });
    expect(values(h, 'r8', 'r9', 'r10', 'r11', 'r12', 'r13')).toEqual([A, A, B, C, C, D]);
  });

  it('with "enable VPID" = 0 the change is seen after the next exit and entry: both flush VPID 0000H mappings', async () => {
    const h = await vpidGuest({ vpid: 0, atExit: remapThen() });
    expect(values(h, 'r8', 'r9', 'r10')).toEqual([A, B, B]);
  });

  it('a PTE the guest itself changes without INVLPG: stale after an exit and re-entry with VPID 1, new without VPID', async () => {
    // The guest maps page 0 to B by a plain store to its PTE (identity-mapped), then reads it after the CPUID exit.
    const prelude = `mov rax, ${PAGE_B | 0x63}\nmov rsi, ${TEST_LINEAR}\nmov rdi, [rsi]\nmov qword ptr [${testPte(0)}], rax`;
    const withVpid = await vpidGuest({ vpid: 1, atExit: () => {} }, prelude);
    expect(values(withVpid, 'r8', 'r9')).toEqual([A, A]);
    const without = await vpidGuest({ vpid: 0, atExit: () => {} }, prelude);
    // The first read, before any exit, may use the translation the guest cached before its store: it does here.
    expect(values(without, 'r8', 'r9')).toEqual([A, B]);
  });

  it('INVVPID single-context for another VPID (2) leaves VPID 1\'s stale translations', async () => {
    const h = await vpidGuest({ vpid: 1, atExit: remapThen((hh) => hostInvvpid(hh, 1, 2)) });
    expect(values(h, 'r10', 'r13')).toEqual([A, C]);
  });

  it('INVVPID individual-address (type 0) for VPID 1 and the page\'s address: the new translation for that address', async () => {
    const h = await vpidGuest({ vpid: 1, atExit: remapThen((hh) => hostInvvpid(hh, 0, 1, TEST_LINEAR)) });
    expect(values(h, 'r9', 'r10')).toEqual([A, B]);
  });

  it('INVVPID all-context (type 2) invalidates VPID 1 but not the host\'s VPID 0000H mappings', async () => {
    let hostBefore = 0, hostAfter = 0;
    const h = await vpidGuest({
      vpid: 1,
      atExit: (k, hh) => {
        const c = hh.t.cpu;
        if (k === 0) hostBefore = c.mmu.read64(TEST_LINEAR); // the host caches page 0 in VPID 0000H
        remapThen((x) => {
          hostInvvpid(x, 2, 0);
          hostAfter = c.mmu.read64(TEST_LINEAR);
        })(k, hh);
      },
    });
    expect([hostBefore, hostAfter]).toEqual([A, A]);
    expect(values(h, 'r10', 'r13')).toEqual([B, D]);
  });

  it('INVVPID single-context retaining globals (type 3) keeps a global translation (CR4.PGE = 1, PTE.G = 1) and drops the others', async () => {
    const h = await vpidGuest({ vpid: 1, guestCr4: CR4_PGE, atExit: remapThen((hh) => hostInvvpid(hh, 3, 1)) }, '', 0x63 | GLOBAL);
    expect(values(h, 'r10', 'r13')).toEqual([A, D]);
  });

  it('INVVPID single-context (type 1) drops global translations too', async () => {
    const h = await vpidGuest({ vpid: 1, guestCr4: CR4_PGE, atExit: remapThen((hh) => hostInvvpid(hh, 1, 1)) }, '', 0x63 | GLOBAL);
    expect(values(h, 'r10', 'r13')).toEqual([B, D]);
  });
});
