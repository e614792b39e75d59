/**
 * Assembly for guests that take interrupts: a GDT with the 64-bit code
 * and data segments L1's VMCS names (selectors 08H and 10H), an IDT at
 * IDT_BASE whose gates the guest fills in (SDM Vol. 3A §6.14.1: 16-byte
 * interrupt gates, type 0EH), and the x2APIC through its MSRs (§11.12:
 * switched on by IA32_APIC_BASE.EXTD, registers at 800H + index).
 * Addresses are guest-physical = linear (identity paging).
 */
import { ApicReg, X2APIC_MSR_BASE } from '../../cpu/devices/apic/registers.ts';

/** The IDT: 256 gates, in guest RAM that L1 hands over zeroed. */
export const IDT_BASE = 0x30000;
/** Variables the guests share between their vCPUs. */
export const DATA_BASE = 0x40000;

/** The MSR of x2APIC register `reg`. */
export const apicMsr = (reg: ApicReg): string => `0x${(X2APIC_MSR_BASE + reg).toString(16)}`;

/** WRMSR of the 32-bit `value` (an immediate or a register but EAX, ECX, EDX) to MSR `msr`. */
export const wrmsr = (msr: string, value: string | number): string =>
  `mov ecx, ${msr}\nmov eax, ${value}\nxor edx, edx\nwrmsr`;

/** Loads the GDT and the IDT (each vCPU has its own GDTR and IDTR). */
export const loadDescriptorTables = (): string => 'lgdt [rip + guest_gdtr]\nlidt [rip + guest_idtr]';

/** The GDT, its GDTR image and the IDTR image, to place among the guest's data. */
export const descriptorTables = (): string => `
  .balign 8
  guest_gdt:
    .quad 0
    .quad 0x00af9a000000ffff       ; 08H: 64-bit code, DPL 0 (§3.4.5, L = 1)
    .quad 0x00cf92000000ffff       ; 10H: data, read/write, DPL 0
  guest_gdtr:
    .word 23
    .quad guest_gdt
  guest_idtr:
    .word 0xfff
    .quad ${IDT_BASE}`;

/** Sets IDT gate `vector` to an interrupt gate (present, DPL 0, type 0EH) to `handler`, selector 08H. Uses RAX and RDI. */
export const setGate = (vector: number, handler: string): string => `
    lea rax, [rip + ${handler}]
    mov rdi, ${IDT_BASE + 16 * vector}
    mov word ptr [rdi], ax
    mov word ptr [rdi + 2], 0x08
    mov word ptr [rdi + 4], 0x8e00
    shr rax, 16
    mov word ptr [rdi + 6], ax
    shr rax, 16
    mov dword ptr [rdi + 8], eax
    mov dword ptr [rdi + 12], 0`;

/** Switches the APIC to x2APIC mode (EN and EXTD of IA32_APIC_BASE, §11.12.1) and software-enables it with spurious vector FFH. */
export const enableX2apic = (): string => `
    mov ecx, 0x1b
    rdmsr
    or eax, 0xc00
    wrmsr
    ${wrmsr(apicMsr(ApicReg.SVR), 0x1ff)}`;

/** RDMSR of x2APIC register `reg` into EAX (EDX = 0). */
export const readApic = (reg: ApicReg): string => `mov ecx, ${apicMsr(reg)}\nrdmsr`;

/** EOI (§11.8.5): a write of 0 to the EOI register. */
export const eoi = (): string => wrmsr(apicMsr(ApicReg.EOI), 0);

/** RDTSC into RAX as one 64-bit value (clobbers RDX). */
export const rdtsc64 = (): string => 'rdtsc\nshl rdx, 32\nor rax, rdx';
