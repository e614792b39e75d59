/**
 * I/O instructions in VMX non-root operation (SDM Vol. 3C §26.1.3: IN,
 * INS, OUT, OUTS with "unconditional I/O exiting" and "use I/O bitmaps"),
 * the qualification of §28.2.1 Table 28-5, the guest-linear address and
 * the INS/OUTS instruction information of §28.2.5 Table 28-8, and the
 * priorities of §26.1.1. A recording device on the ports tells whether an
 * access really happened.
 */
import { describe, expect, it } from 'vitest';
import type { PortDevice } from '../../cpu/portIo.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { asm } from '../support/asm.ts';
import { startAtCpl3 } from '../support/vmxCpl3.ts';
import { GUEST_CODE, SCRATCH, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const IO_INSTRUCTION = 30, HLT = 12;
const BITMAP_A = SCRATCH, BITMAP_B = SCRATCH + 0x1000;

const FEATURES: VmxFeatures = {
  ...DEFAULT_VMX_MODEL,
  controls: { ...DEFAULT_VMX_MODEL.controls, proc: [...DEFAULT_VMX_MODEL.controls.proc, 'unconditionalIoExiting', 'useIoBitmaps'] },
  insOutsInformation: true,
};

type Proc = NonNullable<NonNullable<HarnessOptions['controls']>['proc']>;

interface Setup {
  proc?: Proc;
  fields?: HarnessOptions['fields'];
  features?: VmxFeatures;
  ia32eModeGuest?: boolean;
}

/** A harness with HLT exiting and a device recording every access to ports 0000H-FFFFH that it is asked to claim. */
async function create(guest: string, o: Setup = {}): Promise<{ h: VmxHarness; accesses: string[] }> {
  const h = await VmxHarness.create(guest, {
    features: o.features ?? FEATURES, controls: { proc: ['hltExiting', ...(o.proc ?? [])] },
    fields: { ioBitmapAAddress: BITMAP_A, ioBitmapBAddress: BITMAP_B, ...o.fields }, ia32eModeGuest: o.ia32eModeGuest,
  });
  const accesses: string[] = [];
  const device: PortDevice = {
    name: 'recorder',
    read: (port, size) => { accesses.push(`in ${port.toString(16)}/${size}`); return 0; },
    write: (port, size) => { accesses.push(`out ${port.toString(16)}/${size}`); },
  };
  for (const first of [0x60, 0x80, 0x3f0, 0x7ff0, 0xfff0]) h.t.cpu.io.claim(first, 0x10, device);
  return { h, accesses };
}

/** Sets the I/O-bitmap bit of `port` (§25.6.4: A for 0000H-7FFFH, B for 8000H-FFFFH). */
function denyPort(h: VmxHarness, port: number): void {
  const at = (port < 0x8000 ? BITMAP_A : BITMAP_B) + ((port & 0x7fff) >> 3);
  h.t.phys.writeSized(at, 1, h.t.phys.readSized(at, 1) | (1 << (port & 7)));
}

/** Table 28-5: size of access, direction (1 = IN), string, REP, operand encoding (1 = immediate), port. */
const qual = (size: number, input: boolean, port: number, o: { string?: boolean; rep?: boolean; immediate?: boolean } = {}): bigint =>
  BigInt((size - 1) | (+input << 3) | (+!!o.string << 4) | (+!!o.rep << 5) | (+!!o.immediate << 6)) | (BigInt(port) << 16n);

async function after(prefix: string, bits: 32 | 64 = 64): Promise<bigint> {
  return BigInt(GUEST_CODE + (await asm(prefix, bits, GUEST_CODE)).length);
}

describe('IN and OUT (SDM Vol. 3C §26.1.3)', () => {
  it('unconditional I/O exiting: IN AL, imm8 exits with size 1, IN, immediate, port (§28.2.1 Table 28-5)', async () => {
    const { h, accesses } = await create('in al, 0x80\nhlt', { proc: ['unconditionalIoExiting'] });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: IO_INSTRUCTION, qualification: qual(1, true, 0x80, { immediate: true }), guestRip: BigInt(GUEST_CODE), instructionLength: 2 }]);
    expect(accesses).toEqual([]);
  });

  it('OUT DX, EAX: size code 3, OUT, DX encoding; IN AX, DX: size code 1 (§28.2.1 Table 28-5)', async () => {
    const prefix = 'mov edx, 0x3f8';
    const { h } = await create(`${prefix}\nout dx, eax\nin ax, dx\nhlt`, { proc: ['unconditionalIoExiting'] });
    h.onExit = () => 'skip';
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification, e.guestRip, e.instructionLength])).toEqual([
      [IO_INSTRUCTION, qual(4, false, 0x3f8), await after(prefix), 1],
      [IO_INSTRUCTION, qual(2, true, 0x3f8), await after(`${prefix}\nout dx, eax`), 2],
      [HLT, 0n, await after(`${prefix}\nout dx, eax\nin ax, dx`), 1],
    ]);
  });

  it('REP before IN is not reported: bit 5 is for string instructions (§28.2.1 Table 28-5)', async () => {
    const { h } = await create('mov edx, 0x60\n.byte 0xf3, 0xec\nhlt', { proc: ['unconditionalIoExiting'] });
    h.launch(100);
    expect(h.exits[0]!.qualification).toBe(qual(1, true, 0x60));
  });

  it('both controls clear ("control clear"): no exit, the accesses happen (§26.1.3)', async () => {
    const { h, accesses } = await create('in al, 0x80\nmov edx, 0x3f8\nout dx, ax\nhlt');
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(accesses).toEqual(['in 80/1', 'out 3f8/2']);
  });

  it('use I/O bitmaps: an access exits if the bit of any port it touches is 1, in bitmap A (0000H-7FFFH) or B (8000H-FFFFH); unconditional I/O exiting is ignored (§25.6.4)', async () => {
    const accessesOf: [string, boolean][] = [
      ['mov edx, 0x3f8\nout dx, al', false], // 3F8
      ['mov edx, 0x3f8\nout dx, ax', true], // 3F8-3F9
      ['mov edx, 0x3f6\nout dx, eax', true], // 3F6-3F9
      ['mov edx, 0x3f4\nout dx, eax', false], // 3F4-3F7
      ['mov edx, 0x7fff\nin eax, dx', true], // 7FFF-8002 across A and B
      ['mov edx, 0x7ffe\nin eax, dx', false], // 7FFE-8001
    ];
    const { h, accesses } = await create(`${accessesOf.map(([a]) => a).join('\n')}\nhlt`, { proc: ['useIoBitmaps', 'unconditionalIoExiting'] });
    denyPort(h, 0x3f9);
    denyPort(h, 0x8002);
    h.onExit = () => 'skip';
    h.launch(100);
    const exitingPorts = accessesOf.filter(([, exits]) => exits).map(([a]) => Number(a.match(/0x[0-9a-f]+/)![0]));
    expect(h.exits.map((e) => e.reason)).toEqual([...exitingPorts.map(() => IO_INSTRUCTION), HLT]);
    expect(h.exits.slice(0, -1).map((e) => Number(e.qualification >> 16n))).toEqual(exitingPorts);
    expect(accesses).toEqual(['out 3f8/1', 'out 3f4/4', 'in 7ffe/4']);
  });

  it('use I/O bitmaps: an access that wraps past FFFFH to 0000H exits although every bit is 0 (§26.1.3)', async () => {
    const { h, accesses } = await create('mov edx, 0xffff\nin al, dx\nin ax, dx\nmov edx, 0xfffe\nin ax, dx\nin eax, dx\nhlt', { proc: ['useIoBitmaps'] });
    h.onExit = () => 'skip';
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([
      [IO_INSTRUCTION, qual(2, true, 0xffff)],
      [IO_INSTRUCTION, qual(4, true, 0xfffe)],
      [HLT, 0n],
    ]);
    expect(accesses).toEqual(['in ffff/1', 'in fffe/2']);
  });

  it('the I/O-permission #GP(0) at CPL 3 with IOPL 0 comes before the exit (§26.1.1)', async () => {
    const { h, accesses } = await create('in al, 0x80\nhlt', { proc: ['unconditionalIoExiting'] });
    startAtCpl3(h, 0);
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
    expect(accesses).toEqual([]);
  });

  it('at CPL 3 with IOPL 3 the access is allowed, so it exits (§26.1.1)', async () => {
    const { h } = await create('in al, 0x80\nhlt', { proc: ['unconditionalIoExiting'] });
    startAtCpl3(h, 3);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[IO_INSTRUCTION, qual(1, true, 0x80, { immediate: true })]]);
  });
});

describe('INS and OUTS (SDM Vol. 3C §26.1.3, §28.2.1, §28.2.5)', () => {
  it('REP OUTSB with an FS override: string and REP bits, guest-linear address FS:RSI, instruction information 64-bit address size, segment FS (§28.2.1 Table 28-5, §28.2.5 Table 28-8)', async () => {
    const prefix = 'mov rsi, 0x3000\nmov edx, 0x80\nmov ecx, 4';
    const { h, accesses } = await create(`${prefix}\nrep outsb dx, byte ptr fs:[rsi]\nhlt`, { proc: ['unconditionalIoExiting'], fields: { guestFsBase: 0x10000 } });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: IO_INSTRUCTION, qualification: qual(1, false, 0x80, { string: true, rep: true }), guestRip: await after(prefix), instructionLength: 3 }]);
    expect(h.read('guestLinearAddress')).toBe(0x13000n);
    expect(h.read('vmExitInstructionInformation')).toBe(BigInt((2 << 7) | (4 << 15)));
    expect(h.reg('rcx')).toBe(4n); // no iteration ran
    expect(accesses).toEqual([]);
  });

  it('INSD with a 32-bit address size: ES:EDI, address-size code 1, segment ES (§28.2.5 Table 28-8)', async () => {
    const { h } = await create('mov rdi, 0x100003000\nmov edx, 0x60\nins dword ptr [edi], dx\nhlt', { proc: ['unconditionalIoExiting'] });
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification, e.instructionLength])).toEqual([[IO_INSTRUCTION, qual(4, true, 0x60, { string: true }), 2]]);
    expect(h.read('guestLinearAddress')).toBe(0x3000n); // EDI: bits 63:32 of RDI are not part of the address
    expect(h.read('vmExitInstructionInformation')).toBe(BigInt(1 << 7));
  });

  it('outside 64-bit mode: a 16-bit address size wraps DI, adds the ES base, code 0 (32-bit guest, §28.2.1, §28.2.5 Table 28-8)', async () => {
    // PAE paging for the 32-bit guest (SDM Vol. 3A §4.4): one PDPTE, 2-MByte identity pages over the first 16 MBytes.
    const PDPT = SCRATCH + 0x20000, PD = SCRATCH + 0x21000;
    const { h } = await create('mov edi, 0x1fffe\nmov edx, 0x61\n.byte 0x67, 0x6c\nhlt', {
      proc: ['unconditionalIoExiting'], ia32eModeGuest: false, fields: { guestEsBase: 0x20000, guestCr3: PDPT },
    });
    h.t.phys.writeSized(PDPT, 4, PD | 1);
    for (let k = 0; k < 8; k++) h.t.phys.writeSized(PD + 8 * k, 4, (k << 21) | 0x87);
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.qualification])).toEqual([[IO_INSTRUCTION, qual(1, true, 0x61, { string: true })]]);
    expect(h.read('guestLinearAddress')).toBe(0x2fffen);
    expect(h.read('vmExitInstructionInformation')).toBe(0n);
  });

  it('without IA32_VMX_BASIC bit 54 the instruction-information field is not written (§28.2.5)', async () => {
    const { h } = await create('mov rsi, 0x3000\nmov edx, 0x80\nouts dx, byte ptr gs:[rsi]\nhlt', {
      proc: ['unconditionalIoExiting'], features: { ...FEATURES, insOutsInformation: false },
    });
    h.launch(100);
    expect(h.exits[0]!.reason).toBe(IO_INSTRUCTION);
    expect(h.read('vmExitInstructionInformation')).toBe(0n); // still the VMCS's initial value, not (2 << 7) | (5 << 15)
  });

  it('the exit has priority over the canonical-address #GP of the memory operand (§26.1.1)', async () => {
    const { h } = await create('mov rsi, 0x800000000000\nmov edx, 0x80\noutsb\nhlt', { proc: ['unconditionalIoExiting'] });
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([IO_INSTRUCTION]);
    expect(h.read('guestLinearAddress')).toBe(0x800000000000n);
  });

  it('the I/O-permission #GP(0) comes before the exit for OUTS too (§26.1.1)', async () => {
    const { h } = await create('mov rsi, 0x3000\nmov edx, 0x80\noutsb\nhlt', { proc: ['unconditionalIoExiting'] });
    startAtCpl3(h, 0);
    expect(h.launch(100)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
    expect(h.exits).toEqual([]);
  });

  it('use I/O bitmaps with clear bits: REP INSB runs every iteration without exiting (§26.1.3)', async () => {
    const { h, accesses } = await create('mov rdi, 0x3000\nmov edx, 0x61\nmov ecx, 3\nrep insb\nhlt', { proc: ['useIoBitmaps'] });
    denyPort(h, 0x62);
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
    expect(accesses).toEqual(['in 61/1', 'in 61/1', 'in 61/1']);
    expect(h.reg('rdi')).toBe(0x3003n);
  });

  it('a REP INS with RCX = 0 makes no access and does not exit (no iteration; §26.1.3 is silent on this case)', async () => {
    const { h } = await create('mov edx, 0x61\nxor ecx, ecx\nrep insb\nhlt', { proc: ['unconditionalIoExiting'] });
    h.launch(100);
    expect(h.exits.map((e) => e.reason)).toEqual([HLT]);
  });
});
