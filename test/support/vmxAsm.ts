/**
 * Assembly fragments that root-mode test programs share. VMX operation
 * needs CR0.PE, CR0.NE and CR0.PG (IA32_VMX_CR0_FIXED0) and CR4.VMXE; a
 * 32-bit program gets them with one 4-MByte identity page (SDM Vol. 3A §4.3).
 */

/** 32-bit code: CR4.VMXE and PSE, CR3 = `pd` (a page directory whose entry 0 maps 4 MBytes at 0), CR0.PG and NE. */
export const enterPaged32 = (pd: number): string => `
mov eax, cr4
or eax, 0x2010
mov cr4, eax
mov eax, ${pd}
mov cr3, eax
mov eax, cr0
or eax, 0x80000020
mov cr0, eax`;

/** The page-directory entry enterPaged32's directory needs at index 0: 4 MBytes at 0, present, writable, PS. */
export const IDENTITY_4M_PDE = 0x83;
