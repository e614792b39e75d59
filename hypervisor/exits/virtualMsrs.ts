/**
 * The MSRs L1 emulates for its guests when RDMSR/WRMSR exit (msr.ts),
 * each checked as the processor checks a WRMSR (SDM Vol. 4 Table 2-2,
 * the MSR's own section): a value it refuses raises #GP(0) in the guest.
 *
 *   IA32_APIC_BASE (1BH)        base FEE00000H, enabled in xAPIC mode, BSP on vCPU 0
 *                               (the power-up value, Vol. 3A §11.4.4); writes are
 *                               checked (reserved bits 7:0, 9 and from MAXPHYADDR
 *                               up; EXTD only with x2APIC and by the transitions of
 *                               §11.12.5 Figure 11-27) and stored: the virtual
 *                               APIC follows EN and EXTD (lapic/x2apicMsrs.ts);
 *   IA32_FEATURE_CONTROL (3AH)  locked with VMX off inside and outside SMX, as
 *                               firmware leaves it on a machine without VMX: the
 *                               guest's CPUID hides VMX (cpuid.ts); writes #GP;
 *   IA32_MTRRCAP (FEH)          write-combining only: no fixed or variable
 *                               ranges, since ept12, not the guest, decides memory
 *                               types; read-only;
 *   IA32_PAT (277H)             the guest PAT field, which VM entry loads and VM
 *                               exit saves ("load/save IA32_PAT", §27.3.2.1,
 *                               §28.3.1): the guest's own PAT is in force;
 *   IA32_MTRR_DEF_TYPE (2FFH)   stored: a type and E (FE must stay 0: no fixed ranges);
 *   IA32_MISC_ENABLE (1A0H)     fast strings on, BTS and PEBS unavailable; software
 *                               may change bits 0, 3 and 23, the ones the core
 *                               itself lets change (cpu/msr/featureMsrs.ts);
 *   IA32_EFER (C0000080H)       the guest EFER field (load/save IA32_EFER): SCE,
 *                               LME and NXE as the model has them, LMA ignores
 *                               writes, LME cannot change while CR0.PG = 1
 *                               (Vol. 3A §10.8.5).
 * The virtual APIC's registers and IA32_TSC_DEADLINE are its own
 * (lapic/x2apicMsrs.ts). Values travel as bigints:
 * this is the exit path, not the instruction path.
 */
import type { FeatureName } from '../../cpu/model/cpuidModel.ts';
import { vmreadField, vmreadNumber, vmwriteField } from '../l1/vmxOps.ts';
import type { Vcpu } from '../vcpu.ts';

const APIC_BSP = 1n << 8n, APIC_EXTD = 1n << 10n, APIC_EN = 1n << 11n;
const MISC_ENABLE_RESET = (1n << 0n) | (1n << 11n) | (1n << 12n);
const MISC_ENABLE_WRITABLE = (1n << 0n) | (1n << 3n) | (1n << 23n);
const EFER_SCE = 1n, EFER_LME = 1n << 8n, EFER_LMA = 1n << 10n, EFER_NXE = 1n << 11n;
const CR0_PG = 0x80000000;
/** Memory types valid in the PAT (Vol. 3A §13.12.2) and in the MTRRs (§13.11.1: no UC-). */
const PAT_TYPES = [0n, 1n, 4n, 5n, 6n, 7n], MTRR_TYPES = [0n, 1n, 4n, 5n, 6n];

/** A vCPU's values of the MSRs L1 keeps itself (the others live in the VMCS). */
export class VirtualMsrs {
  apicBase: bigint;
  miscEnable = MISC_ENABLE_RESET;
  mtrrDefType = 0n;

  constructor(bsp: boolean) {
    this.apicBase = 0xfee00000n | APIC_EN | (bsp ? APIC_BSP : 0n);
  }
}

export interface VirtualMsr {
  readonly index: number;
  readonly name: string;
  /** The CPUID feature that enumerates the MSR, if any: without it the MSR does not exist. */
  readonly feature?: FeatureName;
  read(vcpu: Vcpu): bigint;
  /** Absent for a read-only MSR; false when the value is refused (#GP). */
  write?(vcpu: Vcpu, value: bigint): boolean;
}

const everyByteIn = (value: bigint, types: readonly bigint[]): boolean =>
  [0n, 8n, 16n, 24n, 32n, 40n, 48n, 56n].every((s) => types.includes((value >> s) & 0xffn));

/**
 * IA32_APIC_BASE: #GP(0) for a reserved bit, EXTD without x2APIC support,
 * and the transitions Figure 11-27 forbids: to EXTD without EN (invalid),
 * from x2APIC to xAPIC mode, from disabled to x2APIC mode.
 */
function writeApicBase(vcpu: Vcpu, value: bigint): boolean {
  const model = vcpu.host.c.model, old = vcpu.virtualMsrs.apicBase;
  const reserved = 0x2ffn | ~((1n << BigInt(model.physAddrBits)) - 1n);
  const mode = (v: bigint): bigint => v & (APIC_EN | APIC_EXTD);
  if ((value & reserved) !== 0n || ((value & APIC_EXTD) !== 0n && !model.has('x2apic'))) return false;
  const from = mode(old), to = mode(value), x2apic = APIC_EN | APIC_EXTD;
  if (to === APIC_EXTD || (from === x2apic && to === APIC_EN) || (from === 0n && to === x2apic)) return false;
  vcpu.virtualMsrs.apicBase = value;
  return true;
}

function writeEfer(vcpu: Vcpu, value: bigint): boolean {
  const h = vcpu.host, model = h.c.model;
  const writable = (model.has('syscall') ? EFER_SCE : 0n) | (model.has('lm') ? EFER_LME : 0n) | (model.has('nx') ? EFER_NXE : 0n);
  const current = vmreadField(h, 'guestIa32Efer');
  if ((value & ~(writable | EFER_LMA)) !== 0n) return false;
  const next = (value & writable) | (current & EFER_LMA);
  if (((next ^ current) & EFER_LME) !== 0n && (vmreadNumber(h, 'guestCr0') & CR0_PG) !== 0) return false;
  vmwriteField(h, 'guestIa32Efer', next);
  return true;
}

const VIRTUAL_MSRS: readonly VirtualMsr[] = [
  { index: 0x1b, name: 'IA32_APIC_BASE', read: (vcpu) => vcpu.virtualMsrs.apicBase, write: writeApicBase },
  { index: 0x3a, name: 'IA32_FEATURE_CONTROL', read: () => 1n },
  { index: 0xfe, name: 'IA32_MTRRCAP', feature: 'mtrr', read: () => 1n << 10n },
  {
    index: 0x1a0, name: 'IA32_MISC_ENABLE',
    read: (vcpu) => vcpu.virtualMsrs.miscEnable,
    write(vcpu, value) {
      if (((value ^ vcpu.virtualMsrs.miscEnable) & ~MISC_ENABLE_WRITABLE) !== 0n) return false;
      vcpu.virtualMsrs.miscEnable = value;
      return true;
    },
  },
  {
    index: 0x277, name: 'IA32_PAT', feature: 'pat',
    read: (vcpu) => vmreadField(vcpu.host, 'guestIa32Pat'),
    write(vcpu, value) {
      if (!everyByteIn(value, PAT_TYPES)) return false;
      vmwriteField(vcpu.host, 'guestIa32Pat', value);
      return true;
    },
  },
  {
    // Type in bits 7:0, E in bit 11; FE (bit 10) and every other bit reserved here.
    index: 0x2ff, name: 'IA32_MTRR_DEF_TYPE', feature: 'mtrr',
    read: (vcpu) => vcpu.virtualMsrs.mtrrDefType,
    write(vcpu, value) {
      if ((value & ~0x8ffn) !== 0n || !MTRR_TYPES.includes(value & 0xffn)) return false;
      vcpu.virtualMsrs.mtrrDefType = value;
      return true;
    },
  },
  {
    index: 0xc0000080, name: 'IA32_EFER',
    read: (vcpu) => vmreadField(vcpu.host, 'guestIa32Efer'),
    write: writeEfer,
  },
];

/** The emulated MSR `index` as the guest's processor has it, if any. */
export function findVirtualMsr(vcpu: Vcpu, index: number): VirtualMsr | undefined {
  const m = VIRTUAL_MSRS.find((r) => r.index === index);
  return m && (!m.feature || vcpu.host.c.model.has(m.feature)) ? m : undefined;
}
