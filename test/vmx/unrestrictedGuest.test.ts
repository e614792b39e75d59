/**
 * "Unrestricted guest" (SDM Vol. 3C §26.6 "Unrestricted Guests"; secondary
 * control bit 7, which needs "enable EPT"): guests in real-address mode and
 * in protected mode without paging. VM entry checks (§27.3.1, the relaxed
 * rules and the ones that remain) and loading (§27.3.2), MOV to CR0 freed
 * of the PE/PG fixed bits in non-root operation (§26.6, §24.8), linear =
 * guest-physical under EPT when paging is off (§29.3.1), and VM exits
 * storing IA32_EFER.LMA into "IA-32e mode guest" (IA32_VMX_MISC bit 5,
 * Appendix A.6; §28.2). The real-mode guests run with the harness's
 * `guestMode: 'real'` state (CS:IP 0000:1000, SS:SP 7000:FFFE). Instruction
 * addresses are computed by hand from the 16-bit encodings noted beside
 * the code.
 */
import { describe, expect, it } from 'vitest';
import { CpuException } from '../../cpu/exceptions.ts';
import { loadCr } from '../../vmx/exit/crMasks.ts';
import { DEFAULT_VMX_MODEL, FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VMX_MSR, type VmxFeatures, VmxModel } from '../../vmx/model/vmxModel.ts';
import { asm } from '../support/asm.ts';
import {
  GUEST_CODE, REAL_STACK_POINTER, REAL_STACK_SEGMENT, SCRATCH, VmxHarness, type HarnessOptions,
} from '../support/vmxHarness.ts';

const EXCEPTION = 0, VMCALL = 18, IO_INSTRUCTION = 30, EPT_VIOLATION = 48, INVALID_GUEST_STATE = 0x80000021;
const CR0_PE = 1n, CR0_PG = 0x80000000n, EFER_LME = 0x100n, EFER_LMA = 0x400n, ENTRY_IA32E = 1n << 9n;

/** The default model ("enable EPT" and "unrestricted guest" included) with WB, 4-level EPT with 2M/1G pages only. */
const UG_MODEL: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  ept: ['executeOnly', 'pageWalkLength4', 'memoryTypeWb', 'pde2MPages', 'pdpte1GPages'],
};

const real = (o: HarnessOptions = {}): HarnessOptions => ({ features: UG_MODEL, guestMode: 'real', ...o });

/** Stops at the first exit (or after `stopAfter` exits, skipping the instruction of the ones before). */
async function run(guest: string, o: HarnessOptions, stopAfter = 1): Promise<VmxHarness> {
  const h = await VmxHarness.create(guest, { onExit: (_e, hh) => (hh.exits.length < stopAfter ? 'skip' : 'stop'), ...o });
  h.launch(10_000);
  return h;
}

/** A word of guest memory (paging off under identity EPT: linear = guest-physical = host-physical). */
const u16 = (h: VmxHarness, address: number): number => h.t.phys.readSized(address, 2);

describe('VM entry to a real-mode guest (§26.6, §27.3.2)', () => {
  it('runs 16-bit code at CS:IP with the VMCS segment caches; the VMCALL exit saves IP and CR0.PE = 0 (§27.3.2.2, §28.3)', async () => {
    // B8 34 12 (mov ax, imm16) / 03 06 00 20 (add ax, [2000H], DS base 1000H → linear 3000H) / 0F 01 C1.
    const h = await VmxHarness.create('mov ax, 0x1234\nadd ax, [0x2000]\nvmcall', real({ fields: { guestDsSelector: 0x100, guestDsBase: 0x1000 } }));
    h.t.phys.writeSized(0x3000, 2, 0x0101);
    h.launch(100);
    expect(h.exits).toEqual([{ reason: VMCALL, qualification: 0n, guestRip: 0x1007n, instructionLength: 3 }]);
    expect(h.reg('rax') & 0xffffn).toBe(0x1335n);
    expect(h.read('guestCr0') & (CR0_PE | CR0_PG)).toBe(0n);
    expect([h.read('guestCsSelector'), h.read('guestSsSelector'), h.read('guestSsBase')]).toEqual([0n, BigInt(REAL_STACK_SEGMENT), 0x70000n]);
    expect(h.read('guestRsp')).toBe(BigInt(REAL_STACK_POINTER));
    expect(h.read('vmEntryControls') & ENTRY_IA32E).toBe(0n);
  });

  it('"unreal mode": a base other than selector × 16 and a 4-GByte limit are kept; a real-mode load changes only selector and base (§27.3.2.2; Vol. 3A §20.1.1)', async () => {
    const guest = [
      'mov ebx, 0x12340', // 66 BB imm32
      'mov eax, es:[ebx]', // ES base 400000H: linear 412340H
      'mov dx, 0x200',
      'mov es, dx', // base 2000H, limit still FFFFFFFFH
      'mov ecx, es:[ebx]', // linear 14340H, beyond 64 KBytes
      'vmcall',
    ].join('\n');
    const h = await VmxHarness.create(guest, real({
      fields: { guestEsBase: 0x400000, guestEsLimit: 0xffffffff, guestEsAccessRights: 0x8093 },
    }));
    h.t.phys.writeSized(0x412340, 4, 0xcafebabe | 0);
    h.t.phys.writeSized(0x14340, 4, 0x600df00d);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.reg('rax') & 0xffffffffn).toBe(0xcafebaben);
    expect(h.reg('rcx') & 0xffffffffn).toBe(0x600df00dn);
    expect([h.read('guestEsSelector'), h.read('guestEsBase'), h.read('guestEsLimit'), h.read('guestEsAccessRights')])
      .toEqual([0x200n, 0x2000n, 0xffffffffn, 0x8093n]);
  });

  it('reports through an I/O exit: OUT imm8, AL has size 1, OUT, immediate, port 80H (§28.2.1 Table 28-5)', async () => {
    // B0 42 (mov al, imm8) / E6 80 (out imm8, al).
    const h = await run('mov al, 0x42\nout 0x80, al\nvmcall', real({ controls: { proc: ['unconditionalIoExiting'] } }));
    expect(h.exits).toEqual([{ reason: IO_INSTRUCTION, qualification: 0x00800040n, guestRip: 0x1002n, instructionLength: 2 }]);
    expect(h.reg('rax') & 0xffn).toBe(0x42n);
  });

  it('INT n goes through the IVT: FLAGS, CS, IP pushed, IF cleared; IRET returns (§26.6; Vol. 3A §20.1.4)', async () => {
    const guest = [
      'jmp main', // EB 07 at 1000H
      'handler:', // 1002H = 0100:0002
      'mov cx, 0x55', // B9 55 00
      'vmcall', // at 0100:0005
      'iret', // CF
      'main:', // 1009H
      'mov word ptr [0x100], 2', // C7 06 00 01 02 00: IVT entry 40H, offset
      'mov word ptr [0x102], 0x100', // segment
      'sti',
      'int 0x40', // CD 40 at 1016H
      'vmcall', // 1018H
    ].join('\n');
    expect((await asm(guest, 16, GUEST_CODE)).length).toBe(0x1b);
    const h = await run(guest, real({ events: true }), 2);
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 5n], [VMCALL, 0x1018n]]);
    // After IRET: CS, SP and FLAGS (IF = 1 again) are back; the handler ran.
    expect(h.reg('rcx') & 0xffffn).toBe(0x55n);
    expect(h.read('guestCsSelector')).toBe(0n);
    expect(h.read('guestRsp')).toBe(BigInt(REAL_STACK_POINTER));
    expect(h.read('guestRflags')).toBe(0x202n);
  });

  it('in the INT handler: CS = the IVT segment with base × 16, SP - 6, the frame IP/CS/FLAGS, RFLAGS.IF = 0 (Vol. 3A §20.1.4)', async () => {
    const guest = 'jmp main\nhandler:\nmov cx, 0x55\nvmcall\niret\nmain:\nmov word ptr [0x100], 2\nmov word ptr [0x102], 0x100\nsti\nint 0x40\nvmcall';
    const h = await run(guest, real({ events: true }));
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 5n]]);
    expect([h.read('guestCsSelector'), h.read('guestCsBase')]).toEqual([0x100n, 0x1000n]);
    const sp = REAL_STACK_POINTER - 6, frame = REAL_STACK_SEGMENT * 16 + sp;
    expect(h.read('guestRsp')).toBe(BigInt(sp));
    expect([u16(h, frame), u16(h, frame + 2), u16(h, frame + 4)]).toEqual([0x1018, 0, 0x202]);
    expect(h.read('guestRflags')).toBe(0x2n);
  });

  it('VM entry injects an external interrupt through the IVT (§27.6.1; Vol. 3A §20.1.4)', async () => {
    const h = await VmxHarness.create('vmcall\nhandler:\nvmcall', real({
      events: true,
      fields: { guestRflags: 0x202, vmEntryInterruptionInformationField: 0x80000041 },
    }));
    h.t.phys.writeSized(0x41 * 4, 2, 3); // 0000:1003 = handler, after the 3-byte VMCALL at 1000H
    h.t.phys.writeSized(0x41 * 4 + 2, 2, 0x100);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 3n]]);
    expect(h.read('guestCsSelector')).toBe(0x100n);
    const frame = REAL_STACK_SEGMENT * 16 + REAL_STACK_POINTER - 6;
    expect([u16(h, frame), u16(h, frame + 2), u16(h, frame + 4)]).toEqual([0x1000, 0, 0x202]);
  });
});

describe('events and instructions in a real-mode guest (§26.6)', () => {
  it('an exception in the exception bitmap exits as in protected mode; real mode delivers no error code (§28.2.2)', async () => {
    // #GP(0) from a 32-bit offset beyond the 64-KByte DS limit; in real mode the exception has no error code.
    const h = await run('mov ebx, 0x10000\nmov eax, [ebx]', real({ events: true, fields: { exceptionBitmap: 1 << 13 } }));
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[EXCEPTION, 0x1006n]]);
    expect(h.read('vmExitInterruptionInformation')).toBe(0x8000030dn);
  });

  it('UD2 exits with a hardware-exception #UD (§28.2.2 Table 28-16)', async () => {
    const h = await run('ud2', real({ events: true, fields: { exceptionBitmap: 1 << 6 } }));
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[EXCEPTION, 0x1000n]]);
    expect(h.read('vmExitInterruptionInformation')).toBe(0x80000306n);
  });

  it('VMXON raises #UD in real mode instead of exiting with reason 27; VMCALL exits (§26.6)', async () => {
    const h = await run('vmxon [0x2000]', real({ events: true, fields: { exceptionBitmap: 1 << 6 } }));
    expect(h.exits.map((e) => e.reason)).toEqual([EXCEPTION]);
    expect(h.read('vmExitInterruptionInformation')).toBe(0x80000306n);
  });
});

describe('protected mode without paging (§26.6, §29.3.1)', () => {
  const remapped = (b: Parameters<NonNullable<HarnessOptions['ept']>>[0]): void => {
    b.identity(0, 0x400000, { size: '2M' }).identity(0x400000, 0x500000).map(0x500000, 0x600000, 0x1000);
  };

  it('each linear address is a guest-physical address that only EPT translates', async () => {
    const h = await VmxHarness.create('mov eax, [0x500000]\nmov ebx, [0x400000]\nvmcall', {
      features: UG_MODEL, guestMode: 'protected32', ept: remapped,
    });
    h.t.phys.writeSized(0x600000, 4, 0x11112222);
    h.t.phys.writeSized(0x500000, 4, 0x33334444);
    h.t.phys.writeSized(0x400000, 4, 0x5555);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect([h.reg('rax'), h.reg('rbx')]).toEqual([0x11112222n, 0x5555n]);
    expect(h.read('guestCr0') & (CR0_PE | CR0_PG)).toBe(CR0_PE);
  });

  it('an EPT violation has a valid guest-linear address equal to the guest-physical one, bit 8 set (§28.2.1 Table 28-7)', async () => {
    const h = await run('mov eax, [0x501000]\nvmcall', { features: UG_MODEL, guestMode: 'protected32', ept: remapped });
    expect(h.exits).toEqual([{ reason: EPT_VIOLATION, qualification: 0x181n, guestRip: BigInt(GUEST_CODE), instructionLength: expect.any(Number) }]);
    expect([h.read('guestPhysicalAddress'), h.read('guestLinearAddress')]).toEqual([0x501000n, 0x501000n]);
  });
});

describe('MOV to CR0 and the PE/PG fixed bits (§26.6, §24.8, Appendix A.7)', () => {
  const clearPg = 'mov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\nvmcall';
  /**
   * A 32-bit guest with PAE paging under identity EPT: PDPT at 5000H whose entry 0 (the guest PDPTE0
   * field, §27.3.2.4) points to a page directory at 6000H mapping 0-8 MBytes with 2-MByte pages.
   */
  const paged = (unrestricted: boolean): HarnessOptions => ({
    features: UG_MODEL, ia32eModeGuest: false, controls: { proc2: unrestricted ? ['unrestrictedGuest'] : [] },
    ept: (b) => {
      b.identity(0, 0x800000, { size: '2M' });
      b.phys.writeSized(0x5000, 4, 0x6001);
      for (let k = 0; k < 4; k++) b.phys.writeSized(0x6000 + 8 * k, 4, k * 0x200000 + 0x83);
    },
    fields: { guestCr3: 0x5000, guestPdpte0: 0x6001 },
  });

  it('with "unrestricted guest" a paged 32-bit guest may clear CR0.PG', async () => {
    const h = await run(clearPg, paged(true));
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.read('guestCr0') & (CR0_PE | CR0_PG)).toBe(CR0_PE);
  });

  it('without it CR0.PG stays fixed to 1: #GP(0)', async () => {
    const h = await VmxHarness.create(clearPg, paged(false));
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
  });

  it('a protected-mode guest may clear CR0.PE and go on in real mode with its cached 32-bit CS', async () => {
    const h = await run('mov eax, cr0\nand eax, 0xfffffffe\nmov cr0, eax\nvmcall', { features: UG_MODEL, guestMode: 'protected32' });
    // 0F 20 C0 / 83 E0 FE / 0F 22 C0: VMCALL at 1009H.
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 0x1009n]]);
    expect(h.read('guestCr0') & (CR0_PE | CR0_PG)).toBe(0n);
  });

  it('PG without PE is still #GP(0) (MOV to CR0 page)', async () => {
    const h = await VmxHarness.create('mov eax, cr0\nand eax, 0xfffffffe\nmov cr0, eax\nvmcall', paged(true));
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });

  it('in VMX root operation PE and PG stay fixed whatever the current VMCS says', async () => {
    const h = await run('vmcall', real());
    const c = h.t.cpu;
    expect(c.nonRoot).toBe(false);
    expect(() => loadCr(h.core, c, 0, c.cr0 & ~1, 0)).toThrow(CpuException);
    expect(() => loadCr(h.core, c, 0, (c.cr0 & 0x7fffffff) >>> 0, 0)).toThrow(CpuException);
  });
});

describe('IA-32e mode and EFER with unrestricted guests (§27.3.2.1, §28.2, Appendix A.6)', () => {
  /** GDT at 3000H: 08H flat 32-bit code, 10H flat data, 18H 64-bit code; the GDTR image (limit, base) at 3100H. */
  function writeGdt(h: VmxHarness): void {
    const gdt = [0n, 0x00cf9b000000ffffn, 0x00cf93000000ffffn, 0x00af9b000000ffffn];
    gdt.forEach((d, k) => {
      h.t.phys.writeSized(0x3000 + 8 * k, 4, Number(d & 0xffffffffn));
      h.t.phys.writeSized(0x3004 + 8 * k, 4, Number(d >> 32n));
    });
    h.t.phys.writeSized(0x3100, 2, 0x1f);
    h.t.phys.writeSized(0x3102, 4, 0x3000);
  }

  it('IA32_VMX_MISC bit 5 is 1 on a model with "unrestricted guest", 0 without (Appendix A.6)', () => {
    const inputs = { cr4Settable: 0x2000 | 0x20 };
    expect(new VmxModel(UG_MODEL, inputs).read(VMX_MSR.MISC)!.lo & 0x20).toBe(0x20);
    const noUg = { ...DEFAULT_VMX_MODEL.controls, proc2: DEFAULT_VMX_MODEL.controls.proc2.filter((k) => k !== 'unrestrictedGuest') };
    expect(new VmxModel({ ...DEFAULT_VMX_MODEL, controls: noUg }, inputs).read(VMX_MSR.MISC)!.lo & 0x20).toBe(0);
    expect(new VmxModel(FULL_VMX_MODEL, inputs).read(VMX_MSR.MISC)!.lo & 0x20).toBe(0x20);
  });

  it('a guest goes from real mode to protected mode to 64-bit mode by itself; the exit stores LMA = 1 in "IA-32e mode guest" and VMRESUME goes on in 64-bit mode', async () => {
    const real16 = 'lgdt [0x3100]\nmov eax, cr0\nor eax, 1\nmov cr0, eax\nljmp 0x08:0x1800';
    const protected32 = [
      'mov ax, 0x10', 'mov ds, ax', 'mov es, ax', 'mov ss, ax', 'mov esp, 0x80000',
      'mov eax, cr4', 'or eax, 0x20', 'mov cr4, eax', // PAE
      'mov eax, 0x100000', 'mov cr3, eax', // the harness's 4-level identity tables
      'mov ecx, 0xc0000080', 'rdmsr', 'or eax, 0x100', 'wrmsr', // EFER.LME
      'mov eax, cr0', 'or eax, 0x80000000', 'mov cr0, eax', // PG: IA-32e mode (LMA = 1), compatibility mode
      'ljmp 0x18:0x1c00',
    ].join('\n');
    const long64 = 'mov rax, 0x123456789\nvmcall\nmov rbx, 0x77\nvmcall'; // 48 B8 imm64 (10) / 0F 01 C1 / 48 C7 C3 imm32 (7)
    const h = await VmxHarness.create(real16, real({
      controls: { proc: ['useMsrBitmaps'], entry: ['loadEfer'], exit: ['saveEfer'] },
      fields: { msrBitmapsAddress: SCRATCH, guestIa32Efer: 0 },
      onExit: (_e, hh) => (hh.exits.length === 1 ? 'skip' : 'stop'),
    }));
    writeGdt(h);
    h.t.phys.load(0x1800, await asm(protected32, 32, 0x1800));
    h.t.phys.load(0x1c00, await asm(long64, 64, 0x1c00));
    expect(h.read('vmEntryControls') & ENTRY_IA32E).toBe(0n);
    const seen: bigint[][] = [];
    const onExit = h.onExit;
    h.onExit = (e, hh) => {
      seen.push([hh.read('vmEntryControls') & ENTRY_IA32E, hh.read('guestIa32Efer'), hh.read('guestCr0') & (CR0_PE | CR0_PG),
        hh.read('guestCsSelector'), hh.read('guestCsAccessRights')]);
      return onExit(e, hh);
    };
    h.launch(1000);
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 0x1c0an], [VMCALL, 0x1c14n]]);
    const inLongMode = [ENTRY_IA32E, EFER_LME | EFER_LMA, CR0_PE | CR0_PG, 0x18n, 0xa09bn];
    expect(seen).toEqual([inLongMode, inLongMode]);
    expect(h.reg('rax')).toBe(0x123456789n);
    expect(h.reg('rbx')).toBe(0x77n);
  });

  it('a 64-bit guest that leaves IA-32e mode (CR0.PG = 0 in compatibility mode) exits with "IA-32e mode guest" = 0 and resumes in protected mode', async () => {
    const long64 = 'lgdt [0x3100]\nljmp [0x3200]'; // FF /5: m16:32
    // 0F 20 C0 / 25 imm32 / 0F 22 C0: VMCALL at 180BH; BB imm32: the second at 1813H.
    const compat32 = 'mov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\nvmcall\nmov ebx, 0x99\nvmcall';
    const h = await VmxHarness.create(long64, {
      features: UG_MODEL, controls: { proc2: ['unrestrictedGuest'], entry: ['loadEfer'], exit: ['saveEfer'] },
      ept: (b) => b.identity(0, 0x800000, { size: '2M' }), fields: { guestIa32Efer: EFER_LME | EFER_LMA },
      onExit: (_e, hh) => (hh.exits.length === 1 ? 'skip' : 'stop'),
    });
    writeGdt(h);
    h.t.phys.writeSized(0x3200, 4, 0x1800); // m16:32 far pointer: offset, then selector 08H
    h.t.phys.writeSized(0x3204, 2, 0x08);
    h.t.phys.load(0x1800, await asm(compat32, 32, 0x1800));
    const seen: bigint[][] = [];
    const onExit = h.onExit;
    h.onExit = (e, hh) => {
      seen.push([hh.read('vmEntryControls') & ENTRY_IA32E, hh.read('guestIa32Efer'), hh.read('guestCr0') & (CR0_PE | CR0_PG)]);
      return onExit(e, hh);
    };
    h.launch(1000);
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[VMCALL, 0x180bn], [VMCALL, 0x1813n]]);
    expect(seen).toEqual([[0n, EFER_LME, CR0_PE], [0n, EFER_LME, CR0_PE]]);
    expect(h.reg('rbx')).toBe(0x99n);
  });

  it('without "load IA32_EFER", entry with CR0.PG = 0 leaves EFER.LME as it was (the host\'s) and clears LMA (§27.3.2.1)', async () => {
    const h = await VmxHarness.create('vmcall', real({ controls: { exit: ['saveEfer'] } }));
    const hostEfer = BigInt(h.t.cpu.efer);
    expect(hostEfer & (EFER_LME | EFER_LMA)).toBe(EFER_LME | EFER_LMA);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
    expect(h.read('guestIa32Efer')).toBe(hostEfer & ~EFER_LMA);
  });

  it('... and with CR0.PG = 1 loads LME with "IA-32e mode guest" (0 for a 32-bit guest) (§27.3.2.1)', async () => {
    const h = await VmxHarness.create('vmcall', { features: UG_MODEL, ia32eModeGuest: false, controls: { exit: ['saveEfer'] } });
    const hostEfer = BigInt(h.t.cpu.efer);
    h.launch(100);
    expect(h.read('guestIa32Efer')).toBe(hostEfer & ~(EFER_LME | EFER_LMA));
  });
});

describe('VM-entry checks for unrestricted guests (§27.2.1.1, §27.3.1)', () => {
  it('relaxed with "unrestricted guest": SS.RPL ≠ CS.RPL, SS.DPL ≠ SS.RPL, DS.DPL < DS.RPL, CS type 3 with DPL 0 (§27.3.1.2)', async () => {
    const h = await run('vmcall', real({
      fields: {
        guestCsAccessRights: 0x93, guestSsSelector: 0x7003, guestSsBase: 0x70030, guestDsSelector: 0x0003, guestDsBase: 0x30,
      },
    }));
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
  });

  /** The check a real-mode entry with `o` fails: the VM exit has basic reason 33 with bit 31 set (§27.8). */
  async function failed(o: HarnessOptions): Promise<string | undefined> {
    const h = await run('vmcall', real(o));
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[INVALID_GUEST_STATE, 0n]]);
    return h.core.lastFailedCheck?.check;
  }

  it('"IA-32e mode guest" with CR0.PG = 0 (§27.3.1.1)', async () => {
    expect(await failed({ controls: { entry: ['ia32eModeGuest'] } })).toBe('ia32eModeGuestCr0Pg');
  });
  it('CR0.PG = 1 with CR0.PE = 0 (§27.3.1.1)', async () => {
    const h = await VmxHarness.create('vmcall', real());
    const cr0 = h.read('guestCr0') | CR0_PG;
    expect(await failed({ fields: { guestCr0: cr0 } })).toBe('guestCr0PgRequiresPe');
  });
  it('SS.DPL ≠ 0 with CR0.PE = 0 (§27.3.1.2)', async () => {
    expect(await failed({ fields: { guestCsAccessRights: 0xfb, guestSsAccessRights: 0xf3 } })).toBe('guestSsDplZeroInRealModeOrCsType3');
  });
  it('CS type 3 with DPL ≠ 0 (§27.3.1.2)', async () => {
    expect(await failed({ fields: { guestCsAccessRights: 0xf3, guestSsAccessRights: 0xf3 } })).toBe('guestCsDplZeroForType3');
  });
  it('RFLAGS.VM = 1 with CR0.PE = 0, segments otherwise fit for virtual-8086 mode (§27.3.1.4)', async () => {
    const fields: HarnessOptions['fields'] = { guestRflags: 0x20002 };
    for (const s of ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const) fields[`guest${s}AccessRights`] = 0xf3;
    expect(await failed({ fields })).toBe('guestRflagsVmClearInIa32eModeOrRealMode');
  });
  it('without "unrestricted guest" CR0.PE = 0 breaks the CR0 fixed bits (§27.3.1.1)', async () => {
    expect(await failed({ fields: { secondaryProcessorBasedVmExecutionControls: 2 } })).toBe('guestCr0Fixed');
  });
  it('"unrestricted guest" without "enable EPT" fails the control checks: VMfailValid(7) (§27.2.1.1)', async () => {
    const h = await VmxHarness.create('vmcall', real({ fields: { secondaryProcessorBasedVmExecutionControls: 0x80 } }));
    expect(() => h.launch(100)).toThrow(/VMfailValid\(7\) at unrestrictedGuestNeedsEpt/);
  });
  it('injecting a hardware exception with an error code into a real-mode guest: VMfailValid(7) (§27.2.1.3)', async () => {
    const h = await VmxHarness.create('vmcall', real({ fields: { vmEntryInterruptionInformationField: 0x80000b0d } }));
    expect(() => h.launch(100)).toThrow(/VMfailValid\(7\) at injectionDeliverErrorCode/);
  });
});
