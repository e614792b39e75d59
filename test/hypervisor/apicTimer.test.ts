/**
 * Time and interrupts of one vCPU under L1: the virtual APIC timer wakes a
 * halted vCPU (HLT exit, reason 12; VMX-preemption timer, reason 52, SDM
 * Vol. 3C §26.5.1), interrupts are injected through the VM-entry
 * interruption-information field (§27.6) when the guest can take them and
 * wait for the interrupt window otherwise (reason 7, §26.2), CR8 is the
 * virtual TPR (§11.8.6), and a HLT nothing could end stops the VM. The
 * guests check their own timing against the APIC's arithmetic (§11.5.4);
 * the tests check the exits against the guests' code.
 */
import { describe, expect, it } from 'vitest';
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { localApicOf } from '../../cpu/devices/apic/registry.ts';
import apicTimerHlt from '../../guests/l2/apicTimerHlt.ts';
import { DATA_BASE, apicMsr, descriptorTables, enableX2apic, eoi, loadDescriptorTables, rdtsc64, readApic, setGate, wrmsr } from '../../guests/l2/apicAsm.ts';
import interruptWindow from '../../guests/l2/interruptWindow.ts';
import { done, failure } from '../../guests/l2/ucall.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import { readQword, runVms } from '../support/l1Guests.ts';

const HLT = 12, INTERRUPT_WINDOW = 7, PREEMPTION_TIMER = 52, EXTERNAL_INTERRUPT = 1;
const passed = { kind: 'passed', detail: 'ucall done' };

/** Guest code around `body`: descriptor tables loaded, x2APIC on, and a handler for `vector` that counts in R13 and sends EOI. */
const withTimerHandler = (vector: number, body: string, handlerExtra = ''): string => `
    ${loadDescriptorTables()}
    ${setGate(vector, 'handler')}
    ${enableX2apic()}
    xor r13d, r13d
    ${body}
  handler:
    inc r13
    ${handlerExtra}
    ${eoi()}
    iretq
    ${descriptorTables()}`;

describe('the APIC timer wakes a halted vCPU (kvm_vcpu_halt with the VMX-preemption timer)', () => {
  it('apic-timer-hlt: HLT exits, the preemption timer exits at the one-shot expiry past the HLT, the interrupt is taken on time (§11.5.4)', async () => {
    const { vms, l1 } = await runVms([{ name: 'g', source: apicTimerHlt.source }]);
    expect(vms[0]!.outcome).toEqual(passed);
    const shape = l1.trace.map((e) => [e.reason, e.insn, e.handler]);
    const hlt = shape.findIndex((s) => s[0] === HLT);
    expect(shape[hlt]).toEqual([HLT, 'hlt', 'hlt']);
    // The halted guest's RIP is past the HLT, where it resumes: the instruction after it.
    expect(shape[hlt + 1]).toEqual([PREEMPTION_TIMER, 'cmp r13, 1', 'preemption-timer']);
    expect(BigInt(`0x${l1.trace[hlt + 1]!.guestRip}`) - BigInt(`0x${l1.trace[hlt]!.guestRip}`)).toBe(1n);
  });

  it('periodic mode: five interrupts at start + k × count (± L1 latency), the period never drifting', async () => {
    const COUNT = 3000, N = 5, SLACK = 100;
    const source = withTimerHandler(0x42, `
    ${wrmsr(apicMsr(ApicReg.TIMER_DIVIDE), 0xb)}
    ${wrmsr(apicMsr(ApicReg.LVT_TIMER), 0x42 | (1 << 17))}
    ${rdtsc64()}
    mov [${DATA_BASE}], rax
    ${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), COUNT)}
    sti
  wait:
    hlt
    cmp r13, ${N}
    jb wait
    ${done()}`, `${rdtsc64()}\nmov [${DATA_BASE} + r13 * 8], rax`);
    const { vms } = await runVms([{ name: 'g', source }]);
    expect(vms[0]!.outcome).toEqual(passed);
    const start = readQword(vms[0]!, DATA_BASE);
    for (let k = 1; k <= N; k++) {
      const late = readQword(vms[0]!, DATA_BASE + 8 * k) - start - BigInt(k * COUNT);
      expect(late, `interrupt ${k}`).toBeGreaterThanOrEqual(0n);
      expect(late, `interrupt ${k}`).toBeLessThan(BigInt(SLACK));
    }
  });

  it('TSC-deadline mode (§11.5.4.1): the interrupt comes once the TSC reaches IA32_TSC_DEADLINE, which then reads 0; the initial count is ignored', async () => {
    const source = withTimerHandler(0x43, `
    ${wrmsr(apicMsr(ApicReg.LVT_TIMER), 0x43 | (2 << 17))}
    ${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), 10)}
    ${rdtsc64()}
    add rax, 5000
    mov rbx, rax
    mov rdx, rax
    shr rdx, 32
    mov ecx, 0x6e0
    wrmsr
    sti
    hlt
    cmp r13, 1
    jne wrong
    cmp r14, rbx
    jb wrong
    sub r14, rbx
    cmp r14, 100
    jae wrong
    mov ecx, 0x6e0
    rdmsr
    or eax, edx
    jnz wrong
    ${done()}
    ${failure('wrong', 'TSC-deadline interrupt early, late, repeated, or the MSR not cleared')}`, `${rdtsc64()}\nmov r14, rax`);
    expect((await runVms([{ name: 'g', source }])).vms[0]!.outcome).toEqual(passed);
  });

  it('without the VMX-preemption timer, L1\'s own APIC timer (TSC-deadline, vector ECH) wakes it: an external-interrupt exit instead of reason 52', async () => {
    const vmx = {
      ...DEFAULT_VMX_MODEL,
      controls: {
        ...DEFAULT_VMX_MODEL.controls,
        pin: DEFAULT_VMX_MODEL.controls.pin.filter((k) => k !== 'activatePreemptionTimer'),
        exit: DEFAULT_VMX_MODEL.controls.exit.filter((k) => k !== 'savePreemptionTimer'),
      },
    };
    const { vms, l1 } = await runVms([{ name: 'g', source: apicTimerHlt.source }], { vmx });
    expect(vms[0]!.outcome).toEqual(passed);
    const after = l1.trace[l1.trace.findIndex((e) => e.reason === HLT) + 1]!;
    expect([after.reason, after.handler]).toEqual([EXTERNAL_INTERRUPT, 'external-interrupt:timer']);
    expect(l1.trace.some((e) => e.reason === PREEMPTION_TIMER)).toBe(false);
  });
});

describe('injection and the interrupt window (KVM\'s inject_pending_event / enable_irq_window)', () => {
  it('interrupt-window: held off by IF = 0 until after STI\'s shadow; one exit 7, at the instruction after the one in the shadow', async () => {
    const { vms, l1 } = await runVms([{ name: 'g', source: interruptWindow.source }]);
    expect(vms[0]!.outcome).toEqual(passed);
    const windows = l1.trace.filter((e) => e.reason === INTERRUPT_WINDOW);
    expect(windows.map((e) => [e.insn, e.handler, e.decision])).toEqual([['cmp r13, 1', 'interrupt-window', 'resume']]);
  });

  it('a pending interrupt waits behind the TPR: MOV to CR8 sets TPR[7:4] of the virtual APIC, not L1\'s (§11.8.6), and MOV from CR8 reads it', async () => {
    const source = withTimerHandler(0x45, `
    mov eax, 5
    mov cr8, rax
    ${wrmsr(apicMsr(ApicReg.TIMER_DIVIDE), 0xb)}
    ${wrmsr(apicMsr(ApicReg.LVT_TIMER), 0x45)}
    ${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), 50)}
    sti
    mov esi, 1000
  spin:
    dec esi
    jnz spin
    test r13, r13
    jnz wrong                      ; class 4 is not above TPR class 5
    ${readApic(ApicReg.PPR)}
    cmp eax, 0x50
    jne wrong
    mov rbx, cr8
    cmp rbx, 5
    jne wrong
    xor eax, eax
    mov cr8, rax                   ; now the interrupt is above the PPR
    nop
    cmp r13, 1
    jne wrong
    mov rax, 16
    mov cr8, rax                   ; bit 4: reserved
    ${failure('wrong', 'the TPR did not hold the interrupt back, or CR8 misread')}
  gp_handler:
    ${done()}`);
    const withGp = source.replace('xor r13d, r13d', `xor r13d, r13d\n${setGate(13, 'gp_handler')}`);
    const { vms, l1 } = await runVms([{ name: 'g', source: withGp }]);
    expect(vms[0]!.outcome).toEqual(passed);
    expect(l1.trace.filter((e) => e.reason === 28).map((e) => e.handler)).toEqual(['cr8:write', 'cr8:read', 'cr8:write', 'cr8:#GP']);
    expect(localApicOf(l1.machine.cpus[0]!)!.tpr).toBe(0);
  });

  it('a refused x2APIC access raises #GP(0) in the guest at the RDMSR/WRMSR (§11.12.1.3): RDMSR of EOI, WRMSR of the ID', async () => {
    const source = `
    ${loadDescriptorTables()}
    ${setGate(13, 'gp')}
    ${enableX2apic()}
    xor r13d, r13d
    lea r12, [rip + after_eoi]
    mov ecx, ${apicMsr(ApicReg.EOI)}
    rdmsr
  after_eoi:
    lea r12, [rip + after_id]
    ${wrmsr(apicMsr(ApicReg.ID), 7)}
  after_id:
    cmp r13, 2
    jne wrong
    ${done()}
    ${failure('wrong', 'a refused x2APIC access did not raise #GP')}
  gp:
    add rsp, 8                     ; the error code
    inc r13
    mov [rsp], r12                 ; resume past the faulting instruction
    iretq
    ${descriptorTables()}`;
    const { vms, l1 } = await runVms([{ name: 'g', source }]);
    expect(vms[0]!.outcome).toEqual(passed);
    expect(l1.trace.filter((e) => e.handler.endsWith('#GP')).map((e) => [e.insn, e.handler, e.decision])).toEqual([
      ['rdmsr', 'rdmsr:apic:#GP', 'resume'], ['wrmsr', 'wrmsr:apic:#GP', 'resume'],
    ]);
  });
});

describe('a HLT nothing could end stops the VM with a report', () => {
  const stopsAt = async (source: string, detail: RegExp): Promise<void> => {
    const { vms, l1 } = await runVms([{ name: 'g', source }]);
    expect(vms[0]!.outcome.kind).toBe('stopped');
    expect((vms[0]!.outcome as { detail: string }).detail).toMatch(detail);
    expect(l1.trace.map((e) => [e.reason, e.decision]).at(-1)).toEqual([HLT, 'stop']);
  };

  it('HLT with RFLAGS.IF = 0 in a one-vCPU VM: no NMI or INIT can come', async () => {
    await stopsAt('cli\nhlt', /^HLT at rip 0x10001 with RFLAGS\.IF = 0: nothing could ever wake the VM$/);
  });

  it('HLT with IF = 1 and no APIC timer armed', async () => {
    await stopsAt('sti\nhlt', /^HLT at rip 0x10001 with RFLAGS\.IF = 1:/);
  });

  it('HLT with IF = 1 and a timer whose LVT entry is masked (its expiry is lost, §11.5.1)', async () => {
    await stopsAt(`${enableX2apic()}\n${wrmsr(apicMsr(ApicReg.LVT_TIMER), 0x40 | (1 << 16))}\n${wrmsr(apicMsr(ApicReg.TIMER_INITIAL), 100)}\nsti\nhlt`, /IF = 1/);
  });
});
