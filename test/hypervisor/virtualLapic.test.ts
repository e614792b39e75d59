/**
 * The virtual local APIC L1 gives each vCPU (hypervisor/lapic/): its
 * registers as the guest's x2APIC MSRs (SDM Vol. 3A §11.12, Table 11-6),
 * priorities, acknowledge and EOI (§11.8), the timer in TSC time
 * (§11.5.4), INIT (§11.4.7.3) and the ICR's destinations (§11.6.1,
 * §11.6.2, §11.12.9, §11.12.10). Expected values are the SDM's; register
 * MSR numbers are 800H + the xAPIC offset / 16 (Table 11-6).
 */
import { describe, expect, it } from 'vitest';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { LapicTimer } from '../../hypervisor/lapic/lapicTimer.ts';
import { sendIpi } from '../../hypervisor/lapic/ipi.ts';
import { VirtualLapic } from '../../hypervisor/lapic/virtualLapic.ts';
import { readApicMsr, writeApicMsr } from '../../hypervisor/lapic/x2apicMsrs.ts';
import type { Vcpu } from '../../hypervisor/vcpu.ts';

const MSR = {
  ID: 0x802, VERSION: 0x803, TPR: 0x808, PPR: 0x80a, EOI: 0x80b, LDR: 0x80d, SVR: 0x80f, ISR0: 0x810, TMR0: 0x818,
  IRR0: 0x820, ESR: 0x828, ICR: 0x830, LVT_TIMER: 0x832, LVT_LINT0: 0x835, LVT_ERROR: 0x837, INIT_COUNT: 0x838,
  CUR_COUNT: 0x839, DIV_CONF: 0x83e, SELF_IPI: 0x83f, TSC_DEADLINE: 0x6e0,
};
const MASKED = 1 << 16, PERIODIC = 1 << 17, TSC_DEADLINE = 2 << 17;

/** A VM of `n` vCPUs on one core, not run, with every APIC in x2APIC mode (IA32_APIC_BASE EN | EXTD) and software-enabled. */
function vcpus(n: number): Vcpu[] {
  const l1 = new L1();
  const vm = l1.createVm('apic');
  const code = Uint8Array.of(0xf4);
  for (let k = 0; k < n; k++) l1.addLongModeVcpu(vm, code);
  for (const v of vm.vcpus) {
    v.virtualMsrs.apicBase |= 0xc00n;
    v.lapic.setSvr(0x1ff);
  }
  return vm.vcpus;
}

const rd = (v: Vcpu, msr: number, now = 0): number | null => readApicMsr(v, msr, now)?.lo ?? null;
const wr = (v: Vcpu, msr: number, lo: number, hi = 0, now = 0): boolean => writeApicMsr(v, msr, lo, hi, now);

describe('x2APIC registers through RDMSR/WRMSR (§11.12.1, Table 11-6)', () => {
  it('power-up values (§11.4.7.1): ID = vCPU index, version 14H with max LVT entry 6, TPR/PPR 0, SVR FFH, LVT entries masked', () => {
    const v = vcpus(2)[1]!;
    v.lapic.reset();
    expect([rd(v, MSR.ID), rd(v, MSR.VERSION), rd(v, MSR.TPR), rd(v, MSR.PPR), rd(v, MSR.SVR)]).toEqual([1, 0x14 + 6 * 65536, 0, 0, 0xff]);
    expect([rd(v, MSR.LVT_TIMER), rd(v, MSR.LVT_LINT0), rd(v, MSR.LVT_ERROR)]).toEqual([MASKED, MASKED, MASKED]);
  });

  it('logical x2APIC ID (§11.12.10.2): cluster ID[19:4] in bits 31:16, bit ID[3:0] of 15:0', () => {
    expect(rd(vcpus(3)[2]!, MSR.LDR)).toBe(1 << 2);
    expect(new VirtualLapic(0x23).ldr).toBe((2 << 16) | (1 << 3));
    expect(new VirtualLapic(0x1f).ldr).toBe((1 << 16) | (1 << 15));
  });

  it('#GP(0) (§11.12.1.2-3): reading EOI or SELF IPI, writing a read-only register, reserved bits, non-zero EOI/ESR, bits 63:32, no register', () => {
    const v = vcpus(1)[0]!;
    expect([rd(v, MSR.EOI), rd(v, MSR.SELF_IPI), rd(v, 0x804), rd(v, 0x8ff)]).toEqual([null, null, null, null]);
    for (const ro of [MSR.ID, MSR.VERSION, MSR.PPR, MSR.LDR, MSR.ISR0, MSR.TMR0, MSR.IRR0 + 7, MSR.CUR_COUNT]) expect(wr(v, ro, 0), ro.toString(16)).toBe(false);
    expect(wr(v, MSR.TPR, 0x100)).toBe(false);
    expect(wr(v, MSR.EOI, 1)).toBe(false);
    expect(wr(v, MSR.ESR, 1)).toBe(false);
    expect(wr(v, MSR.TPR, 0x10, 1)).toBe(false);
    expect(wr(v, MSR.LVT_TIMER, 1 << 19)).toBe(false);
    expect(wr(v, MSR.DIV_CONF, 0x4)).toBe(false);
    expect(wr(v, MSR.ICR, 1 << 12)).toBe(false); // delivery status is not writable: reserved in x2APIC mode
    expect(wr(v, MSR.SELF_IPI, 0x100)).toBe(false);
  });

  it('without IA32_APIC_BASE.EXTD the x2APIC registers raise #GP (§11.12.2); IA32_TSC_DEADLINE does not depend on the mode', () => {
    const v = vcpus(1)[0]!;
    v.virtualMsrs.apicBase &= ~0x400n;
    expect(rd(v, MSR.ID)).toBeNull();
    expect(wr(v, MSR.TPR, 0x20)).toBe(false);
    expect(rd(v, MSR.TSC_DEADLINE)).toBe(0);
    expect(wr(v, MSR.TSC_DEADLINE, 5)).toBe(true);
  });

  it('the ICR is one 64-bit register: destination in bits 63:32 (§11.12.9)', () => {
    const v = vcpus(2)[0]!;
    expect(wr(v, MSR.ICR, 0x4041, 1)).toBe(true);
    expect(readApicMsr(v, MSR.ICR, 0)).toEqual({ lo: 0x4041, hi: 1 });
  });
});

describe('priorities, acknowledge and EOI (§11.8.3.1, §11.8.4, §11.8.5)', () => {
  it('PPR is the TPR, or the highest in-service class when that is higher; a vector is presented only above the PPR class', () => {
    const a = vcpus(1)[0]!.lapic;
    a.tpr = 0x50;
    a.acceptFixed(0x45);
    expect(a.deliverable()).toBe(-1);
    a.acceptFixed(0x61);
    expect(a.deliverable()).toBe(0x61);
    expect(a.acknowledge()).toBe(0x61);
    expect(a.ppr()).toBe(0x60);
    a.acceptFixed(0x65);
    expect(a.deliverable()).toBe(-1); // same class as the one in service
    a.acceptFixed(0x71);
    expect(a.deliverable()).toBe(0x71);
    expect(a.acknowledge()).toBe(0x71);
    a.eoi(); // ends 71H, the highest in service
    expect(a.ppr()).toBe(0x60);
    a.eoi();
    expect(a.ppr()).toBe(0x50);
    expect(a.deliverable()).toBe(0x65);
  });

  it('IRR, ISR and TMR read as eight 32-bit registers, vector n at register n/32 bit n%32', () => {
    const v = vcpus(1)[0]!;
    v.lapic.acceptFixed(0x41);
    v.lapic.acceptFixed(0xe3);
    expect([rd(v, MSR.IRR0 + 2), rd(v, MSR.IRR0 + 7)]).toEqual([1 << 1, 1 << 3]);
    v.lapic.acknowledge();
    expect([rd(v, MSR.ISR0 + 7), rd(v, MSR.IRR0 + 7), rd(v, MSR.TMR0 + 7)]).toEqual([1 << 3, 0, 0]);
  });

  it('a software-disabled APIC drops fixed interrupts and keeps LVT entries masked (§11.4.7.2)', () => {
    const v = vcpus(1)[0]!;
    expect(wr(v, MSR.LVT_TIMER, 0x40)).toBe(true);
    expect(rd(v, MSR.LVT_TIMER)).toBe(0x40);
    expect(wr(v, MSR.SVR, 0xff)).toBe(true);
    expect(rd(v, MSR.LVT_TIMER)).toBe(0x40 | MASKED);
    expect(wr(v, MSR.LVT_TIMER, 0x40)).toBe(true);
    expect(rd(v, MSR.LVT_TIMER)).toBe(0x40 | MASKED);
    v.lapic.acceptFixed(0x80);
    expect(v.lapic.deliverable()).toBe(-1);
  });

  it('illegal vectors (0-15) log send/receive errors, which the ESR shows after a write (§11.5.3: bits 5 and 6)', () => {
    const v = vcpus(1)[0]!;
    expect(wr(v, MSR.SELF_IPI, 5)).toBe(true);
    expect(rd(v, MSR.ESR)).toBe(0);
    expect(wr(v, MSR.ESR, 0)).toBe(true);
    expect(rd(v, MSR.ESR)).toBe(1 << 5);
    v.lapic.acceptFixed(3);
    wr(v, MSR.ESR, 0);
    expect(rd(v, MSR.ESR)).toBe(1 << 6);
  });
});

describe('the timer in TSC time (§11.5.4; input clock = TSC, L1 sets no TSC offsetting)', () => {
  /** A timer whose LVT entry is `lvt`. */
  const timer = (lvt: { value: number }): LapicTimer => new LapicTimer(() => lvt.value);

  it('divide configuration (Figure 11-10): bits 0, 1 and 3 select 2, 4, 8, 16, 32, 64, 128 or 1', () => {
    const lvt = { value: 0 }, t = timer(lvt);
    const divisors = [[0x0, 2], [0x1, 4], [0x2, 8], [0x3, 16], [0x8, 32], [0x9, 64], [0xa, 128], [0xb, 1]];
    for (const [config, d] of divisors) {
      t.writeDivide(config!, 0);
      t.writeInitial(100, 0);
      expect(t.nextExpiry(), `divide config ${config}`).toBe(100 * d!);
    }
  });

  it('one-shot: the current count falls by one every `divisor` TSC ticks, expires at count × divisor, then reads 0', () => {
    const lvt = { value: 0x40 }, t = timer(lvt);
    t.writeDivide(0x1, 1000); // divide by 4
    t.writeInitial(1000, 1000);
    expect(t.currentCount(1000 + 403)).toBe(1000 - 100);
    expect(t.poll(1000 + 3999)).toBe(false);
    expect(t.poll(1000 + 4000)).toBe(true);
    expect(t.currentCount(1000 + 4000)).toBe(0);
    expect(t.nextExpiry()).toBe(Infinity);
    expect(t.poll(1000 + 9000)).toBe(false);
  });

  it('periodic: reloads at each expiry without drift; missed periods make one interrupt (the IRR has one bit)', () => {
    const lvt = { value: 0x40 | PERIODIC }, t = timer(lvt);
    t.writeDivide(0xb, 0);
    t.writeInitial(500, 0);
    expect(t.poll(500)).toBe(true);
    expect(t.nextExpiry()).toBe(1000);
    expect(t.currentCount(700)).toBe(300);
    expect(t.poll(2750)).toBe(true);
    expect(t.nextExpiry()).toBe(3000);
  });

  it('an expiry while masked is lost; a change of timer mode disarms (§11.5.4.1); a masked timer wakes nobody', () => {
    const lvt = { value: 0x40 | MASKED }, t = timer(lvt);
    t.writeInitial(100, 0);
    expect(t.nextExpiry()).toBe(Infinity);
    expect(t.poll(200)).toBe(false);
    lvt.value = 0x40;
    t.writeInitial(100, 300);
    const old = lvt.value;
    lvt.value = 0x40 | PERIODIC;
    t.lvtChanged(old);
    expect(t.poll(1000)).toBe(false);
    expect(t.initial).toBe(0);
  });

  it('TSC-deadline mode: fires when the TSC reaches the deadline, then disarms and clears the MSR; the initial count is ignored', () => {
    const lvt = { value: 0x40 | TSC_DEADLINE }, t = timer(lvt);
    t.writeInitial(10, 0);
    expect(t.initial).toBe(0);
    t.writeDeadline(5000, 0);
    expect(t.readDeadline()).toBe(5000);
    expect(t.poll(4999)).toBe(false);
    expect(t.poll(5000)).toBe(true);
    expect(t.readDeadline()).toBe(0);
    lvt.value = 0x40;
    t.writeDeadline(7000, 0); // ignored outside TSC-deadline mode
    expect(t.readDeadline()).toBe(0);
  });

  it('through the MSRs: the timer interrupt lands in the IRR at its vector when polled at or after the expiry', () => {
    const v = vcpus(1)[0]!;
    wr(v, MSR.DIV_CONF, 0xb);
    wr(v, MSR.LVT_TIMER, 0x42);
    wr(v, MSR.INIT_COUNT, 300, 0, 100);
    expect(rd(v, MSR.CUR_COUNT, 250)).toBe(150);
    expect(rd(v, MSR.IRR0 + 2, 399)).toBe(0);
    expect(rd(v, MSR.IRR0 + 2, 400)).toBe(1 << 2);
  });
});

describe('INIT (§11.4.7.3) and IPIs between vCPUs (§11.6.1, §11.6.2, §11.12.9, §11.12.10)', () => {
  it('INIT leaves the power-up registers but the ID, and keeps a SIPI pending', () => {
    const a = vcpus(2)[1]!.lapic;
    a.tpr = 0x30;
    a.acceptFixed(0x50);
    a.sipiVector = 0x12;
    a.initPending = true;
    a.reset();
    expect([a.id, a.tpr, a.svr, a.deliverable(), a.sipiVector, a.initPending]).toEqual([1, 0, 0xff, -1, 0x12, false]);
  });

  /** Sends ICR hi:lo from vCPU 0 of a 3-vCPU VM; the IRR vector 50H of each vCPU after. */
  const fixedTo = (lo: number, hi: number): boolean[] => {
    const vs = vcpus(3);
    sendIpi(vs[0]!, lo, hi);
    return vs.map((v) => v.lapic.deliverable() === 0x50);
  };
  const FIXED_50 = 0x4050, LOGICAL = 1 << 11, LOWEST = 1 << 8;

  it('physical destination: the x2APIC ID; FFFFFFFFH is a broadcast', () => {
    expect(fixedTo(FIXED_50, 2)).toEqual([false, false, true]);
    expect(fixedTo(FIXED_50, 7)).toEqual([false, false, false]);
    expect(fixedTo(FIXED_50, 0xffffffff)).toEqual([true, true, true]);
  });

  it('logical destination, x2APIC cluster model: cluster in bits 31:16, member bits in 15:0', () => {
    expect(fixedTo(FIXED_50 | LOGICAL, 0b101)).toEqual([true, false, true]);
    expect(fixedTo(FIXED_50 | LOGICAL, (1 << 16) | 0b111)).toEqual([false, false, false]);
  });

  it('shorthands (bits 19:18): self, all including self, all excluding self', () => {
    expect(fixedTo(FIXED_50 | (1 << 18), 2)).toEqual([true, false, false]);
    expect(fixedTo(FIXED_50 | (2 << 18), 0)).toEqual([true, true, true]);
    expect(fixedTo(FIXED_50 | (3 << 18), 0)).toEqual([false, true, true]);
  });

  it('lowest priority goes to one target (L1: the lowest x2APIC ID); fixed vectors below 16 are not sent', () => {
    expect(fixedTo(FIXED_50 | LOWEST | LOGICAL, 0b110)).toEqual([false, true, false]);
    const vs = vcpus(2);
    sendIpi(vs[0]!, 0x400f, 1);
    expect(vs[1]!.lapic.irr.every((w) => w === 0)).toBe(true);
  });

  it('NMI, INIT and SIPI become pending events; INIT level de-assert (level bit 14 = 0) does nothing', () => {
    const vs = vcpus(2), t = vs[1]!.lapic;
    sendIpi(vs[0]!, 0x0500, 1);
    expect(t.initPending).toBe(false);
    sendIpi(vs[0]!, 0x4500, 1);
    sendIpi(vs[0]!, 0x4611, 1);
    sendIpi(vs[0]!, 0x4400, 1);
    expect([t.initPending, t.sipiVector, t.nmiPending]).toEqual([true, 0x11, true]);
  });
});
