/**
 * One x86-64 core: architectural state, the decoded-block run loop and the
 * event hook for exceptions. Time is retired instructions (DESIGN
 * decision 3): `icount` advances once per retired instruction, and once per
 * iteration of a REP-prefixed string instruction.
 */
import { Block, BlockCache } from './blockCache.ts';
import { Decoder, MAX_INSN_LENGTH, type Refusal } from './decode/decoder.ts';
import type { Insn } from './decode/insn.ts';
import { OpcodeTable } from './decode/opcodeTable.ts';
import { CpuException, InternalError, VECTOR_NAMES } from './exceptions.ts';
import { allOpcodes } from './exec/index.ts';
import { FIXED_ONE, IF, readRflags } from './flags.ts';
import { cpuLog } from './log.ts';
import { Mmu } from './memory/mmu.ts';
import { PAGE_SIZE, type PhysicalMemory } from './memory/physical.ts';
import { DEFAULT_CPU_MODEL, type CpuModel } from './model/cpuidModel.ts';
import type { InterruptSource } from './interrupts/source.ts';
import { type VmxUnit, VmExitTaken } from './vmxPort.ts';
import { PortBus } from './portIo.ts';
import { TimerQueue } from './time/timerQueue.ts';
import { REG64_NAMES, Seg, SEG_NAMES, toBigInt } from './registers.ts';
import { SystemRegisters } from './system/registers.ts';

const JC_BITS = 12;
const JC_MASK = (1 << JC_BITS) - 1;
const MAX_BLOCK_INSNS = 64;
const MAX_BLOCK_BYTES = MAX_BLOCK_INSNS * MAX_INSN_LENGTH;
/** Distinct refused encodings remembered for log de-duplication (bounded: a guest controls them). */
const MAX_REFUSALS_REMEMBERED = 256;

/** Activity states, numbered as the VMCS guest activity-state field (SDM Vol. 3C §24.4.2). */
export const enum Activity { Active = 0, Hlt = 1, Shutdown = 2, WaitForSipi = 3 }

/** Why `run` returned. */
export type StopReason =
  | { kind: 'limit' }
  | { kind: 'halt' }
  | { kind: 'exception'; vector: number; errorCode: number; rip: number }
  | { kind: 'stop'; why: string };

/** Receives an exception the instruction raised; returns normally to continue running. */
export type ExceptionHandler = (c: Cpu, e: CpuException) => void;

let sharedTable: OpcodeTable | undefined;
/** The compiled opcode table, built once per process. */
export function opcodeTable(): OpcodeTable {
  return (sharedTable ??= new OpcodeTable(allOpcodes()));
}

export interface CpuOptions {
  phys: PhysicalMemory;
  io?: PortBus;
  blocks?: BlockCache;
  /** Seed for RDRAND/RDSEED (deterministic). */
  seed?: number;
  /** APIC ID / core index. */
  id?: number;
}

export class Cpu {
  readonly id: number;
  /** What CPUID reports (cpu/model/cpuidModel.ts); a core may get a model with features switched. */
  model: CpuModel = DEFAULT_CPU_MODEL;
  // ---- architectural state ----
  /** GPRs as 32-bit halves: r[2n] low, r[2n+1] high. */
  readonly r = new Int32Array(32);
  /** RIP as a number: canonical addresses are kept sign-extended (negative for the upper half). */
  rip = 0;
  /** RIP of the last faulting instruction (set when an exception is raised). */
  insnRip = 0;
  /** Lazy arithmetic flags (see flags.ts) and the other RFLAGS bits. */
  fZ = 1;
  fS = 0;
  fP = 1;
  fAux = 0;
  eflags = FIXED_ONE;
  readonly segSel = new Uint16Array(6);
  /** Effective segment bases: in 64-bit mode ES/CS/SS/DS read as 0. */
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Float64Array(6).fill(0xffff);
  /** Descriptor access rights in the VMX "access rights" format (SDM Vol. 3C §24.4.1). */
  readonly segAttr = new Uint32Array(6);
  cr0 = 0x60000010;
  cr2 = 0;
  /** What the last #PF or #DB raised leaves for its delivery: the #PF's linear address (CR2), the #DB's DR6 bits (system/doubleFault.ts). */
  faultPayload = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  xcr0 = 1;
  cpl = 0;
  /** GDTR, IDTR, LDTR, TR, descriptor-cache bases, DR0-7, SYSCALL/SYSENTER MSRs, NMI blocking (cpu/system/registers.ts). */
  readonly sys = new SystemRegisters();
  /** XMM0-15 as four 32-bit lanes each. */
  readonly xmm = new Int32Array(64);
  mxcsr = 0x1f80;
  /** x87 state kept for FXSAVE/XSAVE round trips (SDM Vol. 1 §10.5.1). */
  fcw = 0x37f;
  fsw = 0;
  ftw = 0;
  readonly fpr = new Uint8Array(80);
  /** x87 FOP, FIP (lo, hi), FDP (lo, hi): stored and restored only (SDM Vol. 1 §8.1.8, §8.1.9). */
  readonly fpuLast = new Int32Array(5);
  // ---- mode (derived from CR0/EFER/CS) ----
  codeSize: 16 | 32 | 64 = 16;
  /** Stack-pointer width in bytes (SS.B, or 8 in 64-bit mode). */
  stackSize: 2 | 4 | 8 = 2;
  // ---- execution ----
  /** High half of a 64-bit operand passed between helpers (avoids allocating pairs). */
  opHi = 0;
  icount = 0;
  /** Instruction count at which the current run stops (string instructions honour it). */
  stopAt = 0;
  /** Activity state (SDM Vol. 3C §24.4.2): active, HLT, shutdown, wait-for-SIPI. */
  activity: Activity = Activity.Active;
  /** The address-range monitoring hardware is armed (MONITOR armed it, no MWAIT has used it since; SDM Vol. 2B MONITOR). */
  monitorArmed = false;
  /**
   * Blocking by STI / MOV SS (SDM Vol. 3A §6.8.3): interrupts and NMIs are
   * not delivered while icount < inhibitUntil. STI at icount k sets k + 2,
   * i.e. after the next instruction retires.
   */
  inhibitUntil = 0;
  /** The shadow in inhibitUntil is MOV SS / POP SS blocking rather than STI blocking (VMX interruptibility state bit 1 vs 0). */
  inhibitByMovSs = false;
  /**
   * Something may need delivering (an interrupt, NMI, INIT, SIPI): the run
   * loop calls serviceEvents before the next instruction. Whoever raises an
   * event on this core sets it, and sets exitBlock when raising it from
   * within an instruction.
   */
  eventsPending = false;
  nmiPending = false;
  /** icount of the IRET that last ended blocking by NMI: VMX reports a fault of that IRET (SDM Vol. 3C §28.2.2 bit 12). */
  nmiUnblockedAt = -1;
  initPending = false;
  /** SIPI vector waiting to be taken in wait-for-SIPI, or -1. */
  sipiVector = -1;
  /** The core's VMX unit (vmx/ implements it); null: VMX instructions raise #UD. */
  vmx: VmxUnit | null = null;
  /** In VMX non-root operation (SDM Vol. 3C §24.3): intercepting instructions and events ask `vmx` first. */
  nonRoot = false;
  /** `vmx` has work at the next instruction boundary (VmxUnit.atBoundary): a native handler, a pending exit. */
  vmxBoundary = false;
  /** The core's interrupt controller (its local APIC), once the machine attaches one. */
  interruptSource: InterruptSource | null = null;
  /** Delivers pending events (cpu/system owns the real one); returns with them delivered or still blocked. */
  serviceEvents: (c: Cpu) => void = (c) => { c.eventsPending = false; };
  /** Machine time this core spent not executing (halted): clock = icount + idleTicks. */
  idleTicks = 0;
  /** Timers due at this core's clock (its local APIC timer); the machine runs them and bounds runs by them. */
  readonly timers = new TimerQueue();
  /** Set by an instruction that must end the current block (mode change, SMC, HLT...). */
  exitBlock = false;
  stopReason: StopReason | null = null;
  onException: ExceptionHandler = stopOnException;
  /** State of the deterministic RDRAND/RDSEED generator (xorshift32). */
  rngState: number;
  /** TSC = TSC_TICKS_PER_INSTRUCTION × icount + tscOffset (cpu/tsc.ts); a TSC write moves the offset. */
  tscOffset = 0;
  /** IA32_TSC_AUX (MSR C0000103H), read by RDTSCP and RDPID. */
  tscAux = 0;

  readonly mmu: Mmu;
  readonly io: PortBus;
  readonly blocks: BlockCache;
  readonly decoder: Decoder;
  private readonly jcTag = new Float64Array(1 << JC_BITS).fill(NaN);
  private readonly jcBlock: (Block | undefined)[] = new Array<Block | undefined>(1 << JC_BITS);
  /** Jump-cache entries are valid only in the epoch they were made in: a flush is one increment. */
  private readonly jcEpochOf = new Int32Array(1 << JC_BITS).fill(-1);
  private jcEpoch = 0;
  private readonly fetchBuf = new Uint8Array(PAGE_SIZE + MAX_INSN_LENGTH);
  private readonly refusedLogged = new Set<string>();

  constructor(opts: CpuOptions) {
    this.id = opts.id ?? 0;
    this.mmu = new Mmu(opts.phys);
    this.io = opts.io ?? new PortBus();
    this.blocks = opts.blocks ?? new BlockCache(opts.phys);
    this.decoder = new Decoder(opcodeTable());
    this.decoder.onRefuse = (reason, i, bytes) => this.logRefusal(reason, i, bytes);
    this.mmu.owner = this;
    this.rngState = (opts.seed ?? 0x2545f491) | 0 || 1;
  }

  get phys(): PhysicalMemory { return this.mmu.phys; }

  /** Drops cached block lookups by RIP: after a mode, CS or translation change. */
  flushJumpCache(): void {
    this.jcEpoch = (this.jcEpoch + 1) | 0;
    this.exitBlock = true;
  }

  /** This core's clock in ticks of machine time (one per retired instruction, plus idle time). */
  get clock(): number {
    return this.icount + this.idleTicks;
  }

  get halted(): boolean {
    return this.activity !== Activity.Active;
  }

  /**
   * Runs until `maxInstructions` retire, the core halts, or something stops it.
   *
   * RIP is advanced before an instruction executes, so handlers see the next
   * instruction's address. Handlers never change RIP before they fault, so
   * the faulting instruction's RIP is recovered as RIP - length.
   */
  run(maxInstructions: number): StopReason {
    this.stopReason = null;
    this.stopAt = this.icount + maxInstructions;
    // Read live: a timer an instruction schedules to fall due sooner lowers stopAt (and ends the block).
    while (this.icount < this.stopAt) {
      if (this.vmxBoundary) {
        this.vmxBoundary = false;
        this.vmx!.atBoundary(this);
        if (this.stopReason) return this.stopReason;
        continue;
      }
      if (this.eventsPending && this.icount >= this.inhibitUntil) {
        this.serviceEvents(this);
        if (this.stopReason) return this.stopReason;
      }
      if (this.activity !== Activity.Active) return { kind: 'halt' };
      let i: Insn | undefined;
      try {
        const rip = this.rip;
        const h = rip & JC_MASK;
        let b = this.jcBlock[h];
        if (b === undefined || this.jcTag[h] !== rip || this.jcEpochOf[h] !== this.jcEpoch || !b.valid) b = this.fillJumpCache(rip);
        const insns = b.insns;
        let n = insns.length;
        // Stop at the end of an STI/MOV SS shadow, so pending events are seen at the right instruction,
        // and never past the run's own end.
        const end = this.eventsPending && this.inhibitUntil > this.icount ? Math.min(this.inhibitUntil, this.stopAt) : this.stopAt;
        const left = end - this.icount;
        if (n > left) n = left;
        for (let k = 0; k < n; k++) {
          i = insns[k]!;
          this.rip += i.len;
          i.exec(this, i);
          this.icount++;
          if (this.exitBlock) break;
        }
      } catch (e) {
        if (e instanceof VmExitTaken) {
          // A VM exit instead of an access (EPT): the instruction did not happen.
          if (i) this.rip -= i.len;
          this.vmx!.completeExit(this);
        } else {
          if (!(e instanceof CpuException)) throw this.internal(e, i);
          if (e.software) this.icount++;
          else if (i) this.rip -= i.len;
          this.insnRip = this.rip;
          this.onException(this, e);
        }
        this.exitBlock = true;
      }
      // Anything that can stop the run (an exception, a stop request) also ends the block.
      if (this.exitBlock) {
        this.exitBlock = false;
        if (this.stopReason) return this.stopReason;
      }
    }
    return { kind: 'limit' };
  }

  /** Executes exactly one instruction (or one string iteration). */
  step(): StopReason {
    return this.run(1);
  }

  /** Looks up (or decodes) the block at RIP and remembers it in the jump cache. */
  private fillJumpCache(rip: number): Block {
    const b = this.lookupBlock(rip);
    if (b.cacheable) {
      const h = rip & JC_MASK;
      this.jcTag[h] = rip;
      this.jcBlock[h] = b;
      this.jcEpochOf[h] = this.jcEpoch;
    }
    return b;
  }

  /** Linear address of the next instruction fetch (CS base + RIP). */
  fetchLinear(rip: number): number {
    return this.codeSize === 64 ? rip : (this.segBase[Seg.CS]! + rip) >>> 0;
  }

  private lookupBlock(rip: number): Block {
    const mode = this.codeSize;
    const la = this.fetchLinear(rip);
    const pa = this.mmu.translateFetch(la);
    const cached = this.blocks.get(pa, mode);
    if (cached) return cached;
    return this.decodeBlock(la, pa, mode);
  }

  private decodeBlock(la: number, pa: number, mode: 16 | 32 | 64): Block {
    const off = la & 0xfff;
    const inPage = PAGE_SIZE - off;
    // A block holds at most MAX_BLOCK_INSNS instructions of at most 15 bytes.
    const want = Math.min(inPage, MAX_BLOCK_BYTES);
    const buf = this.fetchBuf;
    this.copyCode(buf, 0, pa, want);
    let avail = want;
    if (want === inPage) {
      // The block may reach the page end: up to 14 more bytes from the next page, if it can be fetched.
      // Probed without side effects: a failed probe must not set CR2 or touch the TLB.
      const nextPa = this.mmu.probeFetch(la + inPage);
      if (nextPa >= 0) {
        this.copyCode(buf, inPage, nextPa, MAX_INSN_LENGTH - 1);
        avail += MAX_INSN_LENGTH - 1;
      }
    }
    const insns: Insn[] = [];
    let pos = 0;
    while (insns.length < MAX_BLOCK_INSNS && pos < want) {
      const i = this.decoder.decode({ bytes: buf, start: pos, avail: avail - pos }, mode);
      if (!i) {
        if (insns.length === 0) this.mmu.translateFetch(la + inPage); // raises the fetch fault
        break;
      }
      if (pos + i.len > inPage) {
        // Straddles a page boundary: alone in an uncached block, or left for the next block.
        if (insns.length === 0) return new Block([i], pa, mode, false);
        break;
      }
      insns.push(i);
      pos += i.len;
      if (i.endsBlock) break;
    }
    const b = new Block(insns, pa, mode, true);
    this.blocks.add(b);
    return b;
  }

  /** Copies code bytes from physical memory: straight from the RAM page when there is one. */
  private copyCode(buf: Uint8Array, at: number, pa: number, length: number): void {
    const ppn = Math.floor(pa / PAGE_SIZE);
    const page = this.phys.ramPage(ppn);
    const po = pa - ppn * PAGE_SIZE;
    if (page && po + length <= PAGE_SIZE) {
      buf.set(new Uint8Array(page.buffer, po, length), at);
      return;
    }
    for (let k = 0; k < length; k++) buf[at + k] = this.phys.read8(pa + k);
  }

  private logRefusal(reason: Refusal, i: Insn, bytes: Uint8Array): void {
    if (this.refusedLogged.size >= MAX_REFUSALS_REMEMBERED) return;
    const hexBytes = Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join(' ');
    const key = `${reason}:${hexBytes}`;
    if (this.refusedLogged.has(key)) return;
    this.refusedLogged.add(key);
    const what = reason === 'too-long' ? '#GP(0)' : '#UD';
    cpuLog.debug(`core ${this.id}: ${reason} encoding ${hexBytes} (${i.mnemonic}, mode ${i.mode}) raises ${what}`);
    if (this.refusedLogged.size === MAX_REFUSALS_REMEMBERED) cpuLog.debug(`core ${this.id}: further refused encodings are not logged`);
  }

  private internal(e: unknown, i: Insn | undefined): InternalError {
    if (e instanceof InternalError) return e;
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const where = i ? `${i.mnemonic} ending at rip=0x${this.rip.toString(16)}` : `fetch at rip=0x${this.rip.toString(16)}`;
    const err = new InternalError(`internal error in ${where}: ${msg}`, dumpState(this));
    if (e instanceof Error && e.stack) err.stack = `${err.message}\n${e.stack}`;
    return err;
  }
}

/** The default event hook until IDT delivery exists: stop and report. */
function stopOnException(c: Cpu, e: CpuException): void {
  c.stopReason = { kind: 'exception', vector: e.vector, errorCode: e.errorCode, rip: c.rip };
}

export function hex(v: number | bigint, width = 16): string {
  return '0x' + v.toString(16).padStart(width, '0');
}

/** A human-readable state dump for reports and internal errors. */
export function dumpState(c: Cpu): string {
  const lines: string[] = [];
  for (let n = 0; n < 16; n += 4) {
    lines.push([0, 1, 2, 3].map((k) => `${REG64_NAMES[n + k]!.padStart(3)}=${hex(toBigInt(c.r[(n + k) * 2]!, c.r[(n + k) * 2 + 1]!))}`).join(' '));
  }
  lines.push(`rip=${hex(BigInt.asUintN(64, BigInt(c.rip)))} rflags=${hex(readRflags(c), 8)} cpl=${c.cpl} mode=${c.codeSize}-bit icount=${c.icount}`);
  lines.push(SEG_NAMES.map((s, k) => `${s}=${hex(c.segSel[k]!, 4)}`).join(' '));
  lines.push(`cr0=${hex(c.cr0, 8)} cr2=${hex(c.cr2)} cr3=${hex(c.cr3)} cr4=${hex(c.cr4, 8)} efer=${hex(c.efer, 4)}`);
  if (c.stopReason?.kind === 'exception') lines.push(`stopped on ${VECTOR_NAMES[c.stopReason.vector] ?? c.stopReason.vector}`);
  lines.push(`IF=${(c.eflags & IF) !== 0 ? 1 : 0}`);
  return lines.join('\n');
}
