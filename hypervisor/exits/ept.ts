/**
 * EPT violations (exit reason 48) and EPT misconfigurations (49). ept12
 * maps all of a VM's RAM up front, readable, writable and executable, so a
 * violation is an access outside it (SDM Vol. 3C §29.3.3.2): inside one of
 * the VM's device regions it is MMIO, emulated (mmioEmulation.ts); an
 * instruction fetch from a device, or any access where there is nothing,
 * stops the VM with a report naming the guest-physical address and the
 * access of the exit qualification (§28.2.1 Table 28-7: bit 0 data read,
 * bit 1 data write, bit 2 instruction fetch; bit 7 set and bit 8 clear for
 * an access of the guest's page walk). A misconfiguration (§29.3.3.1) can
 * only come from a bad ept12 entry, a bug in L1: the VM stops with a report.
 */
import { vmreadField } from '../l1/vmxOps.ts';
import { stop, type ExitHandler } from './decision.ts';
import { emulateMmio } from './mmioEmulation.ts';

const READ = 1, WRITE = 2, FETCH = 4, LINEAR_VALID = 1 << 7, TO_TRANSLATION = 1 << 8;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The access the qualification names, e.g. "data write". */
function accessName(q: number): string {
  const kind = (q & FETCH) !== 0 ? 'instruction fetch' : (q & WRITE) !== 0 ? 'data write' : (q & READ) !== 0 ? 'data read' : 'access';
  return (q & (LINEAR_VALID | TO_TRANSLATION)) === LINEAR_VALID ? `${kind} of a guest paging-structure entry` : kind;
}

export const handleEptViolation: ExitHandler = (vcpu, exit) => {
  const gpa = Number(vmreadField(vcpu.host, 'guestPhysicalAddress'));
  const q = Number(exit.qualification & 0xffffn);
  const vm = vcpu.vm, region = vm.mmioAt(gpa);
  if (region && (q & FETCH) === 0) return emulateMmio(vcpu, exit, region, gpa, q);
  const where = region ? `from MMIO ${region.device.name}`
    : gpa < vm.ramBytes ? 'inside guest RAM, which ept12 maps (an L1 bug)'
    : `beyond the VM's ${vm.ramBytes >> 20} MiB of RAM`;
  return stop('ept-violation', {
    kind: 'stopped',
    detail: `EPT violation: ${accessName(q)} at guest-physical ${hex(gpa)} ${where}, at rip ${hex(exit.guestRip)}`,
  });
};

export const handleEptMisconfiguration: ExitHandler = (vcpu, exit) =>
  stop('ept-misconfiguration', {
    kind: 'stopped',
    detail: `EPT misconfiguration at guest-physical ${hex(vmreadField(vcpu.host, 'guestPhysicalAddress'))} ` +
      `(an L1 bug in ept12), at rip ${hex(exit.guestRip)}`,
  });
