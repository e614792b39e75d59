/**
 * What a VM exit in progress reports beyond its reason and qualification
 * (SDM Vol. 3C §28.2 "Recording VM-Exit Information"): whoever causes the
 * exit fills in the parts that apply, vmExit writes them to the VMCS and
 * resets them. The two information fields with a valid bit are always
 * written (their valid bit is clear unless set here); the others are
 * written only when given, as the SDM leaves them undefined otherwise.
 */
export class ExitInfo {
  /** VM-exit interruption information (§25.9.2): bit 31 valid; 0 for exits not caused by an event. */
  interruptionInfo = 0;
  interruptionErrorCode = 0;
  /** IDT-vectoring information (§25.9.3): the event whose delivery the exit interrupted; 0 for none. */
  vectoringInfo = 0;
  vectoringErrorCode = 0;
  /** VM-exit instruction length, or -1 when not given. */
  instructionLength = -1;
  /** VM-exit instruction information, or -1 when not given. */
  instructionInfo = -1;
  /** Guest-linear address (a number, sign-extended), or NaN when not given. */
  guestLinearAddress = NaN;
  /** Guest-physical address, or NaN when not given. */
  guestPhysicalAddress = NaN;
  /** An exit arranged in the middle of an instruction (cpu/vmxPort.ts VM_EXIT_TAKEN): basic reason, or -1, and qualification. */
  arrangedReason = -1;
  arrangedQualLo = 0;
  arrangedQualHi = 0;

  reset(): void {
    this.interruptionInfo = 0;
    this.interruptionErrorCode = 0;
    this.vectoringInfo = 0;
    this.vectoringErrorCode = 0;
    this.instructionLength = -1;
    this.instructionInfo = -1;
    this.guestLinearAddress = NaN;
    this.guestPhysicalAddress = NaN;
    this.arrangedReason = -1;
  }
}
