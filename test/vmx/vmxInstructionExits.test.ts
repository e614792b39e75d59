/**
 * The VMX instructions in VMX non-root operation (SDM Vol. 3C ch. 31
 * instruction pages; §26.1.1 priorities, §26.1.2 unconditional exits), with
 * the exit qualification of §28.2.1 and the VM-exit instruction-information
 * field of §28.2.5. Guests run under the TypeScript harness (64-bit, CPL 0
 * unless a test says otherwise). Expected values are computed by hand from
 * the instruction bytes (keystone's encodings, noted beside each) and the
 * SDM's tables: exit reasons of Appendix C, information bit positions of
 * §28.2.5 (scaling 1:0, Reg1 6:3, address size 9:7, mem/reg 10, segment
 * 17:15, index 21:18 + invalid 22, base 26:23 + invalid 27, Reg2 31:28).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { asm } from '../support/asm.ts';
import { GUEST_CODE, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

/*
 * The harness's default model, DEFAULT_VMX_MODEL, has EPT and VPID with INVEPT and INVVPID (Appendix A.10:
 * EPT_VPID_CAP bits 20 and 32) and "enable VM functions" (IA32_VMX_PROCBASED_CTLS2 bit 45).
 */
const D = DEFAULT_VMX_MODEL;
/**
 * DEFAULT_VMX_MODEL without EPT and VPID (IA32_VMX_PROCBASED_CTLS2 bits 33 and 37 = 0, no EPT_VPID_CAP), and so
 * without what needs EPT: unrestricted guest and VMFUNC's EPTP switching.
 */
const NO_EPT_NO_VPID: VmxFeatures = {
  ...D,
  controls: {
    ...D.controls,
    proc2: D.controls.proc2.filter((k) => !['enableEpt', 'enableVpid', 'unrestrictedGuest', 'enableVmFunctions'].includes(k)),
  },
  ept: [],
  vpid: [],
  vmFunctions: [],
};

/** Segment fields for a 64-bit guest at CPL 3 (§27.3.1.2: CS.DPL = SS.DPL = SS.RPL = CS.RPL = 3). */
const CPL3: HarnessOptions['fields'] = {
  guestCsSelector: 0x1b, guestCsAccessRights: 0xa0fb, guestSsSelector: 0x23, guestSsAccessRights: 0xc0f3,
};

interface FirstExit {
  h: VmxHarness;
  reason: number;
  qualification: bigint;
  info: number;
}

/** Runs `guest` until its first VM exit; returns it with the instruction-information field as the handler reads it. */
async function firstExit(guest: string, o: HarnessOptions = {}): Promise<FirstExit> {
  let info = -1;
  const h = await VmxHarness.create(guest, {
    ...o,
    onExit: (_e, h) => {
      info = Number(h.read('vmExitInstructionInformation'));
      return 'stop';
    },
  });
  h.launch();
  expect(h.exits.length).toBe(1);
  const e = h.exits[0]!;
  return { h, reason: e.reason, qualification: e.qualification, info };
}

/** Runs `guest` and expects it to stop on exception `vector` in the guest, without any VM exit. */
async function guestFault(guest: string, vector: number, o: HarnessOptions = {}): Promise<VmxHarness> {
  const h = await VmxHarness.create(guest, o);
  const stop = h.launch();
  expect(stop).toMatchObject({ kind: 'exception', vector });
  expect(h.exits).toEqual([]);
  expect(h.t.cpu.nonRoot).toBe(true);
  return h;
}

describe('VMX instructions exit unconditionally in non-root operation (§26.1.2, Appendix C reasons)', () => {
  const cases: [string, number][] = [
    ['vmcall', 18], ['vmlaunch', 20], ['vmresume', 24], ['vmxoff', 26],
  ];
  for (const [src, reason] of cases) {
    it(`${src} exits with reason ${reason}, qualification 0, guest RIP and length of the instruction (§28.2.1, §28.3.3)`, async () => {
      const x = await firstExit(src);
      expect(x.reason).toBe(reason);
      expect(x.qualification).toBe(0n);
      expect(x.h.exits[0]!.guestRip).toBe(BigInt(GUEST_CODE));
      expect(x.h.exits[0]!.instructionLength).toBe(3);
    });
  }

  it('the exit leaves root state untouched: the harness VMCS stays current and launched (§28)', async () => {
    const x = await firstExit('vmxoff');
    expect(x.h.core.inVmxOperation).toBe(true);
    expect(x.h.core.currentVmcs).toBe(0x201000);
  });
});

describe('exit qualification = displacement (§28.2.1) and instruction information (§28.2.5 Table "VMCLEAR, VMPTRLD, VMPTRST, VMXON")', () => {
  it('VMCLEAR [rbx + rcx*4 + 0x12345678] (66 0F C7 B4 8B disp32): reason 19, qual 0x12345678, scale 4, 64-bit, DS, index RCX, base RBX', async () => {
    const x = await firstExit('vmclear qword ptr [rbx + rcx*4 + 0x12345678]');
    expect(x.reason).toBe(19);
    expect(x.qualification).toBe(0x12345678n);
    // 2 | 2<<7 | 3<<15 | 1<<18 | 3<<23
    expect(x.info).toBe(0x1858102);
    expect(x.h.exits[0]!.instructionLength).toBe(9);
  });

  it('VMPTRLD [rbp - 8] (0F C7 75 F8): reason 21, qual sign-extended to 64 bits, SS by default, no index, base RBP', async () => {
    const x = await firstExit('vmptrld qword ptr [rbp - 8]');
    expect(x.reason).toBe(21);
    expect(x.qualification).toBe(0xfffffffffffffff8n);
    // 2<<7 | 2<<15 | 1<<22 | 5<<23
    expect(x.info).toBe(0x2c10100);
  });

  it('VMPTRST fs:[r12] (64 41 0F C7 3C 24): reason 22, no displacement → qual 0, FS, base R12', async () => {
    const x = await firstExit('vmptrst qword ptr fs:[r12]');
    expect(x.reason).toBe(22);
    expect(x.qualification).toBe(0n);
    // 2<<7 | 4<<15 | 1<<22 | 12<<23
    expect(x.info).toBe(0x6420100);
  });

  it('VMXON [eax + 0x10] (67 F3 0F C7 70 10): reason 27, qual 0x10, 32-bit address size, base RAX', async () => {
    const x = await firstExit('vmxon qword ptr [eax + 0x10]');
    expect(x.reason).toBe(27);
    expect(x.qualification).toBe(0x10n);
    // 1<<7 | 3<<15 | 1<<22 | 0<<23
    expect(x.info).toBe(0x418080);
  });

  it('VMPTRLD [rip + 0x100] (0F C7 35 disp32, 7 bytes): RIP-relative, qual = next RIP + displacement, base and index invalid', async () => {
    const x = await firstExit('vmptrld qword ptr [rip + 0x100]');
    expect(x.reason).toBe(21);
    expect(x.qualification).toBe(BigInt(GUEST_CODE + 7 + 0x100));
    // 2<<7 | 3<<15 | 1<<22 | 1<<27
    expect(x.info).toBe(0x8418100);
  });
});

describe('VMREAD/VMWRITE without VMCS shadowing exit (§26.1.3; §28.2.5 Table "VMREAD and VMWRITE")', () => {
  it('VMREAD r9, r14 (45 0F 78 F1): reason 23, qual 0 for a register operand, mem/reg = 1, Reg1 R9, Reg2 R14', async () => {
    const x = await firstExit('vmread r9, r14');
    expect(x.reason).toBe(23);
    expect(x.qualification).toBe(0n);
    // 1<<10 | 9<<3 | 14<<28
    expect(x.info).toBe(0xe0000448);
  });

  it('VMREAD [rsi + rdi*8 + 0x80], rdx (0F 78 94 FE disp32): qual 0x80, scale 8, DS, index RDI, base RSI, Reg2 RDX', async () => {
    const x = await firstExit('vmread qword ptr [rsi + rdi*8 + 0x80], rdx');
    expect(x.reason).toBe(23);
    expect(x.qualification).toBe(0x80n);
    // 3 | 2<<7 | 3<<15 | 7<<18 | 6<<23 | 2<<28
    expect(x.info).toBe(0x231d8103);
  });

  it('VMWRITE r15, [r8] (45 0F 79 38): reason 25, qual 0, base R8, Reg2 R15', async () => {
    const x = await firstExit('vmwrite r15, qword ptr [r8]');
    expect(x.reason).toBe(25);
    expect(x.qualification).toBe(0n);
    // 2<<7 | 3<<15 | 1<<22 | 8<<23 | 15<<28
    expect(x.info).toBe(0xf4418100);
  });

  it('VMWRITE rcx, rdx (0F 79 CA): mem/reg = 1, Reg1 RDX (the source), Reg2 RCX (the encoding)', async () => {
    const x = await firstExit('vmwrite rcx, rdx');
    expect(x.reason).toBe(25);
    // 1<<10 | 2<<3 | 1<<28
    expect(x.info).toBe(0x10000410);
  });
});

describe('INVEPT and INVVPID (their pages; §28.2.5 Table "INVEPT, INVPCID, and INVVPID")', () => {
  it('INVEPT r11, [rsp + 0x20] (66 44 0F 38 80 5C 24 20): reason 50, qual 0x20, SS, base RSP, Reg2 R11', async () => {
    const x = await firstExit('invept r11, xmmword ptr [rsp + 0x20]');
    expect(x.reason).toBe(50);
    expect(x.qualification).toBe(0x20n);
    // 2<<7 | 2<<15 | 1<<22 | 4<<23 | 11<<28
    expect(x.info).toBe(0xb2410100);
  });

  it('INVVPID rdx, [rax + rbx*2] (66 0F 38 81 14 58): reason 53, qual 0, scale 2, index RBX, base RAX, Reg2 RDX', async () => {
    const x = await firstExit('invvpid rdx, xmmword ptr [rax + rbx*2]');
    expect(x.reason).toBe(53);
    expect(x.qualification).toBe(0n);
    // 1 | 2<<7 | 3<<15 | 3<<18 | 0<<23 | 2<<28
    expect(x.info).toBe(0x200d8101);
  });

  it('#UD instead of the exit on a processor without EPT / VPID (INVEPT/INVVPID pages, §26.1.1)', async () => {
    await guestFault('invept rax, xmmword ptr [rbx]', 6, { features: NO_EPT_NO_VPID });
    await guestFault('invvpid rax, xmmword ptr [rbx]', 6, { features: NO_EPT_NO_VPID });
  });

  it('#UD with EPT but without the INVEPT capability (IA32_VMX_EPT_VPID_CAP bit 20 = 0)', async () => {
    await guestFault('invept rax, xmmword ptr [rbx]', 6, { features: { ...D, ept: ['pageWalkLength4', 'memoryTypeWb'] } });
  });

  it('the capability is the processor\'s, not the VMCS\'s: INVEPT exits with "enable EPT" = 0 in the VMCS (§26.1.2)', async () => {
    const x = await firstExit('invept rax, xmmword ptr [rbx]');
    expect(x.reason).toBe(50);
  });
});

describe('VMFUNC (VMFUNC page, §26.5.6)', () => {
  it('#UD when "enable VM functions" is 0 in the VMCS, though the processor supports it and EPTP switching (VMFUNC page: the control, not the capability)', async () => {
    await guestFault('xor eax, eax\nvmfunc', 6);
  });

  it('#UD on a processor without VM functions (IA32_VMX_PROCBASED_CTLS2 bit 45 = 0)', async () => {
    await guestFault('xor eax, eax\nvmfunc', 6, { features: NO_EPT_NO_VPID });
  });

  it('#UD when "enable VM functions" is 1 but EAX >= 64', async () => {
    await guestFault('mov eax, 64\nvmfunc', 6, { controls: { proc: ['activateSecondaryControls'], proc2: ['enableVmFunctions'] } });
  });

  it('#UD when "enable VM functions" is set but "activate secondary controls" is 0 (§27.2.1.1: secondary controls then count as 0)', async () => {
    await guestFault('xor eax, eax\nvmfunc', 6, { controls: { proc2: ['enableVmFunctions'] } });
  });

  // EAX = 0 is EPTP switching, which the processor supports (IA32_VMX_VMFUNC bit 0) but the VM-function controls leave off.
  for (const eax of [63, 0]) {
    it(`exits with reason 59 and qualification 0 when VM function ${eax} is disabled in the VM-function controls`, async () => {
      const x = await firstExit(`mov eax, ${eax}\nvmfunc`, { controls: { proc: ['activateSecondaryControls'], proc2: ['enableVmFunctions'] } });
      expect(x.reason).toBe(59);
      expect(x.qualification).toBe(0n);
      expect(x.h.exits[0]!.guestRip).toBe(BigInt(GUEST_CODE + 5)); // after MOV EAX, imm32 (B8 id)
      expect(x.h.exits[0]!.instructionLength).toBe(3);
    });
  }
});

describe('priorities in non-root operation (§26.1.1; the pages\' operation sections)', () => {
  for (const [src, reason] of [['vmxon qword ptr [rbx]', 27], ['vmread rax, rbx', 23], ['vmclear qword ptr [rbx]', 19], ['vmlaunch', 20]] as const) {
    it(`${src} at CPL 3 exits (reason ${reason}): the CPL check comes after the exit`, async () => {
      const x = await firstExit(src, { fields: CPL3 });
      expect(x.reason).toBe(reason);
      expect(x.h.read('guestSsAccessRights') & 0x60n).toBe(0x60n);
    });
  }

  /** A compatibility-mode guest (CS.L = 0, D = 1) running 32-bit code at 0x3000. */
  async function compat(src: string, o: HarnessOptions = {}): Promise<VmxHarness> {
    const h = await VmxHarness.create('hlt', { ...o, fields: { guestCsAccessRights: 0xc09b, guestRip: 0x3000 } });
    h.t.phys.load(0x3000, await asm(src, 32, 0x3000));
    return h;
  }

  it('VMCALL in compatibility mode exits (VMCALL page: no mode check in non-root operation)', async () => {
    const h = await compat('vmcall');
    h.launch();
    expect(h.exits.map((e) => e.reason)).toEqual([18]);
    expect(h.exits[0]!.guestRip).toBe(0x3000n);
  });

  for (const src of ['vmclear qword ptr [ebx]', 'vmread eax, ebx', 'vmxoff', 'vmptrst qword ptr [ebx]']) {
    it(`${src} in compatibility mode raises #UD before any exit`, async () => {
      const h = await compat(src);
      expect(h.launch()).toMatchObject({ kind: 'exception', vector: 6 });
      expect(h.exits).toEqual([]);
    });
  }
});
