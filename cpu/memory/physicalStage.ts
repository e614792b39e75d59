/**
 * A second stage of address translation under the paging unit: guest-
 * physical → host-physical, which VMX's EPT is (SDM Vol. 3C §29.3). cpu/
 * knows it only by this interface (DESIGN "Shape"): the paging unit sends
 * every guest-physical address through it — the guest's paging-structure
 * entries as its walk reads them, the accessed/dirty updates to them, and
 * the address an access finally reaches — and caches the combined
 * translation in the TLB of the current translation context.
 *
 * A stage that refuses an access arranges the VM exit it causes and throws
 * VmExitTaken (cpu/vmxPort.ts); the run loop then backs the instruction
 * out, as for a fault, and lets the VMX unit complete the exit.
 */
import type { Access } from './access.ts';

export interface PhysicalStage {
  /**
   * The host-physical address of guest-physical `gpa` for `access`. `la`
   * is the guest-linear address the access is for (NaN for none);
   * `pagingStructure` says the access is to an entry of the guest's own
   * paging structures (`write`: to set its accessed or dirty flag). When
   * the stage refuses: with `fault`, throws; without, returns -1 and
   * changes nothing. On success `shift` is log2 of the size of the
   * stage's mapping and `denied` the TLB_EPT_* rights it withholds.
   */
  translate(gpa: number, access: Access, la: number, pagingStructure: boolean, fault: boolean): number;
  readonly shift: number;
  readonly denied: number;
}
