// keystone-wasm ships types that its package.json "exports" hides from
// NodeNext resolution; this declares the part the project uses.
declare module 'keystone-wasm' {
  export class Keystone {
    constructor(arch: number, mode: number);
    asm(source: string, options?: { address?: number | bigint }): Uint8Array;
    close(): void;
  }
  export function loadKeystone(args?: Record<string, unknown>): Promise<void>;
  export const Const: {
    KS_ARCH_X86: number;
    KS_MODE_16: number;
    KS_MODE_32: number;
    KS_MODE_64: number;
  };
}
