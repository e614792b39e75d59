/**
 * In-process assembler for inline test guests (DESIGN decision 9): Intel
 * syntax through keystone-wasm, which knows the VMX instructions.
 *
 * Keystone quirks worth knowing: it has no ENDBR64 or RDPID mnemonic (write
 * them as `.byte` lines), and it encodes `nop dword ptr [...]` wrongly as
 * 0F 18 (a prefetch hint); use `.byte 0x0f, 0x1f, ...` for multi-byte NOPs.
 */
import { Const, Keystone, loadKeystone } from 'keystone-wasm';

let ready: Promise<void> | undefined;
const engines = new Map<number, Keystone>();

export async function initAssembler(): Promise<void> {
  ready ??= loadKeystone();
  await ready;
}

/** Assembles `source` for `bits`-bit code placed at `address`. Call initAssembler() first. */
export function assemble(source: string, bits: 16 | 32 | 64 = 64, address = 0): Uint8Array {
  const mode = bits === 64 ? Const.KS_MODE_64 : bits === 32 ? Const.KS_MODE_32 : Const.KS_MODE_16;
  let ks = engines.get(mode);
  if (!ks) {
    ks = new Keystone(Const.KS_ARCH_X86, mode);
    engines.set(mode, ks);
  }
  try {
    return ks.asm(source, { address });
  } catch (e) {
    throw new Error(`assembly failed (${(e as Error).message}) for:\n${source}`);
  }
}

export async function asm(source: string, bits: 16 | 32 | 64 = 64, address = 0): Promise<Uint8Array> {
  await initAssembler();
  return assemble(source, bits, address);
}
