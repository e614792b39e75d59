/**
 * Processor identification and feature-control MSRs (SDM Vol. 4, Table
 * 2-2): IA32_PLATFORM_ID (17H), IA32_FEATURE_CONTROL (3AH), IA32_BIOS_SIGN_ID
 * (8BH) and IA32_MISC_ENABLE (1A0H).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import type { MsrDef } from './msrDef.ts';
import { loadMsr, storeMsr } from './platformState.ts';

const FEATURE_CONTROL = 0x3a;
const LOCK = 1 << 0;
const VMX_OUTSIDE_SMX = 1 << 2;

/**
 * IA32_FEATURE_CONTROL: the lock bit, and "enable VMX outside SMX" only
 * when the model has VMX (there is no SMX, SGX or LMCE). Once locked, any
 * write raises #GP(0) until reset. Reset value 0 (unlocked), as QEMU's
 * firmware leaves it.
 */
const featureControl: MsrDef = {
  index: FEATURE_CONTROL,
  name: 'IA32_FEATURE_CONTROL',
  read: (c) => loadMsr(c, FEATURE_CONTROL, 0, 0),
  write(c, lo, hi) {
    const cur = loadMsr(c, FEATURE_CONTROL, 0, 0);
    const writable = LOCK | (c.model.has('vmx') ? VMX_OUTSIDE_SMX : 0);
    if (cur & LOCK || hi !== 0 || (lo & ~writable) !== 0) fault(Vector.GP, 0);
    storeMsr(c, FEATURE_CONTROL, lo, 0);
  },
};

const MISC_ENABLE = 0x1a0;
/** Fast strings (bit 0) enabled; BTS (11) and PEBS (12) unavailable: there is no performance monitoring. */
const MISC_ENABLE_RESET = (1 << 0) | (1 << 11) | (1 << 12);
/**
 * Bits software may change: fast strings (0), automatic thermal control
 * (3), xTPR message disable (23); they have no effect here. Every other
 * bit is fixed (a write must leave it as it reads, else #GP(0)); in
 * particular limit-CPUID-maxval (22) and XD-disable (34) stay 0, since
 * CPUID and NX do not follow them.
 */
const MISC_ENABLE_WRITABLE = (1 << 0) | (1 << 3) | (1 << 23);

const miscEnable: MsrDef = {
  index: MISC_ENABLE,
  name: 'IA32_MISC_ENABLE',
  read: (c) => loadMsr(c, MISC_ENABLE, MISC_ENABLE_RESET, 0),
  write(c, lo, hi) {
    const cur = loadMsr(c, MISC_ENABLE, MISC_ENABLE_RESET, 0);
    if (hi !== c.opHi || ((lo ^ cur) & ~MISC_ENABLE_WRITABLE) !== 0) fault(Vector.GP, 0);
    storeMsr(c, MISC_ENABLE, lo, hi);
  },
};

/** IA32_PLATFORM_ID: read-only; platform ID (bits 52:50) 0. */
const platformId: MsrDef = {
  index: 0x17,
  name: 'IA32_PLATFORM_ID',
  read(c: Cpu) {
    c.opHi = 0;
    return 0;
  },
};

/**
 * The microcode update revision IA32_BIOS_SIGN_ID reports in bits 63:32:
 * above what Linux's errata tables ask of this model, so no workaround
 * (such as disabling the TSC-deadline timer) is triggered.
 */
export const MICROCODE_REVISION = 0x2b000000;

/**
 * IA32_BIOS_SIGN_ID: software writes 0 and executes CPUID(1) to have the
 * signature loaded (SDM Vol. 3A §10.11.7.1); with no updates to load, the
 * revision is constant and writes are accepted and ignored.
 */
const biosSignId: MsrDef = {
  index: 0x8b,
  name: 'IA32_BIOS_SIGN_ID',
  read(c: Cpu) {
    c.opHi = MICROCODE_REVISION;
    return 0;
  },
  write() {},
};

export const FEATURE_MSRS: MsrDef[] = [platformId, featureControl, biosSignId, miscEnable];
