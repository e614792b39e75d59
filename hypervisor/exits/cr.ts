/**
 * Control-register accesses (exit reason 28) and the CR0/CR4 bits L1 owns
 * (SDM Vol. 3C §25.6.6: a bit set in the guest/host mask is the host's;
 * MOV from CR reads it from the read shadow, and MOV to CR exits when the
 * source differs from the shadow there, §26.1.3, §26.3).
 *
 * L1 owns, as KVM does:
 *   CR0.NE  VMX operation needs it set (IA32_VMX_CR0_FIXED0, §24.8) but a
 *           guest may clear it: the guest sees its own value, the hardware
 *           keeps 1 (KVM_VM_CR0_ALWAYS_ON);
 *   CR0.CD, CR0.NW  the guest sees its own values, the hardware keeps 0:
 *           with EPT, L1 decides memory types (KVM_VM_CR0_ALWAYS_OFF);
 *   CR4.VMXE  set in the hardware CR4, shown as 0: the guest is offered no
 *           VMX (its CPUID hides it), so setting it raises #GP(0), as KVM
 *           does without nested VMX.
 * The guest owns the other bits. CLTS and LMSW touch only bits 3:0 and
 * never exit; CR3 accesses do not exit either (with EPT, CR3 is the
 * guest's: the TRUE controls let CR3-load/store exiting be 0), and CR8
 * accesses go to the virtual APIC's TPR (cr8.ts), so an exit here is a
 * MOV to CR0 or CR4 changing an owned bit.
 *
 * MOV to CR0 is emulated as the instruction does it (Vol. 2B MOV—Move
 * to/from Control Registers): #GP(0) for bits 63:32 set, PG without PE,
 * NW without CD, and — for the hardware value — a bit the VMX fixed-bit
 * MSRs forbid (§24.8), except PE and PG for a vCPU with "unrestricted
 * guest" (a multiboot guest, §26.3), which may clear them. Other
 * bits of CR0[31:0] ignore writes and ET reads as 1. The read shadow gets
 * the guest's value, GUEST_CR0 the hardware's.
 */
import { readMsr } from '../../cpu/exec/msr.ts';
import { CR0_AM, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP } from '../../cpu/system/mode.ts';
import { vmreadNumber, vmwriteField } from '../l1/vmxOps.ts';
import { controlMask } from '../../vmx/model/controls.ts';
import type { Vcpu } from '../vcpu.ts';
import { skip, stop, type Decision, type ExitHandler } from './decision.ts';
import { readGpr } from './gprs.ts';
import { injectGp0 } from './inject.ts';

/** The CR0 guest/host mask: the bits L1 owns. */
export const CR0_HOST_OWNED = (CR0_NE | CR0_CD | CR0_NW) >>> 0;
const CR0_WRITABLE = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;
const IA32_VMX_CR0_FIXED0 = 0x486, IA32_VMX_CR0_FIXED1 = 0x487;
const UNRESTRICTED_GUEST = controlMask('proc2', ['unrestrictedGuest']);

/** Access types of §28.2.1 Table 28-3, bits 5:4. */
const MOV_TO_CR = 0;

/** The CR0 the hardware runs with for the guest's CR0 `guest`. */
const hardwareCr0 = (guest: number): number => ((guest & ~(CR0_CD | CR0_NW)) | CR0_NE) >>> 0;

function movToCr0(vcpu: Vcpu, source: bigint): Decision {
  if (source >> 32n !== 0n) return injectGp0(vcpu, 'cr0:#GP');
  const cr0 = ((Number(source) & CR0_WRITABLE) | CR0_ET) >>> 0;
  if ((cr0 & CR0_PG) !== 0 && (cr0 & CR0_PE) === 0) return injectGp0(vcpu, 'cr0:#GP');
  if ((cr0 & CR0_NW) !== 0 && (cr0 & CR0_CD) === 0) return injectGp0(vcpu, 'cr0:#GP');
  const h = vcpu.host, hw = hardwareCr0(cr0);
  const unrestricted = (vmreadNumber(h, 'secondaryProcessorBasedVmExecutionControls') & UNRESTRICTED_GUEST) !== 0;
  const fixed0 = (readMsr(h.c, IA32_VMX_CR0_FIXED0) & ~(unrestricted ? CR0_PE | CR0_PG : 0)) >>> 0;
  const fixed1 = readMsr(h.c, IA32_VMX_CR0_FIXED1) >>> 0;
  if ((hw & fixed0) >>> 0 !== fixed0 || (hw & ~fixed1) !== 0) return injectGp0(vcpu, 'cr0:#GP');
  vmwriteField(h, 'guestCr0', hw);
  vmwriteField(h, 'cr0ReadShadow', cr0);
  return skip('cr0');
}

export const handleCrAccess: ExitHandler = (vcpu, exit) => {
  const q = Number(exit.qualification & 0xffffn);
  const cr = q & 15, access = (q >>> 4) & 3;
  if (access !== MOV_TO_CR || (cr !== 0 && cr !== 4)) {
    return stop('cr', { kind: 'stopped', detail: `control-register exit L1 did not ask for: qualification 0x${q.toString(16)}` });
  }
  // CR4: VMXE is the one bit L1 owns, and the exit means the source sets it.
  if (cr === 4) return injectGp0(vcpu, 'cr4:#GP');
  return movToCr0(vcpu, readGpr(vcpu, (q >>> 8) & 15));
};
