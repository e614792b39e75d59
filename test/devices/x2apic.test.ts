/**
 * IA32_APIC_BASE (SDM Vol. 3A §11.4.4, Figure 11-5), the x2APIC state
 * transitions (§11.12.5, Figure 11-27) and the x2APIC MSR interface
 * (§11.12.1, Table 11-6), through RDMSR/WRMSR executed on the cores.
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { xapicRead, xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { DEFAULT_CPU_MODEL } from '../../cpu/model/cpuidModel.ts';
import { GP, rdmsr, wrmsr } from '../msr/msrAccess.ts';
import { makeMachine } from './harness.ts';

const APIC_BASE = 0x1b;
const BSP = 1n << 8n, EXTD = 1n << 10n, EN = 1n << 11n;
const BASE = 0xfee00000n;
const X2 = (reg: number) => 0x800 + reg;

function toX2apic(m: ReturnType<typeof makeMachine>, k: number): void {
  const v = rdmsr(m.cpus[k]!, APIC_BASE) as bigint;
  expect(wrmsr(m.cpus[k]!, APIC_BASE, v | EXTD)).toBe('ok');
}

describe('§11.4.4 IA32_APIC_BASE', () => {
  it('reads base FEE00000H, EN, and BSP on core 0 only', () => {
    const m = makeMachine(2);
    expect(rdmsr(m.cpus[0]!, APIC_BASE)).toBe(BASE | EN | BSP);
    expect(rdmsr(m.cpus[1]!, APIC_BASE)).toBe(BASE | EN);
  });

  it('bits 7:0, 9 and MAXPHYADDR (46) and up are reserved: #GP(0), nothing changes', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!;
    for (const bad of [BASE | EN | BSP | 1n, BASE | EN | BSP | 0x80n, BASE | EN | BSP | (1n << 9n), (1n << 46n) | BASE | EN, 1n << 63n]) {
      expect(wrmsr(c, APIC_BASE, bad)).toMatchObject(GP);
    }
    expect(rdmsr(c, APIC_BASE)).toBe(BASE | EN | BSP);
    // Bit 45 is the highest base bit with 46 physical address bits.
    expect(wrmsr(c, APIC_BASE, (1n << 45n) | BASE | EN | BSP)).toBe('ok');
    expect(rdmsr(c, APIC_BASE)).toBe((1n << 45n) | BASE | EN | BSP);
  });

  it('relocating the base moves that core\'s xAPIC page; other cores keep theirs', async () => {
    const m = makeMachine(2);
    expect(wrmsr(m.cpus[0]!, APIC_BASE, 0xfed00000n | EN | BSP)).toBe('ok');
    await m.load(0x1000, 'mov rbx, 0xfed00000\nmov eax, [rbx + 0x30]\nmov rbx, 0xfee00000\nmov ecx, [rbx + 0x30]\nhlt');
    for (const k of [0, 1]) {
      const c = m.cpus[k]!;
      c.rip = 0x1000;
      c.activity = Activity.Active;
      m.phys.activeCore = k;
      c.run(10);
      const [relocated, dflt] = [c.r[0]! >>> 0, c.r[2]! >>> 0];
      if (k === 0) expect([relocated, dflt]).toEqual([0x60014, 0xffffffff]);
      else expect([relocated, dflt]).toEqual([0xffffffff, 0x60014]);
    }
  });
});

describe('§11.12.5 x2APIC state transitions (Figure 11-27)', () => {
  it('xAPIC -> x2APIC is valid; the xAPIC page is then not decoded (reads all ones)', async () => {
    const m = makeMachine(2);
    toX2apic(m, 1);
    expect(rdmsr(m.cpus[1]!, APIC_BASE)).toBe(BASE | EN | EXTD);
    expect(rdmsr(m.cpus[1]!, X2(ApicReg.ID))).toBe(1n);
    await m.load(0x2000, 'mov rbx, 0xfee00000\nmov eax, [rbx + 0x30]\nhlt');
    m.cpus[1]!.rip = 0x2000;
    m.cpus[1]!.activity = Activity.Active;
    m.phys.activeCore = 1;
    m.cpus[1]!.run(10);
    expect(m.cpus[1]!.r[0]! >>> 0).toBe(0xffffffff);
  });

  it('x2APIC -> xAPIC raises #GP(0) and stays in x2APIC mode', () => {
    const m = makeMachine(1);
    toX2apic(m, 0);
    expect(wrmsr(m.cpus[0]!, APIC_BASE, BASE | EN | BSP)).toMatchObject(GP);
    expect(rdmsr(m.cpus[0]!, APIC_BASE)).toBe(BASE | EN | EXTD | BSP);
  });

  it('x2APIC -> disabled -> xAPIC is valid, and the registers come back in their reset state', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!;
    toX2apic(m, 0);
    expect(wrmsr(c, X2(ApicReg.SVR), 0x1ffn)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.TPR), 0x20n)).toBe('ok');
    expect(wrmsr(c, APIC_BASE, BASE | BSP)).toBe('ok');
    expect(rdmsr(c, APIC_BASE)).toBe(BASE | BSP);
    expect(wrmsr(c, APIC_BASE, BASE | BSP | EN)).toBe('ok');
    const a = m.lapics[0]!;
    expect(xapicRead(a, ApicReg.SVR)).toBe(0xff);
    expect(xapicRead(a, ApicReg.TPR)).toBe(0);
    expect(xapicRead(a, ApicReg.LVT_LINT0)).toBe(1 << 16);
    expect(xapicRead(a, ApicReg.ID)).toBe(0); // the ID survives
  });

  it('disabled -> x2APIC raises #GP(0); EN=0 with EXTD=1 is the invalid state (#GP(0))', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!;
    expect(wrmsr(c, APIC_BASE, BASE | BSP | EXTD)).toMatchObject(GP); // xAPIC -> invalid
    expect(wrmsr(c, APIC_BASE, BASE | BSP)).toBe('ok');
    expect(wrmsr(c, APIC_BASE, BASE | BSP | EN | EXTD)).toMatchObject(GP);
    expect(rdmsr(c, APIC_BASE)).toBe(BASE | BSP);
  });

  it('EXTD is reserved when the model has no x2APIC', () => {
    const m = makeMachine(1, { model: DEFAULT_CPU_MODEL.with({ features: { x2apic: false } }) });
    expect(wrmsr(m.cpus[0]!, APIC_BASE, BASE | BSP | EN | EXTD)).toMatchObject(GP);
  });

  it('a globally disabled APIC accepts no interrupts and its page reads all ones', () => {
    const m = makeMachine(2);
    const b = m.lapics[1]!;
    xapicWrite(b, ApicReg.SVR, 0x1ff);
    expect(wrmsr(m.cpus[1]!, APIC_BASE, BASE)).toBe('ok');
    xapicWrite(m.lapics[0]!, ApicReg.SVR, 0x1ff);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 1 << 24);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0x40);
    expect(b.readRegister(ApicReg.IRR + 2)).toBe(0);
  });

  it('§11.12.10.2 the logical x2APIC ID is derived: cluster = ID[19:4], member bit = 1 << ID[3:0]', () => {
    const m = makeMachine(18);
    for (const [k, ldr] of [[1, 0x2n], [2, 0x4n], [17, 0x10002n]] as const) {
      toX2apic(m, k);
      expect(rdmsr(m.cpus[k]!, X2(ApicReg.LDR))).toBe(ldr);
    }
  });
});

describe('§11.12.1 x2APIC register MSRs', () => {
  it('are reachable only in x2APIC mode (#GP(0) in xAPIC mode)', () => {
    const m = makeMachine(1);
    expect(rdmsr(m.cpus[0]!, X2(ApicReg.ID))).toMatchObject(GP);
    expect(wrmsr(m.cpus[0]!, X2(ApicReg.TPR), 0n)).toMatchObject(GP);
  });

  it('ID is the 32-bit x2APIC ID; version as in xAPIC mode; EDX reads 0', () => {
    const m = makeMachine(3);
    toX2apic(m, 2);
    expect(rdmsr(m.cpus[2]!, X2(ApicReg.ID))).toBe(2n);
    expect(rdmsr(m.cpus[2]!, X2(ApicReg.VERSION))).toBe(0x60014n);
  });

  it('read-only registers raise #GP(0) on WRMSR: ID, version, PPR, LDR, ISR, TMR, IRR, current count', () => {
    const m = makeMachine(1);
    toX2apic(m, 0);
    for (const r of [ApicReg.ID, ApicReg.VERSION, ApicReg.PPR, ApicReg.LDR, ApicReg.ISR, ApicReg.TMR + 7, ApicReg.IRR + 3, ApicReg.TIMER_CURRENT]) {
      expect(wrmsr(m.cpus[0]!, X2(r), 0n)).toMatchObject(GP);
    }
  });

  it('write-only registers raise #GP(0) on RDMSR: EOI, SELF IPI', () => {
    const m = makeMachine(1);
    toX2apic(m, 0);
    expect(rdmsr(m.cpus[0]!, X2(ApicReg.EOI))).toMatchObject(GP);
    expect(rdmsr(m.cpus[0]!, X2(ApicReg.SELF_IPI))).toMatchObject(GP);
  });

  it('registers without an x2APIC MSR raise #GP(0): APR 809H, RRD 80CH, DFR 80EH, ICR high 831H, 840H', () => {
    const m = makeMachine(1);
    toX2apic(m, 0);
    for (const index of [0x809, 0x80c, 0x80e, 0x831, 0x840, 0x8ff, 0x800]) {
      expect(rdmsr(m.cpus[0]!, index)).toMatchObject(GP);
      expect(wrmsr(m.cpus[0]!, index, 0n)).toMatchObject(GP);
    }
  });

  it('§11.12.1.3 non-zero writes to reserved bits raise #GP(0) and change nothing', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!;
    toX2apic(m, 0);
    const bad: [number, bigint][] = [
      [ApicReg.TPR, 0x100n], [ApicReg.TPR, 1n << 32n], [ApicReg.SVR, 0x11ffn], [ApicReg.EOI, 1n],
      [ApicReg.ESR, 1n], [ApicReg.LVT_TIMER, 1n << 19n], [ApicReg.LVT_LINT0, 1n << 17n],
      [ApicReg.LVT_ERROR, 0x100n], [ApicReg.LVT_THERMAL, 1n << 13n], [ApicReg.TIMER_DIVIDE, 4n],
      [ApicReg.SELF_IPI, 0x100n], [ApicReg.ICR_LO, 1n << 12n], [ApicReg.ICR_LO, 1n << 13n], [ApicReg.ICR_LO, 1n << 20n],
    ];
    for (const [r, v] of bad) expect(wrmsr(c, X2(r), v), `${r.toString(16)} <- ${v.toString(16)}`).toMatchObject(GP);
    expect(rdmsr(c, X2(ApicReg.TPR))).toBe(0n);
    expect(rdmsr(c, X2(ApicReg.SVR))).toBe(0xffn);
    expect(wrmsr(c, X2(ApicReg.SVR), 0x3ffn)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.LVT_TIMER), 0x41040n)).toBe('ok'); // TSC-deadline mode, vector 40H; bit 12 is read-only
    expect(rdmsr(c, X2(ApicReg.LVT_TIMER))).toBe(0x40040n);
    expect(wrmsr(c, X2(ApicReg.EOI), 0n)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.ESR), 0n)).toBe('ok');
  });

  it('without TSC-deadline support, LVT timer bit 18 is reserved', () => {
    const m = makeMachine(1, { model: DEFAULT_CPU_MODEL.with({ features: { tscDeadline: false } }) });
    toX2apic(m, 0);
    expect(wrmsr(m.cpus[0]!, X2(ApicReg.LVT_TIMER), 0x40040n)).toMatchObject(GP);
  });

  it('§11.12.9 the ICR is one 64-bit MSR with the destination in bits 63:32', () => {
    const m = makeMachine(2);
    toX2apic(m, 0);
    toX2apic(m, 1);
    expect(wrmsr(m.cpus[1]!, X2(ApicReg.SVR), 0x1ffn)).toBe('ok');
    expect(wrmsr(m.cpus[0]!, X2(ApicReg.ICR_LO), (1n << 32n) | 0x4044n)).toBe('ok'); // fixed, assert, vector 44H to ID 1
    expect(rdmsr(m.cpus[0]!, X2(ApicReg.ICR_LO))).toBe((1n << 32n) | 0x4044n);
    expect(rdmsr(m.cpus[1]!, X2(ApicReg.IRR + 2))).toBe(1n << 4n);
  });

  it('§11.12.11 SELF IPI: a fixed edge interrupt to this APIC; an illegal vector sets ESR bit 5', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!;
    toX2apic(m, 0);
    expect(wrmsr(c, X2(ApicReg.SVR), 0x1ffn)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.SELF_IPI), 0x55n)).toBe('ok');
    expect(rdmsr(c, X2(ApicReg.IRR + 2))).toBe(1n << 21n);
    expect(wrmsr(c, X2(ApicReg.SELF_IPI), 0x05n)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.ESR), 0n)).toBe('ok');
    expect(rdmsr(c, X2(ApicReg.ESR))).toBe(1n << 5n);
  });

  it('TPR and EOI behave as in xAPIC mode: EOI clears the highest in-service vector', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!, a = m.lapics[0]!;
    toX2apic(m, 0);
    expect(wrmsr(c, X2(ApicReg.SVR), 0x1ffn)).toBe('ok');
    expect(wrmsr(c, X2(ApicReg.SELF_IPI), 0x91n)).toBe('ok');
    expect(a.acknowledge()).toBe(0x91);
    expect(rdmsr(c, X2(ApicReg.PPR))).toBe(0x90n);
    expect(rdmsr(c, X2(ApicReg.ISR + 4))).toBe(1n << 17n);
    expect(wrmsr(c, X2(ApicReg.EOI), 0n)).toBe('ok');
    expect(rdmsr(c, X2(ApicReg.ISR + 4))).toBe(0n);
    expect(wrmsr(c, X2(ApicReg.TPR), 0xa5n)).toBe('ok');
    expect(c.cr8).toBe(0xa);
  });
});
