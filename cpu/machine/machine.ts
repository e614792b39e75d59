/**
 * The machine: N x86-64 cores sharing one physical memory (lazily
 * allocated RAM), one port bus and one decoded-block cache, the PC
 * platform devices, a global timer queue at machine time, and the SMP
 * scheduler that interleaves the cores deterministically (scheduler.ts).
 *
 * Core 0 is the bootstrap processor: it starts active in the power-up
 * state, or wherever a loader puts it. The other cores are application
 * processors and start in wait-for-SIPI, as on real hardware, until an
 * INIT-SIPI-SIPI sequence starts them (or a test sets their state).
 *
 * Running: `run({ maxInstructions })` runs until that many instructions
 * have retired in total over all cores, or the machine stops; `step()`
 * retires one instruction (on whichever core's turn it is). Both return a
 * MachineStop and emit it as a 'stop' event. Serial output is delivered
 * byte by byte as 'serial' events (and to serial.onOutput), in order.
 * `probe` reads state without changing anything.
 */
import { BlockCache } from '../blockCache.ts';
import { Activity, Cpu, hex, type StopReason } from '../cpu.ts';
import type { AcpiTables } from '../devices/acpi.ts';
import { FwCfgKey, cString, u32le, type FwCfg } from '../devices/fwCfg.ts';
import type { Uart16550 } from '../devices/uart16550.ts';
import { layerLog } from '../log.ts';
import { PhysicalMemory } from '../memory/physical.ts';
import { DEFAULT_CPU_MODEL } from '../model/cpuidModel.ts';
import { resetToInitState } from '../system/init.ts';
import { enterAt, type EntryPoint } from '../loaders/entry.ts';
import { loadElf64 } from '../loaders/elf64.ts';
import { loadFlat, type FlatOptions } from '../loaders/flat.ts';
import { loadMultiboot, type MultibootLoad, type MultibootOptions } from '../loaders/multiboot.ts';
import { MBI_SIZE } from '../loaders/multibootInfo.ts';
import { TimerQueue } from '../time/timerQueue.ts';
import { MachineEvents } from './events.ts';
import { MiB } from './layout.ts';
import { resolveOptions, type MachineConfig, type MachineOptions } from './options.ts';
import { attachPlatform } from './platform.ts';
import { MachineProbe } from './probe.ts';
import { Scheduler } from './scheduler.ts';
import { describeStop, isFinal, type MachineStop } from './stop.ts';
import { MachinePortBus } from './unclaimedPorts.ts';
import { attachControllers, installCoreHooks, type PlatformControllers } from './wiring.ts';

export const machineLog = layerLog('machine');

/** RDRAND seeds: distinct per core, fixed per machine (DESIGN decision 3). */
const SEED_BASE = 0x2545f491, SEED_STEP = 0x9e3779b9;

export interface RunOptions {
  /** Instructions to retire in total over all cores before returning 'limit' (default: no limit). */
  maxInstructions?: number;
}

export class Machine {
  readonly config: MachineConfig;
  readonly phys: PhysicalMemory;
  readonly io: MachinePortBus;
  readonly blocks: BlockCache;
  /** The cores; index = APIC ID. Loaders and tests may set a core's state before running. */
  readonly cpus: readonly Cpu[];
  /** Timers due in machine time (PIT, RTC, UART timing). */
  readonly timers = new TimerQueue();
  readonly events = new MachineEvents();
  readonly probe: MachineProbe;
  readonly uart: Uart16550 | null;
  readonly fwCfg: FwCfg | null;
  readonly acpi: AcpiTables | null;
  /** The interrupt controllers, once wiring.ts attaches them. */
  readonly controllers: PlatformControllers | null;
  /** Set when the guest exits through isa-debug-exit. */
  exitCode: number | null = null;
  private readonly scheduler: Scheduler;
  private requested: MachineStop | null = null;
  private final: MachineStop | null = null;

  constructor(options: MachineOptions = {}) {
    const cfg = (this.config = resolveOptions(options));
    this.phys = new PhysicalMemory(cfg.memoryMiB * MiB);
    this.io = new MachinePortBus(machineLog);
    this.blocks = new BlockCache(this.phys);
    const model = DEFAULT_CPU_MODEL.with({ coresPerPackage: cfg.cpus, ...(options.vmx ? { features: { vmx: true } } : {}) });
    const cpus: Cpu[] = [];
    for (let k = 0; k < cfg.cpus; k++) {
      const c = new Cpu({ phys: this.phys, io: this.io, blocks: this.blocks, id: k, seed: (SEED_BASE + k * SEED_STEP) | 0 });
      c.model = model;
      if (options.vmx) c.vmx = options.vmx(c);
      resetToInitState(c); // the power-up state (SDM Vol. 3A Table 10-1) for everything a fresh core does not already hold
      if (k > 0) c.activity = Activity.WaitForSipi;
      installCoreHooks(c);
      cpus.push(c);
    }
    this.cpus = cpus;
    this.scheduler = new Scheduler({
      cpus, phys: this.phys, timers: this.timers, quantum: cfg.quantum,
      check: (core, reason) => this.check(core, reason),
    });
    this.probe = new MachineProbe(cpus, this.phys, () => this.scheduler.now());
    const serialOut = options.serial?.onOutput;
    const platform = attachPlatform(this.phys, this.io, cfg, {
      requestStop: (s) => this.requestStop(s),
      setIrq: (irq, level) => this.controllers?.setIrq(irq, level),
      serialOutput: (b) => {
        serialOut?.(b);
        this.events.emit('serial', b);
      },
    });
    this.uart = platform.uart;
    this.fwCfg = platform.fwCfg;
    this.acpi = platform.acpi;
    this.controllers = attachControllers({ cpus, phys: this.phys, io: this.io, timers: this.timers, now: () => this.scheduler.now() });
    const input = options.serial?.input;
    if (input !== undefined && this.uart) {
      const uart = this.uart;
      if (typeof input === 'string') uart.feed(input);
      else input.on('data', (chunk) => uart.feed(chunk));
    }
  }

  /** Machine time in ticks: the running core's clock during a turn, else the last round boundary. */
  get time(): number {
    return this.scheduler.now();
  }

  /** Instructions retired so far over all cores. */
  get retired(): number {
    let n = 0;
    for (const c of this.cpus) n += c.icount;
    return n;
  }

  /** Everything transmitted on the serial port so far. */
  get serialOutput(): Uint8Array {
    return Uint8Array.from(this.uart?.output ?? []);
  }

  run(opts: RunOptions = {}): MachineStop {
    const budget = opts.maxInstructions ?? Infinity;
    if (!(budget >= 0)) throw new RangeError(`maxInstructions must be a non-negative number, got ${budget}`);
    const stop = this.final ?? this.scheduler.run(budget);
    if (isFinal(stop)) this.final = stop;
    machineLog.debug(`run ended after ${this.retired} instructions: ${describeStop(stop)}; ${this.io.summary()}`);
    this.events.emit('stop', stop);
    return stop;
  }

  /** Retires one instruction, on the core whose turn it is (halted cores idle forward until one runs). */
  step(): MachineStop {
    return this.run({ maxInstructions: 1 });
  }

  /** Loads a Multiboot kernel and points the bootstrap processor at it (loaders/multiboot.ts). */
  loadMultiboot(image: Uint8Array, opts: MultibootOptions): MultibootLoad {
    const load = loadMultiboot(this.phys, this.phys.size, image, opts);
    for (const w of load.warnings) machineLog.warn(`${opts.fileName}: ${w}`);
    this.publishKernel(load, opts.append ?? '');
    this.start(load.entry);
    return load;
  }

  /** Loads a raw binary at an address and points the bootstrap processor at it in the given mode. */
  loadFlat(image: Uint8Array, opts: FlatOptions): EntryPoint {
    const entry = loadFlat(this.phys, this.phys.size, image, opts);
    this.start(entry);
    return entry;
  }

  /** Loads an x86-64 ELF and starts the bootstrap processor at its entry in 64-bit mode. */
  loadElf64(image: Uint8Array, fileName: string): EntryPoint {
    const entry = loadElf64(this.phys, this.phys.size, image, fileName);
    this.start(entry);
    return entry;
  }

  /** A device asks the machine to stop: the running core ends its block after the current instruction. */
  requestStop(s: MachineStop): void {
    if (this.requested) return;
    this.requested = s;
    if (s.kind === 'exit') this.exitCode = s.code;
    const k = this.scheduler.running;
    if (k >= 0) {
      const c = this.cpus[k]!;
      c.stopReason = { kind: 'stop', why: s.kind };
      c.exitBlock = true;
    }
  }

  private start(entry: EntryPoint): void {
    enterAt(this.cpus[0]!, entry);
  }

  /** The fw_cfg items QEMU's multiboot loader provides, plus the command line. */
  private publishKernel(load: MultibootLoad, append: string): void {
    const f = this.fwCfg;
    if (!f) return;
    const size = load.imageEnd - load.kernelStart;
    f.set(FwCfgKey.KernelEntry, u32le(load.entry.address));
    f.set(FwCfgKey.KernelAddr, u32le(load.kernelStart));
    f.set(FwCfgKey.KernelSize, u32le(size));
    f.set(FwCfgKey.KernelData, () => this.phys.readBytes(load.kernelStart, size));
    f.set(FwCfgKey.InitrdAddr, u32le(load.infoAddr));
    f.set(FwCfgKey.InitrdSize, u32le(MBI_SIZE));
    f.set(FwCfgKey.InitrdData, this.phys.readBytes(load.infoAddr, MBI_SIZE));
    f.set(FwCfgKey.CmdlineSize, u32le(append.length + 1));
    f.set(FwCfgKey.CmdlineData, cString(append));
  }

  /** How core `core`'s run (or the global timers, core -1) ended, as a machine stop or null to go on. */
  private check(core: number, reason: StopReason | null): MachineStop | null {
    if (this.requested) return this.requested;
    if (core < 0) return null;
    const c = this.cpus[core]!;
    // A core of a VMX guest can be in shutdown without a triple fault (VM entry with activity state 2, SDM Vol. 3C
    // §27.7.2): it waits there for an NMI, INIT or VM exit (a triple fault in non-root operation is a VM exit, §26.2).
    if (c.activity === Activity.Shutdown && !c.nonRoot) {
      // The system part names the fault chain in the stop reason it leaves; otherwise report the control registers.
      const report = reason?.kind === 'stop' ? reason.why
        : `triple fault at rip=${hex(BigInt.asUintN(64, BigInt(c.rip)), 1)} cr0=${hex(c.cr0, 1)} cr3=${hex(c.cr3, 1)} cr4=${hex(c.cr4, 1)} efer=${hex(c.efer, 1)}`;
      return { kind: 'triple-fault', core, report };
    }
    if (reason?.kind === 'exception') return { kind: 'exception', core, vector: reason.vector, errorCode: reason.errorCode, rip: reason.rip };
    if (reason?.kind === 'stop') return { kind: 'stop', core, why: reason.why };
    return null;
  }
}
