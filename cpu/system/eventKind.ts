/**
 * Kinds of events the core delivers through the IDT, numbered as the VMX
 * interruption types (SDM Vol. 3C §24.8.3), and what the kind decides in
 * delivery: the gate-DPL check of software interrupts (SDM Vol. 3A
 * §6.12.1.1) and the EXT bit of error codes (§6.13).
 */
export const enum EventKind {
  External = 0,
  Nmi = 2,
  Hardware = 3,
  /** INT n. */
  SoftwareInt = 4,
  /** INT1 (ICEBP). */
  PrivilegedSoftware = 5,
  /** INT3, INTO. */
  SoftwareException = 6,
}

/** INT n, INT3 and INTO check the gate's DPL against the CPL, and their errors carry EXT = 0. */
export function isSoftwareEvent(kind: EventKind): boolean {
  return kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException;
}

/** EXT: 1 when the event is external to the program (interrupts, NMI, exceptions, INT1). */
export function extBit(kind: EventKind): number {
  return isSoftwareEvent(kind) ? 0 : 1;
}
