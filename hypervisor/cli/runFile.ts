/**
 * `turtles run FILE`: one VM running a guest image from a file (a flat
 * binary, a 64-bit ELF or a multiboot kernel, hypervisor/loaders/), its
 * console streamed as the guest writes it, then the verdict — passed when
 * the guest ends through the debug exit with 0 or the ucall "done"
 * (exits/io.ts, exits/ucall.ts), as every other ending is judged by
 * scenarios.ts — and its exits by handler.
 *
 * The machine runs in slices of SLICE instructions, the console's new
 * text written out after each: the same slices on every run, so the run
 * and its trace are the same on every host.
 */
import { Reg } from '../../cpu/registers.ts';
import { describeStop, type MachineStop } from '../../cpu/machine/stop.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { L1 } from '../l1/l1.ts';
import { loadGuestImage, type GuestFormat, type LoadedGuest } from '../loaders/guestImage.ts';
import { judge, type Verdict } from '../scenarios.ts';
import type { Vm } from '../vm.ts';
import { exitsByHandler } from './report.ts';

const SLICE = 1_000_000;
const INDENT = '      ';
const hex = (v: number): string => `0x${v.toString(16)}`;
const count = (n: number, what: string): string => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;

export interface FileRunOptions {
  readonly fileName: string;
  readonly format: GuestFormat;
  /** Flat binary: load and entry address. */
  readonly address?: number;
  /** The machine's cores and RAM, and the VM's RAM (default: L1's defaults). */
  readonly cpus?: number;
  readonly memoryMiB?: number;
  readonly guestMemoryMiB?: number;
  readonly vmx: VmxFeatures;
  readonly maxInstructions: number;
}

export interface FileRun {
  readonly l1: L1;
  readonly vm: Vm;
  readonly loaded: LoadedGuest;
  readonly stop: MachineStop;
  readonly verdict: Verdict;
}

/** How the image starts, for the report's first line. */
function describeLoad(g: LoadedGuest): string {
  const at = hex(g.entry.address);
  if (g.format === 'flat') return `a flat binary, entered at ${at} in 64-bit mode`;
  if (g.format === 'elf') return `a 64-bit ELF, entered at ${at} in 64-bit mode`;
  const reg = (r: Reg): string => hex(g.entry.regs!.find((x) => x.reg === r)!.value >>> 0);
  return `a multiboot kernel, entered at ${at} in 32-bit protected mode with EAX ${reg(Reg.RAX)}, EBX ${reg(Reg.RBX)}`;
}

/** The report's first lines: what runs where. */
export function fileRunHeader(fileName: string, g: LoadedGuest, l1: L1, model: string): string[] {
  const m = l1.machine;
  return [
    `turtles: ${fileName}, ${describeLoad(g)}`,
    `machine: ${count(m.cpus.length, 'core')}, ${m.phys.size >> 20} MiB, VMX model ${model}; L1 in VMX root operation runs 1 VM of ${g.vcpu.vm.ramBytes >> 20} MiB with 1 vCPU`,
    '',
  ];
}

/**
 * Loads the image into a new VM (a LoadError for a bad file, before
 * anything runs), calls `ready` with what was loaded, then runs it to its
 * end or the instruction budget, giving `onConsole` the console's new text
 * after every slice.
 */
export function runFile(image: Uint8Array, o: FileRunOptions, ready: (g: LoadedGuest, l1: L1) => void, onConsole: (text: string) => void): FileRun {
  const l1 = new L1({ cpus: o.cpus, memoryMiB: o.memoryMiB, vmx: o.vmx });
  const vm = l1.createVm(o.fileName.replace(/^.*[\\/]/, ''), o.guestMemoryMiB);
  const loaded = loadGuestImage(l1, vm, image, { fileName: o.fileName, format: o.format, address: o.address });
  ready(loaded, l1);
  let shown = 0, left = o.maxInstructions;
  const slice = (): number => Math.min(SLICE, left);
  const flush = (): void => {
    if (vm.console.length > shown) onConsole(vm.console.slice(shown));
    shown = vm.console.length;
  };
  const before = l1.machine.retired;
  let stop = l1.run(slice());
  for (;;) {
    flush();
    left = o.maxInstructions - (l1.machine.retired - before);
    if (stop.kind !== 'limit' || left <= 0) break;
    stop = l1.machine.run({ maxInstructions: slice() });
  }
  return { l1, vm, loaded, stop, verdict: judge({ kind: 'passed' }, vm.outcome) };
}

/** The report's last lines: the verdict, the exits by handler, the totals and where the trace went. */
export function fileRunFooter(r: FileRun, trace: string): string[] {
  const ended = r.stop.kind === 'idle' ? 'the VM ended and every core halted' : describeStop(r.stop);
  return [
    `${r.verdict.asExpected ? 'PASS' : 'FAIL'}  ${r.vm.name}  ${r.verdict.why}`,
    `${INDENT}exits:   ${r.l1.trace.length}${r.l1.trace.length ? ` — ${exitsByHandler(r.l1.trace)}` : ''}`,
    '',
    `${count(r.l1.trace.length, 'exit')} handled by L1; ${count(r.l1.machine.retired, 'instruction')} retired; ${ended}`,
    `trace: ${trace}`,
  ];
}
