/**
 * Exception exits and event injection in L1 (exits/exception.ts,
 * inject.ts, reinject.ts): the exception bitmap (SDM Vol. 3C §25.6.3),
 * reflection of intercepted exceptions through VM-entry injection
 * (§25.8.3, §27.6.1; §32.7.1.1 "Reflecting Exceptions to Guest
 * Software"), the combination of an exception with the event whose
 * delivery it interrupted (Vol. 3A §6.15 Table 6-5), and the requeueing
 * of that event from the IDT-vectoring information (§28.2.3, §32.7.1.2).
 * Expected values come from the SDM and the guests' code.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../cpu/exceptions.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import exceptionGuest from '../../guests/l2/exceptions.ts';
import { attempt, catchSetup, catchTables, expectFault } from '../../guests/l2/faults.ts';
import { injectException } from '../../hypervisor/exits/inject.ts';
import { requeueInterruptedEvent } from '../../hypervisor/exits/reinject.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { vmreadNumber, vmwriteField } from '../../hypervisor/l1/vmxOps.ts';
import type { ExitEvent, Vcpu } from '../../hypervisor/vcpu.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';
import { ExitReason } from '../../vmx/exitReason.ts';
import { asm } from '../support/asm.ts';
import { exitZeroElseBad } from '../support/l1Guests.ts';

const exceptionExits = (l1: L1) =>
  l1.trace.filter((e) => e.reason === ExitReason.ExceptionOrNmi).map((e) => [e.qualification, e.handler, e.decision]);

/** Exit with code 0 if the last attempt raised `vector` with `errorCode`, else 99. */
const reportFault = (vector: number, errorCode: number): string => `
    ${expectFault('bad', vector, errorCode)}
    ${exitZeroElseBad}`;

describe('reflecting intercepted #UD and #BP (SDM Vol. 3C §32.7.1.1)', () => {
  it.each([
    ['intercepted', true, 0x48],
    ['not intercepted', false, 0],
  ])('the exception guest passes with #UD/#BP %s (exception bitmap 0x%s)', async (_what, intercept, bitmap) => {
    const l1 = new L1();
    const vm = l1.createVm('exceptions');
    if (intercept) exceptionGuest.setup(vm);
    const vcpu = l1.addLongModeVcpu(vm, await asm(exceptionGuest.source, 64, GUEST_CODE));
    expect(vmreadNumber(vcpu.host, 'exceptionBitmap')).toBe(bitmap); // bit 6 #UD, bit 3 #BP
    l1.run(1_000_000);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'ucall done' });
    expect(vm.console).toBe("#UD and #BP reached the guest's handlers\n");
    expect(exceptionExits(l1)).toEqual(intercept
      ? [['0000000000000000', 'exception:#UD', 'resume'], ['0000000000000000', 'exception:#BP', 'resume']]
      : []);
  });
});

describe('an exception met while delivering another event (Vol. 3A §6.15 Table 6-5)', () => {
  /**
   * Runs `body` with #GP intercepted (a white-box VMWRITE of the exception
   * bitmap: the VM setting offers #UD and #BP only). The IDT's gates other
   * than the handlers' are zero: delivering through one raises #GP(vector
   * * 8 + 2 + EXT) (Vol. 3A §6.14.1, §6.13 error code: IDT bit 1, EXT bit 0).
   */
  async function withGpIntercepted(body: string) {
    const l1 = new L1();
    const vm = l1.createVm('nested-events');
    const vcpu = l1.addLongModeVcpu(vm, await asm(body, 64, GUEST_CODE));
    vmwriteField(vcpu.host, 'exceptionBitmap', 1 << Vector.GP);
    l1.run(1_000_000);
    return { l1, vm };
  }

  it('#GP delivering INT 1FH (a software interrupt first): the #GP replaces it, error code 1FH*8 + IDT bit, pushed RIP = the INT', async () => {
    const { l1, vm } = await withGpIntercepted(`
    ${catchSetup([Vector.GP])}
    ${attempt('after', 'int 0x1f')}         ; vector 1FH's gate is zero
    lea rax, [rip + after]
    sub rax, 2
    cmp r13, rax
    jne bad
    ${reportFault(Vector.GP, 0x1f * 8 + 2)}
    ${catchTables([Vector.GP])}`);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
    expect(exceptionExits(l1)).toEqual([['0000000000000000', 'exception:#GP', 'resume']]);
  });

  it('#GP delivering #DE (both contributory): L1 injects #DF(0), as the processor would', async () => {
    const { l1, vm } = await withGpIntercepted(`
    ${catchSetup([Vector.DF])}
    xor edx, edx
    xor ecx, ecx
    ${attempt('after', 'div ecx')}          ; #DE, whose gate is zero: #GP(0 * 8 + 2 + EXT)
    ${reportFault(Vector.DF, 0)}
    ${catchTables([Vector.DF])}`);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
    expect(exceptionExits(l1)).toEqual([['0000000000000000', 'exception:#GP', 'resume']]);
  });
});

describe('injectException combines with a queued event (§32.7.1.1, Vol. 3A Table 6-5)', () => {
  const VALID = 0x80000000, DELIVER = 1 << 11;
  const hw = (vector: number, code = true) => (VALID | (code ? DELIVER : 0) | (EventKind.Hardware << 8) | vector) >>> 0;

  async function vcpu(): Promise<Vcpu> {
    const l1 = new L1();
    return l1.addLongModeVcpu(l1.createVm('inject'), await asm('hlt', 64, GUEST_CODE));
  }

  it.each([
    ['nothing queued: #GP(0) as queued', 0, Vector.GP, 0, hw(Vector.GP), 0],
    ['#GP after #NP (contributory, contributory): #DF(0)', hw(Vector.NP), Vector.GP, 0x10, hw(Vector.DF), 0],
    ['#PF after #PF: #DF(0)', hw(Vector.PF), Vector.PF, 2, hw(Vector.DF), 0],
    ['#GP after #PF: #DF(0)', hw(Vector.PF), Vector.GP, 0, hw(Vector.DF), 0],
    ['#PF after #GP (contributory, then #PF): the #PF', hw(Vector.GP), Vector.PF, 2, hw(Vector.PF), 2],
    ['#GP after #UD (benign): the #GP', hw(Vector.UD, false), Vector.GP, 0, hw(Vector.GP), 0],
    ['#GP after an external interrupt: the #GP', (VALID | 0x20) >>> 0, Vector.GP, 0, hw(Vector.GP), 0],
  ])('%s', async (_what, queued, vector, code, info, errorCode) => {
    const v = await vcpu();
    if (queued) vmwriteField(v.host, 'vmEntryInterruptionInformationField', queued);
    expect(injectException(v, 'test', vector, code)).toEqual({ kind: 'resume', handler: 'test' });
    expect(vmreadNumber(v.host, 'vmEntryInterruptionInformationField')).toBe(info);
    expect(vmreadNumber(v.host, 'vmEntryExceptionErrorCode')).toBe(errorCode);
  });

  it('a contributory exception after #DF is a triple fault: the VM stops', async () => {
    const v = await vcpu();
    vmwriteField(v.host, 'vmEntryInterruptionInformationField', hw(Vector.DF));
    expect(injectException(v, 'test', Vector.GP, 0)).toEqual({ kind: 'stop', handler: 'test', outcome: { kind: 'stopped', detail: 'triple fault: #GP while delivering #DF' } });
  });

  it('a software exception keeps its type and gets the VM-entry instruction length (§27.6.1.1)', async () => {
    const v = await vcpu();
    injectException(v, 'test', Vector.BP, -1, EventKind.SoftwareException, 1);
    expect(vmreadNumber(v.host, 'vmEntryInterruptionInformationField')).toBe((VALID | (6 << 8) | 3) >>> 0);
    expect(vmreadNumber(v.host, 'vmEntryInstructionLength')).toBe(1);
  });
});

describe('requeueing the interrupted event from the IDT-vectoring information (§28.2.3, §32.7.1.2)', () => {
  const exitOf = (reason: number, instructionLength: number): ExitEvent => ({ reason, qualification: 0n, guestRip: 0n, instructionLength });

  /** A vCPU whose last exit reported `vectoring` (IDT-vectoring information) and `code`: VMWRITE may write exit fields (IA32_VMX_MISC bit 29). */
  async function afterExit(vectoring: number, code = 0): Promise<Vcpu> {
    const l1 = new L1();
    const v = l1.addLongModeVcpu(l1.createVm('requeue'), await asm('hlt', 64, GUEST_CODE));
    vmwriteField(v.host, 'idtVectoringInformationField', vectoring >>> 0);
    vmwriteField(v.host, 'idtVectoringErrorCode', code);
    return v;
  }
  const entry = (v: Vcpu) => [
    vmreadNumber(v.host, 'vmEntryInterruptionInformationField'), vmreadNumber(v.host, 'vmEntryExceptionErrorCode'),
    vmreadNumber(v.host, 'vmEntryInstructionLength'),
  ];

  it('a software interrupt goes back with the VM-exit instruction length', async () => {
    const v = await afterExit(0x80000440);
    requeueInterruptedEvent(v, exitOf(ExitReason.EptViolation, 2));
    expect(entry(v)).toEqual([0x80000440, 0, 2]);
  });

  it('a hardware exception goes back with its error code, bit 12 (undefined, reserved on entry) cleared', async () => {
    const v = await afterExit(0x80001b0e, 0x6);
    requeueInterruptedEvent(v, exitOf(ExitReason.EptViolation, 0));
    expect(entry(v).slice(0, 2)).toEqual([0x80000b0e, 6]);
  });

  it('an NMI goes back and blocking by NMI (interruptibility bit 3) is cleared', async () => {
    const v = await afterExit(0x80000202);
    vmwriteField(v.host, 'guestInterruptibilityState', 0x8);
    requeueInterruptedEvent(v, exitOf(ExitReason.EptViolation, 0));
    expect(entry(v)[0]).toBe(0x80000202);
    expect(vmreadNumber(v.host, 'guestInterruptibilityState')).toBe(0);
  });

  it('nothing is queued when the information is not valid, or after a failed VM entry (§27.8)', async () => {
    const v = await afterExit(0x00000440);
    requeueInterruptedEvent(v, exitOf(ExitReason.EptViolation, 2));
    expect(entry(v)[0]).toBe(0);
    const w = await afterExit(0x80000440);
    requeueInterruptedEvent(w, exitOf((0x80000000 | ExitReason.VmentryFailureGuestState) >>> 0, 2));
    expect(entry(w)[0]).toBe(0);
  });
});
