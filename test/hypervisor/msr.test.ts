/**
 * L1's MSR handling (exits/msrPassthrough.ts, msr.ts, virtualMsrs.ts):
 * the MSR bitmaps (SDM Vol. 3C §25.6.9 layout), RDMSR/WRMSR exits
 * (reasons 31/32, §26.1.3), the emulated values and their #GP(0), and the
 * per-vCPU MSR list switched by VM entry and exit (§27.4, §28.4). Expected
 * values come from the SDM layouts and from the guests' own code.
 */
import { describe, expect, it } from 'vitest';
import msrGuest from '../../guests/l2/msr.ts';
import { attempt, catchSetup, catchTables } from '../../guests/l2/faults.ts';
import type { L1 } from '../../hypervisor/l1/l1.ts';
import { vmreadField, vmreadNumber } from '../../hypervisor/l1/vmxOps.ts';
import type { Vcpu } from '../../hypervisor/vcpu.ts';
import { ExitReason } from '../../vmx/exitReason.ts';
import { exitZeroElseBad, runVms } from '../support/l1Guests.ts';

const RDMSR = ExitReason.Rdmsr, WRMSR = ExitReason.Wrmsr;

/** Runs `source` as the one vCPU of a VM. */
async function runGuest(source: string): Promise<{ l1: L1; vcpu: Vcpu }> {
  const { l1, vms } = await runVms([{ name: 'vm0', source }]);
  return { l1, vcpu: vms[0]!.vcpus[0]! };
}

/** The MSR exits of the trace: [reason, handler, decision]. */
const msrExits = (l1: L1) => l1.trace.filter((e) => e.reason === RDMSR || e.reason === WRMSR).map((e) => [e.reason, e.handler, e.decision]);

describe('MSR bitmaps (SDM Vol. 3C §25.6.9)', () => {
  /** Bit of MSR `index` in the bitmap page: reads low at 0, high at 1024, writes 2048 on (§25.6.9). */
  function bitmapBit(l1: L1, vcpu: Vcpu, index: number, write: boolean): number {
    const page = Number(vmreadField(vcpu.host, 'msrBitmapsAddress'));
    const base = (index >= 0xc0000000 ? 1024 : 0) + (write ? 2048 : 0);
    const byte = l1.machine.phys.readSized(page + base + ((index & 0x1fff) >> 3), 1);
    return (byte >> (index & 7)) & 1;
  }

  it('lets FS/GS base, SYSENTER, KERNEL_GS_BASE, the SYSCALL MSRs and TSC_AUX through, TSC reads only, and exits on the rest', async () => {
    const { l1, vcpu: v } = await runGuest('hlt');
    const through = [0xc0000100, 0xc0000101, 0x174, 0x175, 0x176, 0xc0000102, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000103];
    for (const index of through) expect([bitmapBit(l1, v, index, false), bitmapBit(l1, v, index, true)], index.toString(16)).toEqual([0, 0]);
    expect([bitmapBit(l1, v, 0x10, false), bitmapBit(l1, v, 0x10, true)]).toEqual([0, 1]);
    for (const index of [0x1b, 0x3a, 0xfe, 0x1a0, 0x277, 0x2ff, 0x480, 0x1fff, 0xc0000080, 0xc0001fff]) {
      expect([bitmapBit(l1, v, index, false), bitmapBit(l1, v, index, true)], index.toString(16)).toEqual([1, 1]);
    }
  });

  it('points the VM-exit MSR-store and VM-entry MSR-load areas at one list of the switched MSRs, values 0 (§25.7.2, §25.8.2)', async () => {
    const { l1, vcpu } = await runGuest('hlt');
    const h = vcpu.host;
    const area = Number(vmreadField(h, 'vmExitMsrStoreAddress'));
    expect(Number(vmreadField(h, 'vmEntryMsrLoadAddress'))).toBe(area);
    expect(vmreadNumber(h, 'vmExitMsrStoreCount')).toBe(6);
    expect(vmreadNumber(h, 'vmEntryMsrLoadCount')).toBe(6);
    const entries = Array.from({ length: 6 }, (_, k) => [0, 4, 8, 12].map((o) => l1.machine.phys.readSized(area + 16 * k + o, 4) >>> 0));
    expect(entries).toEqual([0xc0000102, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000103].map((i) => [i, 0, 0, 0]));
  });
});

describe('RDMSR/WRMSR exits (reasons 31, 32; SDM Vol. 3C §26.1.3)', () => {
  it('the msr guest passes: pass-through MSRs take no exit, emulated ones exit in the guest\'s order, refused ones inject #GP(0)', async () => {
    const { l1, vcpu } = await runGuest(msrGuest.source);
    expect(vcpu.vm.outcome).toEqual({ kind: 'passed', detail: 'ucall done' });
    expect(vcpu.vm.console).toBe('pass-through, emulated and unknown MSRs behave\n');
    const r = (name: string) => [RDMSR, `rdmsr:${name}`, 'skip'];
    const w = (name: string) => [WRMSR, `wrmsr:${name}`, 'skip'];
    const gp = (reason: number, name: string) => [reason, `${reason === RDMSR ? 'rdmsr' : 'wrmsr'}:${name}#GP`, 'resume'];
    expect(msrExits(l1)).toEqual([
      r('IA32_APIC_BASE'), r('IA32_FEATURE_CONTROL'), r('IA32_MISC_ENABLE'), r('IA32_MTRRCAP'), r('IA32_MTRR_DEF_TYPE'),
      r('IA32_PAT'), r('IA32_EFER'),
      w('IA32_PAT'), r('IA32_PAT'), gp(WRMSR, 'IA32_PAT:'),
      w('IA32_EFER'), r('IA32_EFER'), gp(WRMSR, 'IA32_EFER:'), gp(WRMSR, 'IA32_EFER:'),
      gp(WRMSR, 'IA32_FEATURE_CONTROL:'), gp(WRMSR, 'IA32_MTRRCAP:'),
      w('IA32_MTRR_DEF_TYPE'), r('IA32_MTRR_DEF_TYPE'), gp(WRMSR, 'IA32_MTRR_DEF_TYPE:'), gp(WRMSR, 'IA32_MTRR_DEF_TYPE:'),
      w('IA32_MISC_ENABLE'), r('IA32_MISC_ENABLE'), gp(WRMSR, 'IA32_MISC_ENABLE:'),
      gp(WRMSR, 'IA32_APIC_BASE:'), w('IA32_APIC_BASE'), r('IA32_APIC_BASE'), gp(WRMSR, 'IA32_APIC_BASE:'),
      gp(RDMSR, ''), gp(WRMSR, ''), gp(WRMSR, ''),
    ]);
  });

  it('keeps the guest PAT and EFER in the guest-state fields, which VM exits save (§28.3.1)', async () => {
    const { vcpu } = await runGuest(msrGuest.source);
    const h = vcpu.host;
    expect(vmreadField(h, 'guestIa32Pat')).toBe(0x0000000600000006n);
    expect(vmreadField(h, 'guestIa32Efer')).toBe(0xd01n); // SCE | LME | LMA | NXE
  });

  it('an unknown MSR gets #GP(0) as a fault: vector 13, error code 0, pushed RIP = the RDMSR (§25.8.3, §27.6.1)', async () => {
    const { l1, vcpu } = await runGuest(`
    ${catchSetup([13])}
    mov ecx, 0x480
    ${attempt('after', 'rdmsr')}
    lea rax, [rip + after]
    sub rax, 2                     ; RDMSR is 0F 32
    cmp r11, 13
    jne bad
    cmp r12, 0
    jne bad
    cmp r13, rax
    jne bad
    ${exitZeroElseBad}
    ${catchTables([13])}`);
    expect(msrExits(l1)).toEqual([[RDMSR, 'rdmsr:#GP', 'resume']]);
    expect(vcpu.vm.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
  });
});

describe('the MSR list switches MSRs per vCPU (§27.4, §28.4)', () => {
  /** Writes `value` to LSTAR and KERNEL_GS_BASE, spins so the core's other vCPU runs meanwhile, and reads them back. */
  const keeper = (value: number): string => `
    mov ecx, 0xc0000082
    mov eax, ${value}
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000102
    wrmsr
    mov r8d, 200000
  spin:
    dec r8d
    jnz spin
    mov ecx, 0xc0000082
    rdmsr
    cmp eax, ${value}
    jne bad
    mov ecx, 0xc0000102
    rdmsr
    cmp eax, ${value}
    jne bad
    ${exitZeroElseBad}`;

  it('two VMs on one core, each with its own LSTAR and KERNEL_GS_BASE, both keep their values', async () => {
    const { l1, vms: [a, b] } = await runVms([{ name: 'a', source: keeper(0x1000) }, { name: 'b', source: keeper(0x2000) }], { maxInstructions: 5_000_000 });
    expect(a.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
    expect(b.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
    // Both ran on core 0 and their turns interleaved: b's first exit comes before a's last.
    const vcpusInOrder = l1.trace.map((e) => e.vcpu);
    expect(vcpusInOrder.indexOf('b/0')).toBeLessThan(vcpusInOrder.lastIndexOf('a/0'));
  });
});
