/**
 * Running L2 guests under L1 in tests: VMs built from assembly source,
 * each with its vCPUs (every one starting at the first instruction, or
 * all but vCPU 0 waiting for a SIPI), on an L1 of `cpus` cores.
 */
import { type L1Options, L1 } from '../../hypervisor/l1/l1.ts';
import { traceText } from '../../hypervisor/trace.ts';
import { GUEST_CODE, type Vm } from '../../hypervisor/vm.ts';
import { asm } from './asm.ts';

export interface TestVm {
  readonly name: string;
  readonly source: string;
  readonly vcpus?: number;
  /** vCPUs 1 and up wait for a SIPI (L1.addApVcpu) instead of starting at the first instruction. */
  readonly waitForSipi?: boolean;
}

export interface L1Run {
  readonly l1: L1;
  readonly vms: Vm[];
  /** The exit trace as JSON Lines. */
  readonly text: string;
}

export async function runVms(vms: readonly TestVm[], o: L1Options & { maxInstructions?: number } = {}): Promise<L1Run> {
  const l1 = new L1(o);
  const built: Vm[] = [];
  for (const t of vms) {
    const vm = l1.createVm(t.name), code = await asm(t.source, 64, GUEST_CODE);
    l1.addLongModeVcpu(vm, code);
    for (let k = 1; k < (t.vcpus ?? 1); k++) {
      if (t.waitForSipi) l1.addApVcpu(vm);
      else l1.addLongModeVcpu(vm, code);
    }
    built.push(vm);
  }
  l1.run(o.maxInstructions ?? 2_000_000);
  return { l1, vms: built, text: traceText(l1.trace) };
}

/** A guest-physical quadword of `vm`. */
export function readQword(vm: Vm, gpa: number): bigint {
  const b = vm.read(gpa, 8)!;
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/**
 * Guest assembly that ends the VM through the exit hypercall (EAX = 1,
 * RBX = code; hypervisor/exits/vmcall.ts): code 0, so that the VM passes,
 * and at label `bad` code 99.
 */
export const exitZeroElseBad = `
    mov eax, 1
    xor ebx, ebx
    vmcall
  bad:
    mov eax, 1
    mov ebx, 99
    vmcall`;
