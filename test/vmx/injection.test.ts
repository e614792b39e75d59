/**
 * Event injection at VM entry (SDM Vol. 3C §27.6): the VM-entry
 * interruption-information field (valid bit 31, deliver-error-code bit 11,
 * type 10:8, vector 7:0), the VM-entry exception error code and the
 * VM-entry instruction length. The guest's handlers end in VMCALL (exit
 * 18) with RAX = vector and the frame on the stack (vmxGuestEvents.ts).
 */
import { describe, expect, it } from 'vitest';
import { GUEST_CODE, type HarnessOptions } from '../support/vmxHarness.ts';
import { eventGuest, frameRsp, handlerOf, interruptSource, stackSlot, VMCALL, writeGate } from '../support/vmxGuestEvents.ts';

const VALID = 1n << 31n, ERROR_CODE = 1n << 11n;
const info = (vector: number, type: number, errorCode = false): bigint =>
  VALID | (errorCode ? ERROR_CODE : 0n) | (BigInt(type) << 8n) | BigInt(vector);
const EXTERNAL = 0, NMI = 2, HARDWARE = 3, SOFTWARE_INT = 4, PRIVILEGED = 5, SOFTWARE_EXCEPTION = 6, OTHER = 7;
const EXCEPTION = 0, TRIPLE_FAULT = 2, INTERRUPT_WINDOW = 7, MONITOR_TRAP_FLAG = 37;
const IF = 0x200;

/** A guest whose VM entry injects `entryInfo` (with `errorCode` and `length` when given). */
async function injected(entryInfo: bigint, o: HarnessOptions & { errorCode?: number; length?: number } = {}) {
  const h = await eventGuest('nop\nvmcall', {
    ...o,
    fields: {
      ...o.fields,
      vmEntryInterruptionInformationField: entryInfo,
      vmEntryExceptionErrorCode: o.errorCode ?? 0,
      vmEntryInstructionLength: o.length ?? 0,
    },
  });
  return h;
}

describe('injection of vectored events (SDM Vol. 3C §27.6.1.1)', () => {
  // Injecting an external interrupt needs RFLAGS.IF = 1 and no blocking by STI or MOV SS (§27.3.1.4, §27.3.1.5).
  it('an external interrupt goes through the guest IDT with the guest RIP as return address; no controller is acknowledged', async () => {
    const h = await injected(info(0x30, EXTERNAL), { fields: { guestRflags: 0x2 | IF } });
    const src = interruptSource(h, 0x55);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL, guestRip: BigInt(handlerOf(0x30) + 5) }]);
    expect(h.reg('rax')).toBe(0x30n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE));
    expect(src.acknowledged).toBe(0);
    // VM exits clear the valid bit of the VM-entry interruption-information field (§28.2).
    expect(h.read('vmEntryInterruptionInformationField') & VALID).toBe(0n);
  });

  it('an NMI is delivered even with "NMI exiting" (an injected event never exits itself, §27.6.1.2) and blocks NMIs', async () => {
    const h = await injected(info(2, NMI), { controls: { pin: ['nmiExiting'] } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL }]);
    expect(h.reg('rax')).toBe(2n);
    expect(h.read('guestInterruptibilityState')).toBe(8n);
  });

  it('an NMI with "virtual NMIs" sets virtual-NMI blocking (§27.7.1)', async () => {
    const h = await injected(info(2, NMI), { controls: { pin: ['nmiExiting', 'virtualNmis'] } });
    h.launch(100);
    expect(h.reg('rax')).toBe(2n);
    expect(h.read('guestInterruptibilityState')).toBe(8n);
  });

  it('a hardware exception with an error code pushes the VM-entry exception error code', async () => {
    const h = await injected(info(13, HARDWARE, true), { errorCode: 0x1234 });
    h.launch(100);
    expect(h.reg('rax')).toBe(13n);
    expect(h.read('guestRsp')).toBe(frameRsp(true));
    expect(stackSlot(h, 0)).toBe(0x1234n);
    expect(stackSlot(h, 1)).toBe(BigInt(GUEST_CODE));
  });

  it('a hardware exception without one pushes none', async () => {
    const h = await injected(info(6, HARDWARE));
    h.launch(100);
    expect(h.reg('rax')).toBe(6n);
    expect(h.read('guestRsp')).toBe(frameRsp(false));
  });

  it('an injected #PF is not subject to the exception bitmap and leaves CR2 alone', async () => {
    const h = await injected(info(14, HARDWARE, true), { errorCode: 2, fields: { exceptionBitmap: 1 << 14 } });
    h.t.cpu.cr2 = 0x5555000;
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL }]);
    expect(h.reg('rax')).toBe(14n);
    expect(h.t.cpu.cr2).toBe(0x5555000);
  });

  it('a software interrupt pushes guest RIP + the VM-entry instruction length', async () => {
    const h = await injected(info(0x40, SOFTWARE_INT), { length: 2 });
    h.launch(100);
    expect(h.reg('rax')).toBe(0x40n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE + 2));
  });

  it('a software exception (#BP) pushes guest RIP + length, whatever the exception bitmap', async () => {
    const h = await injected(info(3, SOFTWARE_EXCEPTION), { length: 1, fields: { exceptionBitmap: 1 << 3 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL }]);
    expect(h.reg('rax')).toBe(3n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE + 1));
  });

  it('a privileged software exception (INT1) pushes guest RIP + length', async () => {
    const h = await injected(info(1, PRIVILEGED), { length: 1 });
    h.launch(100);
    expect(h.reg('rax')).toBe(1n);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE + 1));
  });

  it('a vectoring entry leaves the processor active whatever the activity-state field (§27.7.2)', async () => {
    const h = await injected(info(0x30, EXTERNAL), { fields: { guestActivityState: 1, guestRflags: 0x2 | IF } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: VMCALL }]);
    expect(h.reg('rax')).toBe(0x30n);
  });

  it('a vectoring entry clears blocking by STI: an interrupt window through a trap gate opens at the handler (§27.7.1)', async () => {
    const h = await injected(info(0x30, SOFTWARE_INT), {
      length: 2, controls: { proc: ['interruptWindowExiting'] }, fields: { guestRflags: 0x2 | IF, guestInterruptibilityState: 1 },
    });
    writeGate(h, 0x30, { type: 0xf });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: INTERRUPT_WINDOW, guestRip: BigInt(handlerOf(0x30)) }]);
  });
});

describe('RF in the RFLAGS image an injected event pushes (SDM Vol. 3C §27.6.1.1; Vol. 3A §18.3.1.1)', () => {
  const RF = 1n << 16n;
  /** The RFLAGS image of a 64-bit frame [error code,] RIP, CS, RFLAGS, RSP, SS. */
  const pushedRflags = (h: Awaited<ReturnType<typeof injected>>, withErrorCode: boolean): bigint => stackSlot(h, withErrorCode ? 3 : 2);

  it('an injected hardware exception pushes RF as loaded from the guest-state area, 0, not the 1 of a fault', async () => {
    const h = await injected(info(6, HARDWARE), { fields: { guestRflags: 0x2 } });
    h.launch(100);
    expect(h.reg('rax')).toBe(6n);
    expect(pushedRflags(h, false)).toBe(0x2n);
  });

  it('an injected hardware exception pushes RF as loaded, 1', async () => {
    const h = await injected(info(13, HARDWARE, true), { errorCode: 0, fields: { guestRflags: 0x2n | RF } });
    h.launch(100);
    expect(h.reg('rax')).toBe(13n);
    expect(pushedRflags(h, true)).toBe(0x2n | RF);
  });

  it('a fault met delivering the injected event and delivered normally pushes RF = 1', async () => {
    const h = await injected(info(6, HARDWARE), { fields: { guestRflags: 0x2 } });
    writeGate(h, 6, { present: false });
    h.launch(100);
    expect(h.reg('rax')).toBe(11n);
    expect(pushedRflags(h, true)).toBe(0x2n | RF);
  });

  it('an injected software interrupt pushes RF as loaded, 1, where INT n run by the guest pushes 0 (cleared when it began)', async () => {
    const inj = await injected(info(0x40, SOFTWARE_INT), { length: 2, fields: { guestRflags: 0x2n | RF } });
    inj.launch(100);
    expect(inj.reg('rax')).toBe(0x40n);
    expect(pushedRflags(inj, false)).toBe(0x2n | RF);
    const run = await eventGuest('int 0x40', { fields: { guestRflags: 0x2n | RF } });
    run.launch(100);
    expect(run.reg('rax')).toBe(0x40n);
    expect(pushedRflags(run, false)).toBe(0x2n);
  });
});

describe('VM exits during event injection (SDM Vol. 3C §27.6.1.2, §28.2.3)', () => {
  it('a fault delivering an injected software interrupt exits with it as IDT-vectoring information, the guest RIP and the entry instruction length', async () => {
    const h = await injected(info(0x40, SOFTWARE_INT), { length: 2, fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 0x40, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE), instructionLength: 2 }]);
    expect(h.read('vmExitInterruptionInformation')).toBe(info(11, HARDWARE, true));
    expect(h.read('vmExitInterruptionErrorCode')).toBe(BigInt((0x40 << 3) | 2));
    expect(h.read('idtVectoringInformationField')).toBe(info(0x40, SOFTWARE_INT));
    expect(h.trace.map((r) => r.kind)).toEqual(['vmentry', 'vmexit']);
  });

  it('an injected hardware exception\'s error code becomes the IDT-vectoring error code', async () => {
    const h = await injected(info(13, HARDWARE, true), { errorCode: 0x1234, fields: { exceptionBitmap: 1 << 11 } });
    writeGate(h, 13, { present: false });
    h.launch(100);
    expect(h.read('idtVectoringInformationField')).toBe(info(13, HARDWARE, true));
    expect(h.read('idtVectoringErrorCode')).toBe(0x1234n);
    expect(h.read('vmExitInterruptionErrorCode')).toBe(BigInt((13 << 3) | 3));
  });

  it('a fault that does not exit is delivered, pushing the guest RIP without the instruction length', async () => {
    const h = await injected(info(0x40, SOFTWARE_INT), { length: 2 });
    writeGate(h, 0x40, { present: false });
    h.launch(100);
    expect(h.reg('rax')).toBe(11n);
    expect(stackSlot(h, 0)).toBe(BigInt((0x40 << 3) | 2));
    expect(stackSlot(h, 1)).toBe(BigInt(GUEST_CODE));
  });

  it('an injected #DF whose delivery faults without an exit is a triple fault (basic reason 2)', async () => {
    const h = await injected(info(8, HARDWARE, true), { errorCode: 0 });
    writeGate(h, 8, { present: false });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TRIPLE_FAULT, guestRip: BigInt(GUEST_CODE) }]);
  });
});

describe('injection of a pending MTF VM exit (SDM Vol. 3C §27.6.2)', () => {
  it('type 7, vector 0: an MTF VM exit before the first instruction, with "monitor trap flag" 0', async () => {
    const h = await injected(info(0, OTHER));
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, qualification: 0n, guestRip: BigInt(GUEST_CODE) }]);
  });
});
