/**
 * The exit qualification of an EPT violation (SDM Vol. 3C §28.2.1, Table
 * 28-7 "Exit Qualification for EPT Violations"):
 *  - bits 2:0: the access: data read, data write, instruction fetch. An
 *    access to a guest paging-structure entry with EPT accessed and dirty
 *    flags enabled is treated as a write and sets bits 0 and 1 (table note);
 *    EptWalker.accessBits gives these bits for the walk that failed.
 *  - bits 5:3: bits 2:0 ANDed over the EPT entries used for the translation,
 *    all 0 when one of them is not present (EptWalker.perms after a violation).
 *  - bit 6: execute access for user-mode linear addresses, defined only with
 *    "mode-based execute control for EPT", which the model lacks: 0.
 *  - bit 7: the guest-linear-address field is valid (all EPT violations but
 *    those of loading the PAE PDPTEs for MOV to CR / VM entry).
 *  - bit 8: if bit 7 is 1, 1 when the access was to the translation of the
 *    linear address, 0 when it was to a guest paging-structure entry
 *    (a walk or an A/D update); if bit 7 is 0, cleared.
 *  - bits 11:9: advanced VM-exit information for EPT violations, not
 *    reported by the model (IA32_VMX_EPT_VPID_CAP bit 22 = 0): 0.
 *  - bit 12: NMI unblocking due to IRET (§28.2.3), as the caller decides.
 *  - other bits: 0 (features not modelled).
 */

export const EPT_QUAL_LINEAR_VALID = 1 << 7;
export const EPT_QUAL_TO_TRANSLATION = 1 << 8;
export const EPT_QUAL_NMI_UNBLOCKING = 1 << 12;

/**
 * `access`: bits 2:0 as EptAccess bits (EptWalker.accessBits); `perms`: R=1,
 * W=2, X=4 of the translation as far as it went (EptWalker.perms).
 */
export function eptViolationQualification(
  access: number, perms: number, linearValid: boolean, toTranslation: boolean, nmiUnblocking: boolean,
): number {
  let q = (access & 7) | ((perms & 7) << 3);
  if (linearValid) q |= EPT_QUAL_LINEAR_VALID | (toTranslation ? EPT_QUAL_TO_TRANSLATION : 0);
  if (nmiUnblocking) q |= EPT_QUAL_NMI_UNBLOCKING;
  return q;
}
