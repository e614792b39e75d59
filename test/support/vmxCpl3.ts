/**
 * A CPL-3 guest for the harness, for the SDM's priority cases where a
 * privilege fault comes before a VM exit (SDM Vol. 3C §26.1.1). The test
 * core has no IDT delivery, so a guest exception stops the run with
 * { kind: 'exception', vector, errorCode } while still in non-root
 * operation, and no VM exit is recorded.
 */
import { SCRATCH, type VmxHarness } from './vmxHarness.ts';

/** A 104-byte TSS (SDM Vol. 3A §8.7) whose I/O map base (offset 66H) lies past its limit: no I/O permission bitmap. */
export const CPL3_TSS = SCRATCH + 0x10000;

/** Guest access rights (VMX format, SDM Vol. 3C §25.4.1): DPL-3 64-bit code, DPL-3 data. */
const USER_CODE64 = 0xa0fb, USER_DATA = 0xc0f3;

/**
 * The guest of `h` starts at CPL 3 with RFLAGS.IOPL = `iopl`; with
 * CPL > IOPL every port is denied (no I/O permission bitmap in its TSS).
 * Call before launch().
 */
export function startAtCpl3(h: VmxHarness, iopl = 0): void {
  h.t.phys.writeSized(CPL3_TSS + 0x66, 2, 0x68);
  h.write('guestCsSelector', 0x2b);
  h.write('guestCsAccessRights', USER_CODE64);
  for (const s of ['Ss', 'Ds', 'Es', 'Fs', 'Gs'] as const) {
    h.write(`guest${s}Selector`, 0x23);
    h.write(`guest${s}AccessRights`, USER_DATA);
  }
  h.write('guestTrBase', CPL3_TSS);
  h.write('guestRflags', 0x2 | (iopl << 12));
}
