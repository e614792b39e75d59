/**
 * What a core asks of its interrupt controller (the local APIC): is a
 * maskable interrupt ready to be delivered (above the processor priority),
 * and, when the core takes it, which vector (the INTA cycle: IRR → ISR).
 * NMI, INIT and SIPI reach the core through its nmiPending/initPending/
 * sipiVector fields instead.
 */
export interface InterruptSource {
  hasInterrupt(): boolean;
  acknowledge(): number;
}
