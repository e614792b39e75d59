/**
 * The VMX instructions of vmx/unit/ (SDM Vol. 3C ch. 31 "VMX Instruction
 * Reference"): their #UD and #GP(0) conditions, every VMfail they can
 * raise, and the RFLAGS conventions of §31.2. Programs run on a core whose
 * CPU model has VMX, after enabling it as software must (§24.7: CR4.VMXE,
 * IA32_FEATURE_CONTROL lock and enable-outside-SMX, CR0.NE for the fixed
 * bits). Expected values come from the SDM (field encodings of Appendix B,
 * error numbers of §31.4, flag rules of §31.2) and from the documented
 * VMCS region layout of vmx/unit/vmcsRegion.ts.
 */
import { describe, expect, it } from 'vitest';
import { mapIdentity } from '../../cpu/memory/identityMap.ts';
import { DEFAULT_CPU_MODEL } from '../../cpu/model/cpuidModel.ts';
import { storeMsr } from '../../cpu/msr/platformState.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import { DEFAULT_VMX_MODEL, FULL_VMX_MODEL, MINIMAL_VMX_MODEL, VMCS_REVISION_ID } from '../../vmx/model/presets.ts';
import { VMX_MSR, VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { vmcsEnumIndex } from '../../vmx/model/fieldSupport.ts';
import { vmread } from '../../vmx/unit/vmcsAccess.ts';
import { vmptrld } from '../../vmx/unit/vmcsPointer.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { vmxon } from '../../vmx/unit/vmxOperation.ts';
import { VMCS_FIELDS } from '../../vmx/vmcs/fields.ts';
import { makeCore, runAsm, type RegInputs, type TestCore } from '../support/machine.ts';
import { enterPaged32, IDENTITY_4M_PDE } from '../support/vmxAsm.ts';

const CPU_VMX = DEFAULT_CPU_MODEL.with({ features: { vmx: true } });
const INPUTS = { cr4Settable: cr4Settable(CPU_VMX), vmcsHighestIndex: 0x1d };

const VMXON_REGION = 0x10000, VMCS_A = 0x11000, VMCS_B = 0x12000, PTR = 0x20000, BUF = 0x21000, PAGE_TABLES = 0x40000;
const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

/** Field encodings (SDM Vol. 3C Appendix B). */
const ENC = {
  guestEsSelector: 0x0800, vmcsLinkPointer: 0x2800, vmcsLinkPointerHigh: 0x2801, guestEsLimit: 0x4800,
  vmInstructionError: 0x4400, exitReason: 0x4402, guestRip: 0x681e,
};

/** §24.7: CR0.NE (IA32_VMX_CR0_FIXED0), CR4.VMXE, IA32_FEATURE_CONTROL = lock | enable VMX outside SMX. */
const enable = (featureControl = 5, ne = true): string => `
${ne ? 'mov rax, cr0\nor eax, 0x20\nmov cr0, rax' : ''}
mov rax, cr4
or eax, 0x2000
mov cr4, rax
mov ecx, 0x3a
mov eax, ${featureControl}
xor edx, edx
wrmsr`;
/** Stores `pa` at [rbp] (rbp = PTR): the m64 operand of the next pointer instruction. */
const ptr = (pa: number | bigint): string => `mov rax, ${pa}\nmov qword ptr [rbp], rax`;
const ON = `${enable()}\n${ptr(VMXON_REGION)}\nvmxon [rbp]`;
/** After ON: VMCS_A current. */
const ON_A = `${ON}\n${ptr(VMCS_A)}\nvmptrld [rbp]`;
/** Reads the VM-instruction error into `reg` (flags saved first into r15). */
const readError = (reg: string): string => `pushfq\npop r15\nmov eax, ${ENC.vmInstructionError}\nvmread ${reg}, rax`;

interface Opts {
  features?: VmxFeatures;
  bits?: 16 | 32 | 64;
  regs?: RegInputs;
  rflags?: number;
  setup?: (t: TestCore, core: VmxCore) => void;
}

async function run(source: string, o: Opts = {}): Promise<TestCore & { core: VmxCore }> {
  let core!: VmxCore;
  const t = await runAsm(source, {
    bits: o.bits, rflags: o.rflags,
    regs: { rbp: BigInt(PTR), ...o.regs },
    setup: (t) => {
      t.cpu.model = CPU_VMX;
      core = new VmxCore(new VmxModel(o.features ?? DEFAULT_VMX_MODEL, INPUTS));
      t.cpu.vmx = core;
      // Real 4-level identity paging, so that MOV to CR0/CR4 keeps the program mapped.
      if ((o.bits ?? 64) === 64) mapIdentity(t.cpu, PAGE_TABLES);
      for (const r of [VMXON_REGION, VMCS_A, VMCS_B]) t.phys.writeSized(r, 4, VMCS_REVISION_ID);
      o.setup?.(t, core);
    },
  });
  return Object.assign(t, { core });
}

const arith = (t: TestCore, reg?: 'r8' | 'r15'): number => (reg ? Number(t.reg(reg)) : t.flags()) & ARITH;
const halted = (t: TestCore): void => expect(t.stop).toEqual({ kind: 'halt' });
const faulted = (t: TestCore, vector: number, errorCode?: number): void =>
  expect(t.stop).toMatchObject({ kind: 'exception', vector, ...(errorCode === undefined ? {} : { errorCode }) });
/** Enabled for VMX at CPL 3 (set directly: MOV CR and WRMSR would #GP there), optionally already in VMX operation. */
const atCpl3 = (inVmx: boolean) => (t: TestCore, core: VmxCore): void => {
  t.cpu.cr0 |= 0x20;
  t.cpu.cr4 |= 0x2000;
  storeMsr(t.cpu, 0x3a, 5, 0);
  if (inVmx) vmxon(core, t.cpu, VMXON_REGION);
  t.cpu.cpl = 3;
};
const read64 = (t: TestCore, pa: number): bigint =>
  BigInt(t.phys.readSized(pa, 4) >>> 0) | (BigInt(t.phys.readSized(pa + 4, 4) >>> 0) << 32n);

describe('VMXON—Enter VMX Operation (SDM Vol. 3C ch. 31)', () => {
  it('enters VMX operation with no current VMCS and VMsucceed (§24.7, VMPTRST reads FFFFFFFF_FFFFFFFFH)', async () => {
    const t = await run(`${ON}\npushfq\npop r8\nvmptrst [rbp]`);
    halted(t);
    expect(arith(t, 'r8')).toBe(0);
    expect(read64(t, PTR)).toBe(0xffffffffffffffffn);
    expect(t.core.inVmxOperation).toBe(true);
  });

  it('#UD when CR4.VMXE = 0', async () => {
    faulted(await run(`${ptr(VMXON_REGION)}\nvmxon [rbp]`), 6);
  });

  it('#UD with CR0.PE = 0 (real mode)', async () => {
    faulted(await run('vmxon [bx]', { bits: 16, setup: (t) => { t.cpu.cr4 |= 0x2000; } }), 6);
  });

  it('#GP(0) if CPL > 0', async () => {
    faulted(await run(`${ptr(VMXON_REGION)}\nvmxon [rbp]`, { setup: atCpl3(false) }), 13, 0);
  });

  it('#GP(0) when CR0 breaks IA32_VMX_CR0_FIXED0 (NE = 0; §24.8)', async () => {
    faulted(await run(`${enable(5, false)}\n${ptr(VMXON_REGION)}\nvmxon [rbp]`), 13, 0);
  });

  it('#GP(0) when IA32_FEATURE_CONTROL lock bit 0 is clear', async () => {
    faulted(await run(`${enable(4)}\n${ptr(VMXON_REGION)}\nvmxon [rbp]`), 13, 0);
  });

  it('#GP(0) when IA32_FEATURE_CONTROL bit 2 (enable VMX outside SMX) is clear', async () => {
    faulted(await run(`${enable(1)}\n${ptr(VMXON_REGION)}\nvmxon [rbp]`), 13, 0);
  });

  for (const [what, pa] of [['not 4-KByte aligned', VMXON_REGION + 8], ['beyond the physical-address width (46)', 1n << 46n]] as const) {
    it(`VMfailInvalid for a VMXON pointer ${what}`, async () => {
      const t = await run(`${enable()}\n${ptr(pa)}\nvmxon [rbp]`);
      halted(t);
      expect(arith(t)).toBe(CF);
      expect(t.core.inVmxOperation).toBe(false);
    });
  }

  for (const [what, rev] of [['revision identifier mismatch', VMCS_REVISION_ID + 1], ['bit 31 set', (VMCS_REVISION_ID | 0x80000000) | 0]] as const) {
    it(`VMfailInvalid for a VMXON region with ${what}`, async () => {
      const t = await run(ON, { features: FULL_VMX_MODEL, setup: (t) => t.phys.writeSized(VMXON_REGION, 4, rev) });
      halted(t);
      expect(arith(t)).toBe(CF);
      expect(t.core.inVmxOperation).toBe(false);
    });
  }

  it('in VMX root operation: VMfailInvalid without a current VMCS', async () => {
    const t = await run(`${ON}\nvmxon [rbp]`);
    expect(arith(t)).toBe(CF);
  });

  it('in VMX root operation: VMfailValid(15) with a current VMCS', async () => {
    const t = await run(`${ON_A}\n${ptr(VMXON_REGION)}\nvmxon [rbp]\n${readError('rbx')}`);
    halted(t);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(15n);
  });

  it('blocks INIT in VMX operation (VMXON "block INIT signals"), unblocked by VMXOFF', async () => {
    expect((await run(ON)).core.blocksInit).toBe(true);
    expect((await run(`${ON}\nvmxoff`)).core.blocksInit).toBe(false);
  });
});

describe('VMXOFF—Leave VMX Operation', () => {
  it('leaves VMX operation and VMsucceed; VMX instructions then #UD', async () => {
    const t = await run(`${ON}\nvmxoff\npushfq\npop r8\nvmptrst [rbp]`);
    expect(arith(t, 'r8')).toBe(0);
    expect(t.core.inVmxOperation).toBe(false);
    faulted(t, 6);
  });

  it('#UD outside VMX operation', async () => {
    faulted(await run(`${enable()}\nvmxoff`), 6);
  });

  it('#GP(0) if CPL > 0', async () => {
    faulted(await run('vmxoff', { setup: atCpl3(true) }), 13, 0);
  });
});

describe('VMCLEAR—Clear Virtual-Machine Control Structure', () => {
  it('#UD outside VMX operation, #GP(0) if CPL > 0', async () => {
    faulted(await run(`${enable()}\n${ptr(VMCS_A)}\nvmclear [rbp]`), 6);
    faulted(await run(`${ptr(VMCS_A)}\nvmclear [rbp]`, { setup: atCpl3(true) }), 13, 0);
  });

  it('invalid address: VMfail(2) — VMfailInvalid without a current VMCS, VMfailValid(2) with one', async () => {
    const none = await run(`${ON}\n${ptr(VMCS_A + 0x10)}\nvmclear [rbp]`);
    expect(arith(none)).toBe(CF);
    const t = await run(`${ON_A}\n${ptr(1n << 46n)}\nvmclear [rbp]\n${readError('rbx')}`);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(2n);
  });

  it('VMCLEAR with the VMXON pointer: VMfail(3)', async () => {
    const none = await run(`${ON}\nvmclear [rbp]`);
    expect(arith(none)).toBe(CF);
    const t = await run(`${ON_A}\n${ptr(VMXON_REGION)}\nvmclear [rbp]\n${readError('rbx')}`);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(3n);
  });

  it('writes the current VMCS to its region in the documented layout, launch state clear, and makes it not current', async () => {
    const slot = VMCS_FIELDS.findIndex((f) => f.encoding === ENC.guestRip);
    const t = await run(`${ON_A}
mov rax, ${ENC.guestRip}
mov rbx, 0x1122334455667788
vmwrite rax, rbx
${ptr(VMCS_A)}
vmclear [rbp]
pushfq
pop r8
vmptrst [rbp]`, { setup: (t) => t.phys.writeSized(VMCS_A + 8, 4, 1) });
    halted(t);
    expect(arith(t, 'r8')).toBe(0);
    expect(read64(t, VMCS_A + 16 + 8 * slot)).toBe(0x1122334455667788n);
    expect(t.phys.readSized(VMCS_A + 8, 4)).toBe(0);
    expect(t.phys.readSized(VMCS_A, 4)).toBe(VMCS_REVISION_ID);
    expect(read64(t, PTR)).toBe(0xffffffffffffffffn);
  });

  it('sets the launch state of a VMCS that is not current to clear', async () => {
    const t = await run(`${ON_A}\n${ptr(VMCS_B)}\nvmclear [rbp]`, { setup: (t) => t.phys.writeSized(VMCS_B + 8, 4, 1) });
    expect(arith(t)).toBe(0);
    expect(t.phys.readSized(VMCS_B + 8, 4)).toBe(0);
  });
});

describe('VMPTRLD—Load Pointer to Virtual-Machine Control Structure / VMPTRST', () => {
  it('#UD outside VMX operation, #GP(0) if CPL > 0', async () => {
    faulted(await run(`${enable()}\n${ptr(VMCS_A)}\nvmptrld [rbp]`), 6);
    faulted(await run(`${ptr(VMCS_A)}\nvmptrld [rbp]`, { setup: atCpl3(true) }), 13, 0);
    faulted(await run('vmptrst [rbp]', { setup: atCpl3(true) }), 13, 0);
  });

  it('makes the VMCS current: VMsucceed, VMPTRST stores its address', async () => {
    const t = await run(`${ON_A}\npushfq\npop r8\nmov qword ptr [rbp], 0\nvmptrst [rbp]`);
    expect(arith(t, 'r8')).toBe(0);
    expect(arith(t)).toBe(0);
    expect(read64(t, PTR)).toBe(BigInt(VMCS_A));
  });

  it('invalid address: VMfail(9) (VMfailInvalid without a current VMCS)', async () => {
    expect(arith(await run(`${ON}\n${ptr(VMCS_A + 0x800)}\nvmptrld [rbp]`))).toBe(CF);
    const t = await run(`${ON_A}\n${ptr(1n << 46n)}\nvmptrld [rbp]\n${readError('rbx')}`);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(9n);
  });

  it('VMPTRLD with the VMXON pointer: VMfail(10)', async () => {
    const t = await run(`${ON_A}\n${ptr(VMXON_REGION)}\nvmptrld [rbp]\n${readError('rbx')}`);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(10n);
  });

  it('incorrect revision identifier: VMfail(11)', async () => {
    const t = await run(`${ON_A}\n${ptr(VMCS_B)}\nvmptrld [rbp]\n${readError('rbx')}`, {
      setup: (t) => t.phys.writeSized(VMCS_B, 4, VMCS_REVISION_ID + 1),
    });
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(11n);
  });

  it('shadow-VMCS indicator set: VMfail(11) without "VMCS shadowing", VMsucceed with it (§25.10)', async () => {
    const shadow = (t: TestCore): void => t.phys.writeSized(VMCS_B, 4, (VMCS_REVISION_ID | 0x80000000) | 0);
    const t = await run(`${ON_A}\n${ptr(VMCS_B)}\nvmptrld [rbp]\n${readError('rbx')}`, { features: MINIMAL_VMX_MODEL, setup: shadow });
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(11n);
    const ok = await run(`${ON}\n${ptr(VMCS_B)}\nvmptrld [rbp]\npushfq\npop r8\nvmptrst [rbp]`, { features: FULL_VMX_MODEL, setup: shadow });
    expect(arith(ok, 'r8')).toBe(0);
    expect(read64(ok, PTR)).toBe(BigInt(VMCS_B));
    expect(ok.core.currentIsShadow).toBe(true);
  });

  it('switching VMCS writes the old one back; loading it again brings its fields back', async () => {
    const t = await run(`${ON_A}
mov esi, ${ENC.guestRip}
mov rbx, 0xabcdef
vmwrite rsi, rbx
${ptr(VMCS_B)}
vmptrld [rbp]
mov rcx, -1
vmread rcx, rsi
${ptr(VMCS_A)}
vmptrld [rbp]
vmread rdx, rsi`);
    halted(t);
    expect(t.reg('rcx')).toBe(0n);
    expect(t.reg('rdx')).toBe(0xabcdefn);
  });
});

describe('VMREAD / VMWRITE (§25.11.2)', () => {
  it('#UD outside VMX operation, #GP(0) if CPL > 0', async () => {
    faulted(await run(`${enable()}\nvmread rbx, rax`), 6);
    faulted(await run(`${enable()}\nvmwrite rax, rbx`), 6);
    faulted(await run('vmread rbx, rax', { setup: atCpl3(true) }), 13, 0);
    faulted(await run('vmwrite rax, rbx', { setup: atCpl3(true) }), 13, 0);
  });

  it('no current VMCS: VMfailInvalid, destination unchanged', async () => {
    const t = await run(`${ON}\nmov eax, ${ENC.guestRip}\nmov rbx, 7\nvmread rbx, rax\npushfq\npop r8\nvmwrite rax, rbx`);
    expect(arith(t, 'r8')).toBe(CF);
    expect(arith(t)).toBe(CF);
    expect(t.reg('rbx')).toBe(7n);
  });

  for (const [what, enc] of [['reserved bit 12 set', 0x1000n], ['bit 32 set (64-bit register operand)', (1n << 32n) | BigInt(ENC.guestRip)], ['high access to a 16-bit field', 0x0801n]] as const) {
    it(`unsupported component (${what}): VMfailValid(12)`, async () => {
      const t = await run(`${ON_A}\nmov rax, ${enc}\nvmwrite rax, rbx\n${readError('rbx')}\nmov rax, ${enc}\nvmread rcx, rax\npushfq\npop r8`);
      expect(arith(t, 'r15')).toBe(ZF);
      expect(t.reg('rbx')).toBe(12n);
      expect(arith(t, 'r8')).toBe(ZF);
    });
  }

  it('VMWRITE to a VM-exit information field: VMfailValid(13) without IA32_VMX_MISC bit 29', async () => {
    const t = await run(`${ON_A}\nmov eax, ${ENC.exitReason}\nmov ebx, 5\nvmwrite rax, rbx\n${readError('rbx')}`, { features: MINIMAL_VMX_MODEL });
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(13n);
  });

  it('VMWRITE to a VM-exit information field succeeds with IA32_VMX_MISC bit 29', async () => {
    const t = await run(`${ON_A}\nmov eax, ${ENC.exitReason}\nmov ebx, 5\nvmwrite rax, rbx\npushfq\npop r8\nvmread rcx, rax`, { features: FULL_VMX_MODEL });
    expect(arith(t, 'r8')).toBe(0);
    expect(t.reg('rcx')).toBe(5n);
  });

  it('16- and 32-bit fields truncate on write and zero-extend on read', async () => {
    const t = await run(`${ON_A}
mov rbx, -1
mov eax, ${ENC.guestEsSelector}
mov rdx, 0xffffffffffff1234
vmwrite rax, rdx
vmread rbx, rax
mov eax, ${ENC.guestEsLimit}
mov rdx, 0xdeadbeef12345678
vmwrite rax, rdx
mov rcx, -1
vmread rcx, rax`);
    halted(t);
    expect(t.reg('rbx')).toBe(0x1234n);
    expect(t.reg('rcx')).toBe(0x12345678n);
  });

  it('64-bit fields: full access is 64 bits, high access (bit 0 = 1) bits 63:32', async () => {
    const t = await run(`${ON_A}
mov eax, ${ENC.vmcsLinkPointer}
mov rdx, 0x1122334455667788
vmwrite rax, rdx
mov ecx, ${ENC.vmcsLinkPointerHigh}
vmread rbx, rcx
mov rdx, 0xffffffffaabbccdd
vmwrite rcx, rdx
vmread rsi, rax`);
    halted(t);
    expect(t.reg('rbx')).toBe(0x11223344n);
    expect(t.reg('rsi')).toBe(0xaabbccdd55667788n);
  });

  it('memory operands: 64-bit in 64-bit mode', async () => {
    const t = await run(`${ON_A}
mov eax, ${ENC.guestRip}
vmwrite rax, qword ptr [rsi]
vmread qword ptr [rdi], rax`, {
      regs: { rsi: BigInt(BUF), rdi: BigInt(BUF + 16) },
      setup: (t) => { t.phys.writeSized(BUF, 4, 0x89abcdef | 0); t.phys.writeSized(BUF + 4, 4, 0x01234567); },
    });
    halted(t);
    expect(arith(t)).toBe(0);
    expect(read64(t, BUF + 16)).toBe(0x0123456789abcdefn);
  });

  it('outside 64-bit mode only 32 bits: VMWRITE clears a wider field\'s high bits, VMREAD stores 32 bits', async () => {
    // 32-bit paging with one 4-MByte identity page (SDM Vol. 3A §4.3), since VMX operation needs CR0.PG (IA32_VMX_CR0_FIXED0).
    const PD = 0x30000;
    const t = await run(`${enterPaged32(PD)}
mov ecx, 0x3a
mov eax, 5
xor edx, edx
wrmsr
mov dword ptr [ebp], ${VMXON_REGION}
mov dword ptr [ebp + 4], 0
vmxon [ebp]
mov dword ptr [ebp], ${VMCS_A}
vmptrld [ebp]
mov eax, ${ENC.vmcsLinkPointer}
mov ebx, 0x55667788
vmwrite eax, ebx
mov ecx, ${ENC.vmcsLinkPointerHigh}
vmread esi, ecx
mov dword ptr [edi + 4], 0x77777777
vmread dword ptr [edi], eax`, {
      bits: 32,
      regs: { rbp: BigInt(PTR), rdi: BigInt(BUF) },
      setup: (t) => {
        t.phys.writeSized(PD, 4, IDENTITY_4M_PDE);
        // Bits 63:32 of the link pointer start as all ones, to see VMWRITE clear them.
        t.phys.writeSized(VMCS_A + 16 + 8 * VMCS_FIELDS.findIndex((f) => f.encoding === ENC.vmcsLinkPointer) + 4, 4, -1);
      },
    });
    halted(t);
    expect(t.reg('rsi')).toBe(0n);
    expect(t.phys.readSized(BUF, 4) >>> 0).toBe(0x55667788);
    expect(t.phys.readSized(BUF + 4, 4) >>> 0).toBe(0x77777777);
  });
});

describe('RFLAGS conventions (SDM Vol. 3C §31.2)', () => {
  const start = ARITH | DF | 0x2;
  it('VMsucceed clears CF PF AF ZF SF OF and nothing else', async () => {
    const t = await run(ON, { rflags: start });
    expect(t.flags() & (ARITH | DF)).toBe(DF);
  });
  it('VMfailInvalid sets CF and clears PF AF ZF SF OF', async () => {
    const t = await run(`${ON}\nvmptrst [rbp]\nmov eax, 1\nsub eax, 2\nvmread rbx, rax`);
    expect(t.flags() & ARITH).toBe(CF);
  });
  it('VMfailValid sets ZF and clears CF PF AF SF OF', async () => {
    const t = await run(`${ON_A}\nmov eax, 1\nsub eax, 2\nmov eax, 0x1000\nvmread rbx, rax`);
    expect(t.flags() & ARITH).toBe(ZF);
  });
});

// INVEPT and INVVPID are tested on their own in test/vmx/invept.test.ts and test/vmx/invvpid.test.ts.
describe('VMFUNC in VMX root operation (VMFUNC page: #UD if executed outside VMX non-root operation)', () => {
  it('vmfunc: #UD in VMX root operation', async () => {
    faulted(await run(`${ON_A}\nvmfunc`, { regs: { rbx: BigInt(BUF) } }), 6);
  });
});

describe('VMREAD/VMWRITE of fields the model lacks (Appendix B "exists only on processors that support ..."; §31.4 error 12)', () => {
  /** Appendix B encodings of fields that exist only with a feature MINIMAL_VMX_MODEL lacks. */
  const lacking: [string, number][] = [
    ['VPID (enable VPID)', 0x0000], ['EPT pointer (enable EPT)', 0x201a], ['EPT pointer, high access', 0x201b],
    ['VMREAD-bitmap address (VMCS shadowing)', 0x2026], ['TSC multiplier (use TSC scaling)', 0x2032],
    ['secondary processor-based controls (activate secondary controls)', 0x401e],
    ['VMX-preemption timer value (activate VMX-preemption timer)', 0x482e],
    ['guest IA32_PERF_GLOBAL_CTRL (VM-entry load IA32_PERF_GLOBAL_CTRL)', 0x2808],
    ['host IA32_PERF_GLOBAL_CTRL (VM-exit load IA32_PERF_GLOBAL_CTRL)', 0x2c04],
  ];
  for (const [what, enc] of lacking) {
    it(`${what}: VMfailValid(12) for VMWRITE and VMREAD, destination unchanged`, async () => {
      const t = await run(`${ON_A}\nmov eax, ${enc}\nvmwrite rax, rbx\n${readError('rbx')}\nmov eax, ${enc}\nmov rcx, 3\nvmread rcx, rax\npushfq\npop r8`,
        { features: MINIMAL_VMX_MODEL });
      halted(t);
      expect(arith(t, 'r15')).toBe(ZF);
      expect(t.reg('rbx')).toBe(12n);
      expect(arith(t, 'r8')).toBe(ZF);
      expect(t.reg('rcx')).toBe(3n);
    });
  }

  it('the same fields are read and written on a model with the features (FULL_VMX_MODEL)', async () => {
    const t = await run(`${ON_A}\nmov eax, 0x201a\nmov rbx, 0x1234505e\nvmwrite rax, rbx\nvmread rcx, rax\nmov eax, 0x401e\nmov ebx, 2\nvmwrite rax, rbx\nvmread rdx, rax\npushfq\npop r8`,
      { features: FULL_VMX_MODEL });
    expect(arith(t, 'r8')).toBe(0);
    expect(t.reg('rcx')).toBe(0x1234505en);
    expect(t.reg('rdx')).toBe(2n);
  });

  it('guest IA32_PAT exists with "save IA32_PAT" alone, host IA32_PAT only with VM-exit "load IA32_PAT" (Appendix B.2.3, B.2.4)', async () => {
    const d = DEFAULT_VMX_MODEL;
    const saveOnly: VmxFeatures = { ...d, controls: { ...d.controls, exit: ['hostAddressSpaceSize', 'savePat'], entry: ['ia32eModeGuest'] } };
    const t = await run(`${ON_A}\nmov eax, 0x2804\nvmwrite rax, rbx\npushfq\npop r8\nmov eax, 0x2c00\nvmwrite rax, rbx\n${readError('rbx')}`, { features: saveOnly });
    expect(arith(t, 'r8')).toBe(0);
    expect(arith(t, 'r15')).toBe(ZF);
    expect(t.reg('rbx')).toBe(12n);
  });

  it('VMWRITE reads a memory source after the VMCS-pointer check and before the field check (VMWRITE page)', async () => {
    const noncanonical = 0x8000000000000000n;
    const invalid = await run(`${ON}\nmov eax, ${ENC.guestRip}\nvmwrite rax, qword ptr [rbx]`, { regs: { rbx: noncanonical } });
    halted(invalid);
    expect(arith(invalid)).toBe(CF);
    faulted(await run(`${ON_A}\nmov eax, 0x1000\nvmwrite rax, qword ptr [rbx]`, { regs: { rbx: noncanonical } }), 13, 0);
  });

  it('VMREAD stores to memory only after the field check: VMfailValid(12) with a faulting destination (VMREAD page)', async () => {
    const t = await run(`${ON_A}\nmov eax, 0x1000\nvmread qword ptr [rbx], rax`, { regs: { rbx: 0x8000000000000000n } });
    halted(t);
    expect(arith(t)).toBe(ZF);
  });

  // Index 21: guest IA32_SYSENTER_CS (482AH); 25: TSC multiplier (2032H), with "use TSC scaling" (Appendix B).
  for (const [name, features, highest] of [['MINIMAL_VMX_MODEL', MINIMAL_VMX_MODEL, 21], ['DEFAULT_VMX_MODEL', DEFAULT_VMX_MODEL, 25], ['FULL_VMX_MODEL', FULL_VMX_MODEL, 25]] as const) {
    it(`IA32_VMX_VMCS_ENUM bits 9:1 = ${highest}, the highest index of a field VMREAD accepts on ${name} (Appendix A.9)`, () => {
      const t = makeCore(64);
      t.cpu.model = CPU_VMX;
      const core = new VmxCore(new VmxModel(features, { cr4Settable: cr4Settable(CPU_VMX), vmcsHighestIndex: vmcsEnumIndex(features) }));
      t.cpu.vmx = core;
      // §24.7 as root software does it, then VMXON and VMPTRLD through the same operations as the instructions.
      mapIdentity(t.cpu, PAGE_TABLES);
      t.cpu.cr0 |= 0x20;
      t.cpu.cr4 |= 0x2000;
      storeMsr(t.cpu, 0x3a, 5, 0);
      for (const r of [VMXON_REGION, VMCS_A]) t.phys.writeSized(r, 4, VMCS_REVISION_ID);
      vmxon(core, t.cpu, VMXON_REGION);
      vmptrld(core, t.cpu, VMCS_A);
      expect(core.currentVmcs).toBe(VMCS_A);
      let max = -1;
      for (const f of VMCS_FIELDS) if (vmread(core, t.cpu, f.encoding)) max = Math.max(max, f.index);
      expect(max).toBe(highest);
      const msr = core.findMsr(VMX_MSR.VMCS_ENUM)!;
      expect(msr.read(t.cpu) >>> 0).toBe(highest << 1);
    });
  }
});
