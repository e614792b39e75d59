/**
 * VM exits caused by events in VMX non-root operation (SDM Vol. 3C §26.2)
 * and what they record: exit qualification (§28.2.1), VM-exit
 * interruption information (§28.2.2), IDT-vectoring information (§28.2.3),
 * instruction length (§28.2.4), RIP/RFLAGS (§28.3.3) and non-register
 * state (§28.3.4). Expected values are composed here from the SDM's field
 * layouts: information = valid (bit 31) | error code valid (bit 11) |
 * type << 8 | vector.
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { attachSystem } from '../../cpu/system/events.ts';
import { GUEST_CODE, GUEST_STACK, type HarnessOptions, SCRATCH, VmxHarness } from '../support/vmxHarness.ts';
import {
  EVENT_FEATURES, eventGuest, frameRsp, handlerOf, interruptSource, stackSlot, VMCALL, writeGate,
} from '../support/vmxGuestEvents.ts';

const VALID = 1n << 31n, ERROR_CODE = 1n << 11n, NMI_UNBLOCKING = 1n << 12n;
const info = (vector: number, type: number, errorCode = false): bigint =>
  VALID | (errorCode ? ERROR_CODE : 0n) | (BigInt(type) << 8n) | BigInt(vector);
const HARDWARE = 3, EXTERNAL = 0, NMI = 2, SOFTWARE_INT = 4, PRIVILEGED = 5, SOFTWARE_EXCEPTION = 6;
const RF = 1n << 16n, IF = 0x200;
/** Exit reasons (Appendix C). */
const EXCEPTION = 0, EXTERNAL_INTERRUPT = 1, TRIPLE_FAULT = 2, INIT = 3, SIPI = 4, INTERRUPT_WINDOW = 7, NMI_WINDOW = 8;

const reasons = (h: VmxHarness): number[] => h.exits.map((e) => e.reason);
const read = (h: VmxHarness, f: Parameters<VmxHarness['read']>[0]): bigint => h.read(f);

/** IRETQ to `done` through a frame the guest builds (RIP, CS 0x08, RFLAGS, RSP, SS 0x10): 19 bytes, done at +19. */
const IRET_TO_DONE = 'mov rax, rsp\npush 0x10\npush rax\npushfq\npush 0x08\nlea rcx, [rip + done]\npush rcx\niretq\ndone:\n';
const DONE = BigInt(GUEST_CODE + 19);

describe('exceptions and the exception bitmap (SDM Vol. 3C §26.2, §28.2.2)', () => {
  it('#UD with bit 6 set exits with basic reason 0, type hardware exception, no error code, RIP of UD2, RF = 1 (§26.2, §28.2.2, §28.3.3)', async () => {
    const h = await eventGuest('ud2', { fields: { exceptionBitmap: 1 << 6 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(6, HARDWARE));
    expect(read(h, 'idtVectoringInformationField') & VALID).toBe(0n);
    expect(read(h, 'guestRflags') & RF).toBe(RF);
  });

  it('#GP(selector) reports error code valid and the error code (§28.2.2)', async () => {
    // MOV DS with selector 1230H: index 246H is beyond the GDT limit, #GP(1230H) (SDM Vol. 2B MOV).
    const h = await eventGuest('mov ax, 0x1230\nmov ds, ax', { fields: { exceptionBitmap: 1 << 13 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE + 4) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(13, HARDWARE, true));
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(0x1230n);
  });

  it('an exception whose bit is 0 is delivered through the guest IDT (§26.2)', async () => {
    const h = await eventGuest('ud2', { fields: { exceptionBitmap: ~(1 << 6) } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL, guestRip: BigInt(handlerOf(6) + 5) }]);
    expect(h.reg('rax')).toBe(6n);
    expect(read(h, 'guestRsp')).toBe(frameRsp(false));
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE));
  });

  // MOV byte [RBX], 1 with RBX = 1000_0000_0000H: PML4 entry 32 is not present, so #PF with
  // error code 2 (write, not present, supervisor; SDM Vol. 3A §4.7) at GUEST_CODE + 10.
  const PF_GUEST = 'mov rbx, 0x100000000000\nmov byte ptr [rbx], 1';
  const PFEC = 2;
  for (const [bit14, mask, match] of [[1, 0, 0], [1, 0, 0xffffffff], [0, 2, 2], [0, 2, 0], [1, 1, 1], [0, 3, 2]] as const) {
    // The rule as the SDM states it: equality follows bit 14, inequality reverses it.
    const exits = ((PFEC & mask) >>> 0 === match) === (bit14 === 1);
    it(`#PF (PFEC ${PFEC}) with bit 14 = ${bit14}, mask ${mask.toString(16)}H, match ${match.toString(16)}H ${exits ? 'exits' : 'is delivered'} (§26.2 page faults)`, async () => {
      const h = await eventGuest(PF_GUEST, {
        fields: { exceptionBitmap: bit14 << 14, pageFaultErrorCodeMask: mask, pageFaultErrorCodeMatch: match },
      });
      h.launch(100);
      if (exits) {
        expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0x100000000000n, guestRip: BigInt(GUEST_CODE + 10) }]);
        expect(read(h, 'vmExitInterruptionInformation')).toBe(info(14, HARDWARE, true));
        expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt(PFEC));
      } else {
        expect(reasons(h)).toEqual([VMCALL]);
        expect(h.reg('rax')).toBe(14n);
        expect(h.t.cpu.cr2).toBe(0x100000000000);
      }
    });
  }

  it('#PF exit qualification is the full 64-bit linear address in 64-bit mode (§28.2.1)', async () => {
    const h = await eventGuest('mov rbx, 0xffff800000000000\nmov al, [rbx]', { fields: { exceptionBitmap: 1 << 14 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0xffff800000000000n }]);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(0n); // read, not present, supervisor
  });

  describe('CR2 and DR6/DR7: written only by an exception that does not exit directly (§28.1)', () => {
    const OLD_CR2 = 0x5555000;
    const withCr2 = async (source: string, o: HarnessOptions): Promise<VmxHarness> => {
      const h = await eventGuest(source, o);
      h.t.cpu.cr2 = OLD_CR2;
      return h;
    };

    it('a #PF that exits leaves CR2 as it was; the qualification still has the linear address (§28.2.1)', async () => {
      const h = await withCr2(PF_GUEST, { fields: { exceptionBitmap: 1 << 14 } });
      h.launch(100);
      expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0x100000000000n }]);
      expect(h.t.cpu.cr2).toBe(OLD_CR2);
    });

    it('a #PF delivered through the guest IDT writes CR2', async () => {
      const h = await withCr2(PF_GUEST, { fields: { exceptionBitmap: 0 } });
      h.launch(100);
      expect(reasons(h)).toEqual([VMCALL]);
      expect(h.reg('rax')).toBe(14n);
      expect(h.t.cpu.cr2).toBe(0x100000000000);
    });

    it('a #PF whose delivery faults into an exit (#NP, bit 11) exits indirectly, so it writes CR2', async () => {
      const h = await withCr2(PF_GUEST, { fields: { exceptionBitmap: 1 << 11 } });
      writeGate(h, 14, { present: false });
      h.launch(100);
      expect(read(h, 'idtVectoringInformationField')).toBe(info(14, HARDWARE, true));
      expect(h.t.cpu.cr2).toBe(0x100000000000);
    });

    // RSP in the same unmapped region: delivering pushes SS at 1000_0000_0FF8H first (SDM Vol. 3A §6.14.2), a
    // write that faults with error code 2.
    const BAD_STACK = 'mov rsp, 0x100000001000\n';
    it('a #PF met delivering a #PF becomes #DF (SDM Vol. 3A Table 6-5), which exits; CR2 has the second #PF\'s address', async () => {
      const h = await withCr2(`${BAD_STACK}${PF_GUEST}`, { fields: { exceptionBitmap: 1 << 8 } });
      h.launch(100);
      expect(read(h, 'vmExitInterruptionInformation')).toBe(info(8, HARDWARE, true));
      expect(h.t.cpu.cr2).toBe(0x100000000ff8);
    });

    it('a #PF met delivering #UD that exits (bit 14) is a direct exit: CR2 unchanged, the address in the qualification', async () => {
      const h = await withCr2(`${BAD_STACK}ud2`, { fields: { exceptionBitmap: 1 << 14 } });
      h.launch(100);
      expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0x100000000ff8n }]);
      expect(read(h, 'vmExitInterruptionErrorCode')).toBe(2n);
      expect(read(h, 'idtVectoringInformationField')).toBe(info(6, HARDWARE));
      expect(h.t.cpu.cr2).toBe(OLD_CR2);
    });

    const GD: HarnessOptions = { controls: { entry: ['loadDebugControls'], exit: ['saveDebugControls'] }, fields: { guestDr7: 0x2400 } };
    const DR6_INIT = 0xffff0ff0, BD = 1 << 13;
    it('a general-detect #DB that exits leaves DR6 and DR7.GD as they were (§28.1)', async () => {
      const h = await eventGuest('mov rax, dr7', { ...GD, fields: { ...GD.fields, exceptionBitmap: 1 << 1 } });
      h.launch(100);
      expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: BigInt(BD) }]);
      expect(h.t.cpu.sys.dr[12]! >>> 0).toBe(DR6_INIT);
      expect(read(h, 'guestDr7')).toBe(0x2400n); // saved by "save debug controls"
    });

    it('a general-detect #DB delivered through the guest IDT sets DR6.BD and clears DR7.GD (SDM Vol. 3A §18.2.4)', async () => {
      const h = await eventGuest('mov rax, dr7', GD);
      h.launch(100);
      expect(reasons(h)).toEqual([VMCALL]);
      expect(h.reg('rax')).toBe(1n);
      expect(h.t.cpu.sys.dr[12]! >>> 0).toBe((DR6_INIT | BD) >>> 0);
      expect(read(h, 'guestDr7')).toBe(0x400n);
    });
  });

  it('#DB for general detect (DR7.GD) exits with qualification BD, bit 13 (§28.2.1 Table 28-1)', async () => {
    const h = await eventGuest('mov rax, dr7', { controls: { entry: ['loadDebugControls'] }, fields: { exceptionBitmap: 1 << 1, guestDr7: 0x2400 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 1n << 13n, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(1, HARDWARE));
  });

  it('INT3 with bit 3 exits as a software exception: type 6, RIP of INT3, instruction length 1, qualification 0 (§28.2.2, §28.2.4, §28.3.3)', async () => {
    const h = await eventGuest('nop\nint3', { fields: { exceptionBitmap: 1 << 3 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0n, guestRip: BigInt(GUEST_CODE + 1), instructionLength: 1 }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(3, SOFTWARE_EXCEPTION));
    // A trap: the RFLAGS image it would push has RF as it was, 0.
    expect(read(h, 'guestRflags') & RF).toBe(0n);
  });

  it('INT1 with bit 1 exits as a privileged software exception: type 5, instruction length 1 (§28.2.2)', async () => {
    const h = await eventGuest('.byte 0xf1', { fields: { exceptionBitmap: 1 << 1 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0n, guestRip: BigInt(GUEST_CODE), instructionLength: 1 }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(1, PRIVILEGED));
  });

  it('INT n is not an exception: INT 3 (CD 03) is delivered whatever bit 3 (§26.2)', async () => {
    const h = await eventGuest('.byte 0xcd, 0x03', { fields: { exceptionBitmap: 1 << 3 } });
    h.launch(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.reg('rax')).toBe(3n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE + 2));
  });

  it('INTO (OF = 1) in a 32-bit guest exits as a software exception with vector 4 and length 1 (§28.2.2)', async () => {
    // PAE paging for the 32-bit guest (SDM Vol. 3A §4.4): one PDPTE, 2-MByte identity pages over 16 MBytes.
    const PDPT = SCRATCH + 0x20000, PD = SCRATCH + 0x21000;
    const h = await VmxHarness.create('mov al, 0x7f\nadd al, 1\ninto', {
      features: EVENT_FEATURES, ia32eModeGuest: false, fields: { guestCr3: PDPT, exceptionBitmap: 1 << 4 },
    });
    h.t.phys.writeSized(PDPT, 4, PD | 1);
    for (let k = 0; k < 8; k++) h.t.phys.writeSized(PD + 8 * k, 4, (k << 21) | 0x87);
    attachSystem(h.t.cpu);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE + 4), instructionLength: 1 }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(4, SOFTWARE_EXCEPTION));
  });
});

describe('faults during event delivery: IDT-vectoring information (SDM Vol. 3C §28.2.3)', () => {
  it('INT n through a not-present gate: #NP exits with the software interrupt as IDT-vectoring information, RIP and length of INT n', async () => {
    const h = await eventGuest('int 0x40', { fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 0x40, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE), instructionLength: 2 }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(11, HARDWARE, true));
    // IDT error code (SDM Vol. 3A §6.13): vector << 3 | IDT (bit 1); EXT = 0 for INT n.
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((0x40 << 3) | 2));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(0x40, SOFTWARE_INT));
  });

  it('a hardware exception\'s delivery fault: IDT-vectoring names #UD, no error code; no blocking by STI is saved (§28.1)', async () => {
    const h = await eventGuest('sti\nud2', { fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 6, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((6 << 3) | 2 | 1));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(6, HARDWARE));
    expect(read(h, 'guestInterruptibilityState')).toBe(0n);
  });

  it('an NMI\'s delivery fault: IDT-vectoring type NMI, vector 2; the NMI blocked NMIs before the exit (§28.1, §28.2.3)', async () => {
    const h = await eventGuest('nop', { fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 2, { present: false });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((2 << 3) | 3));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(2, NMI));
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
  });

  it('an external interrupt\'s delivery fault: IDT-vectoring type 0 with the vector, the interrupt acknowledged (§28.1, §28.2.3)', async () => {
    const h = await eventGuest('nop', { fields: { exceptionBitmap: 1 << 11, guestRflags: 0x2 | IF } });
    writeGate(h, 0x41, { present: false });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((0x41 << 3) | 3));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(0x41, EXTERNAL));
    expect(src.acknowledged).toBe(1);
  });

  const GP_GUEST = 'mov ax, 0x1230\nmov ds, ax';
  it('#NP delivering #GP exits with #GP and its error code as IDT-vectoring information (§28.2.3)', async () => {
    const h = await eventGuest(GP_GUEST, { fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 13, { present: false });
    h.launch(100);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(11, HARDWARE, true));
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((13 << 3) | 3));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(13, HARDWARE, true));
    expect(read(h, 'idtVectoringErrorCode')).toBe(0x1230n);
  });

  it('the #DF two contributory faults make exits directly, without IDT-vectoring information (§28.2.3, SDM Vol. 3A Table 6-5)', async () => {
    const h = await eventGuest(GP_GUEST, { fields: { exceptionBitmap: 1 << 8 } });
    writeGate(h, 13, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE + 4) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(8, HARDWARE, true));
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(0n);
    expect(read(h, 'idtVectoringInformationField') & VALID).toBe(0n);
  });

  it('a fault delivering #DF that the bitmap does not take is a triple fault: basic reason 2, qualification 0 (§26.2)', async () => {
    const h = await eventGuest(GP_GUEST, { fields: { exceptionBitmap: 0 } });
    writeGate(h, 13, { present: false });
    writeGate(h, 8, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TRIPLE_FAULT, qualification: 0n, guestRip: BigInt(GUEST_CODE + 4) }]);
    expect(read(h, 'idtVectoringInformationField') & VALID).toBe(0n);
    expect(h.t.cpu.activity).toBe(Activity.Active); // the host, not shutdown
  });

  it('a fault delivering #DF that the bitmap takes exits with #DF as IDT-vectoring information, not a triple fault (§26.2)', async () => {
    // IDT limit below vector 13's gate: #GP(6BH) delivering #GP, so #DF; gate 8 not present: #NP(43H).
    const h = await eventGuest(GP_GUEST, { fields: { exceptionBitmap: 1 << 11 } });
    h.write('guestIdtrLimit', 13 * 16 - 1);
    writeGate(h, 8, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(11, HARDWARE, true));
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt((8 << 3) | 3));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(8, HARDWARE, true));
    expect(read(h, 'idtVectoringErrorCode')).toBe(0n);
  });

  // Task switches through a task gate met in delivery (basic reason 9, §28.2.1 Table 28-2): taskSwitchExits.test.ts.
});

describe('NMIs (SDM Vol. 3C §26.2, §26.3 IRET, §27.7.1)', () => {
  async function withNmi(source: string, o: HarnessOptions): Promise<VmxHarness> {
    const h = await eventGuest(source, o);
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    return h;
  }

  it('"NMI exiting": an NMI exits with type NMI, vector 2 at the next instruction; NMIs are blocked after the exit (§26.2, §28.1)', async () => {
    const h = await withNmi('nop\nvmcall', { controls: { pin: ['nmiExiting'] } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(2, NMI));
    expect(read(h, 'guestInterruptibilityState')).toBe(0n);
    expect(h.t.cpu.sys.nmiBlocked).toBe(true);
    expect(h.t.cpu.nmiPending).toBe(false);
  });

  it('without "NMI exiting" the NMI goes through the guest IDT and blocks NMIs (interruptibility bit 3, §28.3.4)', async () => {
    const h = await withNmi('nop\nvmcall', {});
    h.launch(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.reg('rax')).toBe(2n);
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
  });

  it('"NMI exiting" with blocking by NMI: the NMI waits, and IRET does not end the blocking (§26.3, §27.7.1)', async () => {
    const h = await withNmi(`${IRET_TO_DONE}vmcall`, { controls: { pin: ['nmiExiting'] }, fields: { guestInterruptibilityState: 8 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL, guestRip: DONE }]);
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
    expect(h.t.cpu.nmiPending).toBe(true);
  });

  it('"virtual NMIs": bit 3 is virtual-NMI blocking and does not block the NMI exit (§27.7.1, §28.3.4)', async () => {
    const h = await withNmi('nop\nvmcall', { controls: { pin: ['nmiExiting', 'virtualNmis'] }, fields: { guestInterruptibilityState: 8 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(2, NMI));
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
  });

  it('NMI-window exiting exits at once without virtual-NMI blocking: basic reason 8, qualification 0 (§26.2, §27.7.6)', async () => {
    const h = await eventGuest('nop\nvmcall', { controls: { pin: ['nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: NMI_WINDOW, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
  });

  it('NMI-window exiting waits for the IRET that ends virtual-NMI blocking (§26.2, §26.3)', async () => {
    const h = await eventGuest(`${IRET_TO_DONE}vmcall`, {
      controls: { pin: ['nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] }, fields: { guestInterruptibilityState: 8 },
    });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: NMI_WINDOW, guestRip: DONE }]);
    expect(read(h, 'guestInterruptibilityState')).toBe(0n);
  });

  it('NMI-window exiting waits out blocking by MOV SS (§26.2)', async () => {
    const h = await eventGuest('nop\nvmcall', {
      controls: { pin: ['nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] }, fields: { guestInterruptibilityState: 2 },
    });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: NMI_WINDOW, guestRip: BigInt(GUEST_CODE + 1) }]);
  });

  it('the NMI window comes before the NMI (§26.2 priority)', async () => {
    const h = await withNmi('nop', { controls: { pin: ['nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] } });
    h.launch(100);
    expect(reasons(h)).toEqual([NMI_WINDOW]);
    expect(h.t.cpu.nmiPending).toBe(true);
  });

  // IRETQ to CS 30H, beyond the GDT limit: #GP(30H) (SDM Vol. 2A IRET), after the IRET ended NMI blocking.
  const BAD_IRET = 'mov rax, rsp\npush 0x10\npush rax\npushfq\npush 0x30\npush 0\niretq';
  it('a fault on IRET that ended blocking by NMI sets bit 12, "NMI unblocking due to IRET"; the blocking is gone (§28.2.2, §28.1)', async () => {
    const h = await eventGuest(BAD_IRET, { fields: { exceptionBitmap: 1 << 13, guestInterruptibilityState: 8 } });
    h.launch(100);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(13, HARDWARE, true) | NMI_UNBLOCKING);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(0x30n);
    expect(read(h, 'guestInterruptibilityState')).toBe(0n);
  });

  it('the same fault without blocking by NMI before IRET leaves bit 12 clear (§28.2.2)', async () => {
    const h = await eventGuest(BAD_IRET, { fields: { exceptionBitmap: 1 << 13 } });
    h.launch(100);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(13, HARDWARE, true));
  });

  it('with "virtual NMIs" bit 12 reports the end of virtual-NMI blocking (§28.2.2)', async () => {
    const h = await eventGuest(BAD_IRET, {
      controls: { pin: ['nmiExiting', 'virtualNmis'] }, fields: { exceptionBitmap: 1 << 13, guestInterruptibilityState: 8 },
    });
    h.launch(100);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(13, HARDWARE, true) | NMI_UNBLOCKING);
    expect(read(h, 'guestInterruptibilityState')).toBe(0n);
  });

  it('with "NMI exiting" and not "virtual NMIs" the faulting IRET keeps the blocking and bit 12 stays 0 (§26.3, §28.2.2)', async () => {
    const h = await eventGuest(BAD_IRET, {
      controls: { pin: ['nmiExiting'] }, fields: { exceptionBitmap: 1 << 13, guestInterruptibilityState: 8 },
    });
    h.launch(100);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(13, HARDWARE, true));
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
  });
});

describe('external interrupts (SDM Vol. 3C §26.2, §26.4.1)', () => {
  it('"external-interrupt exiting" with "acknowledge interrupt on exit": basic reason 1, the vector acknowledged and reported, even with IF = 0 (§28.2.2)', async () => {
    const h = await eventGuest('nop\nvmcall', { controls: { pin: ['externalInterruptExiting'], exit: ['acknowledgeInterruptOnExit'] } });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXTERNAL_INTERRUPT, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(0x41, EXTERNAL));
    expect(src.acknowledged).toBe(1);
  });

  it('without "acknowledge interrupt on exit" the interrupt stays pending and the information is invalid (§28.1, §28.2.2)', async () => {
    const h = await eventGuest('nop\nvmcall', { controls: { pin: ['externalInterruptExiting'] } });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(reasons(h)).toEqual([EXTERNAL_INTERRUPT]);
    expect(read(h, 'vmExitInterruptionInformation') & VALID).toBe(0n);
    expect(src.acknowledged).toBe(0);
    expect(src.queue).toEqual([0x41]);
  });

  it('without the control, IF = 1: delivered through the guest IDT (§26.4.1)', async () => {
    const h = await eventGuest('nop\nvmcall', { fields: { guestRflags: 0x2 | IF } });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.reg('rax')).toBe(0x41n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE));
    expect(src.acknowledged).toBe(1);
  });

  it('without the control, IF = 0: held off, the guest runs on (§26.4.1)', async () => {
    const h = await eventGuest('nop\nvmcall');
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL, guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(src.acknowledged).toBe(0);
  });

  it('the shutdown state blocks external interrupts, even with "external-interrupt exiting" (§27.7.2)', async () => {
    const h = await eventGuest('nop', { controls: { pin: ['externalInterruptExiting'] }, fields: { guestActivityState: 2 } });
    interruptSource(h, 0x41);
    h.launch(100);
    expect(h.exits).toEqual([]);
    expect(h.t.cpu.activity).toBe(Activity.Shutdown);
    expect(h.t.cpu.nonRoot).toBe(true);
  });
});

describe('interrupt-window exiting (SDM Vol. 3C §26.2, §27.7.5)', () => {
  const WINDOW: HarnessOptions = { controls: { proc: ['interruptWindowExiting'] } };

  it('exits at once after VM entry when IF = 1 and nothing blocks: basic reason 7, qualification 0', async () => {
    const h = await eventGuest('nop', { ...WINDOW, fields: { guestRflags: 0x2 | IF } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INTERRUPT_WINDOW, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
  });

  it('opens one instruction after STI (blocking by STI)', async () => {
    // nop at +0, sti at +1, nop at +2 (in the STI shadow): the window is at +3.
    const h = await eventGuest('nop\nsti\nnop\nnop\nvmcall', WINDOW);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INTERRUPT_WINDOW, guestRip: BigInt(GUEST_CODE + 3) }]);
  });

  it('blocking by MOV SS from the interruptibility state holds it for the first instruction (§27.7.1)', async () => {
    const h = await eventGuest('nop\nnop', { ...WINDOW, fields: { guestRflags: 0x2 | IF, guestInterruptibilityState: 2 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INTERRUPT_WINDOW, guestRip: BigInt(GUEST_CODE + 1) }]);
  });

  it('comes before an external interrupt, which stays pending (§26.2 priority)', async () => {
    const h = await eventGuest('nop', { ...WINDOW, fields: { guestRflags: 0x2 | IF } });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(reasons(h)).toEqual([INTERRUPT_WINDOW]);
    expect(src.acknowledged).toBe(0);
  });

  it('an NMI comes first (§26.2 priority)', async () => {
    const h = await eventGuest('nop', { controls: { pin: ['nmiExiting'], proc: ['interruptWindowExiting'] }, fields: { guestRflags: 0x2 | IF } });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(reasons(h)).toEqual([EXCEPTION]);
    expect(read(h, 'vmExitInterruptionInformation')).toBe(info(2, NMI));
  });

  it('wakes the HLT state, which the exit saves (§27.7.5, §28.3.4)', async () => {
    const h = await eventGuest('nop', { ...WINDOW, fields: { guestRflags: 0x2 | IF, guestActivityState: 1 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INTERRUPT_WINDOW, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'guestActivityState')).toBe(1n);
  });
});

describe('INIT and SIPI (SDM Vol. 3C §26.2, §27.7.2)', () => {
  it('INIT exits (basic reason 3, qualification 0) without changing registers', async () => {
    const h = await eventGuest('nop');
    h.t.setReg('rax', 0x1234n);
    h.t.cpu.initPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INIT, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
    expect(h.reg('rax')).toBe(0x1234n);
    expect(h.t.cpu.initPending).toBe(false);
  });

  it('wait-for-SIPI blocks INIT; a SIPI exits with basic reason 4 and the vector as qualification (§28.2.1)', async () => {
    const h = await eventGuest('nop', { fields: { guestActivityState: 3 } });
    h.t.cpu.initPending = true;
    h.t.cpu.eventsPending = true;
    expect(h.launch(100).kind).toBe('halt');
    expect(h.exits).toEqual([]);
    h.t.cpu.sipiVector = 0x12;
    h.t.cpu.eventsPending = true;
    h.run(100);
    expect(h.exits).toMatchObject([{ reason: SIPI, qualification: 0x12n, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'guestActivityState')).toBe(3n);
    expect(h.t.cpu.initPending).toBe(true);
  });

  it('a SIPI outside wait-for-SIPI is discarded (§27.7.2)', async () => {
    const h = await eventGuest('nop\nvmcall');
    h.t.cpu.sipiVector = 0x12;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.t.cpu.sipiVector).toBe(-1);
  });
});

describe('activity states entered by VM entry (SDM Vol. 3C §27.7.2, §28.3.4)', () => {
  it('HLT: an external interrupt with IF = 1 wakes the guest into its handler, return address the entry RIP', async () => {
    const h = await eventGuest('nop', { fields: { guestActivityState: 1, guestRflags: 0x2 | IF } });
    expect(h.launch(100).kind).toBe('halt');
    interruptSource(h, 0x41);
    h.run(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.reg('rax')).toBe(0x41n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE));
  });

  it('HLT: an external interrupt that exits saves the HLT state (§28.3.4)', async () => {
    const h = await eventGuest('nop', { controls: { pin: ['externalInterruptExiting'] }, fields: { guestActivityState: 1 } });
    interruptSource(h, 0x41);
    h.launch(100);
    expect(reasons(h)).toEqual([EXTERNAL_INTERRUPT]);
    expect(read(h, 'guestActivityState')).toBe(1n);
  });

  it('shutdown: an NMI with "NMI exiting" exits and saves the shutdown state', async () => {
    const h = await eventGuest('nop', { controls: { pin: ['nmiExiting'] }, fields: { guestActivityState: 2 } });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(reasons(h)).toEqual([EXCEPTION]);
    expect(read(h, 'guestActivityState')).toBe(2n);
  });

  it('shutdown: an NMI without "NMI exiting" is delivered and leaves the shutdown state', async () => {
    const h = await eventGuest('nop', { fields: { guestActivityState: 2 } });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(reasons(h)).toEqual([VMCALL]);
    expect(h.reg('rax')).toBe(2n);
    expect(read(h, 'guestActivityState')).toBe(0n);
  });

  it('the guest stack is untouched by an exit caused directly by an event (§28.1)', async () => {
    const h = await eventGuest('nop', { controls: { pin: ['nmiExiting'] } });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(read(h, 'guestRsp')).toBe(BigInt(GUEST_STACK));
  });
});
