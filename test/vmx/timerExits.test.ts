/**
 * The exits between instructions that time or single-stepping cause: the
 * VMX-preemption timer (SDM Vol. 3C §26.5.1, §27.7.4, §28.3.4; basic
 * reason 52) and the monitor trap flag (§26.5.2, §27.6.2; basic reason
 * 37), with their priorities among the boundary events (§26.2). The core
 * runs as the machine's scheduler runs it, timers between runs
 * (vmxGuestEvents.ts runTimed).
 *
 * Time: the TSC is the core's clock (one tick per retired instruction,
 * cpu/tsc.ts). The harness's VMLAUNCH enters at clock a and retires at
 * a + 1, where the guest's first instruction starts.
 */
import { describe, expect, it } from 'vitest';
import { savePreemptionTimer } from '../../vmx/exit/preemptionTimer.ts';
import { GUEST_CODE, type ExitAction, type HarnessOptions, type VmxHarness } from '../support/vmxHarness.ts';
import { EVENT_FEATURES, eventGuest, handlerOf, runTimed, stackSlot, VMCALL } from '../support/vmxGuestEvents.ts';

const EXCEPTION = 0, INIT = 3, INTERRUPT_WINDOW = 7, NMI_WINDOW = 8, CPUID = 10, MONITOR_TRAP_FLAG = 37, PREEMPTION_TIMER = 52;
const RATE = EVENT_FEATURES.preemptionTimerRate, PERIOD = 2 ** RATE;
const IF = 0x200;
const INC_RAX = 3; // 48 FF C0
const incs = (n: number): string => 'inc rax\n'.repeat(n);
const TIMER: HarnessOptions['controls'] = { pin: ['activatePreemptionTimer'] };
const pendingMtf = (1n << 31n) | (7n << 8n);

/** Launches and runs with timers; `until` decides each exit (default: stop at the first). */
function launch(h: VmxHarness, until: (reason: number, n: number) => ExitAction = () => 'stop'): void {
  h.onExit = (e) => until(e.reason, h.exits.length);
  h.launch(0);
  runTimed(h);
}

/** The clock at which a timer loaded with `value` at clock `a` reaches 0: the TSC's bit X changes `value` times. */
const expiry = (a: number, value: number): number => (Math.floor(a / PERIOD) + value) * PERIOD;

describe('the VMX-preemption timer (SDM Vol. 3C §26.5.1, §27.7.4)', () => {
  it(`counts down once per change of TSC bit ${RATE} and exits with basic reason 52, qualification 0, at the next instruction`, async () => {
    const h = await eventGuest(`${incs(300)}vmcall`, { controls: TIMER, fields: { vmxPreemptionTimerValue: 3 } });
    const a = h.t.cpu.clock;
    launch(h);
    const ran = expiry(a, 3) - (a + 1);
    expect(ran).toBeGreaterThan(2 * PERIOD);
    expect(h.exits).toMatchObject([{ reason: PREEMPTION_TIMER, qualification: 0n, guestRip: BigInt(GUEST_CODE + INC_RAX * ran) }]);
    expect(h.reg('rax')).toBe(BigInt(ran));
  });

  it('a value of 0 exits before the first guest instruction (§27.7.4)', async () => {
    const h = await eventGuest(`${incs(3)}vmcall`, { controls: TIMER, fields: { vmxPreemptionTimerValue: 0 } });
    launch(h);
    expect(h.exits).toMatchObject([{ reason: PREEMPTION_TIMER, guestRip: BigInt(GUEST_CODE) }]);
    expect(h.reg('rax')).toBe(0n);
  });

  it('counts in the HLT state, wakes it with the exit, and the exit saves HLT (§26.5.1, §28.3.4)', async () => {
    const h = await eventGuest('hlt\nvmcall', { controls: TIMER, fields: { vmxPreemptionTimerValue: 4 } });
    const a = h.t.cpu.clock;
    let at = -1;
    h.onExit = () => ((at = h.t.cpu.clock), 'stop');
    h.launch(0);
    runTimed(h);
    expect(h.exits).toMatchObject([{ reason: PREEMPTION_TIMER, guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(h.read('guestActivityState')).toBe(1n);
    expect(at).toBe(expiry(a, 4));
  });

  it('does not exit in the wait-for-SIPI state (§26.5.1)', async () => {
    const h = await eventGuest('nop', { controls: TIMER, fields: { vmxPreemptionTimerValue: 1, guestActivityState: 3 } });
    launch(h);
    expect(h.exits).toEqual([]);
    expect(h.t.cpu.nonRoot).toBe(true);
  });

  it('with "save VMX-preemption timer value" a VM exit saves the value left; its own exit saves 0 (§28.3.4; called where VM exit saves guest state)', async () => {
    const h = await eventGuest(`${incs(10)}cpuid\n${incs(400)}`, {
      controls: { pin: ['activatePreemptionTimer'], exit: ['savePreemptionTimer'] }, fields: { vmxPreemptionTimerValue: 5 },
    });
    const a = h.t.cpu.clock;
    const saved: bigint[] = [];
    launch(h, (reason) => {
      const b = h.t.cpu.clock;
      savePreemptionTimer(h.core, h.t.cpu);
      saved.push(h.read('vmxPreemptionTimerValue'));
      if (reason !== CPUID) return 'stop';
      expect(saved[0]).toBe(BigInt(5 - (Math.floor(b / PERIOD) - Math.floor(a / PERIOD))));
      return 'skip';
    });
    expect(h.exits.map((e) => e.reason)).toEqual([CPUID, PREEMPTION_TIMER]);
    expect(saved[1]).toBe(0n);
  });

  it.todo('every VM exit saves the timer value by itself (§28.3.4): vmx/transition/vmExit.ts must call savePreemptionTimer');

  it('a pending MTF VM exit comes before it; it exits again after the next VM entry (§26.5.2 priority)', async () => {
    const h = await eventGuest('nop', {
      controls: TIMER, fields: { vmxPreemptionTimerValue: 0, vmEntryInterruptionInformationField: pendingMtf },
    });
    launch(h, (_r, n) => (n < 2 ? 'resume' : 'stop'));
    expect(h.exits.map((e) => e.reason)).toEqual([MONITOR_TRAP_FLAG, PREEMPTION_TIMER]);
  });

  it('comes before the NMI window (§26.2 priority)', async () => {
    const h = await eventGuest('nop', {
      controls: { pin: ['activatePreemptionTimer', 'nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] },
      fields: { vmxPreemptionTimerValue: 0 },
    });
    launch(h, (_r, n) => (n < 2 ? 'resume' : 'stop'));
    expect(h.exits.map((e) => e.reason)).toEqual([PREEMPTION_TIMER, PREEMPTION_TIMER]);
  });
});

describe('the monitor trap flag (SDM Vol. 3C §26.5.2)', () => {
  const MTF: HarnessOptions['controls'] = { proc: ['monitorTrapFlag'] };

  it('exits (basic reason 37, qualification 0) after each guest instruction', async () => {
    const h = await eventGuest(`${incs(3)}vmcall`, { controls: MTF });
    launch(h, (reason) => (reason === MONITOR_TRAP_FLAG ? 'resume' : 'stop'));
    expect(h.exits.map((e) => [e.reason, e.qualification, e.guestRip])).toEqual([
      [MONITOR_TRAP_FLAG, 0n, BigInt(GUEST_CODE + 3)], [MONITOR_TRAP_FLAG, 0n, BigInt(GUEST_CODE + 6)],
      [MONITOR_TRAP_FLAG, 0n, BigInt(GUEST_CODE + 9)], [VMCALL, 0n, BigInt(GUEST_CODE + 9)],
    ]);
  });

  it('after a faulting instruction, once the fault is delivered: at the handler\'s first instruction', async () => {
    const h = await eventGuest('ud2', { controls: MTF });
    h.t.setReg('rax', 0n);
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(handlerOf(6)) }]);
    expect(h.reg('rax')).toBe(0n);
  });

  it('after INT n, once the software interrupt is delivered', async () => {
    const h = await eventGuest('int 0x40', { controls: MTF });
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(handlerOf(0x40)) }]);
    expect(stackSlot(h, 0)).toBe(BigInt(GUEST_CODE + 2));
  });

  it('after HLT, from the HLT state', async () => {
    const h = await eventGuest('hlt\nnop', { controls: MTF });
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(h.read('guestActivityState')).toBe(1n);
  });

  it('after one iteration of a REP string instruction', async () => {
    const h = await eventGuest('mov ecx, 3\nrep stosb\nvmcall', { controls: MTF });
    h.t.setReg('rdi', 0x90000n);
    const rcx: bigint[] = [];
    launch(h, (reason) => (rcx.push(h.reg('rcx')), reason === MONITOR_TRAP_FLAG ? 'resume' : 'stop'));
    // mov ecx, 3 is 5 bytes, rep stosb 2: RIP stays on REP STOSB until RCX reaches 0.
    expect(h.exits.map((e) => e.guestRip)).toEqual([0x1005n, 0x1005n, 0x1005n, 0x1007n, 0x1007n].map((x) => x - 0x1000n + BigInt(GUEST_CODE)));
    expect(rcx).toEqual([3n, 2n, 1n, 0n, 0n]);
  });

  it('after STI, with blocking by STI saved (§28.3.4)', async () => {
    const h = await eventGuest('sti\nnop', { controls: MTF });
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(h.read('guestInterruptibilityState')).toBe(1n);
  });

  it('another VM exit on the way (CPUID) cancels it; the next VM entry steps again', async () => {
    const h = await eventGuest('cpuid\nnop\nnop', { controls: MTF });
    launch(h, (reason) => (reason === CPUID ? 'skip' : 'stop'));
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[CPUID, BigInt(GUEST_CODE)], [MONITOR_TRAP_FLAG, BigInt(GUEST_CODE + 3)]]);
  });

  it('after an event VM entry injects, before the first instruction (§26.5.2)', async () => {
    const h = await eventGuest('nop', {
      controls: MTF, fields: { vmEntryInterruptionInformationField: (1n << 31n) | 0x30n, guestRflags: 0x2 | IF },
    });
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(handlerOf(0x30)) }]);
  });

  it('after a pending event delivered before the first instruction (an NMI)', async () => {
    const h = await eventGuest('nop', { controls: MTF });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    launch(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(handlerOf(2)) }]);
  });

  it('not in the shutdown state: pending after an NMI takes the guest out of it', async () => {
    const h = await eventGuest('nop', { controls: MTF, fields: { guestActivityState: 2 } });
    h.launch(0);
    expect(runTimed(h).kind).toBe('halt');
    expect(h.exits).toEqual([]);
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    runTimed(h);
    expect(h.exits).toMatchObject([{ reason: MONITOR_TRAP_FLAG, guestRip: BigInt(handlerOf(2)) }]);
  });

  it('INIT comes before it (§26.5.2 priority)', async () => {
    const h = await eventGuest('nop', { fields: { vmEntryInterruptionInformationField: pendingMtf } });
    h.t.cpu.initPending = true;
    h.t.cpu.eventsPending = true;
    launch(h, (_r, n) => (n < 2 ? 'resume' : 'stop'));
    // The MTF VM exit was lost with the INIT exit: the VM-exit cleared the valid bit of the injection field.
    expect(h.exits.map((e) => e.reason)).toEqual([INIT]);
  });

  it('it comes before the interrupt window and an NMI exit (§26.5.2 priority)', async () => {
    const h = await eventGuest('nop', {
      controls: { pin: ['nmiExiting'], proc: ['interruptWindowExiting'] },
      fields: { vmEntryInterruptionInformationField: pendingMtf, guestRflags: 0x2 | IF },
    });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    launch(h, (_r, n) => (n < 3 ? 'resume' : 'stop'));
    expect(h.exits.map((e) => e.reason)).toEqual([MONITOR_TRAP_FLAG, EXCEPTION, INTERRUPT_WINDOW]);
  });

  it('no MTF VM exit without the control or an injected one (§26.5.2)', async () => {
    const h = await eventGuest('nop\nnop\nvmcall');
    launch(h);
    expect(h.exits.map((e) => e.reason)).toEqual([VMCALL]);
  });

  it('the NMI window after the MTF (virtual NMIs)', async () => {
    const h = await eventGuest('nop', {
      controls: { pin: ['nmiExiting', 'virtualNmis'], proc: ['nmiWindowExiting'] },
      fields: { vmEntryInterruptionInformationField: pendingMtf },
    });
    launch(h, (_r, n) => (n < 2 ? 'resume' : 'stop'));
    expect(h.exits.map((e) => e.reason)).toEqual([MONITOR_TRAP_FLAG, NMI_WINDOW]);
  });
});
