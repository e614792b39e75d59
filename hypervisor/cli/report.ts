/**
 * What `turtles run` prints about a scenario it ran: per VM whether it
 * ended as its guest expects (PASS/FAIL against the expectation, so a
 * guest that fails on purpose passes), its console output, and its exits
 * by reason with the handlers that took them; then the totals and where
 * the trace is. Everything printed comes from the run itself, so it is the
 * same on every run and every host (no host time).
 */
import { describeStop } from '../../cpu/machine/stop.ts';
import type { ScenarioResult, VmResult } from '../scenarios.ts';
import type { L1TraceEvent } from '../trace.ts';

const INDENT = '      ';
const count = (n: number, what: string): string => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;

/** Exits by reason, each with the handlers that took it ("Cpuid ×2 → cpuid ×2"), both in the order they first appear. */
export function exitsByHandler(events: readonly L1TraceEvent[]): string {
  const reasons = new Map<number, { name: string; n: number; handlers: Map<string, number> }>();
  for (const e of events) {
    const r = reasons.get(e.reason) ?? { name: e.reasonName, n: 0, handlers: new Map<string, number>() };
    r.n++;
    r.handlers.set(e.handler, (r.handlers.get(e.handler) ?? 0) + 1);
    reasons.set(e.reason, r);
  }
  const times = (n: number): string => (n === 1 ? '' : ` ×${n}`);
  return [...reasons.values()]
    .map((r) => `${r.name}${times(r.n)} → ${[...r.handlers].map(([h, n]) => `${h}${times(n)}`).join(', ')}`)
    .join('; ');
}

/** Console text as terminal lines: control characters other than newline shown as \xNN. */
function consoleLines(text: string): string[] {
  if (text === '') return ['(nothing)'];
  const shown = text.replace(/[\x00-\x09\x0b-\x1f\x7f-\xff]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.replace(/\n$/, '').split('\n');
}

/** Where a VM still running was last seen: each vCPU's last exit ("vm/0 last exited at rip 0x10005 (Wrmsr)"). */
function lastSeen(r: VmResult): string {
  return r.vm.vcpus.map((v) => {
    const last = r.events.filter((e) => e.vcpu === v.name).at(-1);
    return last ? `${v.name} last exited at rip 0x${last.guestRip.replace(/^0+(?=.)/, '')} (${last.reasonName})` : `${v.name} has not exited`;
  }).join(', ');
}

function vmLines(r: VmResult, width: number): string[] {
  const cores = [...new Set(r.vm.vcpus.map((v) => v.host.c.id))];
  const where = `${cores.length === 1 ? 'core' : 'cores'} ${cores.join(',')}`;
  const [first, ...rest] = consoleLines(r.vm.console);
  return [
    `${r.verdict.asExpected ? 'PASS' : 'FAIL'}  ${r.guest.name.padEnd(width)}  ${where}  ${r.verdict.why}`,
    `${INDENT}${r.guest.description}`,
    `${INDENT}console: ${first}`,
    ...rest.map((line) => `${INDENT}         ${line}`),
    ...(r.vm.consoleDropped ? [`${INDENT}         (${count(r.vm.consoleDropped, 'more character')} dropped)`] : []),
    `${INDENT}exits:   ${r.events.length}${r.events.length ? ` — ${exitsByHandler(r.events)}` : ''}`,
    ...(r.vm.outcome.kind === 'running' ? [`${INDENT}running: ${lastSeen(r)}`] : []),
  ];
}

/** The whole report, one string per line. `model` names the VMX model; `trace` says where the trace went. */
export function reportRun(r: ScenarioResult, model: string, trace: string): string[] {
  const s = r.scenario;
  const width = Math.max(...r.vms.map((v) => v.guest.name.length));
  const good = r.vms.filter((v) => v.verdict.asExpected).length;
  const running = r.vms.filter((v) => v.vm.outcome.kind === 'running').map((v) => v.guest.name);
  const ended = r.stop.kind === 'idle' ? 'every VM ended and every core halted'
    : `${describeStop(r.stop)}${running.length ? ` with ${count(running.length, 'VM')} still running (${running.join(', ')})` : ''}`;
  return [
    `turtles: scenario '${s.name}', ${s.description}`,
    `machine: ${count(s.cpus, 'core')}, ${s.memoryMiB} MiB, VMX model ${model}; L1 in VMX root operation on every core runs ${count(r.vms.length, 'VM')}`,
    '',
    ...r.vms.flatMap((v) => vmLines(v, width)),
    '',
    `${good} of ${count(r.vms.length, 'guest')} ended as expected; ${count(r.trace.length, 'exit')} handled by L1; ` +
      `${count(r.l1.machine.retired, 'instruction')} retired; ${ended}`,
    `trace: ${trace}`,
  ];
}
