/**
 * L1's control-register handling (exits/cr.ts): the CR0/CR4 guest/host
 * masks and read shadows (SDM Vol. 3C §25.6.6), what reads and writes see
 * and do (§26.3), the exits of MOV to CR0/CR4 on owned bits (reason 28,
 * §26.1.3, qualification §28.2.1 Table 28-3) and L1's emulation of them.
 * Expected values come from the SDM and the cr guest's code.
 */
import { describe, expect, it } from 'vitest';
import crGuest from '../../guests/l2/cr.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { vmreadField, vmreadNumber } from '../../hypervisor/l1/vmxOps.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';
import { ExitReason } from '../../vmx/exitReason.ts';
import { controlMask } from '../../vmx/model/controls.ts';
import { asm } from '../support/asm.ts';

const CR0_NE = 1 << 5, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR4_VMXE = 1 << 13;

async function runCr() {
  const l1 = new L1();
  const vm = l1.createVm('cr');
  const vcpu = l1.addLongModeVcpu(vm, await asm(crGuest.source, 64, GUEST_CODE));
  l1.run(1_000_000);
  return { l1, vm, vcpu };
}

describe('CR0/CR4 ownership (SDM Vol. 3C §25.6.6)', () => {
  it('L1 owns CR0.NE/CD/NW and CR4.VMXE; CR3- and CR8-access exiting stay off', async () => {
    const l1 = new L1();
    const vcpu = l1.addLongModeVcpu(l1.createVm('setup'), await asm('hlt', 64, GUEST_CODE));
    const h = vcpu.host;
    expect(vmreadNumber(h, 'cr0GuestHostMask')).toBe((CR0_NE | CR0_CD | CR0_NW) >>> 0);
    expect(vmreadNumber(h, 'cr0ReadShadow')).toBe(0x80000031);
    expect(vmreadNumber(h, 'cr4GuestHostMask')).toBe(CR4_VMXE);
    const proc = vmreadNumber(h, 'primaryProcessorBasedVmExecutionControls');
    expect(proc & controlMask('proc', ['cr3LoadExiting', 'cr3StoreExiting'])).toBe(0);
  });
});

describe('MOV to CR0/CR4 exits and their emulation (reason 28, §26.1.3, §28.2.1 Table 28-3)', () => {
  it('the cr guest passes: owned-bit writes exit and are emulated, refused values inject #GP(0)', async () => {
    const { l1, vm } = await runCr();
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'ucall done' });
    expect(vm.console).toBe('CR0/CR4 shadows and owned bits behave\n');
    // Qualification: CR number in 3:0, access type 0 (MOV to CR) in 5:4, source GPR in 11:8.
    expect(l1.trace.filter((e) => e.reason === ExitReason.CrAccess).map((e) => [e.qualification, e.handler, e.decision])).toEqual([
      ['0000000000000000', 'cr0', 'skip'], // clear NE (RAX)
      ['0000000000000000', 'cr0', 'skip'], // set CD
      ['0000000000000000', 'cr0', 'skip'], // set NW
      ['0000000000000000', 'cr0:#GP', 'resume'], // NW without CD
      ['0000000000000000', 'cr0:#GP', 'resume'], // PG cleared
      ['0000000000000300', 'cr0:#GP', 'resume'], // bit 32 set (RBX)
      ['0000000000000000', 'cr0', 'skip'], // NE and TS set
      ['0000000000000004', 'cr4:#GP', 'resume'], // CR4.VMXE
    ]);
  });

  it('the hardware CR0 keeps NE set and CD/NW clear while the shadow holds the guest\'s value', async () => {
    const { vcpu } = await runCr();
    const h = vcpu.host;
    // Guest's last CR0: PG|CD|NW|NE|ET|TS|PE, then CLTS (TS is the guest's, cleared in the real CR0 only).
    expect(vmreadNumber(h, 'cr0ReadShadow')).toBe(0xe0000039);
    expect(vmreadNumber(h, 'guestCr0')).toBe(0x80000031);
    expect(Number(vmreadField(h, 'guestCr4')) & CR4_VMXE).toBe(CR4_VMXE);
  });
});
