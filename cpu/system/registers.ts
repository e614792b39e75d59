/**
 * System state of a core beyond CR0-CR8/EFER (which live on the Cpu): the
 * descriptor-table registers, LDTR and TR with their descriptor caches,
 * the bases segment loads put in the descriptor caches, the debug
 * registers, the SYSCALL/SYSENTER MSRs, KERNEL_GS_BASE and NMI blocking
 * (SDM Vol. 3A §2.4, §2.7, §5.8.8, §6.7.1, Vol. 3A ch. 18).
 *
 * Bases are numbers: linear addresses in their sign-extended canonical
 * form (DESIGN decision 5).
 */

/** The software event whose trap the run loop is delivering (set by INT n, INT3, INTO, INT1). */
export const enum SoftwareKind {
  /** INT n (CD ib): gate DPL checked, EXT = 0. */
  IntN = 0,
  /** INT3 (CC) and INTO (CE): gate DPL checked, EXT = 0. */
  Exception = 1,
  /** INT1 (F1, ICEBP): no gate DPL check, EXT = 1 (SDM Vol. 3A §6.12.1.1, §6.13). */
  Privileged = 2,
}

export class SystemRegisters {
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0xffff;
  /** LDTR and TR with their descriptor caches (access rights in the VMX format, SDM Vol. 3C §24.4.1). */
  ldtrSel = 0;
  ldtrBase = 0;
  ldtrLimit = 0xffff;
  ldtrAttr = 0x82;
  trSel = 0;
  trBase = 0;
  trLimit = 0xffff;
  trAttr = 0x8b;
  /**
   * ES..GS bases as loaded into the descriptor caches. c.segBase holds the
   * bases address computation uses, which in 64-bit mode are 0 for ES, CS,
   * SS and DS (SDM Vol. 3A §3.4.4).
   */
  readonly descBase = new Float64Array(6);
  /**
   * Valid offsets of each segment for data accesses in 16/32-bit modes:
   * [segLo, segHi], from the limit, the expand-down bit and B (SDM Vol. 3A
   * §5.3). An unusable (null) segment in protected mode gets an empty range.
   */
  readonly segLo = new Float64Array(6);
  readonly segHi = new Float64Array(6).fill(0xffff);
  /** DR0-DR7 as 32-bit halves (DR4/DR5 are aliases and never stored). */
  readonly dr = new Int32Array(16);
  starLo = 0;
  starHi = 0;
  lstar = 0;
  cstar = 0;
  fmask = 0;
  kernelGsBase = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** Blocking by NMI (SDM Vol. 3A §6.7.1): set when an NMI is delivered, cleared by the next IRET. */
  nmiBlocked = false;
  /** Kind and instruction address of the software interrupt being raised (for delivery and its faults). */
  softwareKind: SoftwareKind = SoftwareKind.IntN;
  softwareRip = 0;

  constructor() {
    this.dr[12] = 0xffff0ff0 | 0; // DR6 (SDM Vol. 3A §18.2.3)
    this.dr[14] = 0x400; // DR7 (SDM Vol. 3A §18.2.4)
  }
}
