/**
 * Scenarios: what `turtles run` runs. A scenario is a machine (cores, host
 * RAM) and a set of VMs, each an L2 guest of the suite (guests/l2/) with
 * its memory and vCPUs. L1 places the vCPUs on the cores in turn, so the
 * VMs of the default scenario — the whole suite, one VM per guest — are
 * spread over the cores. A run ends when every VM has ended (every core
 * halts) or at the instruction budget; each VM's outcome is then judged
 * against what its guest expects.
 */
import type { MachineStop } from '../cpu/machine/stop.ts';
import { assemble, initAssembler } from '../guests/assembler.ts';
import type { Expectation, L2Guest } from '../guests/l2/guest.ts';
import { findGuest, L2_SUITE } from '../guests/l2/suite.ts';
import type { VmxFeatures } from '../vmx/model/vmxModel.ts';
import { L1 } from './l1/l1.ts';
import type { L1TraceEvent } from './trace.ts';
import { GUEST_CODE, type Vm, type VmOutcome } from './vm.ts';

export interface VmPlan {
  readonly guest: L2Guest;
  readonly memoryMiB: number;
  readonly vcpus: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly cpus: number;
  /** Host RAM in MiB: L1's own 31 MiB and the guests' RAM. */
  readonly memoryMiB: number;
  readonly vms: readonly VmPlan[];
}

/** What the machine of a scenario may be given instead of the scenario's own choice. */
export interface MachineChoice {
  readonly cpus?: number;
  readonly memoryMiB?: number;
}

export const DEFAULT_SCENARIO = 'suite';
/** The suite's machine: enough cores that VMs share some and not others. */
const SUITE_CPUS = 4;
const DEFAULT_HOST_MIB = 256, DEFAULT_GUEST_MIB = 4;
/** Budget over all cores; the suite needs a few thousand instructions. */
export const DEFAULT_MAX_INSTRUCTIONS = 20_000_000;

const planOf = (guest: L2Guest): VmPlan => ({ guest, memoryMiB: guest.memoryMiB ?? DEFAULT_GUEST_MIB, vcpus: guest.vcpus ?? 1 });

/** The scenario called `name`: 'suite', or the name of one guest of the suite (that guest alone, on one core). */
export function findScenario(name: string, machine: MachineChoice = {}): Scenario | undefined {
  const memoryMiB = machine.memoryMiB ?? DEFAULT_HOST_MIB;
  if (name === DEFAULT_SCENARIO) {
    return {
      name, description: 'the L2 guest suite, one VM per guest, spread over the cores',
      cpus: machine.cpus ?? SUITE_CPUS, memoryMiB, vms: L2_SUITE.map(planOf),
    };
  }
  const guest = findGuest(name);
  return guest && { name, description: guest.description, cpus: machine.cpus ?? 1, memoryMiB, vms: [planOf(guest)] };
}

/** Every scenario name, the default first. */
export const SCENARIO_NAMES: readonly string[] = [DEFAULT_SCENARIO, ...L2_SUITE.map((g) => g.name)];

/** Whether a VM ended as its guest expects, and in words. */
export interface Verdict {
  readonly asExpected: boolean;
  readonly why: string;
}

export function judge(expect: Expectation, outcome: VmOutcome): Verdict {
  if (outcome.kind === 'running') {
    return { asExpected: expect.kind === 'running', why: `still running when the machine stopped${expect.kind === 'running' ? ', as expected' : ''}` };
  }
  const wanted = expect.kind === 'passed' ? 'passed' : expect.kind === 'running' ? 'still running' : `${expect.kind} with "${expect.detail}"`;
  const asExpected = outcome.kind === expect.kind && (expect.kind === 'passed' || outcome.detail.includes(expect.detail));
  if (!asExpected) return { asExpected, why: `${outcome.kind} (${outcome.detail}), expected ${wanted}` };
  return { asExpected, why: expect.kind === 'passed' ? `passed (${outcome.detail})` : `${outcome.kind} as expected (${outcome.detail})` };
}

export interface VmResult {
  readonly vm: Vm;
  readonly guest: L2Guest;
  readonly verdict: Verdict;
  /** The trace events of this VM's vCPUs, in trace order. */
  readonly events: readonly L1TraceEvent[];
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly l1: L1;
  readonly stop: MachineStop;
  readonly vms: readonly VmResult[];
  readonly trace: readonly L1TraceEvent[];
}

export interface RunOptions {
  /** The VMX model (default DEFAULT_VMX_MODEL). */
  readonly vmx?: VmxFeatures;
  readonly maxInstructions?: number;
}

/**
 * Builds the scenario's machine and VMs and runs them. L1's own refusals
 * (a VMX feature it needs is missing, memory runs out) are HypervisorErrors.
 */
export async function runScenario(s: Scenario, o: RunOptions = {}): Promise<ScenarioResult> {
  await initAssembler();
  const l1 = new L1({ cpus: s.cpus, memoryMiB: s.memoryMiB, vmx: o.vmx });
  const vms = s.vms.map((p) => {
    const vm = l1.createVm(p.guest.name, p.memoryMiB);
    p.guest.setup?.(vm);
    const code = assemble(p.guest.source, 64, GUEST_CODE);
    for (let k = 0; k < p.vcpus; k++) l1.addLongModeVcpu(vm, code);
    return { vm, guest: p.guest };
  });
  const stop = l1.run(o.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS);
  return {
    scenario: s, l1, stop, trace: l1.trace,
    vms: vms.map(({ vm, guest }) => ({
      vm, guest, verdict: judge(guest.expect, vm.outcome), events: l1.trace.filter((e) => e.vcpu.startsWith(`${vm.name}/`)),
    })),
  };
}
