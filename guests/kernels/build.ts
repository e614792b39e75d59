/**
 * Builds the project's own multiboot kernels from their assembly source: a
 * flat image loaded at 1 MiB whose multiboot header carries the a.out-kludge
 * address fields (flags bit 16), so no ELF wrapper is needed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { asm } from '../assembler.ts';

export const KERNEL_LOAD_ADDRESS = 0x100000;

export const TEST_KERNEL_SOURCE = fileURLToPath(new URL('./testkernel.asm', import.meta.url));

/** Assembles a kernel and cuts the image at its header's load_end_addr (the zeroed bss is not part of the file). */
export async function buildKernel(sourcePath: string): Promise<Uint8Array> {
  const bytes = await asm(readFileSync(sourcePath, 'utf8'), 32, KERNEL_LOAD_ADDRESS);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x1badb002) throw new Error(`${sourcePath}: the image must start with its multiboot header`);
  const loadEnd = view.getUint32(20, true);
  return bytes.slice(0, loadEnd - KERNEL_LOAD_ADDRESS);
}
