/**
 * In-process assembler for guests (DESIGN decision 9): Intel
 * syntax through keystone-wasm, which knows the VMX instructions.
 *
 * Comments start with ';' (or '#'): keystone itself only knows '#', so ';'
 * comments are removed here, outside string literals.
 *
 * Keystone quirks worth knowing: it has no ENDBR64 or RDPID mnemonic (write
 * them as `.byte` lines), and it encodes `nop dword ptr [...]` wrongly as
 * 0F 18 (a prefetch hint); use `.byte 0x0f, 0x1f, ...` for multi-byte NOPs.
 * In 64-bit code it turns an absolute memory operand into a RIP-relative
 * one, and for `mov r64, [abs]` (REX.W 8B) it forgets to subtract RIP:
 * address such operands through a base register. Plain `pushf`/`popf` in
 * 64-bit code come out as the 16-bit forms (66 9C/9D): write `pushfq`/`popfq`.
 * A label difference inside a memory operand (`[a - b]`) is assembled as
 * the absolute address of `a`; use a constant offset instead.
 */
import { Const, Keystone, loadKeystone } from 'keystone-wasm';

let ready: Promise<void> | undefined;
const engines = new Map<number, Keystone>();

export async function initAssembler(): Promise<void> {
  ready ??= loadKeystone();
  await ready;
}

/** Removes ';' comments, leaving ';' inside "..." and '...' literals alone. */
export function stripComments(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      let quote = '';
      for (let k = 0; k < line.length; k++) {
        const ch = line[k]!;
        if (quote) {
          if (ch === '\\') k++;
          else if (ch === quote) quote = '';
        } else if (ch === '"' || ch === "'") {
          quote = ch;
        } else if (ch === ';') {
          return line.slice(0, k);
        }
      }
      return line;
    })
    .join('\n');
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
    return ks.asm(stripComments(source), { address });
  } catch (e) {
    throw new Error(`assembly failed (${(e as Error).message}) for:\n${source}`);
  }
}

export async function asm(source: string, bits: 16 | 32 | 64 = 64, address = 0): Promise<Uint8Array> {
  await initAssembler();
  return assemble(source, bits, address);
}
