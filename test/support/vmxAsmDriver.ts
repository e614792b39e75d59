/**
 * The second way of driving VMX (issue 4): an x86 root-mode program, in
 * assembly, that does what test/support/vmxHarness.ts does in TypeScript.
 * It enables VMX as software must (SDM Vol. 3C §24.7: CR0.NE, CR4.VMXE,
 * IA32_FEATURE_CONTROL), writes the revision identifier of IA32_VMX_BASIC
 * into its VMXON region and VMCS (§25.2, §25.11.5), runs VMXON, VMCLEAR and
 * VMPTRLD, VMWRITEs the harness's default VMCS (writeDefaults: same guest
 * state, the controls' must-be-1 bits read from the capability MSRs as
 * Appendix A.3-A.5 says, plus the requested ones; host state with HOST_RIP
 * = this program's exit handler and HOST_RSP its stack), and VMLAUNCHes the
 * guest. On each VM exit the handler, also assembly, logs the exit with
 * VMREAD and applies a table mapping exit reason → resume / skip / stop:
 * skip advances GUEST_RIP by the VM-exit instruction length, stop restores
 * the guest's registers and HLTs in root operation.
 *
 * VM exits do not save the guest's general-purpose registers (§28.3), and a
 * native handler leaves them alone; this handler pushes and pops all of
 * them, so a guest sees the same registers under both drivers.
 *
 * Physical layout: the harness's (guest code at 0x1000, page tables at
 * 0x100000, VMXON region 0x200000, VMCS 0x201000, scratch from 0x202000),
 * and the host program, its data and its stack above 3 MByte:
 *   0x300000  host program     0x310000  status, failure report, m64 operand
 *   0x320000  exit log (32 bytes an exit)         0x3f0000  host stack top
 */
import { mapIdentity } from '../../cpu/memory/identityMap.ts';
import { toBigInt } from '../../cpu/registers.ts';
import { controlMask, type ControlGroup, type ControlKey } from '../../vmx/model/controls.ts';
import type { TransitionRecord } from '../../vmx/transition/transitionRecord.ts';
import { readField, vmread } from '../../vmx/unit/vmcsAccess.ts';
import type { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { fieldByEncoding, vmcs } from '../../vmx/vmcs/fields.ts';
import { asm } from './asm.ts';
import type { TestCore } from './machine.ts';
import {
  GUEST_CODE, GUEST_STACK, PAGE_TABLES, VMCS_REGION, VMXON_REGION, vmxTestCore,
  type Exit, type ExitAction, type ExitHandler, type FieldName, type HarnessOptions,
} from './vmxHarness.ts';

export const HOST_CODE = 0x300000, HOST_DATA = 0x310000, EXIT_LOG = 0x320000, HOST_STACK = 0x3f0000;
const LOG_ENTRY = 32, MAX_EXITS = (HOST_STACK - 0x10000 - EXIT_LOG) / LOG_ENTRY;

/** Offsets in the data page. */
const STATUS = 0, FAILED_OP = 8, FAILED_ENCODING = 16, FAILED_FLAGS = 24, FAILED_ERROR = 32, POINTER = 40, EXIT_COUNT = 48;

/** The VMX operation that failed, as the program reports it. */
export const enum VmxOp { Vmxon = 1, Vmclear, Vmptrld, Vmwrite, Vmlaunch, Vmresume }
const OP_NAMES = ['', 'VMXON', 'VMCLEAR', 'VMPTRLD', 'VMWRITE', 'VMLAUNCH', 'VMRESUME'] as const;

const enum Status { Running = 0, Stopped = 1, Failed = 2 }

/** What the program reported at the end of a run. */
export type DriverOutcome =
  | { kind: 'running' }
  | { kind: 'stopped' }
  /** A VMX operation failed: error null for VMfailInvalid, else VMfailValid's VM-instruction error; `field` for VMWRITE. */
  | { kind: 'vmfail'; op: (typeof OP_NAMES)[number]; error: number | null; field?: string };

/**
 * The per-exit policy as data, so that it can be encoded into the handler:
 * the action for each value of the exit-reason field (bit 31 included for
 * VM-entry failures), and the action for the others (default 'stop').
 */
export interface ExitPolicy {
  readonly on?: Readonly<Record<number, ExitAction>>;
  readonly otherwise?: ExitAction;
}

/** The same policy as a handler for the TypeScript harness. */
export function policyHandler(p: ExitPolicy): ExitHandler {
  return (exit) => p.on?.[exit.reason] ?? p.otherwise ?? 'stop';
}

export interface AsmDriverOptions extends Omit<HarnessOptions, 'onExit'> {
  policy?: ExitPolicy;
}

/** Guest segment access rights as the harness writes them (VMX format, §25.4.1). */
const CODE64 = 0xa09b, CODE32 = 0xc09b, DATA = 0xc093, TSS = 0x8b, UNUSABLE = 0x10000;

/** Capability MSR of each control group (Appendix A.3-A.5); the TRUE MSR is 0CH above for the first four. */
const CONTROL_MSR: Record<ControlGroup, number> = { pin: 0x481, proc: 0x482, exit: 0x483, entry: 0x484, proc2: 0x48b };
const CONTROL_FIELD: Record<ControlGroup, FieldName> = {
  pin: 'pinBasedVmExecutionControls', proc: 'primaryProcessorBasedVmExecutionControls',
  proc2: 'secondaryProcessorBasedVmExecutionControls', exit: 'vmExitControls', entry: 'vmEntryControls',
};

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const enc = (name: FieldName): string => hex(vmcs[name].encoding);

/** VMWRITE of `value` (an immediate, or what rbx holds) into `name`; on VMfail to `fail` with rax = the encoding. */
function vmwrite(name: FieldName, value: bigint | number | 'rbx'): string {
  const load = value === 'rbx' ? '' : `movabs rbx, ${hex(value)}\n`;
  return `${load}mov eax, ${enc(name)}\nvmwrite rax, rbx\njbe fail`;
}

/** The VMCS the harness writes (vmxHarness.ts writeDefaults), as VMWRITEs; the CR values are the program's own. */
function defaultsAsm(o: AsmDriverOptions, ia32e: boolean): string {
  const requested = o.controls ?? {};
  const want: { [G in ControlGroup]?: readonly string[] } = {
    ...requested,
    exit: [...(requested.exit ?? []), 'hostAddressSpaceSize'],
    entry: [...(requested.entry ?? []), ...(ia32e ? ['ia32eModeGuest'] : [])],
  };
  const lines: string[] = [`mov r12d, ${VmxOp.Vmwrite}`];
  for (const g of ['pin', 'proc', 'proc2', 'exit', 'entry'] as const) {
    if (g === 'proc2' && !requested.proc2) continue;
    const bits = controlMask(g, (want[g] ?? []) as readonly ControlKey<typeof g>[]) >>> 0;
    // Must-be-1 bits = the allowed-0 settings, bits 31:0 of the group's capability MSR (Appendix A.3).
    const msr = g === 'proc2' ? `mov ecx, ${hex(CONTROL_MSR[g])}` : `lea ecx, [r13 + ${hex(CONTROL_MSR[g])}]`;
    lines.push(`${msr}\nrdmsr\nor eax, ${hex(bits)}\nmov ebx, eax`, vmwrite(CONTROL_FIELD[g], 'rbx'));
  }
  lines.push(vmwrite('vmcsLinkPointer', -1n));
  for (const cr of ['Cr0', 'Cr3', 'Cr4'] as const) {
    lines.push(`mov rbx, ${cr.toLowerCase()}`, vmwrite(`host${cr}`, 'rbx'), vmwrite(`guest${cr}`, 'rbx'));
  }
  for (const [s, sel] of [['Cs', 8], ['Ss', 0x10], ['Ds', 0x10], ['Es', 0x10], ['Tr', 0x18]] as const) lines.push(vmwrite(`host${s}Selector`, sel));
  lines.push(vmwrite('hostRsp', HOST_STACK), 'lea rbx, [rip + exit_handler]', vmwrite('hostRip', 'rbx'));
  lines.push(vmwrite('guestDr7', 0x400));
  for (const s of ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs'] as const) {
    lines.push(vmwrite(`guest${s}Selector`, s === 'Cs' ? 0x08 : 0x10), vmwrite(`guest${s}Limit`, 0xffffffff));
    lines.push(vmwrite(`guest${s}AccessRights`, s === 'Cs' ? (ia32e ? CODE64 : CODE32) : DATA));
  }
  lines.push(vmwrite('guestLdtrAccessRights', UNUSABLE), vmwrite('guestTrSelector', 0x18), vmwrite('guestTrAccessRights', TSS));
  lines.push(vmwrite('guestTrLimit', 0x67), vmwrite('guestGdtrLimit', 0xffff), vmwrite('guestIdtrLimit', 0xffff));
  lines.push(vmwrite('guestRsp', GUEST_STACK), vmwrite('guestRip', GUEST_CODE), vmwrite('guestRflags', 2));
  for (const [name, value] of Object.entries(o.fields ?? {})) lines.push(vmwrite(name as FieldName, value));
  return lines.join('\n');
}

/** The handler's dispatch on the exit-reason field in ebx: one compare per listed reason. */
function policyAsm(p: ExitPolicy): string {
  const lines = Object.entries(p.on ?? {}).map(([reason, action]) => `cmp ebx, ${hex(Number(reason) >>> 0)}\nje do_${action}`);
  lines.push(`jmp do_${p.otherwise ?? 'stop'}`);
  return lines.join('\n');
}

/** The whole root-mode program, at HOST_CODE. */
export function hostProgram(o: AsmDriverOptions): string {
  const ia32e = o.ia32eModeGuest ?? true;
  const pushAll = GPRS.map((r) => `push ${r}`).join('\n');
  const popAll = [...GPRS].reverse().map((r) => `pop ${r}`).join('\n');
  const pointerOp = (op: string, pa: number, code: VmxOp): string =>
    `mov r12d, ${code}\nmov rax, ${hex(pa)}\nmov qword ptr [rbp + ${POINTER}], rax\n${op} qword ptr [rbp + ${POINTER}]\njbe fail`;
  const program = `
  mov rsp, ${hex(HOST_STACK)}
  mov rbp, ${hex(HOST_DATA)}
  ; §24.7: CR0.NE (IA32_VMX_CR0_FIXED0), CR4.VMXE, IA32_FEATURE_CONTROL = lock | VMX outside SMX
  mov rax, cr0
  or eax, 0x20
  mov cr0, rax
  mov rax, cr4
  or eax, 0x2000
  mov cr4, rax
  mov ecx, 0x3a
  mov eax, 5
  xor edx, edx
  wrmsr
  ; IA32_VMX_BASIC: revision identifier (bits 30:0) for both regions; bit 55 → TRUE control MSRs (r13 = 0CH)
  mov ecx, 0x480
  rdmsr
  and eax, 0x7fffffff
  mov rbx, ${hex(VMXON_REGION)}
  mov dword ptr [rbx], eax
  mov rbx, ${hex(VMCS_REGION)}
  mov dword ptr [rbx], eax
  shr edx, 23
  and edx, 1
  imul r13d, edx, 12
  ${pointerOp('vmxon', VMXON_REGION, VmxOp.Vmxon)}
  ${pointerOp('vmclear', VMCS_REGION, VmxOp.Vmclear)}
  ${pointerOp('vmptrld', VMCS_REGION, VmxOp.Vmptrld)}
  ${defaultsAsm(o, ia32e)}
  ; the guest starts with the registers a fresh core has, as under the harness: all 0 but RSP
  ${GPRS.map((r) => `xor ${r}, ${r}`).join('\n')}
  vmlaunch
  mov r12d, ${VmxOp.Vmlaunch}
  jmp fail

exit_handler:
  ${pushAll}
  mov rbp, ${hex(HOST_DATA)}
  ; log the exit as the harness's Exit: reason, qualification, guest RIP, instruction length
  mov rdi, qword ptr [rbp + ${EXIT_COUNT}]
  shl rdi, 5
  mov rax, ${hex(EXIT_LOG)}
  add rdi, rax
  mov eax, ${enc('exitQualification')}
  vmread qword ptr [rdi + 8], rax
  mov eax, ${enc('guestRip')}
  vmread qword ptr [rdi + 16], rax
  mov eax, ${enc('vmExitInstructionLength')}
  vmread qword ptr [rdi + 24], rax
  mov eax, ${enc('exitReason')}
  vmread rbx, rax
  mov qword ptr [rdi], rbx
  inc qword ptr [rbp + ${EXIT_COUNT}]
  ${policyAsm(o.policy ?? {})}

do_skip:
  mov eax, ${enc('guestRip')}
  vmread rbx, rax
  mov eax, ${enc('vmExitInstructionLength')}
  vmread rcx, rax
  add rbx, rcx
  mov eax, ${enc('guestRip')}
  vmwrite rax, rbx
do_resume:
  ${popAll}
  vmresume
  mov rbp, ${hex(HOST_DATA)}
  mov r12d, ${VmxOp.Vmresume}
  jmp fail

do_stop:
  mov qword ptr [rbp + ${STATUS}], ${Status.Stopped}
  ${popAll}
  hlt

; r12 = the operation, rax = the field encoding (VMWRITE), flags as the operation left them
fail:
  pushfq
  pop rcx
  mov rbp, ${hex(HOST_DATA)}
  mov qword ptr [rbp + ${FAILED_OP}], r12
  mov qword ptr [rbp + ${FAILED_ENCODING}], rax
  mov qword ptr [rbp + ${FAILED_FLAGS}], rcx
  mov eax, ${enc('vmInstructionError')}
  vmread rbx, rax
  mov qword ptr [rbp + ${FAILED_ERROR}], rbx
  mov qword ptr [rbp + ${STATUS}], ${Status.Failed}
  hlt
`;
  // One instruction a line, labels flush left: readable when a test prints it.
  return program.split('\n').map((l) => l.trim()).filter((l) => l !== '')
    .map((l) => (l.endsWith(':') ? l : `  ${l}`)).join('\n');
}

export class VmxAsmDriver {
  readonly trace: TransitionRecord[] = [];

  private constructor(readonly t: TestCore, readonly core: VmxCore) {}

  /** A core at the start of the root-mode program for `guest`, with paging on; nothing of VMX done yet. */
  static async create(guest: string, o: AsmDriverOptions = {}): Promise<VmxAsmDriver> {
    const { t, core } = vmxTestCore(o);
    t.phys.load(GUEST_CODE, await asm(guest, (o.ia32eModeGuest ?? true) ? 64 : 32, GUEST_CODE));
    t.phys.load(HOST_CODE, await asm(hostProgram(o), 64, HOST_CODE));
    // The firmware's part: real identity paging, so MOV to CR0/CR4 keeps the program mapped.
    mapIdentity(t.cpu, PAGE_TABLES);
    t.cpu.rip = HOST_CODE;
    const d = new VmxAsmDriver(t, core);
    core.onTransition = (r) => d.trace.push(r);
    return d;
  }

  /** Runs the program until it halts (after a stop or a failure) or `max` instructions retire. */
  run(max = 1_000_000): ReturnType<TestCore['run']> {
    return this.t.run(max);
  }

  private qword(at: number): bigint {
    const p = this.t.phys;
    return toBigInt(p.readSized(at, 4), p.readSized(at + 4, 4));
  }

  private data(offset: number): bigint {
    return this.qword(HOST_DATA + offset);
  }

  get outcome(): DriverOutcome {
    const status = Number(this.data(STATUS));
    if (status === Status.Stopped) return { kind: 'stopped' };
    if (status !== Status.Failed) return { kind: 'running' };
    const op = OP_NAMES[Number(this.data(FAILED_OP))]!;
    const error = (this.data(FAILED_FLAGS) & 1n) !== 0n ? null : Number(this.data(FAILED_ERROR));
    if (op !== 'VMWRITE') return { kind: 'vmfail', op, error };
    const code = Number(this.data(FAILED_ENCODING));
    const field = fieldByEncoding(code)?.name ?? hex(code);
    return { kind: 'vmfail', op, error, field };
  }

  /** The exits the handler logged, in the harness's Exit shape. */
  get exits(): Exit[] {
    const n = Number(this.data(EXIT_COUNT));
    if (n > MAX_EXITS) throw new Error(`exit log overflow: ${n} exits, room for ${MAX_EXITS}`);
    return Array.from({ length: n }, (_, k) => {
      const at = EXIT_LOG + LOG_ENTRY * k;
      return {
        reason: Number(this.qword(at)), qualification: this.qword(at + 8),
        guestRip: this.qword(at + 16), instructionLength: Number(this.qword(at + 24)),
      };
    });
  }

  /** A VMCS field of the current VMCS, read the way the harness reads it (a probe, not the program). */
  read(name: FieldName): bigint {
    const c = this.t.cpu, code = vmcs[name].encoding;
    if (!vmread(this.core, c, code)) throw new Error(`VMREAD ${name} failed`);
    const lo = readField(this.core, c, code);
    return toBigInt(lo, c.opHi);
  }

  reg(name: Parameters<TestCore['reg']>[0]): bigint {
    return this.t.reg(name);
  }
}
