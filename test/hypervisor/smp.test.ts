/**
 * Multi-vCPU VMs under L1: INIT-SIPI-SIPI through the virtual x2APIC's ICR
 * (SDM Vol. 3A §9.4.4, §11.6.1, §11.12.9), L1's SIPI convention (64-bit
 * mode at vector × 4096, hypervisor/l1/mpState.ts), fixed and NMI IPIs
 * between vCPUs on one core or on two — where L1 kicks the target's core
 * with an IPI of its own that exits there as an external interrupt
 * (reason 1, "acknowledge interrupt on exit", SDM Vol. 3C §26.2, §28.1) —
 * a VM whose every vCPU waits for the others stopped with a report, and
 * the same trace twice.
 */
import { describe, expect, it } from 'vitest';
// First: it loads the machine, whose modules must come before cpu/exec/msr.ts, which L1's modules import.
import { readQword, runVms, type TestVm } from '../support/l1Guests.ts';
import { ApicReg, DeliveryMode, ICR_ASSERT } from '../../cpu/devices/apic/registers.ts';
import { localApicOf } from '../../cpu/devices/apic/registry.ts';
import { apicMsr, DATA_BASE, descriptorTables, enableX2apic, loadDescriptorTables, setGate } from '../../guests/l2/apicAsm.ts';
import smpIpi, { AP_ENTRY } from '../../guests/l2/smpIpi.ts';
import { done, failure } from '../../guests/l2/ucall.ts';
import { KICK_VECTOR } from '../../hypervisor/l1/hostApic.ts';
import { acceptInitSipi, vcpuStack } from '../../hypervisor/l1/mpState.ts';
import { MpState } from '../../hypervisor/l1/runState.ts';
import { GUEST_STACK } from '../../hypervisor/vm.ts';

const EXTERNAL_INTERRUPT = 1, HLT = 12;
const passed = { kind: 'passed', detail: 'ucall done' };
const ap = { name: 'smp', source: smpIpi.source, vcpus: 2, waitForSipi: true };

/** ICR = `lo` to x2APIC ID 1. */
const toVcpu1 = (lo: number): string => `mov ecx, ${apicMsr(ApicReg.ICR_LO)}\nmov eax, 0x${lo.toString(16)}\nmov edx, 1\nwrmsr`;
const INIT = ICR_ASSERT | (DeliveryMode.Init << 8), SIPI = ICR_ASSERT | (DeliveryMode.StartUp << 8) | (AP_ENTRY >> 12);
const NMI = ICR_ASSERT | (DeliveryMode.Nmi << 8);

/** vCPU 0 runs `bspSetup`, starts vCPU 1 at AP_ENTRY, where `apCode` runs, then runs `bspCode`. */
const startAp = (bspCode: string, apCode: string, bspSetup = ''): string => `
    ${loadDescriptorTables()}
    ${enableX2apic()}
    mov ebp, ${DATA_BASE}
    ${bspSetup}
    ${toVcpu1(INIT)}
    ${toVcpu1(SIPI)}
    ${bspCode}
    ${descriptorTables()}
    .balign 4096
  ap_entry:
    ${apCode}`;

/** Spins until the byte at DATA_BASE + `offset` is set. */
const waitFlag = (offset: number, label: string): string => `${label}:\npause\ncmp byte ptr [rbp + ${offset}], 0\nje ${label}`;

/** `vm` passes on one core (its vCPUs take turns) and on two. */
async function passesOnOneAndTwoCores(vm: TestVm): Promise<void> {
  for (const cpus of [1, 2]) {
    const { vms } = await runVms([vm], { cpus });
    expect(vms[0]!.outcome, `${cpus} core(s)`).toEqual(passed);
  }
}

describe('INIT and SIPI (kvm_apic_accept_events)', () => {
  it('a SIPI starts a vCPU waiting for one; one to a started vCPU is dropped (§11.4.4.1); INIT resets the APIC and waits again', async () => {
    const { l1 } = await runVms([{ name: 'x', source: 'cli\nhlt', vcpus: 2, waitForSipi: true }], { maxInstructions: 0 });
    const v = l1.vms[0]!.vcpus[1]!;
    expect(v.runState.mp).toBe(MpState.WaitForSipi);
    v.lapic.sipiVector = 0x20;
    acceptInitSipi(v);
    expect([v.runState.mp, v.runState.startVector, v.lapic.sipiVector]).toEqual([MpState.Runnable, 0x20, -1]);
    v.runState.startVector = -1;
    v.lapic.sipiVector = 0x30;
    acceptInitSipi(v);
    expect([v.runState.mp, v.runState.startVector]).toEqual([MpState.Runnable, -1]);
    v.lapic.tpr = 0x40;
    v.lapic.initPending = true;
    v.lapic.sipiVector = 0x31; // INIT and SIPI both pending: INIT first, then the SIPI starts it
    acceptInitSipi(v);
    expect([v.runState.mp, v.runState.startVector, v.lapic.tpr]).toEqual([MpState.Runnable, 0x31, 0]);
  });

  it('L1\'s SIPI convention: 64-bit mode at vector × 4096, RSP = GUEST_STACK - index × 16 KiB, RFLAGS = 2, GPRs 0', async () => {
    const source = startAp(`
    ${waitFlag(0x20, 'wait')}
    ${done()}`, `
    mov ebp, ${DATA_BASE}          ; BD imm32: 5 bytes
    mov [rbp], rsp                 ; 48 89 65 00: 4
    pushfq                         ; 9C: 1
    pop qword ptr [rbp + 8]        ; 8F 45 08: 3
    mov [rbp + 16], rbx            ; 48 89 5D 10: 4
    lea rax, [rip]                 ; 48 8D 05 disp32: 7, RAX = the next instruction
    mov [rbp + 24], rax
    mov byte ptr [rbp + 0x20], 1
    cli
    hlt`);
    const { vms } = await runVms([{ name: 'x', source, vcpus: 2, waitForSipi: true }]);
    const m = vms[0]!;
    expect(m.outcome).toEqual(passed);
    expect(vcpuStack(1)).toBe(GUEST_STACK - 0x4000);
    expect([readQword(m, DATA_BASE), readQword(m, DATA_BASE + 8), readQword(m, DATA_BASE + 16)]).toEqual([BigInt(GUEST_STACK - 0x4000), 2n, 0n]);
    expect(readQword(m, DATA_BASE + 24)).toBe(BigInt(AP_ENTRY + 5 + 4 + 1 + 3 + 4 + 7));
  });
});

describe('smp-ipi: INIT-SIPI-SIPI, then a fixed IPI from vCPU 0 to vCPU 1', () => {
  it('on two cores: vCPU 1 starts at AP_ENTRY; the IPI reaches it on the other core as L1\'s kick (external interrupt, vector FDH), which L1 ends with an EOI', async () => {
    const { vms, l1 } = await runVms([ap], { cpus: 2 });
    expect(vms[0]!.outcome).toEqual(passed);
    expect(vms[0]!.console).toBe('vCPU 1 took the IPI\n');
    const ap1 = l1.trace.filter((e) => e.vcpu === 'smp/1');
    expect(ap1.every((e) => e.core === 1)).toBe(true);
    expect(BigInt(`0x${ap1[0]!.guestRip}`) >= BigInt(AP_ENTRY)).toBe(true);
    const kicks = ap1.filter((e) => e.reason === EXTERNAL_INTERRUPT);
    expect(kicks.length).toBeGreaterThanOrEqual(1);
    expect(KICK_VECTOR).toBe(0xfd);
    expect(kicks.every((e) => e.handler === 'external-interrupt:kick' && e.decision === 'resume')).toBe(true);
    expect(localApicOf(l1.machine.cpus[1]!)!.isr.every((w) => w === 0)).toBe(true);
  });

  it('on one core: no kick, the vCPUs take turns, and the halted vCPU 1 takes the IPI', async () => {
    const { vms, l1 } = await runVms([ap], { cpus: 1 });
    expect(vms[0]!.outcome).toEqual(passed);
    expect(l1.trace.some((e) => e.reason === EXTERNAL_INTERRUPT)).toBe(false);
  });

  it('with both vCPUs started at the first instruction (the suite\'s way), vCPU 1 parks in CLI; HLT and INIT ends that', async () => {
    await passesOnOneAndTwoCores({ name: 'smp', source: smpIpi.source, vcpus: 2 });
  });
});

describe('NMI IPIs and halts no other vCPU can end', () => {
  /**
   * vCPU 0 starts vCPU 1, which halts with IF = 0, sends it an NMI, and
   * runs `afterNmi` once the NMI handler (vector 2) has set flag 2 and
   * before it runs `handlerRest` and IRETQ.
   */
  const nmiToHaltedAp = (afterNmi: string, handlerRest = ''): string => startAp(`
    ${waitFlag(1, 'wait_ap')}
    ${toVcpu1(NMI)}
    ${waitFlag(2, 'wait_nmi')}
    ${afterNmi}
  nmi:
    mov byte ptr [rbp + 2], 1
    ${handlerRest}
    iretq`, `
    ${loadDescriptorTables()}
    mov ebp, ${DATA_BASE}
    mov byte ptr [rbp + 1], 1
    cli
  idle:
    hlt                            ; the NMI handler returns after it
    jmp idle`, setGate(2, 'nmi'));

  it('an NMI IPI (delivery mode 4) wakes a vCPU halted with IF = 0 into its NMI handler (vector 2)', async () => {
    await passesOnOneAndTwoCores({ name: 'nmi', source: nmiToHaltedAp(done()), vcpus: 2, waitForSipi: true });
  });

  it('a second NMI does not wake a vCPU halted in its NMI handler: NMIs stay blocked until IRET (§6.7.1)', async () => {
    const source = nmiToHaltedAp(`
    ${toVcpu1(NMI)}
    mov esi, 20000
  linger:
    dec esi
    jnz linger
    cmp byte ptr [rbp + 3], 0
    jne woken
    ${done()}
    ${failure('woken', 'an NMI woke a HLT inside the NMI handler')}`, `
    hlt
    mov byte ptr [rbp + 3], 1`);
    await passesOnOneAndTwoCores({ name: 'nmi2', source, vcpus: 2, waitForSipi: true });
  });

  it('the VM stops at the HLT after which no vCPU can run: vCPU 1\'s CLI; HLT does not stop it, vCPU 0\'s then does', async () => {
    const source = startAp(`
    ${waitFlag(1, 'wait_ap')}
    mov esi, 100
  settle:
    dec esi
    jnz settle
    sti
    hlt`, `
    mov ebp, ${DATA_BASE}
    mov byte ptr [rbp + 1], 1
    cli
    hlt`);
    const { vms, l1 } = await runVms([{ name: 'dead', source, vcpus: 2, waitForSipi: true }], { cpus: 2 });
    const halts = l1.trace.filter((e) => e.reason === HLT).map((e) => [e.vcpu, e.decision]);
    expect(halts).toEqual([['dead/1', 'skip'], ['dead/0', 'stop']]);
    expect(vms[0]!.outcome.kind).toBe('stopped');
    expect((vms[0]!.outcome as { detail: string }).detail).toMatch(/with RFLAGS\.IF = 1: nothing could ever wake the VM$/);
  });
});

describe('determinism (DESIGN decision 3)', () => {
  it('two runs of the SMP guests on two cores, with kicks between them, give byte-identical traces', async () => {
    const scenario = [ap, { name: 'smp2', source: smpIpi.source, vcpus: 2 }];
    const first = await runVms(scenario, { cpus: 2 }), second = await runVms(scenario, { cpus: 2 });
    expect(first.vms.map((v) => v.outcome)).toEqual([passed, passed]);
    expect(first.l1.trace.some((e) => e.reason === EXTERNAL_INTERRUPT)).toBe(true);
    expect(second.text).toBe(first.text);
  });
});
