/**
 * INVEPT—Invalidate Translations Derived from EPT (SDM Vol. 3C ch. 31) in
 * VMX root operation: its #UD/#GP conditions, the order of its checks,
 * VMfail(Invalid operand to INVEPT/INVVPID) = error 28 (§31.4), the EPTP
 * rules of a single-context invalidation (those of VM entry, §27.2.1.1;
 * EPTP format §25.6.11) and the capability bits of Appendix A.10
 * (IA32_VMX_EPT_VPID_CAP bits 6, 8, 14, 20, 21, 25, 26).
 *
 * What INVEPT invalidates (§29.4.3.1): the guest-physical and combined
 * mappings of one EPT root (EPTP bits 51:12) or of all, for every VPID and
 * PCID, seen through guests under EPT (test/support/eptGuest.ts says how a
 * test tells which cache served an access).
 */
import { describe, expect, it } from 'vitest';
import { ARITH, failedInvalid, failedValid, faulted, succeeded } from '../support/vmxOutcome.ts';
import type { EptCap } from '../../vmx/model/capabilityBits.ts';
import { DEFAULT_VMX_MODEL, FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { invalidationTypeOk } from '../../vmx/unit/invalidation.ts';
import { invept } from '../../vmx/unit/invept.ts';
import { vmclear } from '../../vmx/unit/vmcsPointer.ts';
import { vmxoff } from '../../vmx/unit/vmxOperation.ts';
import { invvpid } from '../../vmx/unit/invvpid.ts';
import { EptBuilder } from '../support/eptBuilder.ts';
import {
  accessedFlag, clearAccessed, descriptor, eptGuest, identityEpt, marker, NEW, NEW2, remap, X,
} from '../support/eptGuest.ts';
import { CPU_VMX, mapTestPage, runInRoot, SCRATCH, TEST_LINEAR, VMCS_REGION, VmxHarness } from '../support/vmxHarness.ts';

const INVALID_OPERAND = 28n;
/**
 * DEFAULT_VMX_MODEL without EPT (IA32_VMX_PROCBASED_CTLS2 bit 33 = 0, no EPT capabilities), and so without what needs
 * it: unrestricted guest and EPTP switching (§27.2.1.1 requires "enable EPT" for both).
 */
const NO_EPT_MODEL: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: {
    ...DEFAULT_VMX_MODEL.controls,
    proc2: DEFAULT_VMX_MODEL.controls.proc2.filter((k) => !['enableEpt', 'unrestrictedGuest', 'enableVmFunctions'].includes(k)),
  },
  ept: [],
  vmFunctions: [],
};
/** FULL_VMX_MODEL without the EPT capabilities `drop`. */
const eptModelWithout = (...drop: EptCap[]): VmxFeatures => ({ ...FULL_VMX_MODEL, ept: FULL_VMX_MODEL.ept.filter((k) => !drop.includes(k)) });

/** A valid EPTP (§25.6.11): memory type WB (6) in bits 2:0, page-walk length 4 (3 in bits 5:3), PML4 table at 300000H. */
const EPTP_OK = 0x300000n | (3n << 3n) | 6n;

/** INVEPT with type `type` (RAX) and descriptor `eptp`/`high` at [rbx] in root operation; RFLAGS saved in R15 right after. */
function inveptInRoot(type: bigint, eptp: bigint, high = 0n, o: { features?: VmxFeatures; setup?: (h: VmxHarness) => void } = {}) {
  return runInRoot('invept rax, [rbx]\npushfq\npop r15', {
    features: o.features ?? FULL_VMX_MODEL,
    setup: (h) => {
      for (const [at, v] of [[SCRATCH, eptp], [SCRATCH + 8, high]] as const) {
        h.t.phys.writeSized(at, 4, Number(v & 0xffffffffn) | 0);
        h.t.phys.writeSized(at + 4, 4, Number((v >> 32n) & 0xffffffffn) | 0);
      }
      h.t.setReg('rbx', BigInt(SCRATCH));
      h.t.setReg('rax', type);
      o.setup?.(h);
    },
  });
}

/** VMfailValid(28), "invalid operand to INVEPT/INVVPID" (§31.4). */
const failedInvalidOperand = (h: VmxHarness): void => failedValid(h, INVALID_OPERAND);

describe('INVEPT—exceptions (SDM Vol. 3C ch. 31, INVEPT page)', () => {
  it('#UD if not in VMX operation', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { setup: (h) => vmxoff(h.core, h.t.cpu) }), 6);
  });

  it('#UD if the processor does not support EPT (IA32_VMX_PROCBASED_CTLS2 bit 33 = 0: DEFAULT_VMX_MODEL without EPT)', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { features: NO_EPT_MODEL }), 6);
  });

  it('#UD if it supports EPT but not INVEPT (IA32_VMX_EPT_VPID_CAP bit 20 = 0)', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { features: eptModelWithout('invept') }), 6);
  });

  it('#GP(0) if CPL > 0 in VMX root operation', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { setup: (h) => { h.t.cpu.cpl = 3; } }), 13, 0);
  });

  it('#UD, not #GP(0), at CPL 3 when the processor lacks INVEPT (the #UD conditions come first)', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { features: eptModelWithout('invept'), setup: (h) => { h.t.cpu.cpl = 3; } }), 6);
  });

  it('#UD for a register operand (ModRM.mod = 11B: INVEPT r64, m128 has only the memory form)', async () => {
    // 66 0F 38 80 C3 = invept rax, rbx (not encodable in the assembler).
    faulted(await runInRoot('.byte 0x66, 0x0f, 0x38, 0x80, 0xc3', { features: FULL_VMX_MODEL, setup: (h) => h.t.setReg('rax', 2n) }), 6);
  });

  it('#GP(0) if the memory operand is in DS and non-canonical (64-Bit Mode Exceptions)', async () => {
    faulted(await inveptInRoot(2n, EPTP_OK, 0n, { setup: (h) => h.t.setReg('rbx', 0xffff7ffffffff000n) }), 13, 0);
  });

  it('#PF if a page fault occurs in accessing the memory operand (not-present page, supervisor read: error code 0)', async () => {
    const h = await inveptInRoot(2n, EPTP_OK, 0n, { setup: (h) => h.t.setReg('rbx', BigInt(TEST_LINEAR)) });
    faulted(h, 14, 0);
    expect(h.t.cpu.cr2).toBe(TEST_LINEAR);
  });
});

describe('INVEPT—VMfail(Invalid operand to INVEPT/INVVPID) (SDM Vol. 3C ch. 31, INVEPT page; §31.4 error 28)', () => {
  for (const type of [0n, 3n, 4n, 0x100000001n, 0x100000002n]) {
    it(`type ${type.toString(16)}H is no INVEPT type (1 and 2 only; 64-bit register in 64-bit mode): VMfailValid(28)`, async () => {
      failedInvalidOperand(await inveptInRoot(type, EPTP_OK));
    });
  }

  it('single-context (type 1) fails when IA32_VMX_EPT_VPID_CAP bit 25 is 0', async () => {
    failedInvalidOperand(await inveptInRoot(1n, EPTP_OK, 0n, { features: eptModelWithout('inveptSingleContext') }));
  });

  it('global (type 2) fails when IA32_VMX_EPT_VPID_CAP bit 26 is 0', async () => {
    failedInvalidOperand(await inveptInRoot(2n, EPTP_OK, 0n, { features: eptModelWithout('inveptAllContext') }));
  });

  it('VMfailInvalid (CF) when there is no current VMCS', async () => {
    const h = await inveptInRoot(0n, EPTP_OK, 0n, { setup: (h) => vmclear(h.core, h.t.cpu, VMCS_REGION) });
    failedInvalid(h);
  });

  it('the type is checked before the descriptor is read: no #PF for an unmapped operand with type 0', async () => {
    failedInvalidOperand(await inveptInRoot(0n, EPTP_OK, 0n, { setup: (h) => h.t.setReg('rbx', BigInt(TEST_LINEAR)) }));
  });

  it('single-context with a valid EPTP (WB, 4-level) succeeds', async () => {
    succeeded(await inveptInRoot(1n, EPTP_OK));
  });

  describe('single-context fails when VM entry would fail due to the EPTP value (§27.2.1.1)', () => {
    const typeBits = ~7n;
    for (const type of [1n, 2n, 3n, 4n, 5n, 7n]) {
      it(`memory type ${type} (only UC = 0 and WB = 6 exist)`, async () => {
        failedInvalidOperand(await inveptInRoot(1n, (EPTP_OK & typeBits) | type));
      });
    }
    it('memory type UC (0) succeeds with IA32_VMX_EPT_VPID_CAP bit 8, fails without', async () => {
      succeeded(await inveptInRoot(1n, EPTP_OK & typeBits));
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK & typeBits, 0n, { features: eptModelWithout('memoryTypeUc') }));
    });
    it('memory type WB (6) fails without IA32_VMX_EPT_VPID_CAP bit 14', async () => {
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK, 0n, { features: eptModelWithout('memoryTypeWb') }));
    });
    for (const lengthMinus1 of [0n, 1n, 2n, 4n, 5n, 6n, 7n]) {
      it(`page-walk length - 1 = ${lengthMinus1} in bits 5:3 (4 levels need 3 and bit 6; 5 levels need bit 7, not reported)`, async () => {
        failedInvalidOperand(await inveptInRoot(1n, (EPTP_OK & ~0x38n) | (lengthMinus1 << 3n)));
      });
    }
    it('4-level walks fail without IA32_VMX_EPT_VPID_CAP bit 6', async () => {
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK, 0n, { features: eptModelWithout('pageWalkLength4') }));
    });
    it('bit 6 (accessed and dirty flags) succeeds with IA32_VMX_EPT_VPID_CAP bit 21, fails without', async () => {
      succeeded(await inveptInRoot(1n, EPTP_OK | 0x40n));
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK | 0x40n, 0n, { features: eptModelWithout('accessedDirty') }));
    });
    for (const b of [7n, 8n, 9n, 10n, 11n]) {
      it(`reserved bit ${b} set`, async () => {
        failedInvalidOperand(await inveptInRoot(1n, EPTP_OK | (1n << b)));
      });
    }
    it('bits 63:N (N = MAXPHYADDR) reserved: bit N and bit 63 fail, bit N - 1 succeeds', async () => {
      const n = BigInt(CPU_VMX.physAddrBits);
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK | (1n << n)));
      failedInvalidOperand(await inveptInRoot(1n, EPTP_OK | (1n << 63n)));
      succeeded(await inveptInRoot(1n, EPTP_OK | (1n << (n - 1n))));
    });
  });

  it('global (type 2) does not check the EPTP: an invalid one succeeds', async () => {
    succeeded(await inveptInRoot(2n, 0xfffn | (1n << 63n)));
  });

  it('descriptor bits 127:64 are not checked by the page\'s operation: nonzero ones succeed (types 1 and 2)', async () => {
    succeeded(await inveptInRoot(1n, EPTP_OK, 0xffffffffffffffffn));
    succeeded(await inveptInRoot(2n, EPTP_OK, 1n));
  });

  it('VMsucceed clears CF, PF, AF, ZF, SF and OF that were set before (§31.2)', async () => {
    const h = await runInRoot('mov al, 0x7f\nadd al, 0x81\ninvept rcx, [rbx]\npushfq\npop r15', {
      features: FULL_VMX_MODEL,
      setup: (h) => { h.t.setReg('rbx', BigInt(SCRATCH)); h.t.setReg('rcx', 2n); },
    });
    succeeded(h);
  });
});

describe('INVEPT and cached translations (SDM Vol. 3C §29.4.3.1)', () => {
  it('global INVEPT leaves linear mappings (cached without EPT): a VPID-1 guest keeps its stale translation', async () => {
    const PAGE_A = SCRATCH + 0x1000, PAGE_B = SCRATCH + 0x2000, A = 0xa0a0a0a, B = 0xb0b0b0b;
    const h = await VmxHarness.create(`mov rsi, ${TEST_LINEAR}\nmov r8, [rsi]\ncpuid\nmov r9, [rsi]\ncpuid`, {
      features: FULL_VMX_MODEL,
      controls: { proc: ['activateSecondaryControls'], proc2: ['enableVpid'] },
      fields: { vpid: 1 },
      onExit: (_e, hh) => {
        if (hh.exits.length > 1) return 'stop';
        mapTestPage(hh, 0, PAGE_B);
        const c = hh.t.cpu;
        expect(invalidationTypeOk(hh.core, c, true, 2)).toBe(true);
        invept(hh.core, c, 2, new Int32Array(4));
        expect(hh.t.flags() & ARITH).toBe(0);
        return 'skip';
      },
    });
    h.t.phys.writeSized(PAGE_A, 4, A);
    h.t.phys.writeSized(PAGE_B, 4, B);
    mapTestPage(h, 0, PAGE_A);
    h.launch();
    expect(h.exits.map((e) => e.reason)).toEqual([10, 10]);
    expect([Number(h.reg('r8')), Number(h.reg('r9'))]).toEqual([A, A]);
  });

  const CPUID = 10;
  /** INVEPT as root software executes it at an exit, with the EPTP `eptp` in the descriptor; it must succeed. */
  const inveptAt = (h: VmxHarness, type: 1 | 2, eptp: bigint): void => {
    const c = h.t.cpu;
    expect(invalidationTypeOk(h.core, c, true, type)).toBe(true);
    invept(h.core, c, type, descriptor(eptp));
    expect(h.t.flags() & ARITH).toBe(0);
  };
  /** Three reads of X into RAX, RBX, RCX, each followed by CPUID. */
  const THREE_READS = 'mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid\nmov rcx, [rsi]\ncpuid';
  const values = (h: VmxHarness): bigint[] => ['rax', 'rbx', 'rcx'].map((r) => h.reg(r as 'rax'));

  it('a guest with EPT and VPID 1 keeps a stale guest-physical translation after the host changes an EPT entry, across an exit and re-entry and INVVPID of its VPID, until INVEPT', async () => {
    const r = await eptGuest(THREE_READS, {
      vpid: 1,
      onExit: (n, h, pt) => {
        if (n === 1) {
          remap(h.ept!);
          clearAccessed(pt);
          // INVVPID drops the combined mappings (§29.4.3.1), not the guest-physical ones.
          invvpid(h.core, h.t.cpu, 1, descriptor(1n));
        }
        if (n === 2) {
          expect(accessedFlag(pt)).not.toBe(0n); // the guest's structures were walked: a guest-physical mapping served the read
          inveptAt(h, 1, h.read('eptp'));
        }
        return n === 3 ? 'stop' : 'skip';
      },
    });
    expect(r.h.exits.map((e) => e.reason)).toEqual([CPUID, CPUID, CPUID]);
    expect(values(r.h)).toEqual([marker(X), marker(X), marker(NEW + 8n)]);
  });

  describe('single-context INVEPT of the guest\'s EPTP drops its combined mappings for every VPID and PCID', () => {
    // Each round reads X under PCID 1 (RAX) and PCID 2 (RBX), switching with MOV to CR3 and bit 63 set (no invalidation, Vol. 3A §4.10.4.1).
    const NO_FLUSH = 1n << 63n, TABLES = 0x110000n;
    const ROUND = 'l: mov rax, [rsi]\nmov cr3, rdi\nmov rbx, [rsi]\nmov cr3, rbp\ncpuid\njmp l';
    for (const flush of [true, false]) {
      it(flush ? 'after INVEPT, VPIDs 1 and 2 under PCIDs 1 and 2 all reach the new page' : 'without INVEPT (the control), all four keep the old page', async () => {
        const seen: bigint[][] = [];
        const r = await eptGuest(ROUND, {
          vpid: 1, pcid: 1, regs: { rdi: NO_FLUSH | TABLES | 2n, rbp: NO_FLUSH | TABLES | 1n },
          onExit: (n, h) => {
            if (n >= 3) seen.push([h.reg('rax'), h.reg('rbx')]);
            if (n === 2) {
              remap(h.ept!);
              if (flush) inveptAt(h, 1, h.read('eptp'));
            }
            // Rounds alternate VPID 1, 2, 1, 2: both VPIDs and both PCIDs cache X before the change.
            h.write('vpid', n % 2 === 1 ? 2 : 1);
            return n === 4 ? 'stop' : 'skip';
          },
        });
        expect(r.h.exits.map((e) => e.reason)).toEqual([CPUID, CPUID, CPUID, CPUID]);
        expect(r.h.read('guestCr3')).toBe(TABLES | 1n);
        const v = flush ? marker(NEW + 8n) : marker(X);
        expect(seen).toEqual([[v, v], [v, v]]);
      });
    }
  });

  it('single-context INVEPT of another EPTP leaves the guest\'s combined mappings (deterministic model)', async () => {
    const OTHER_EPTP = 0x3f0000n | (3n << 3n) | 6n; // valid (WB, 4 levels), another root
    const r = await eptGuest('mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid', {
      vpid: 1,
      onExit: (n, h, pt) => {
        if (n === 1) {
          remap(h.ept!);
          clearAccessed(pt);
          inveptAt(h, 1, OTHER_EPTP);
        }
        return n === 2 ? 'stop' : 'skip';
      },
    });
    expect([r.h.reg('rax'), r.h.reg('rbx')]).toEqual([marker(X), marker(X)]);
    expect(accessedFlag(r.pt)).toBe(0n); // the combined mapping served the read: no walk
  });

  describe('global INVEPT drops the combined mappings of every EPTP; single-context those of one', () => {
    // Rounds under EPT 1, EPT 2, EPT 1, EPT 2 (VMWRITE of the EPTP between exits); after the second, X is remapped in
    // both (to NEW in EPT 1, NEW2 in EPT 2) and INVEPT executed; the guest PTE's A is cleared before each later round.
    const FOUR_READS = 'mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid\nmov rcx, [rsi]\ncpuid\nmov rdx, [rsi]\ncpuid';
    for (const type of [2, 1] as const) {
      it(type === 2 ? 'global: both EPTs reach the new pages, each after a walk' : 'single-context of EPT 1: EPT 2 keeps its combined mapping', async () => {
        let second: EptBuilder | undefined;
        let eptp1 = 0n, eptp2 = 0n;
        const walked: boolean[] = [];
        const r = await eptGuest(FOUR_READS, {
          vpid: 1,
          onExit: (n, h, pt) => {
            if (n === 1) {
              eptp1 = h.read('eptp');
              second = new EptBuilder(h.t.phys, 0x380000, 0x400000);
              identityEpt(second);
              eptp2 = second.eptp();
            }
            if (n === 2) {
              remap(h.ept!, NEW);
              remap(second!, NEW2);
              inveptAt(h, type, eptp1);
            }
            if (n >= 3) walked.push(accessedFlag(pt) !== 0n);
            if (n >= 2) clearAccessed(pt);
            h.write('eptp', n % 2 === 1 ? eptp2 : eptp1);
            return n === 4 ? 'stop' : 'skip';
          },
        });
        expect(r.h.exits.map((e) => e.reason)).toEqual([CPUID, CPUID, CPUID, CPUID]);
        const viaTwo = type === 2 ? marker(NEW2 + 8n) : marker(X);
        expect(['rax', 'rbx', 'rcx', 'rdx'].map((k) => r.h.reg(k as 'rax'))).toEqual([marker(X), marker(X), marker(NEW + 8n), viaTwo]);
        expect(walked).toEqual([true, type === 2]);
      });
    }
  });

  it('single-context INVEPT matches EPTP bits 51:12 only: an EPTP differing in bits 11:0 (A/D, memory type) names the same mappings', async () => {
    const r = await eptGuest('mov rax, [rsi]\ncpuid\nmov rbx, [rsi]\ncpuid', {
      vpid: 1,
      onExit: (n, h, pt) => {
        if (n === 1) {
          remap(h.ept!);
          clearAccessed(pt);
          // Bits 2:0 UC (0) instead of WB, bit 6 (A/D) set: both valid on the model (§27.2.1.1).
          inveptAt(h, 1, (h.read('eptp') & ~7n) | 0x40n);
        }
        return n === 2 ? 'stop' : 'skip';
      },
    });
    expect([r.h.reg('rax'), r.h.reg('rbx')]).toEqual([marker(X), marker(NEW + 8n)]);
    expect(accessedFlag(r.pt)).not.toBe(0n);
  });
});
