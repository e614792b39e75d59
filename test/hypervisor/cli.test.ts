/**
 * The `turtles` command line of the L1 hypervisor: `run` (what `npm start`
 * runs) reports per guest against its expectation and writes the exit
 * trace whole; `diff` compares two traces byte for byte; bad input is one
 * line on stderr with a non-zero status. Expected counts come from the
 * guests' code (guests/l2/) and the conventions they use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { L2_SUITE } from '../../guests/l2/suite.ts';
import { DIFF_STATUS, runDiff } from '../../hypervisor/cli/diff.ts';
import { FEATURE_ALIASES, vmxModelWithout } from '../../hypervisor/cli/features.ts';
import { RUN_STATUS, runRun } from '../../hypervisor/cli/run.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { findScenario, judge, runScenario, SCENARIO_NAMES } from '../../hypervisor/scenarios.ts';
import { traceText } from '../../hypervisor/trace.ts';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'turtles-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome { status: number; stdout: string; stderr: string }

async function turtles(command: (argv: string[], io: { stdout: (t: string) => void; stderr: (t: string) => void }) => number | Promise<number>, argv: string[]): Promise<Outcome> {
  let stdout = '', stderr = '';
  const status = await command(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { status, stdout, stderr };
}
const run = (...argv: string[]): Promise<Outcome> => turtles(runRun, argv);
const diff = (...argv: string[]): Promise<Outcome> => turtles(runDiff, argv);
const tracePath = (name: string): string => join(dir, name);

/** Exits of this file's guests, from their code: cpuid 2 CPUIDs + 3 prints + done; port-io one OUT per greeting byte, 4 on the unclaimed port, print, done; hypercalls 4 VMCALLs; the others a print and their end. */
const EXITS: Record<string, number> = {
  'cpuid': 6, 'port-io': 'hello over COM1 (port 0x3f8)\n'.length + 4 + 2, 'hypercalls': 4, 'triple-fault': 2, 'exit-code': 2,
};
const SUITE = L2_SUITE.length;
/** L1 places vCPUs on the cores in turn (hypervisor/l1/l1.ts): the cores of each guest of the suite on `cpus` cores. */
function placement(cpus: number): string[] {
  let next = 0;
  return L2_SUITE.map((g) => {
    const cores = [...new Set(Array.from({ length: g.vcpus ?? 1 }, () => next++ % cpus))];
    return `${cores.length === 1 ? 'core' : 'cores'} ${cores.join(',')}`;
  });
}
/** The exit count of each guest's "exits:" line, by guest. */
const exitCounts = (report: string): Map<string, number> => {
  const names = [...report.matchAll(/^(?:PASS|FAIL) +(\S+)/gm)].map((m) => m[1]!);
  const counts = [...report.matchAll(/^ +exits: +(\d+)/gm)].map((m) => Number(m[1]));
  return new Map(names.map((n, k) => [n, counts[k]!]));
};

describe('turtles run', () => {
  it('runs the whole suite by default, one VM per guest over 4 cores, every guest as expected (status 0)', async () => {
    const trace = tracePath('suite.jsonl');
    const r = await run('--trace', trace);
    expect(r.status).toBe(RUN_STATUS.asExpected);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe("turtles: scenario 'suite', the L2 guest suite, one VM per guest, spread over the cores");
    expect(lines[1]).toBe(`machine: 4 cores, 256 MiB, VMX model default; L1 in VMX root operation on every core runs ${SUITE} VMs`);
    const verdicts = lines.filter((l) => /^(PASS|FAIL) /.test(l)).map((l) => l.split(/ {2,}/).slice(0, 3).join(' '));
    const where = placement(4);
    expect(verdicts).toEqual(L2_SUITE.map((g, k) => `PASS ${g.name} ${where[k]}`));
    expect(lines).toContain('      console: vendor GenuineIntel');
    expect(lines).toContain('               IN from port 0x1234 reads all ones');
    expect(lines).toContain('      exits:   4 — Vmcall ×4 → vmcall:print, vmcall:unknown, vmcall:yield, vmcall:exit');
    const counts = exitCounts(r.stdout);
    for (const [guest, n] of Object.entries(EXITS)) expect(counts.get(guest), guest).toBe(n);
    const total = [...counts.values()].reduce((a, b) => a + b);
    expect(r.stdout).toContain(`${SUITE} of ${SUITE} guests ended as expected; ${total} exits handled by L1; `);
    expect(lines.at(-2)).toBe(`trace: ${trace} (${total} events; compare two with \`turtles diff A B\`)`);
    expect(readFileSync(trace, 'utf8')).toBe(traceText((await runScenario(findScenario('suite')!)).trace));
  });

  it('runs one guest alone on one core, and says how it ended against its expectation', async () => {
    const trace = tracePath('exit-code.jsonl');
    const r = await run('exit-code', '--trace', trace);
    expect(r.status).toBe(RUN_STATUS.asExpected);
    const description = L2_SUITE.find((g) => g.name === 'exit-code')!.description;
    expect(r.stdout).toMatch(new RegExp(`^${[
      `turtles: scenario 'exit-code', ${description}`,
      'machine: 1 core, 256 MiB, VMX model default; L1 in VMX root operation on every core runs 1 VM',
      '',
      'PASS  exit-code  core 0  failed as expected \\(exit 42\\)',
      `      ${description}`,
      '      console: reporting failure code 42 through the exit hypercall',
      '      exits:   2 — IoInstruction → ucall:print; Vmcall → vmcall:exit',
      '',
      '1 of 1 guest ended as expected; 2 exits handled by L1; \\d+ instructions retired; every VM ended and every core halted',
      `trace: ${trace.replace(/[.\\]/g, '\\$&')} \\(2 events; compare two with \`turtles diff A B\`\\)`,
    ].join('\n')}\n$`));
  });

  it('a guest that does not end as expected is a FAIL and status 1 (here: still running at the instruction budget)', async () => {
    const r = await run('port-io', '--max-instructions', '3', '--trace', tracePath('cut.jsonl'));
    expect(r.status).toBe(RUN_STATUS.unexpected);
    expect(r.stdout).toContain('FAIL  port-io  core 0  still running when the machine stopped');
    expect(r.stdout).toContain('0 of 1 guest ended as expected; 0 exits handled by L1; 3 instructions retired; instruction limit reached');
  });

  it('judges an outcome against the expectation: kind, and a detail that contains the expected text', () => {
    expect(judge({ kind: 'passed' }, { kind: 'failed', detail: 'exit 3' })).toEqual({ asExpected: false, why: 'failed (exit 3), expected passed' });
    expect(judge({ kind: 'stopped', detail: 'triple fault' }, { kind: 'stopped', detail: 'HLT at rip 0x1' }))
      .toEqual({ asExpected: false, why: 'stopped (HLT at rip 0x1), expected stopped with "triple fault"' });
    expect(judge({ kind: 'failed', detail: 'exit 42' }, { kind: 'failed', detail: 'exit 42' })).toEqual({ asExpected: true, why: 'failed as expected (exit 42)' });
  });

  it('replaces an existing trace file whole, leaving no temporary file', async () => {
    const trace = tracePath('replace.jsonl');
    writeFileSync(trace, 'old contents that are longer than nothing\n'.repeat(100));
    expect((await run('hypercalls', '--trace', trace)).status).toBe(RUN_STATUS.asExpected);
    expect(readFileSync(trace, 'utf8')).toBe(traceText((await runScenario(findScenario('hypercalls')!)).trace));
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a trace path it cannot write is one line and status 2, and what is there stays', async () => {
    const target = tracePath('a-directory');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    const r = await run('cpuid', '--trace', target);
    expect(r).toEqual({ status: RUN_STATUS.badInput, stdout: '', stderr: `turtles run: cannot write trace '${target}' (EISDIR)\n` });
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('x');
    expect(existsSync(`${target}.partial`)).toBe(false);
  });

  it.each([
    [['--frob'], "unknown option '--frob'"],
    [['--cpus', 'two'], "option '--cpus' needs a non-negative integer, got 'two'"],
    [['--cpus'], "option '--cpus' needs a value"],
    [['--cpus', '0'], 'cpus must be an integer from 1 to 64, got 0'],
    [['--help=1'], "option '--help' takes no value"],
    [['nope'], `no scenario or guest 'nope' (one of ${SCENARIO_NAMES.join(', ')})`],
    [['cpuid', 'port-io'], "one scenario or guest expected, got 'cpuid', 'port-io'"],
    [['--log-level', 'loud'], "unknown log level 'loud' (one of silly, trace, debug, info, warn, error, fatal)"],
    [['--feature', 'no-turbo'], `unknown feature 'no-turbo' (one of ${Object.keys(FEATURE_ALIASES).join(', ')}, or no-CONTROL with a control of vmx/model/controls.ts)`],
    [['--feature', 'no-useTprShadow'], "feature 'no-useTprShadow': the VMX model does not offer the proc control useTprShadow"],
    [['--feature', 'no-ept', '--feature', 'no-ept'], "feature 'no-ept': the VMX model does not offer the proc2 control enableEpt"],
    [['--feature', 'no-cr3LoadExiting'], "feature 'no-cr3LoadExiting': cr3LoadExiting is a default1 control, always reported allowed (SDM Vol. 3C Appendix A.2)"],
  ])('bad input %j is one line on stderr and status 2', async (argv, message) => {
    expect(await run('--trace', tracePath('never.jsonl'), ...argv)).toEqual({ status: RUN_STATUS.badInput, stdout: '', stderr: `turtles run: ${message}\n` });
    expect(existsSync(tracePath('never.jsonl'))).toBe(false);
  });

  it.each([
    ['no-ept', 'proc2', 'enableEpt'],
    ['no-vpid', 'proc2', 'enableVpid'],
    ['no-secondary', 'proc', 'activateSecondaryControls'],
    ['no-hltExiting', 'proc', 'hltExiting'],
  ])('--feature %s: L1 needs the %s control %s and refuses in one line (status 3)', async (feature, group, key) => {
    expect(await run('--feature', feature, '--trace', tracePath('never.jsonl'))).toEqual({
      status: RUN_STATUS.refused, stdout: '', stderr: `turtles run: L1 needs the ${group} control(s) ${key}, which this processor model does not support\n`,
    });
  });

  it('--feature no-unrestricted, no-preemption-timer, no-vmcs-shadowing: L1 does not need them and the suite runs as expected', async () => {
    const r = await run('--feature', 'no-unrestricted', '--feature', 'no-preemption-timer', '--feature', 'no-vmcs-shadowing', '--trace', tracePath('copes.jsonl'));
    expect(r.status).toBe(RUN_STATUS.asExpected);
    expect(r.stdout).toContain('VMX model default without no-unrestricted, no-preemption-timer, no-vmcs-shadowing;');
  });

  it('every feature alias gives a model the machine accepts, without the control and what the model ties to it (Appendix A.3.3, A.10, A.11)', () => {
    for (const [name, { group, key }] of Object.entries(FEATURE_ALIASES)) {
      const f = vmxModelWithout([name]);
      expect(f.controls[group] as readonly string[], name).not.toContain(key);
      if (!f.controls.proc2.includes('enableEpt')) expect(f.ept, name).toEqual([]);
      if (!f.controls.proc2.includes('enableVpid')) expect(f.vpid, name).toEqual([]);
      if (!f.controls.proc2.includes('enableVmFunctions')) expect(f.vmFunctions, name).toEqual([]);
      if (!f.controls.proc.includes('activateSecondaryControls')) expect(f.controls.proc2, name).toEqual([]);
      expect(() => new L1({ memoryMiB: 64, vmx: f }), name).not.toThrow();
    }
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: turtles run \[SCENARIO\|GUEST\] \[options\]\n/);
    expect(r.stdout).toContain('--feature no-X');
  });
});

describe('turtles diff', () => {
  const event = (k: number, icount: number): string => JSON.stringify({ icount, core: 0, vcpu: 'g/0', reason: 18, insn: 'vmcall', k });
  const file = (name: string, text: string): string => {
    const path = tracePath(name);
    writeFileSync(path, text);
    return path;
  };
  const eight = Array.from({ length: 8 }, (_, k) => event(k, 10 * k));
  const base = file('base.jsonl', eight.map((l) => `${l}\n`).join(''));

  it('identical traces: status 0', async () => {
    const copy = file('copy.jsonl', readFileSync(base, 'utf8'));
    expect(await diff(base, copy)).toEqual({ status: DIFF_STATUS.identical, stdout: `${base} and ${copy} are identical (8 events)\n`, stderr: '' });
  });

  it('one event differs: it is shown with the fields that differ and 3 events of context on each side, status 1', async () => {
    const changed = [...eight];
    changed[4] = event(4, 41);
    const other = file('other.jsonl', changed.map((l) => `${l}\n`).join(''));
    expect(await diff(base, other)).toEqual({
      status: DIFF_STATUS.different, stderr: '', stdout: [
        `${base} and ${other} differ first at event 5 in icount (- ${base}, + ${other}):`,
        `  event 2    ${eight[1]}`, `  event 3    ${eight[2]}`, `  event 4    ${eight[3]}`,
        `- event 5    ${eight[4]}`, `+ event 5    ${changed[4]}`,
        `  event 6    ${eight[5]}`, `  event 7    ${eight[6]}`, `  event 8    ${eight[7]}`,
        `${base}: 8 events; ${other}: 8 events`, '',
      ].join('\n'),
    });
  });

  it('one trace ends early: its end is the first difference', async () => {
    const short = file('short.jsonl', eight.slice(0, 2).map((l) => `${l}\n`).join(''));
    const r = await diff(short, base);
    expect(r.status).toBe(DIFF_STATUS.different);
    expect(r.stdout.split('\n')).toEqual([
      `${short} and ${base} differ first at event 3 (- ${short}, + ${base}):`,
      `  event 1    ${eight[0]}`, `  event 2    ${eight[1]}`,
      '- event 3    (end of trace)', `+ event 3    ${eight[2]}`, `+ event 4    ${eight[3]}`, `+ event 5    ${eight[4]}`, `+ event 6    ${eight[5]}`,
      `${short}: 2 events; ${base}: 8 events`, '',
    ]);
  });

  it('the same events with other bytes (no final newline) still differ: status 1', async () => {
    const bare = file('bare.jsonl', eight.join('\n'));
    expect(await diff(base, bare)).toEqual({
      status: DIFF_STATUS.different, stderr: '',
      stdout: `${base} and ${bare} hold the same 8 events but differ in their bytes (line endings or final newline)\n`,
    });
  });

  it.each([
    ['garbage', 'not a trace event (Unexpected token'],
    ['[1, 2]', 'not a trace event (not a JSON object)'],
    ['', 'not a trace event (Unexpected end of JSON input)'],
  ])('a malformed line (%j) is one line naming file and line, status 2', async (bad, message) => {
    const broken = file('broken.jsonl', `${eight[0]}\n${eight[1]}\n${bad}\n${eight[3]}\n`);
    const r = await diff(base, broken);
    expect(r.status).toBe(DIFF_STATUS.trouble);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`turtles diff: ${broken} line 3: ${message}`)).toBe(true);
    expect(r.stderr.split('\n').length).toBe(2);
  });

  it.each([
    [[], 'two trace files expected, got 0'],
    [['a.jsonl'], 'two trace files expected, got 1'],
    [['--context', '5'], "unknown option '--context'"],
  ])('bad arguments %j: one line, status 2', async (argv, message) => {
    expect(await diff(...argv)).toEqual({ status: DIFF_STATUS.trouble, stdout: '', stderr: `turtles diff: ${message}\n` });
  });

  it('a missing file: one line naming it, status 2', async () => {
    const missing = tracePath('missing.jsonl');
    expect(await diff(base, missing)).toEqual({ status: DIFF_STATUS.trouble, stdout: '', stderr: `turtles diff: cannot read trace '${missing}' (ENOENT)\n` });
  });
});

describe('turtles as a process', () => {
  const tsx = join(ROOT, 'node_modules/.bin/tsx'), main = join(ROOT, 'hypervisor/cli/main.ts');

  it('with no command it runs the suite and writes ./turtles-trace.jsonl in the working directory', () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const r = spawnSync(tsx, [main], { cwd, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${SUITE} of ${SUITE} guests ended as expected`);
    const events = Number(/^trace: turtles-trace\.jsonl \((\d+) events;/m.exec(r.stdout)?.[1]);
    expect(events).toBeGreaterThanOrEqual(Object.values(EXITS).reduce((a, b) => a + b));
    expect(readFileSync(join(cwd, 'turtles-trace.jsonl'), 'utf8').split('\n').length).toBe(events + 1);
  });

  it('`npm start` runs the suite: the same report as `turtles run` in-process', async () => {
    const trace = tracePath('npm-start.jsonl');
    const r = spawnSync('npm', ['start', '--silent', '--', '--trace', trace], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe((await run('--trace', trace)).stdout);
  });

  it('an unknown command is one line and status 2; `turtles diff` of two runs\' traces is status 0', () => {
    const bad = spawnSync(tsx, [main, 'frob'], { cwd: dir, encoding: 'utf8' });
    expect([bad.status, bad.stderr]).toEqual([2, "turtles: unknown command 'frob' (try 'turtles help')\n"]);
    const a = tracePath('p1.jsonl'), b = tracePath('p2.jsonl');
    for (const t of [a, b]) expect(spawnSync(tsx, [main, 'run', '--trace', t], { cwd: dir }).status).toBe(0);
    const same = spawnSync(tsx, [main, 'diff', a, b], { cwd: dir, encoding: 'utf8' });
    const events = readFileSync(a, 'utf8').split('\n').length - 1;
    expect([same.status, same.stdout]).toEqual([0, `${a} and ${b} are identical (${events} events)\n`]);
  });
});

describe('turtles run FILE: a guest image from a file in one VM (hypervisor/loaders/), its console streamed to stdout', () => {
  const guestFile = (name: string, bytes: Uint8Array): string => {
    const path = tracePath(name);
    writeFileSync(path, bytes);
    return path;
  };
  const assemble = async (source: string, bits: 32 | 64, at: number): Promise<Uint8Array> => (await import('../support/asm.ts')).asm(source, bits, at);
  const kernel = async (source: string): Promise<Uint8Array> => (await import('../support/elf.ts')).multibootKernel(source);
  /** Prints `text` on COM1 byte by byte, then OUT `code` to the debug-exit port F4H (exits/io.ts: 0 passes). */
  const printThenExit = (text: string, code: number): string =>
    [...text].map((ch) => `mov dx, 0x3f8\nmov al, ${ch.charCodeAt(0)}\nout dx, al`).join('\n') + `\nmov eax, ${code}\nmov dx, 0xf4\nout dx, eax\nhlt`;

  it('a flat binary (no ELF magic, no multiboot header) runs in 64-bit mode at 10000H and passes by debug exit 0 (status 0)', async () => {
    const file = guestFile('hello.bin', await assemble(printThenExit('hello\n', 0), 64, 0x10000));
    const trace = tracePath('hello.jsonl');
    const r = await run(file, '--trace', trace);
    expect(r.status).toBe(RUN_STATUS.asExpected);
    expect(r.stderr).toBe('');
    // Six console bytes and the debug exit: seven I/O exits.
    expect(r.stdout).toMatch(new RegExp(`^${[
      `turtles: ${file.replace(/[.\\]/g, '\\$&')}, a flat binary, entered at 0x10000 in 64-bit mode`,
      'machine: 1 core, 256 MiB, VMX model default; L1 in VMX root operation runs 1 VM of 4 MiB with 1 vCPU',
      '',
      'hello',
      '',
      'PASS  hello\\.bin  passed \\(debug exit 0\\)',
      '      exits:   7 — IoInstruction ×7 → io:console ×6, io:debug-exit',
      '',
      '7 exits handled by L1; \\d+ instructions retired; the VM ended and every core halted',
      `trace: ${trace.replace(/[.\\]/g, '\\$&')} \\(7 events; compare two with \`turtles diff A B\`\\)`,
    ].join('\n')}\n$`));
    expect(readFileSync(trace, 'utf8').split('\n').length).toBe(8);
  });

  it('a multiboot kernel is detected by its header and entered in 32-bit protected mode; a debug exit other than 0 is a FAIL (status 1)', async () => {
    const file = guestFile('k.elf', await kernel(printThenExit('M', 3)));
    const r = await run(file, '--trace', tracePath('k.jsonl'));
    expect(r.status).toBe(RUN_STATUS.unexpected);
    const lines = r.stdout.split('\n');
    // Entry after the 12-byte header at 1 MiB; EBX: the information structure at 9500H, where QEMU's option ROM puts it (cpu/loaders/multibootInfo.ts).
    expect(lines[0]).toBe(`turtles: ${file}, a multiboot kernel, entered at 0x10000c in 32-bit protected mode with EAX 0x2badb002, EBX 0x9500`);
    expect(lines.slice(3, 6)).toEqual(['M', '', 'FAIL  k.elf  failed (debug exit 3), expected passed']);
  });

  it('--entry ADDR loads and enters a flat binary there', async () => {
    const file = guestFile('at.bin', await assemble('lea rax, [rip]\nsub eax, 0x40007\nmov dx, 0xf4\nout dx, eax\nhlt', 64, 0x40000));
    const r = await run(file, '--entry', '0x40000', '--trace', tracePath('at.jsonl'));
    expect(r.status).toBe(RUN_STATUS.asExpected);
    expect(r.stdout).toContain('a flat binary, entered at 0x40000 in 64-bit mode');
    expect(r.stdout).toContain('(no console output)\n');
  });

  it('streams the console: text the guest prints is written out after each slice of the run, before the verdict', async () => {
    // 'a', then 700,000 two-instruction iterations (more than one slice of 1,000,000 instructions), then 'b'.
    const file = guestFile('slow.bin', await assemble(`${printThenExit('a', 0).split('\nmov eax')[0]}
      mov ecx, 700000
    spin:
      dec ecx
      jnz spin
      ${printThenExit('b\n', 0)}`, 64, 0x10000));
    const chunks: string[] = [];
    const status = await runRun([file, '--trace', tracePath('slow.jsonl')], { stdout: (t) => chunks.push(t), stderr: (t) => chunks.push(`stderr: ${t}`) });
    expect(status).toBe(RUN_STATUS.asExpected);
    expect(chunks.slice(1, 3)).toEqual(['a', 'b\n']);
    expect(chunks[0]).toMatch(/^turtles: .*slow\.bin, a flat binary/);
    expect(chunks.at(-1)).toContain('PASS  slow.bin  passed (debug exit 0)');
  });

  it('--feature no-unrestricted: a multiboot kernel needs "unrestricted guest" for CR0.PG = 0 and L1 refuses in one line (status 3)', async () => {
    const file = guestFile('k2.elf', await kernel('hlt'));
    expect(await run(file, '--feature', 'no-unrestricted', '--trace', tracePath('never.jsonl'))).toEqual({
      status: RUN_STATUS.refused, stdout: '', stderr: 'turtles run: L1 needs the proc2 control(s) unrestrictedGuest, which this processor model does not support\n',
    });
  });

  it('bad files and options are one line on stderr and status 2, and no trace is written', async () => {
    const flat = guestFile('plain.bin', Uint8Array.of(0xf4));
    const mb = guestFile('mb.elf', await kernel('hlt'));
    const big = guestFile('big.bin', new Uint8Array(3 << 20));
    const cases: [string[], string][] = [
      [[flat, '--format', 'multiboot'], `${flat}: no multiboot header (magic 0x1badb002) in the first 8192 bytes`],
      [[flat, '--format', 'coff'], "unknown format 'coff' (one of flat, elf, multiboot)"],
      [[flat, '--entry', 'zz'], "option '--entry' needs an address (decimal or 0x hexadecimal), got 'zz'"],
      [[mb, '--entry', '0x100000'], `option '--entry' is for a flat binary; ${mb} is loaded as multiboot, which gives its own entry point`],
      [[big, '--guest-memory', '2'], `${big}: flat binary (0x10000-0x310000) does not fit in RAM (2 MiB)`],
      [[dir], `cannot read '${dir}' (EISDIR)`],
      [['cpuid', '--format', 'elf'], "option '--format' is for running a file, not scenario 'cpuid'"],
    ];
    for (const [argv, message] of cases) {
      expect(await run(...argv, '--trace', tracePath('never.jsonl')), argv.join(' ')).toEqual({ status: RUN_STATUS.badInput, stdout: '', stderr: `turtles run: ${message}\n` });
    }
    expect(existsSync(tracePath('never.jsonl'))).toBe(false);
  });
});
