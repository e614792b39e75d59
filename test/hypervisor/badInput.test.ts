/**
 * Bad input (issue 6, DESIGN decision 7): a guest that writes garbage to
 * its own page tables, loops forever with interrupts off, floods port I/O,
 * sends a storm of IPIs, or is made of random bytes gets an architectural
 * outcome (a fault, a VM exit) or is stopped at the instruction limit with
 * a report; L1 and the other VMs, on its core and on the others, go on.
 * Expected values come from the SDM (exit reasons of Appendix C, the I/O
 * qualification of Vol. 3C §28.2.1 Table 28-5, the walk of Vol. 3A §4.5)
 * and from the guests' own code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// First: it loads the machine, whose modules must come before cpu/exec/msr.ts, which L1's modules import.
import { readQword, runVms } from '../support/l1Guests.ts';
import { hasVector } from '../../cpu/devices/apic/vectorSet.ts';
import { localApicOf } from '../../cpu/devices/apic/registry.ts';
import { assemble, initAssembler } from '../../guests/assembler.ts';
import cliSpin from '../../guests/l2/cliSpin.ts';
import cpuid from '../../guests/l2/cpuid.ts';
import garbagePageTables, { BEYOND_RAM, garbagePageTablesGuest } from '../../guests/l2/garbagePageTables.ts';
import type { L2Guest } from '../../guests/l2/guest.ts';
import hypercalls from '../../guests/l2/hypercalls.ts';
import ipiStorm, { STORM_VECTOR, stormCounters } from '../../guests/l2/ipiStorm.ts';
import portFlood, { FLOOD_PORT } from '../../guests/l2/portFlood.ts';
import { timeSliceGuest } from '../../guests/l2/timeSlice.ts';
import { done } from '../../guests/l2/ucall.ts';
import { reportRun } from '../../hypervisor/cli/report.ts';
import { KICK_VECTOR, TIMER_VECTOR } from '../../hypervisor/l1/hostApic.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { judge, runScenario, type ScenarioResult } from '../../hypervisor/scenarios.ts';
import { CONSOLE_LIMIT, GUEST_CODE, GUEST_PAGE_TABLES, GUEST_STACK } from '../../hypervisor/vm.ts';
import { ExitReason } from '../../vmx/exitReason.ts';

const passed = { kind: 'passed', detail: 'ucall done' };
/** Guests that must end as usual beside a bad one: CPUID and VMCALL exits, and counting with no exit at all (only time slices let it run). */
const BYSTANDERS: readonly L2Guest[] = [cpuid, timeSliceGuest(1), hypercalls];

/**
 * Runs `bad` with the bystanders on `cpus` cores: L1 places the VMs' vCPUs
 * on the cores in turn, so on two cores `bad` shares core 0 with the
 * time-slice bystander and cpuid and hypercalls run on core 1.
 */
async function runBeside(bad: L2Guest, cpus: number, maxInstructions = 1_000_000): Promise<ScenarioResult> {
  const vms = [bad, ...BYSTANDERS].map((guest) => ({ guest, memoryMiB: 4, vcpus: guest.vcpus ?? 1 }));
  return runScenario({ name: 'bad-input', description: `${bad.name} beside well-behaved guests`, cpus, memoryMiB: 256, vms }, { maxInstructions });
}

/** Every bystander passed, and the bad guest's VM ended as its guest expects. */
function expectOthersPassed(r: ScenarioResult): void {
  for (const v of r.vms.slice(1)) expect(v.vm.outcome.kind, v.guest.name).toBe('passed');
  expect(r.vms[0]!.verdict.asExpected, r.vms[0]!.verdict.why).toBe(true);
}

/** I/O exit qualification (§28.2.1 Table 28-5): size - 1 in bits 2:0, IN in bit 3, port in bits 31:16; 16 hex digits as traced. */
const ioQualification = (port: number, size: number): string => (port * 0x10000 + size - 1).toString(16).padStart(16, '0');

describe('garbage in the guest\'s own page tables (SDM Vol. 3A §4.5, §6.15)', () => {
  it.each([1, 2])('P = 0 everywhere: #PF, #DF while delivering it, triple fault (exit reason 2) at the fetch after MOV CR3; the others finish (%i cores)', async (cpus) => {
    const r = await runBeside(garbagePageTables, cpus);
    expect(r.stop.kind).toBe('idle');
    expectOthersPassed(r);
    await initAssembler();
    // The fetch that walks the garbage is the one after MOV CR3 (which flushed the TLB, Vol. 3A §4.10.4.1).
    const faultingRip = GUEST_CODE + assemble(
      `mov rdi, ${GUEST_PAGE_TABLES}\nmov rax, 0xdeadbeefcafebabe\nmov ecx, 512\nrep stosq\nmov rax, cr3\nmov cr3, rax`, 64, GUEST_CODE).length;
    expect(r.vms[0]!.events.map((e) => [e.reason, e.handler, e.decision])).toEqual([[ExitReason.TripleFault, 'triple-fault', 'stop']]);
    expect(r.vms[0]!.vm.outcome).toEqual({ kind: 'stopped', detail: `triple fault at rip 0x${faultingRip.toString(16)}` });
  });

  it('a present entry that points beyond guest RAM: the walk\'s read of the PDPT at 1 GiB is an EPT violation (reason 48, §29.3.3.2) that stops the VM', async () => {
    const r = await runBeside(garbagePageTablesGuest('beyond-ram', BEYOND_RAM, { kind: 'stopped', detail: 'EPT violation' }), 2);
    expect(r.stop.kind).toBe('idle');
    expectOthersPassed(r);
    expect(r.vms[0]!.events.map((e) => [e.reason, e.handler])).toEqual([[ExitReason.EptViolation, 'ept-violation']]);
    // PML4[0] = 40000003H: the PDPT at 40000000H; linear address 1xxxxH has PDPT index 0 (bits 38:30).
    const detail = r.vms[0]!.vm.outcome.kind === 'stopped' ? r.vms[0]!.vm.outcome.detail : '';
    expect(detail).toContain('guest paging-structure entry at guest-physical 0x40000000 beyond the VM\'s 4 MiB of RAM');
  });
});

describe('a guest that loops forever with interrupts off', () => {
  it('the VMX-preemption timer still ends its turns (reason 52, §26.5.1): the VM beside it on its core counts to the end', async () => {
    const r = await runBeside(cliSpin, 2);
    expect(r.stop.kind).toBe('limit');
    expectOthersPassed(r);
    const spin = r.vms[0]!;
    expect(spin.vm.outcome.kind).toBe('running');
    expect(spin.events.length).toBeGreaterThan(0);
    expect(new Set(spin.events.map((e) => e.reason))).toEqual(new Set([ExitReason.PreemptionTimer]));
    // CLI is one byte (FA): the loop is the JMP at GUEST_CODE + 1.
    expect(new Set(spin.events.map((e) => e.guestRip))).toEqual(new Set([(GUEST_CODE + 1).toString(16).padStart(16, '0')]));
  });

  it('the report names the VM still running at the instruction limit and where its vCPU last exited', async () => {
    const r = await runBeside(cliSpin, 2);
    const report = reportRun(r, 'default', 'none');
    expect(report).toContain('PASS  cli-spin    core 0  still running when the machine stopped, as expected');
    expect(report).toContain(`      running: cli-spin/0 last exited at rip 0x${(GUEST_CODE + 1).toString(16)} (PreemptionTimer)`);
    expect(report.at(-2)).toMatch(/; 1,000,000 instructions retired; instruction limit reached with 1 VM still running \(cli-spin\)$/);
  });

  it('judges "still running" against the expectation: as expected only for a guest that expects it', () => {
    expect(judge({ kind: 'running' }, { kind: 'running' })).toEqual({ asExpected: true, why: 'still running when the machine stopped, as expected' });
    expect(judge({ kind: 'passed' }, { kind: 'running' })).toEqual({ asExpected: false, why: 'still running when the machine stopped' });
    expect(judge({ kind: 'running' }, { kind: 'passed', detail: 'ucall done' }))
      .toEqual({ asExpected: false, why: 'passed (ucall done), expected still running' });
  });
});

describe('a port I/O flood', () => {
  it('every OUT exits (reason 30) and is ignored; the VMs on its core and the other finish; the flood runs to the limit', async () => {
    const r = await runBeside(portFlood, 2, 400_000);
    expect(r.stop.kind).toBe('limit');
    expectOthersPassed(r);
    const flood = r.vms[0]!.events.filter((e) => e.reason === ExitReason.IoInstruction);
    expect(flood.length).toBeGreaterThan(100_000);
    expect(new Set(flood.map((e) => `${e.qualification} ${e.insn} ${e.handler} ${e.decision}`)))
      .toEqual(new Set([`${ioQualification(FLOOD_PORT, 1)} out dx, al io:unclaimed skip`]));
    // Its other exits are the ends of its turns: time slices, not I/O, bound the flood.
    expect(r.vms[0]!.events.filter((e) => e.reason !== ExitReason.IoInstruction).every((e) => e.reason === ExitReason.PreemptionTimer)).toBe(true);
  }, 60_000);
});

describe('a console flood', () => {
  it('4 KiB print hypercalls without end: the console keeps its first CONSOLE_LIMIT characters and counts the rest, which the report says', async () => {
    const PRINT = 4096, buffer = 0x20000;
    const source = `
      mov rbx, ${buffer}
    again:
      xor eax, eax                 ; hypercall 0: print RCX bytes at RBX (exits/vmcall.ts)
      mov ecx, ${PRINT}
      vmcall
      jmp again`;
    const flood: L2Guest = { name: 'print-flood', description: 'prints 4 KiB through VMCALL, forever', expect: { kind: 'running' }, source,
      setup: (vm) => vm.write(buffer, new Uint8Array(PRINT).fill(0x41)) };
    const r = await runBeside(flood, 1, 3_000);
    const vm = r.vms[0]!.vm, prints = r.vms[0]!.events.filter((e) => e.handler === 'vmcall:print').length;
    expect(prints * PRINT).toBeGreaterThan(CONSOLE_LIMIT);
    expect(vm.console).toBe('A'.repeat(CONSOLE_LIMIT));
    expect(vm.consoleDropped).toBe(prints * PRINT - CONSOLE_LIMIT);
    expect(reportRun(r, 'default', 'none')).toContain(`               (${(prints * PRINT - CONSOLE_LIMIT).toLocaleString('en-US')} more characters dropped)`);
  }, 60_000);
});

describe('an IPI storm: two vCPUs write their x2APIC ICR in a loop (SDM Vol. 3A §11.6.1, §11.12.9)', () => {
  it.each([1, 2])('the others finish, both storm vCPUs take interrupts and NMIs, and pending state stays one IRR bit and one NMI (%i cores)', async (cpus) => {
    const r = await runBeside(ipiStorm, cpus, 600_000);
    expect(r.stop.kind).toBe('limit');
    expectOthersPassed(r);
    const storm = r.vms[0]!.vm;
    for (const v of storm.vcpus) {
      const taken = readQword(storm, stormCounters(v.index)), nmis = readQword(storm, stormCounters(v.index) + 8);
      expect(taken, `${v.name} interrupts`).toBeGreaterThan(10n);
      expect(nmis, `${v.name} NMIs`).toBeGreaterThan(10n);
      // Repeated fixed IPIs coalesce in the IRR (§11.8.4): nothing else is pending there; ISR: at most the storm vector.
      for (let vector = 0; vector < 256; vector++) {
        if (vector !== STORM_VECTOR) expect(hasVector(v.lapic.irr, vector) || hasVector(v.lapic.isr, vector), `${v.name} vector ${vector}`).toBe(false);
      }
    }
    // L1's kicks coalesce the same way in each core's own APIC: only its kick and timer vectors can be pending.
    for (const c of r.l1.machine.cpus) {
      const apic = localApicOf(c)!;
      for (let vector = 0; vector < 256; vector++) {
        if (vector !== KICK_VECTOR && vector !== TIMER_VECTOR) expect(hasVector(apic.irr, vector), `core ${c.id} vector ${vector}`).toBe(false);
      }
    }
  }, 60_000);

  it('does not slow down in machine time: the second half of a run handles as many exits per instruction as the first', async () => {
    await initAssembler();
    const l1 = new L1({ cpus: 2 });
    const vm = l1.createVm('storm');
    const code = assemble(ipiStorm.source, 64, GUEST_CODE);
    l1.addLongModeVcpu(vm, code);
    l1.addLongModeVcpu(vm, code);
    const HALF = 200_000;
    l1.run(HALF);
    const first = l1.trace.length;
    l1.machine.run({ maxInstructions: HALF });
    const second = l1.trace.length - first;
    expect(first).toBeGreaterThan(HALF / 10);
    expect(second).toBeGreaterThan(first * 0.9);
    expect(second).toBeLessThan(first * 1.1);
  }, 60_000);
});

describe('a VM stopped on one core leaves its other cores at once', () => {
  it('vCPU 0 ends the VM while vCPU 1 spins without exits on the other core: L1 kicks that core and the run ends idle, not at the limit', async () => {
    const source = `
      mov rax, ${GUEST_STACK}     ; vCPU 0's stack top (l1/mpState.ts vcpuStack)
      cmp rsp, rax
      jne spin
      mov ecx, 20000              ; let vCPU 1 reach its loop
    wait:
      loop wait
      ${done()}
    spin:
      jmp spin`;
    const { l1, vms } = await runVms([{ name: 'two', source, vcpus: 2 }], { cpus: 2, maxInstructions: 2_000_000 });
    expect(vms[0]!.outcome).toEqual(passed);
    expect(l1.machine.retired).toBeLessThan(100_000);
    const events = l1.trace.map((e) => [e.vcpu, e.handler]);
    expect(events.at(-2)).toEqual(['two/0', 'ucall:done']);
    expect(events.at(-1)).toEqual(['two/1', 'external-interrupt:kick']);
  });
});

/**
 * Random guests (fast-check, fixed seed): code of random bytes mixed with
 * the encodings of instructions that exit (so that L1's handlers meet
 * random operands), 1 or 2 vCPUs, optionally random bytes over the page
 * tables or over page 0 (where the IDT and TSS L1's VMCS names are), and
 * optionally #UD and #BP intercepted, beside a well-behaved VM.
 */
const EXITING = [
  [0x0f, 0xa2], [0x0f, 0x01, 0xc1], [0x0f, 0x30], [0x0f, 0x32], [0xee], [0xef], [0xec], [0xed], [0xe6, 0x80], [0xe4, 0x71], [0xf3, 0x6e],
  [0xf3, 0x6c], [0xf4], [0xfa], [0xfb], [0x0f, 0x22, 0xc0], [0x0f, 0x22, 0xe0], [0x0f, 0x22, 0xd8], [0x44, 0x0f, 0x22, 0xc0], [0x0f, 0x20, 0xc0],
  [0x0f, 0x01, 0xc2], [0x0f, 0x01, 0xc3], [0x0f, 0x78, 0xc0], [0x0f, 0x79, 0xc0], [0x0f, 0xc7, 0x30], [0x0f, 0x0b], [0xcc], [0xcd, 0x80],
  [0x0f, 0x01, 0xd1], [0x0f, 0x08], [0x0f, 0x09], [0x0f, 0x31], [0x0f, 0x01, 0xf9], [0x0f, 0x01, 0x18], [0x0f, 0x01, 0x10], [0x0f, 0x23, 0xf8],
  [0x0f, 0x37], [0x0f, 0xc7, 0xf0], [0xf3, 0x90], [0xcf], [0x48, 0xcf],
];
const movImm64 = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([r, b]) => [0x48, 0xb8 + r, ...b]);
const randomCode = fc.array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => [...b]), fc.constantFrom(...EXITING), movImm64), { minLength: 1, maxLength: 64 })
  .map((pieces) => Uint8Array.from(pieces.flat()));
const page = (pages: number) => fc.option(fc.uint8Array({ minLength: 4096 * pages, maxLength: 4096 * pages }), { freq: 4 });

describe('random guests never crash L1 or the host (DESIGN decision 7)', () => {
  it('every run ends idle or at the limit, the random VM stopped, failed, passed or still running (only at the limit), the other VM passed', async () => {
    await initAssembler();
    const bystander = assemble(cpuid.source, 64, GUEST_CODE);
    fc.assert(fc.property(
      randomCode, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), page(3), page(1), fc.boolean(),
      (code, vcpus, cpus, pageTables, page0, intercept) => {
        const l1 = new L1({ cpus, memoryMiB: 64 });
        const vm = l1.createVm('random');
        if (intercept) vm.interceptExceptions = [6, 3];
        for (let k = 0; k < vcpus; k++) l1.addLongModeVcpu(vm, code);
        if (pageTables) vm.write(GUEST_PAGE_TABLES, pageTables);
        if (page0) vm.write(0, page0);
        l1.addLongModeVcpu(l1.createVm('cpuid'), bystander);
        const stop = l1.run(100_000);
        expect(['idle', 'limit']).toContain(stop.kind);
        expect(l1.vms[1]!.outcome).toEqual(passed);
        expect(['passed', 'failed', 'stopped', 'running']).toContain(vm.outcome.kind);
        // A VM still running is one the limit stopped; one that ended leaves no vCPU running anywhere.
        expect(vm.outcome.kind === 'running').toBe(stop.kind === 'limit');
      },
    ), { seed: 0x6b1d, numRuns: 150 });
  }, 120_000);
});
