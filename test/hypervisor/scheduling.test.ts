/**
 * Time slicing on one core (hypervisor/l1/scheduler.ts): vCPUs that never
 * exit take turns of SLICE_TIMER_TICKS ticks of the VMX-preemption timer
 * (pin "activate VMX-preemption timer", exit reason 52, SDM Vol. 3C
 * §26.5.1), which counts down once each time TSC bit X changes, X =
 * IA32_VMX_MISC[4:0] (Appendix A.6); a vCPU an interrupt wakes takes the
 * core at once; and the same scenario gives the same trace twice.
 */
import { describe, expect, it } from 'vitest';
// First: it loads the machine, whose modules must come before cpu/exec/msr.ts, which scheduler.ts imports.
import { runVms } from '../support/l1Guests.ts';
import apicTimerHlt from '../../guests/l2/apicTimerHlt.ts';
import timeSlice, { timeSliceGuest } from '../../guests/l2/timeSlice.ts';
import { SLICE_TIMER_TICKS } from '../../hypervisor/l1/scheduler.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';

const PREEMPTION_TIMER = 52;
const passed = { kind: 'passed', detail: 'ucall done' };

/** TSC ticks of a turn: SLICE_TIMER_TICKS × 2^X, X the rate the model reports in IA32_VMX_MISC[4:0]. */
const sliceTicks = (): number => SLICE_TIMER_TICKS * 2 ** DEFAULT_VMX_MODEL.preemptionTimerRate;

describe('two VMs on one core take turns (the VMX-preemption timer, exit reason 52)', () => {
  it('both count to the end; the preemption-timer exits alternate between them, one turn apart', async () => {
    const one = timeSliceGuest(1).source;
    const { vms, l1 } = await runVms([{ name: 'a', source: one }, { name: 'b', source: one }]);
    expect(vms.map((v) => v.outcome)).toEqual([passed, passed]);
    const turns = l1.trace.filter((e) => e.reason === PREEMPTION_TIMER);
    expect(turns.length).toBeGreaterThanOrEqual(4);
    turns.forEach((e, k) => expect(e.vcpu, `turn ${k}`).toBe(k % 2 === 0 ? 'a/0' : 'b/0'));
    // No other exits between turns and no idle time: the retired-instruction count is the TSC.
    const ends = turns.map((e) => e.icount);
    for (let k = 1; k < ends.length; k++) expect(ends[k]! - ends[k - 1]!, `turn ${k}`).toBe(sliceTicks());
    // b has run before a is done.
    const aDone = l1.trace.find((e) => e.vcpu === 'a/0' && e.handler === 'ucall:done')!;
    expect(l1.trace.indexOf(turns[1]!)).toBeLessThan(l1.trace.indexOf(aDone));
  });

  it('exits do not stretch a turn: a vCPU exiting every few instructions (CPUID) gives the core up at its first exit past its turn', async () => {
    const { l1 } = await runVms([
      { name: 'cpuid', source: 'again:\nxor eax, eax\ncpuid\njmp again' },
      { name: 'spin', source: 'again:\njmp again' },
    ], { maxInstructions: 12 * sliceTicks() });
    // spin's turns end on the preemption timer (at a multiple of 2^X); between two of them, one turn of
    // cpuid, ended by its first CPUID exit at or past the turn's end (a 3-instruction loop).
    const ends = l1.trace.filter((e) => e.vcpu === 'spin/0' && e.reason === PREEMPTION_TIMER).map((e) => e.icount);
    expect(ends.length).toBeGreaterThanOrEqual(5);
    for (let k = 1; k < ends.length; k++) {
      expect(ends[k]! - ends[k - 1]!, `turn ${k}`).toBeGreaterThanOrEqual(2 * sliceTicks());
      expect(ends[k]! - ends[k - 1]!, `turn ${k}`).toBeLessThan(2 * sliceTicks() + 2 ** DEFAULT_VMX_MODEL.preemptionTimerRate + 3);
    }
  });

  it('time-slice: a VM of two vCPUs on one core; each finds the other has counted when it is done', async () => {
    const { vms, l1 } = await runVms([{ name: 't', source: timeSlice.source, vcpus: 2 }]);
    expect(vms[0]!.outcome).toEqual(passed);
    expect(vms[0]!.console).toBe('counted\ncounted\n');
    expect(new Set(l1.trace.filter((e) => e.reason === PREEMPTION_TIMER).map((e) => e.vcpu))).toEqual(new Set(['t/0', 't/1']));
  });

  it('a vCPU its timer wakes takes the core at once: apic-timer-hlt keeps its 100-tick latency beside a VM that never exits', async () => {
    const { vms } = await runVms([{ name: 'spin', source: 'again:\njmp again' }, { name: 'timer', source: apicTimerHlt.source }], { maxInstructions: 200_000 });
    expect(vms[1]!.outcome).toEqual(passed);
  });
});

describe('determinism (DESIGN decision 3)', () => {
  it('two runs of slicing, halting and waking VMs on one core give byte-identical traces', async () => {
    const scenario = [
      { name: 'a', source: timeSlice.source, vcpus: 2 },
      { name: 'b', source: apicTimerHlt.source },
      { name: 'c', source: timeSliceGuest(1).source },
    ];
    const first = await runVms(scenario), second = await runVms(scenario);
    expect(first.vms.map((v) => v.outcome)).toEqual([passed, passed, passed]);
    expect(second.text).toBe(first.text);
  });
});
