/**
 * A 256-bit vector register (IRR, ISR, TMR; SDM Vol. 3A §11.8.4): eight
 * 32-bit words, word k holding vectors 32k..32k+31, as the eight 32-bit
 * registers at consecutive 16-byte offsets present them.
 */
export type VectorSet = Uint32Array;

export function newVectorSet(): VectorSet {
  return new Uint32Array(8);
}

export function hasVector(s: VectorSet, v: number): boolean {
  return (s[v >>> 5]! & (1 << (v & 31))) !== 0;
}

export function setVector(s: VectorSet, v: number): void {
  s[v >>> 5] = s[v >>> 5]! | (1 << (v & 31));
}

export function clearVector(s: VectorSet, v: number): void {
  s[v >>> 5] = s[v >>> 5]! & ~(1 << (v & 31));
}

/** The highest vector set, or -1. */
export function highestVector(s: VectorSet): number {
  for (let k = 7; k >= 0; k--) {
    const w = s[k]!;
    if (w !== 0) return k * 32 + 31 - Math.clz32(w);
  }
  return -1;
}
