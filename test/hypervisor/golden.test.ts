/**
 * Golden exit traces of the L2 suite (DESIGN decision 8): each guest run
 * alone must give its test/golden/<guest>.jsonl byte for byte
 * (UPDATE_GOLDEN=1 rewrites them); two runs of the whole suite give the
 * same bytes; and a guest's events are the same whichever core count the
 * suite runs on. The traces' contents are also checked against what the
 * SDM and the guests' own code say: exit reasons (SDM Vol. 3C Appendix C),
 * I/O qualifications (§28.2.1 Table 28-5), the exiting instruction at the
 * saved guest RIP, and the handlers of the documented conventions.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { L2_SUITE } from '../../guests/l2/suite.ts';
import { describeDifference, firstDifference } from '../../hypervisor/cli/diff.ts';
import { disassemble, guestInstruction } from '../../hypervisor/disassemble.ts';
import { findScenario, runScenario, type ScenarioResult } from '../../hypervisor/scenarios.ts';
import { traceLine, traceText, TRACE_KEYS, type L1TraceEvent } from '../../hypervisor/trace.ts';
import { ExitReason } from '../../vmx/exitReason.ts';

const GOLDEN = join(import.meta.dirname, '../golden');
const CPUID = 10, VMCALL = 18, IO = 30, TRIPLE_FAULT = 2;
/** Exits caused by events rather than by the guest's instructions (SDM Vol. 3C §26.2, §26.7). */
const EVENT_EXITS = new Set<number>([
  ExitReason.ExternalInterrupt, ExitReason.Init, ExitReason.Sipi, ExitReason.InterruptWindow, ExitReason.NmiWindow, ExitReason.PreemptionTimer,
]);

const run = async (name: string, cpus?: number): Promise<ScenarioResult> => runScenario(findScenario(name, { cpus })!);
const lines = (text: string): string[] => text.split('\n').slice(0, -1);
/** I/O exit qualification (§28.2.1 Table 28-5): size - 1 in bits 2:0, IN in bit 3, port in bits 31:16. */
const ioQualification = (port: number, size: number, isIn: boolean): string =>
  ((port * 0x10000) + (isIn ? 8 : 0) + size - 1).toString(16).padStart(16, '0');

/** Fails with the first differing event and its context when `actual` is not `expected` byte for byte. */
function expectSameTrace(actual: string, expected: string, nameA: string, nameB: string): void {
  if (actual === expected) return;
  const a = lines(expected), b = lines(actual);
  const at = firstDifference(a, b);
  expect.fail(at < 0 ? `${nameA} and ${nameB} differ only in line endings` : describeDifference(a, b, at, nameA, nameB).join('\n'));
}

describe('golden traces: each guest of the suite alone, on one core', () => {
  it.each(L2_SUITE.map((g) => g.name))('%s gives its golden trace byte for byte', async (name) => {
    const r = await run(name);
    const text = traceText(r.trace);
    const file = join(GOLDEN, `${name}.jsonl`);
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, text);
    }
    expectSameTrace(text, readFileSync(file, 'utf8'), `test/golden/${name}.jsonl`, 'this run');
    expect(r.vms[0]!.verdict.asExpected).toBe(true);
  });
});

describe('what the guests\' traces say, from the SDM and the guests\' code', () => {
  const of = async (name: string): Promise<L1TraceEvent[]> => [...(await run(name)).trace];
  const shape = (e: L1TraceEvent): [number, string, string, string] => [e.reason, e.insn, e.handler, e.decision];

  it('an instruction exit saves the RIP of the exiting instruction (§28.3.3 "guest RIP"): the traced instruction is the one that exits', async () => {
    const mnemonics = new Map<number, RegExp>([
      [ExitReason.Cpuid, /^cpuid$/], [ExitReason.Vmcall, /^vmcall$/], [ExitReason.IoInstruction, /^(in|out) /],
      [ExitReason.Rdmsr, /^rdmsr$/], [ExitReason.Wrmsr, /^wrmsr$/], [ExitReason.Hlt, /^hlt$/],
    ]);
    let seen = 0;
    for (const g of L2_SUITE) {
      for (const e of (await run(g.name)).trace) {
        const expected = mnemonics.get(e.reason);
        if (!expected) continue;
        expect(e.insn, `${g.name} ${e.reasonName}`).toMatch(expected);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(40);
  });

  it('cpuid: two CPUIDs (leaves 0 and 1, exit reason 10), three prints and done through the ucall port', async () => {
    const print = [IO, 'out dx, eax', 'ucall:print', 'skip'];
    expect((await of('cpuid')).map(shape)).toEqual([
      [CPUID, 'cpuid', 'cpuid', 'skip'], print, print, print, [CPUID, 'cpuid', 'cpuid', 'skip'], [IO, 'out dx, eax', 'ucall:done', 'stop'],
    ]);
  });

  it('port-io: one OUT per greeting byte to 3F8H, then IN AL/AX/EAX and OUT EAX on 1234H, with Table 28-5 qualifications', async () => {
    const t = await of('port-io');
    const greeting = 'hello over COM1 (port 0x3f8)\n';
    expect(t.slice(0, greeting.length).every((e) => e.handler === 'io:console' && e.qualification === ioQualification(0x3f8, 1, false))).toBe(true);
    expect(t.slice(greeting.length).map((e) => [e.qualification, e.insn, e.handler])).toEqual([
      [ioQualification(0x1234, 1, true), 'in al, dx', 'io:unclaimed'],
      [ioQualification(0x1234, 2, true), 'in ax, dx', 'io:unclaimed'],
      [ioQualification(0x1234, 4, true), 'in eax, dx', 'io:unclaimed'],
      [ioQualification(0x1234, 4, false), 'out dx, eax', 'io:unclaimed'],
      [ioQualification(0x7e0, 4, false), 'out dx, eax', 'ucall:print'],
      [ioQualification(0x7e0, 4, false), 'out dx, eax', 'ucall:done'],
    ]);
  });

  it('hypercalls: four VMCALLs (exit reason 18): print, unknown, yield, exit', async () => {
    expect((await of('hypercalls')).map((e) => [e.reason, e.handler, e.decision])).toEqual([
      [VMCALL, 'vmcall:print', 'skip'], [VMCALL, 'vmcall:unknown', 'skip'], [VMCALL, 'vmcall:yield', 'skip'], [VMCALL, 'vmcall:exit', 'stop'],
    ]);
  });

  it('triple-fault: a print, then a triple-fault exit (reason 2) at the UD2, nothing after', async () => {
    expect((await of('triple-fault')).map(shape)).toEqual([[IO, 'out dx, eax', 'ucall:print', 'skip'], [TRIPLE_FAULT, 'ud2', 'triple-fault', 'stop']]);
  });

  it('exit-code: a print, then the exit hypercall', async () => {
    expect((await of('exit-code')).map(shape)).toEqual([[IO, 'out dx, eax', 'ucall:print', 'skip'], [VMCALL, 'vmcall', 'vmcall:exit', 'stop']]);
  });
});

describe('the suite\'s trace is deterministic', () => {
  it('two runs of the whole suite give byte-identical traces', async () => {
    const a = traceText((await run('suite')).trace), b = traceText((await run('suite')).trace);
    expectSameTrace(b, a, 'first run', 'second run');
  });

  /**
   * Time is the core's retired instructions (DESIGN decision 3), shared by
   * every vCPU on the core. A guest's outcome must not depend on where L1
   * places it: the guest checks its own results. Its exact events need not
   * all be equal: `icount` counts whatever else ran on the core before,
   * `core` is where L1 placed it, and exits that events cause (interrupts,
   * windows, the preemption timer, INIT/SIPI) come when time says, which
   * depends on who shares the core — as do the exits of a guest whose
   * vCPUs share cores or not. A one-vCPU guest whose exits all come from
   * its own instructions must give the same events wherever it runs.
   */
  it('every guest ends the same way on 1 and on 4 cores as alone', async () => {
    const [one, four] = [await run('suite', 1), await run('suite', 4)];
    expect(new Set(four.vms.map((v) => v.vm.vcpus[0]!.host.c.id)).size).toBe(4);
    for (const g of L2_SUITE) {
      const alone = (await run(g.name)).vms[0]!.verdict;
      const on = (r: ScenarioResult, cores: string): string => `${g.name} on ${cores}: ${r.vms.find((v) => v.guest.name === g.name)!.verdict.why}`;
      expect(on(one, '1 core')).toBe(`${g.name} on 1 core: ${alone.why}`);
      expect(on(four, '4 cores')).toBe(`${g.name} on 4 cores: ${alone.why}`);
    }
  });

  it('a one-vCPU guest without event-caused exits gives the same events on 1 and on 4 cores as alone, but for icount and core', async () => {
    const project = (events: readonly L1TraceEvent[]): string[] => events.map((e) => traceLine({ ...e, icount: 0, core: 0 }));
    const [one, four] = [await run('suite', 1), await run('suite', 4)];
    const checked: string[] = [];
    for (const g of L2_SUITE) {
      const alone = lines(readFileSync(join(GOLDEN, `${g.name}.jsonl`), 'utf8')).map((l) => JSON.parse(l) as L1TraceEvent);
      if ((g.vcpus ?? 1) !== 1 || alone.some((e) => EVENT_EXITS.has(e.reason))) continue;
      const on = (r: ScenarioResult): string[] => project(r.vms.find((v) => v.guest.name === g.name)!.events);
      expect(on(one), g.name).toEqual(project(alone));
      expect(on(four), g.name).toEqual(project(alone));
      checked.push(g.name);
    }
    expect(checked).toEqual(expect.arrayContaining(['cpuid', 'port-io', 'hypercalls', 'triple-fault', 'exit-code']));
  });
});

describe('trace lines and the traced instruction', () => {
  it('keys come in TRACE_KEYS order whatever order the event object has', async () => {
    const e = (await run('hypercalls')).trace[0]!;
    const shuffled = Object.fromEntries(Object.entries(e).reverse()) as unknown as L1TraceEvent;
    expect(Object.keys(JSON.parse(traceLine(shuffled)))).toEqual([...TRACE_KEYS]);
    expect(traceLine(shuffled)).toBe(traceLine(e));
  });

  it('disassembles in Intel syntax with absolute targets (SDM Vol. 2 encodings: 0F 01 C1 VMCALL, EB rel8, 48 8D 3D disp32 LEA RIP-relative)', () => {
    expect(disassemble(Uint8Array.of(0x0f, 0x01, 0xc1), 0x10000n)).toBe('vmcall');
    expect(disassemble(Uint8Array.of(0xeb, 0xfe), 0x10000n)).toBe('jmp short 0x10000');
    expect(disassemble(Uint8Array.of(0x48, 0x8d, 0x3d, 0x10, 0, 0, 0), 0x10000n)).toBe('lea rdi, [0x10017]');
  });

  it('decodes in the guest\'s code size: 0F 22 C0 is MOV CR0, EAX in 32-bit code and MOV CR0, RAX in 64-bit code; 48 is DEC EAX outside 64-bit mode (SDM Vol. 2)', () => {
    expect(disassemble(Uint8Array.of(0x0f, 0x22, 0xc0), 0x100000n, 32)).toBe('mov cr0, eax');
    expect(disassemble(Uint8Array.of(0x0f, 0x22, 0xc0), 0x100000n, 64)).toBe('mov cr0, rax');
    expect(disassemble(Uint8Array.of(0x48), 0x100000n, 32)).toBe('dec eax');
    expect(disassemble(Uint8Array.of(0x40), 0x7c00n, 16)).toBe('inc ax');
  });

  it('never throws on bytes that are no instruction: "(bad)" (0F alone, LOCK NOP, a cut-off VEX, nothing)', () => {
    for (const bytes of [[0x0f], [0xf0, 0x90], [0xc4, 0xc4, 0xc4], []]) expect(disassemble(Uint8Array.from(bytes), 0n)).toBe('(bad)');
  });

  it('reads the guest\'s memory at its RIP, cut at the end of its RAM', async () => {
    const r = await run('hypercalls');
    const vm = r.vms[0]!.vm;
    expect(guestInstruction(vm, BigInt(vm.ramBytes))).toBe('(outside guest RAM)');
    expect(guestInstruction(vm, 2n ** 64n - 1n)).toBe('(outside guest RAM)');
    vm.write(vm.ramBytes - 2, Uint8Array.of(0x0f, 0x01));
    expect(guestInstruction(vm, BigInt(vm.ramBytes - 2))).toBe('(bad)');
    vm.write(vm.ramBytes - 3, Uint8Array.of(0x0f, 0x01, 0xc1));
    expect(guestInstruction(vm, BigInt(vm.ramBytes - 3))).toBe('vmcall');
  });

  it('decodes again where the code changed since the last exit at that RIP (0F 0B UD2 over 0F 01 C1 VMCALL)', async () => {
    const vm = (await run('hypercalls')).vms[0]!.vm;
    const at = 0x20000;
    vm.write(at, Uint8Array.of(0x0f, 0x01, 0xc1));
    expect(guestInstruction(vm, BigInt(at))).toBe('vmcall');
    expect(guestInstruction(vm, BigInt(at))).toBe('vmcall');
    vm.write(at, Uint8Array.of(0x0f, 0x0b));
    expect(guestInstruction(vm, BigInt(at))).toBe('ud2');
  });
});
