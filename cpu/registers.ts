/**
 * General-purpose registers live in one Int32Array as 32-bit halves:
 * r[2n] is the low half of register n, r[2n+1] the high half (DESIGN
 * decision 5: no BigInt per instruction). Indices follow the ModRM/REX
 * encoding (SDM Vol. 2A §2.1.5, Table 2-2).
 */
export const enum Reg {
  RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
  R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

export const REG64_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;

/** Segment registers in their encoding order (SDM Vol. 2A §3.1.1.3, Sreg). */
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 }
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

/** 2^32 as a number, for joining and splitting 64-bit values. */
export const TWO32 = 4294967296;

/** Joins halves into a number; exact only while the value fits in 53 bits. */
export function joinSigned(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** Joins halves into an exact BigInt: for API edges and tests only. */
export function toBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function loOf(v: bigint): number {
  return Number(v & 0xffffffffn) | 0;
}

export function hiOf(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn) | 0;
}
