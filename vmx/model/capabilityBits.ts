/**
 * Bit positions of the EPT/VPID capabilities (IA32_VMX_EPT_VPID_CAP, SDM
 * Vol. 3C Appendix A.10), the VM functions (IA32_VMX_VMFUNC, Appendix
 * A.11; VM-function controls §25.6.14) and the activity states of
 * IA32_VMX_MISC (Appendix A.6). Cross-checked against Linux
 * arch/x86/include/asm/vmx.h (VMX_EPT_*_BIT, VMX_VPID_*_BIT).
 */

/** EPT capabilities: bit positions in EPT_VPID_CAP[31:0]. */
export const EPT_CAPS = {
  executeOnly: 0,
  pageWalkLength4: 6,
  memoryTypeUc: 8,
  memoryTypeWb: 14,
  pde2MPages: 16,
  pdpte1GPages: 17,
  invept: 20,
  accessedDirty: 21,
  inveptSingleContext: 25,
  inveptAllContext: 26,
} as const;

/** VPID capabilities: bit positions in EPT_VPID_CAP[63:32], given as MSR bit numbers. */
export const VPID_CAPS = {
  invvpid: 32,
  invvpidIndividualAddress: 40,
  invvpidSingleContext: 41,
  invvpidAllContext: 42,
  invvpidSingleContextRetainingGlobals: 43,
} as const;

/** VM functions: bit positions in the VM-function controls and IA32_VMX_VMFUNC. */
export const VM_FUNCTIONS = {
  eptpSwitching: 0,
} as const;

/** Activity states other than active (0): IA32_VMX_MISC bits 8:6 report states 1..3. */
export const ACTIVITY_STATES = {
  hlt: 6,
  shutdown: 7,
  waitForSipi: 8,
} as const;

export type EptCap = keyof typeof EPT_CAPS;
export type VpidCap = keyof typeof VPID_CAPS;
export type VmFunction = keyof typeof VM_FUNCTIONS;
export type ActivityState = keyof typeof ACTIVITY_STATES;
