/**
 * An error in L1 itself or in how it was asked to run something (a VMX
 * operation L1 issued failed, L1 ran out of its memory, a guest image does
 * not fit): a one-line message naming what went wrong (DESIGN decision 7).
 * What a guest does is never one of these: a guest gets an architectural
 * outcome, and at worst is stopped with a report.
 */
export class HypervisorError extends Error {
  override readonly name = 'HypervisorError';
}
