/**
 * L1, the TypeScript hypervisor (DESIGN "Levels"), on a machine of its own:
 * it brings every core into VMX root operation (rootMode.ts), creates VMs
 * and their vCPUs, and runs them through one CoreRunner per core. Memory:
 * L1's own pages (page tables, VMXON and VMCS regions, bitmaps, ept12)
 * from 1 MiB to L1_END; guest RAM above it.
 */
import { Machine } from '../../cpu/machine/machine.ts';
import type { EntryPoint } from '../../cpu/loaders/entry.ts';
import type { MachineStop } from '../../cpu/machine/stop.ts';
import { cr4Settable } from '../../cpu/system/controlRegs.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel, type VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { VmxCore } from '../../vmx/unit/vmxCore.ts';
import { HypervisorError } from '../hypervisorError.ts';
import type { L1TraceEvent } from '../trace.ts';
import { Vcpu } from '../vcpu.ts';
import { GUEST_CODE, Vm } from '../vm.ts';
import { CoreRunner, EXIT_HANDLER_RIP } from './coreRunner.ts';
import { enableHostApic } from './hostApic.ts';
import { HostPages } from './hostPages.ts';
import { vcpuStack } from './mpState.ts';
import { enterRootMode } from './rootMode.ts';
import { MpState } from './runState.ts';
import type { HostCore } from './vmxOps.ts';

const MiB = 1 << 20;
const L1_START = 1 * MiB, L1_END = 32 * MiB;

export interface L1Options {
  cpus?: number;
  /** Host RAM in MiB (default 256): L1's 31 MiB, the rest for guests. */
  memoryMiB?: number;
  /** The VMX features of the processor model (default DEFAULT_VMX_MODEL). */
  vmx?: VmxFeatures;
}

export class L1 {
  readonly machine: Machine;
  readonly runners: CoreRunner[];
  readonly vms: Vm[] = [];
  readonly trace: L1TraceEvent[] = [];
  private readonly pages: HostPages;
  private readonly guestRam: HostPages;
  private nextVpid = 1;
  private nextCore = 0;

  constructor(o: L1Options = {}) {
    const features = o.vmx ?? DEFAULT_VMX_MODEL;
    this.machine = new Machine({
      cpus: o.cpus ?? 1,
      memoryMiB: o.memoryMiB ?? 256,
      vmx: (c) => new VmxCore(new VmxModel(features, { cr4Settable: cr4Settable(c.model) })),
    });
    const phys = this.machine.phys;
    if (phys.size <= L1_END) throw new HypervisorError(`L1 needs more than ${L1_END / MiB} MiB of host RAM`);
    this.pages = new HostPages(phys, L1_START, L1_END, 'L1');
    this.guestRam = new HostPages(phys, L1_END, phys.size, 'guest RAM');
    const pageTables = this.pages.allocate(2 + Math.ceil(phys.size / 2 ** 30));
    this.runners = this.machine.cpus.map((c) => {
      const host: HostCore = { c, unit: c.vmx as VmxCore };
      enterRootMode(host, this.pages, pageTables);
      enableHostApic(host);
      return new CoreRunner(host, (e) => this.trace.push(e));
    });
  }

  /** A VM named `name` with `memoryMiB` of RAM (rounded up to 2 MiB). */
  createVm(name: string, memoryMiB = 4): Vm {
    const vm = new Vm(this.vms.length, name, memoryMiB, this.guestRam, this.pages);
    this.vms.push(vm);
    return vm;
  }

  /**
   * A vCPU for `vm` running the 64-bit code `code` (placed at GUEST_CODE,
   * its own stack below GUEST_STACK, l1/mpState.ts; identity paging), on
   * the next core in turn.
   */
  addLongModeVcpu(vm: Vm, code: Uint8Array): Vcpu {
    if (vm.vcpus.length === 0) vm.writeLongModePageTables();
    vm.write(GUEST_CODE, code);
    return this.addVcpu(vm);
  }

  /**
   * A vCPU for `vm` that waits for a SIPI from another of its vCPUs, as an
   * application processor does after power-up (SDM Vol. 3A §9.4.2), to
   * start as L1's SIPI convention says (l1/mpState.ts).
   */
  addApVcpu(vm: Vm): Vcpu {
    const vcpu = this.addVcpu(vm);
    vcpu.runState.mp = MpState.WaitForSipi;
    return vcpu;
  }

  /**
   * A vCPU for `vm` that starts where a loader's entry point says
   * (hypervisor/loaders/): in 64-bit mode on the VM's identity page
   * tables, or in 32-bit protected mode without paging with the entry's
   * registers (a multiboot kernel). The image is already in guest memory.
   */
  addVcpuAt(vm: Vm, entry: EntryPoint): Vcpu {
    if (entry.bits === 16) throw new HypervisorError(`VM ${vm.name}: L1 starts vCPUs in 64-bit or 32-bit protected mode, not real mode`);
    if (entry.bits === 64) vm.writeLongModePageTables();
    return this.addVcpu(vm, entry);
  }

  private addVcpu(vm: Vm, entry?: EntryPoint): Vcpu {
    const runner = this.runners[this.nextCore]!;
    this.nextCore = (this.nextCore + 1) % this.runners.length;
    const vcpu = new Vcpu(vm, vm.vcpus.length, runner.host, this.pages, this.nextVpid++);
    if (entry?.bits === 32) vcpu.setupProtectedMode(entry.address, entry.regs ?? [], EXIT_HANDLER_RIP);
    else vcpu.setupLongMode(entry?.address ?? GUEST_CODE, vcpuStack(vcpu.index), EXIT_HANDLER_RIP);
    vm.vcpus.push(vcpu);
    runner.vcpus.push(vcpu);
    return vcpu;
  }

  /** Runs every core's vCPUs until all have stopped or `maxInstructions` retire on the machine. */
  run(maxInstructions: number): MachineStop {
    for (const r of this.runners) r.start();
    return this.machine.run({ maxInstructions });
  }
}
