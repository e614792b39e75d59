/**
 * Architectural exceptions (SDM Vol. 3A §6.3.1, Table 6-1). An instruction
 * that faults throws CpuException; the run loop catches it, rewinds RIP to
 * the faulting instruction and delivers the event. Host bugs are never
 * CpuExceptions: they are InternalError with a state dump.
 */
export const enum Vector {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7,
  DF = 8, TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16,
  AC = 17, MC = 18, XM = 19, VE = 20, CP = 21,
}

export const VECTOR_NAMES: readonly string[] = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP',
  '#SS', '#GP', '#PF', 'RSVD15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

/** Vectors that push an error code (SDM Vol. 3A Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

export class CpuException {
  constructor(
    readonly vector: number,
    readonly errorCode: number = -1,
    /**
     * INT n, INT3, INTO, INT1: the instruction completes and the event's
     * return address is the next instruction (SDM Vol. 3A §6.5, traps).
     */
    readonly software: boolean = false,
  ) {}
  toString(): string {
    const name = VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`;
    return this.errorCode >= 0 ? `${name}(${this.errorCode})` : name;
  }
}

export function fault(vector: number, errorCode = -1): never {
  throw new CpuException(vector, errorCode);
}

/** Raises a software interrupt (INT n, INT3, INTO): RIP already points past the instruction. */
export function softwareInterrupt(vector: number): never {
  throw new CpuException(vector, -1, true);
}

/** An emulator invariant broke: a bug in turtles, never a guest's doing. */
export class InternalError extends Error {
  constructor(message: string, readonly stateDump?: string) {
    super(stateDump ? `${message}\n${stateDump}` : message);
    this.name = 'InternalError';
  }
}
