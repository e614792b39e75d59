/**
 * Loading a guest image into a VM, the ways issue 6 lists besides inline
 * assembly, with the machine's own loaders (cpu/loaders/) writing into the
 * VM's RAM (guestRam.ts):
 *   - flat: the file's bytes at one address, entered there in 64-bit mode
 *     on identity paging, as L1 runs its inline-assembly guests (vm.ts);
 *   - elf: an x86-64 ELF executable, its PT_LOAD segments at their physical
 *     addresses, entered at e_entry in 64-bit mode the same way
 *     (cpu/loaders/elf64.ts);
 *   - multiboot: a Multiboot (v1) kernel as QEMU's -kernel loads it
 *     (cpu/loaders/multiboot.ts), entered in 32-bit protected mode with
 *     paging off, EAX = 2BADB002H and EBX = its information structure
 *     (Multiboot Specification §3.2), which needs "unrestricted guest"
 *     (Vcpu.setupProtectedMode).
 * A file that cannot be loaded is a LoadError naming the file and the
 * problem in one line, before anything runs. The VM gets one vCPU.
 */
import { LoadError } from '../../cpu/loaders/loadError.ts';
import type { EntryPoint } from '../../cpu/loaders/entry.ts';
import { loadElf64 } from '../../cpu/loaders/elf64.ts';
import { loadFlat } from '../../cpu/loaders/flat.ts';
import { loadMultiboot } from '../../cpu/loaders/multiboot.ts';
import { findMultibootHeader } from '../../cpu/loaders/multibootHeader.ts';
import type { L1 } from '../l1/l1.ts';
import type { Vcpu } from '../vcpu.ts';
import { GUEST_CODE, type Vm } from '../vm.ts';
import { guestRam, VM_PAGE_TABLES } from './guestRam.ts';

export const GUEST_FORMATS = ['flat', 'elf', 'multiboot'] as const;
export type GuestFormat = (typeof GUEST_FORMATS)[number];

export interface GuestImageOptions {
  /** The file's name: in messages, and the first word of a multiboot kernel's command line. */
  readonly fileName: string;
  /** Default: detectFormat. */
  readonly format?: GuestFormat;
  /** Flat binary: where it is loaded and entered (default GUEST_CODE). */
  readonly address?: number;
}

export interface LoadedGuest {
  readonly format: GuestFormat;
  readonly entry: EntryPoint;
  readonly vcpu: Vcpu;
  /** What the loader did not honour (a multiboot header asking for a video mode, say). */
  readonly warnings: readonly string[];
}

/** A multiboot header (with a good checksum) in the first 8 KiB, else ELF magic, else a flat binary. */
export function detectFormat(image: Uint8Array): GuestFormat {
  try {
    findMultibootHeader(image, '');
    return 'multiboot';
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
  }
  const elf = image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
  return elf ? 'elf' : 'flat';
}

/** Puts `image` into `vm`'s memory and gives the VM a vCPU that starts at its entry point. */
export function loadGuestImage(l1: L1, vm: Vm, image: Uint8Array, o: GuestImageOptions): LoadedGuest {
  const format = o.format ?? detectFormat(image);
  const ram = guestRam(l1.machine.phys, vm), file = o.fileName;
  let entry: EntryPoint, warnings: readonly string[] = [];
  if (format === 'multiboot') {
    const load = loadMultiboot(ram, vm.ramBytes, image, { fileName: file });
    entry = load.entry;
    warnings = load.warnings;
  } else if (format === 'elf') {
    entry = loadElf64(ram, vm.ramBytes, image, file, VM_PAGE_TABLES);
  } else {
    if (image.length === 0) throw new LoadError(file, 'empty file: a flat binary needs at least one instruction');
    entry = loadFlat(ram, vm.ramBytes, image, { fileName: file, address: o.address ?? GUEST_CODE, bits: 64, pageTables: VM_PAGE_TABLES });
  }
  return { format, entry, vcpu: l1.addVcpuAt(vm, entry), warnings };
}
