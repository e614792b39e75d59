/**
 * The MSRs a guest reaches without an exit, and how L1 keeps them per vCPU.
 * The MSR bitmaps (SDM Vol. 3C §25.6.9: a 4-KByte page, read bitmaps for
 * MSRs 0-1FFFH at byte 0 and C0000000H-C0001FFFH at 1024, write bitmaps at
 * 2048 and 3072; a 1 bit makes RDMSR/WRMSR exit, §26.1.3) have every bit
 * set but these; every other access exits and is emulated (msr.ts).
 *
 * Read and written directly, as KVM lets them through
 * (vmx_possible_passthrough_msrs), because they cost nothing to switch:
 *   - IA32_FS_BASE, IA32_GS_BASE, IA32_SYSENTER_CS/ESP/EIP are in the
 *     guest-state area (§25.4.1, §25.4.2): every VM exit saves the guest's
 *     (§28.3.2) and every VM entry loads them (§27.3.2).
 *   - IA32_KERNEL_GS_BASE, IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK
 *     and, where the processor has it, IA32_TSC_AUX are not: each vCPU
 *     gets one MSR list that is both its VM-exit MSR-store area and its
 *     VM-entry MSR-load area (§25.7.2, §25.8.2; §28.4, §27.4), so an exit
 *     saves the guest's values and the next entry of that vCPU loads them
 *     back, however many vCPUs share the core. L1 itself never executes
 *     SWAPGS, SYSCALL or RDTSCP, so it needs no VM-exit MSR-load area for
 *     values of its own. (KVM switches STAR/LSTAR/CSTAR/FMASK lazily on
 *     return to host user space instead, which L1 does not have.)
 * Read directly, written through an exit:
 *   - IA32_TIME_STAMP_COUNTER: RDMSR in non-root operation reads the TSC
 *     as RDTSC does, offset (§26.3), and RDTSC runs in the guest too; a
 *     WRMSR would set the core's own counter, "without regard to the TSC
 *     offset", so it exits (and, not being virtualized, raises #GP).
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { CpuException } from '../../cpu/exceptions.ts';
import { readMsr } from '../../cpu/exec/msr.ts';
import type { PhysicalMemory } from '../../cpu/memory/physical.ts';

const IA32_TIME_STAMP_COUNTER = 0x10, IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176;
const IA32_STAR = 0xc0000081, IA32_LSTAR = 0xc0000082, IA32_CSTAR = 0xc0000083, IA32_FMASK = 0xc0000084;
const IA32_FS_BASE = 0xc0000100, IA32_GS_BASE = 0xc0000101, IA32_KERNEL_GS_BASE = 0xc0000102, IA32_TSC_AUX = 0xc0000103;

/** In the guest-state area. */
const IN_VMCS = [IA32_FS_BASE, IA32_GS_BASE, IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP];
/** Switched by the vCPU's MSR list; IA32_TSC_AUX only where it exists. */
const SWITCHED = [IA32_KERNEL_GS_BASE, IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK];

const HIGH_MSRS = 0xc0000000, HIGH_OFFSET = 1024, WRITE_OFFSET = 2048;

/** The MSRs of the switched list on core `c`: probed with RDMSR as root software, as KVM's kvm_init_msr_lists does. */
function switchedMsrs(c: Cpu): number[] {
  try {
    readMsr(c, IA32_TSC_AUX);
    return [...SWITCHED, IA32_TSC_AUX];
  } catch (e) {
    if (e instanceof CpuException) return SWITCHED;
    throw e;
  }
}

/** Clears MSR `index`'s bit in the read (or write) bitmap of the page at `page`. */
function letThrough(phys: PhysicalMemory, page: number, index: number, write: boolean): void {
  const at = page + (index >= HIGH_MSRS ? HIGH_OFFSET : 0) + (write ? WRITE_OFFSET : 0) + ((index & 0x1fff) >>> 3);
  phys.writeSized(at, 1, phys.readSized(at, 1) & ~(1 << (index & 7)));
}

/**
 * Writes a vCPU's MSR bitmaps at `bitmaps` and its MSR list at `list` (16
 * bytes an entry: index in bits 31:0, bits 63:32 reserved, value in
 * 127:64; each value 0, the MSRs' reset value, Vol. 3A §10.1.1 Table
 * 10-1) on core `c`. Returns the list's entry count.
 */
export function writeMsrPages(c: Cpu, bitmaps: number, list: number): number {
  const phys = c.phys, switched = switchedMsrs(c);
  phys.load(bitmaps, new Uint8Array(4096).fill(0xff));
  for (const index of [...IN_VMCS, ...switched]) {
    letThrough(phys, bitmaps, index, false);
    letThrough(phys, bitmaps, index, true);
  }
  letThrough(phys, bitmaps, IA32_TIME_STAMP_COUNTER, false);
  phys.load(list, new Uint8Array(16 * switched.length));
  switched.forEach((index, k) => phys.writeSized(list + 16 * k, 4, index | 0));
  return switched.length;
}
