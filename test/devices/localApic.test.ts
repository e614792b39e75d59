/**
 * The local APIC's registers and rules (SDM Vol. 3A ch. 11), through the
 * xAPIC page (assembly on a core) and directly on the LocalApic object.
 * Expected values are worked out by hand from the SDM sections named.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../cpu/cpu.ts';
import { PhysicalMemory } from '../../cpu/memory/physical.ts';
import { readCr8, writeCr8 } from '../../cpu/devices/apic/cr8.ts';
import { ApicReg, DeliveryMode } from '../../cpu/devices/apic/registers.ts';
import { xapicRead, xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { makeMachine, type TestMachine } from './harness.ts';

const APIC = 0xfee00000;
const MASKED = 1 << 16;

/** Runs `source` (then HLT) on core `k` at 0x1000 + k * 0x1000; returns the core. */
async function runOn(m: TestMachine, k: number, source: string) {
  const addr = 0x1000 + k * 0x1000;
  await m.load(addr, `${source}\nhlt`);
  const c = m.cpus[k]!;
  c.rip = addr;
  m.phys.activeCore = k;
  const stop = c.run(10_000);
  expect(stop.kind).toBe('halt');
  return c;
}

const reg32 = (c: { r: Int32Array }, n: number) => c.r[n * 2]! >>> 0;

describe('§11.4.1 / §11.4.7.1 xAPIC page: register values after reset', () => {
  it('ID, version, TPR, LDR, DFR, SVR, LVT timer read through MMIO at FEE00000H', async () => {
    const m = makeMachine(2);
    const c = await runOn(m, 1, `
      mov rbx, ${APIC}
      mov eax, [rbx + 0x20]
      mov ecx, [rbx + 0x30]
      mov edx, [rbx + 0xf0]
      mov esi, [rbx + 0x320]
      mov edi, [rbx + 0xe0]
      mov r8d, [rbx + 0xd0]
      mov r9d, [rbx + 0x80]
      mov r10d, [rbx + 0x370]`);
    expect(reg32(c, 0)).toBe(1 << 24); // core 1: APIC ID 1 in bits 31:24 (Figure 11-6)
    expect(reg32(c, 1)).toBe(0x00060014); // version 14H, max LVT entry 6 (Figure 11-7)
    expect(reg32(c, 2)).toBe(0xff); // SVR 000000FFH: software-disabled
    expect(reg32(c, 6)).toBe(MASKED);
    expect(reg32(c, 7)).toBe(0xffffffff); // DFR all ones (flat model)
    expect(reg32(c, 8)).toBe(0);
    expect(reg32(c, 9)).toBe(0);
    expect(reg32(c, 10)).toBe(MASKED);
  });

  it('each core sees its own APIC at the same address (per-core MMIO on phys.activeCore)', async () => {
    const m = makeMachine(3);
    for (const k of [2, 0, 1]) {
      const c = await runOn(m, k, `mov rbx, ${APIC}\nmov eax, [rbx + 0x20]`);
      expect(reg32(c, 0)).toBe(k << 24);
    }
  });

  it('byte and word reads see the register bytes; bytes 4-15 of a slot read 0', async () => {
    const m = makeMachine(1);
    const c = await runOn(m, 0, `
      mov rbx, ${APIC}
      movzx eax, byte ptr [rbx + 0x30]
      movzx ecx, byte ptr [rbx + 0x32]
      movzx edx, word ptr [rbx + 0x32]
      mov esi, [rbx + 0x34]`);
    expect([reg32(c, 0), reg32(c, 1), reg32(c, 2), reg32(c, 6)]).toEqual([0x14, 0x06, 0x0006, 0]);
  });
});

describe('§11.4.6 local APIC ID', () => {
  it('is writable in xAPIC mode (bits 31:24; the rest ignored)', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.ID, 0x5a123456);
    expect(xapicRead(a, ApicReg.ID)).toBe(0x5a000000);
    expect(a.apicId).toBe(0x5a);
  });
});

describe('§11.8.3.1 task and processor priorities', () => {
  const cases: [number, number[], number][] = [
    // TPR, vectors in service, expected PPR
    [0x00, [], 0x00],
    [0x35, [], 0x35],
    [0x35, [0x41], 0x40], // ISRV class 4 > TPR class 3: PPR = ISRV[7:4], PPR[3:0] = 0
    [0x55, [0x41], 0x55], // TPR class 5 >= 4: PPR = TPR
    [0x47, [0x41], 0x47], // equal classes: TPR wins, with its low bits
    [0x10, [0x41, 0x92], 0x90], // the highest in-service vector counts
  ];
  for (const [tpr, inService, ppr] of cases) {
    it(`TPR ${tpr.toString(16)}H with ISR {${inService.map((v) => v.toString(16)).join(',')}} gives PPR ${ppr.toString(16)}H`, () => {
      const m = makeMachine(1);
      const a = m.lapics[0]!;
      xapicWrite(a, ApicReg.SVR, 0x1ff);
      for (const v of inService) {
        a.acceptFixed(v, false);
        expect(a.acknowledge()).toBe(v);
      }
      xapicWrite(a, ApicReg.TPR, tpr);
      expect(xapicRead(a, ApicReg.PPR)).toBe(ppr);
    });
  }

  it('an IRR vector is deliverable only when its class is above PPR[7:4]', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    a.acceptFixed(0x45, false);
    xapicWrite(a, ApicReg.TPR, 0x40);
    expect(a.hasInterrupt()).toBe(false); // class 4 is not above class 4
    xapicWrite(a, ApicReg.TPR, 0x3f);
    expect(a.hasInterrupt()).toBe(true);
    expect(m.cpus[0]!.eventsPending).toBe(true); // lowering TPR told the core
  });

  it('TPR bits 31:8 are reserved: ignored in xAPIC mode', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.TPR, 0x12345678);
    expect(xapicRead(a, ApicReg.TPR)).toBe(0x78);
  });
});

describe('§11.8.6 CR8 is TPR[7:4]', () => {
  it('MOV to CR8 writes TPR[7:4] and clears TPR[3:0]; MOV from CR8 reads TPR[7:4]', () => {
    const m = makeMachine(1);
    const c = m.cpus[0]!, a = m.lapics[0]!;
    xapicWrite(a, ApicReg.TPR, 0x3c);
    expect(readCr8(c)).toBe(3);
    expect(c.cr8).toBe(3);
    writeCr8(c, 0x9);
    expect(xapicRead(a, ApicReg.TPR)).toBe(0x90);
    expect(c.cr8).toBe(9);
  });

  it('without a local APIC, CR8 is plain state', () => {
    const bare = new Cpu({ phys: new PhysicalMemory(1 << 16) });
    writeCr8(bare, 0x1f);
    expect(readCr8(bare)).toBe(0xf);
  });
});

describe('§11.8.4 interrupt acceptance, §11.8.5 EOI', () => {
  it('a fixed interrupt sets IRR; TMR records level (1) or edge (0); acknowledging moves it to ISR', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    a.acceptFixed(0x61, true);
    a.acceptFixed(0x22, false);
    expect(xapicRead(a, ApicReg.IRR + 3)).toBe((1 << 1) >>> 0); // 61H = 3 * 32 + 1
    expect(xapicRead(a, ApicReg.IRR + 1)).toBe(1 << 2); // 22H = 32 + 2
    expect(xapicRead(a, ApicReg.TMR + 3)).toBe(1 << 1);
    expect(xapicRead(a, ApicReg.TMR + 1)).toBe(0);
    expect(a.acknowledge()).toBe(0x61); // highest first
    expect(xapicRead(a, ApicReg.IRR + 3)).toBe(0);
    expect(xapicRead(a, ApicReg.ISR + 3)).toBe(1 << 1);
    expect(a.hasInterrupt()).toBe(false); // 22H is below the in-service class 6
  });

  it('EOI clears the highest in-service bit, uncovering the nested one', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    a.acceptFixed(0x30, false);
    expect(a.acknowledge()).toBe(0x30);
    a.acceptFixed(0x80, false);
    expect(a.acknowledge()).toBe(0x80);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(xapicRead(a, ApicReg.ISR + 4)).toBe(0);
    expect(xapicRead(a, ApicReg.ISR + 1)).toBe(1 << 16);
    expect(xapicRead(a, ApicReg.PPR)).toBe(0x30);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(xapicRead(a, ApicReg.PPR)).toBe(0);
  });

  it('a vector already in IRR is not queued twice (one in IRR, one in ISR at most)', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    a.acceptFixed(0x40, false);
    a.acceptFixed(0x40, false);
    expect(a.acknowledge()).toBe(0x40);
    a.acceptFixed(0x40, false);
    expect(a.hasInterrupt()).toBe(false); // in service: same class is blocked
    xapicWrite(a, ApicReg.EOI, 0);
    expect(a.acknowledge()).toBe(0x40);
    expect(a.hasInterrupt()).toBe(false);
  });

  it('§11.9 spurious interrupt: acknowledging with nothing deliverable gives the SVR vector, nothing in service', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1e7);
    expect(a.acknowledge()).toBe(0xe7);
    expect(highestIsr(a)).toBe(-1);
  });
});

function highestIsr(a: { readRegister(r: number): number | undefined }): number {
  for (let k = 7; k >= 0; k--) {
    const w = a.readRegister(ApicReg.ISR + k)!;
    if (w) return k * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

describe('§11.4.7.2 software disable (SVR bit 8)', () => {
  it('LVT mask bits stay set while disabled; fixed interrupts are dropped', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.LVT_LINT1, DeliveryMode.Nmi << 8);
    expect(xapicRead(a, ApicReg.LVT_LINT1)).toBe(MASKED | 0x400);
    a.acceptFixed(0x50, false);
    expect(xapicRead(a, ApicReg.IRR + 2)).toBe(0);
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_LINT1, DeliveryMode.Nmi << 8);
    expect(xapicRead(a, ApicReg.LVT_LINT1)).toBe(0x400);
  });

  it('clearing the enable masks every LVT entry; IRR and ISR are kept', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_TIMER, 0x40);
    xapicWrite(a, ApicReg.LVT_ERROR, 0x41);
    a.acceptFixed(0x50, false);
    xapicWrite(a, ApicReg.SVR, 0x0ff);
    expect(xapicRead(a, ApicReg.LVT_TIMER)).toBe(MASKED | 0x40);
    expect(xapicRead(a, ApicReg.LVT_ERROR)).toBe(MASKED | 0x41);
    expect(xapicRead(a, ApicReg.IRR + 2)).toBe(1 << 16);
    expect(a.hasInterrupt()).toBe(true);
  });

  it('SVR keeps bits 9:0; bit 12 (EOI-broadcast suppression, not supported) and above read 0', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0xffffffff);
    expect(xapicRead(a, ApicReg.SVR)).toBe(0x3ff);
  });
});

describe('§11.5.3 error handling', () => {
  it('a received illegal vector (0-15) sets ESR bit 6 once the ESR is written; the error LVT fires once until rearmed', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_ERROR, 0xfe);
    a.acceptFixed(0x05, false);
    expect(xapicRead(a, ApicReg.ESR)).toBe(0); // not visible before an ESR write
    expect(a.acknowledge()).toBe(0xfe);
    a.acceptFixed(0x07, false); // logged, but no second error interrupt before the ESR write
    expect(a.hasInterrupt()).toBe(false);
    xapicWrite(a, ApicReg.ESR, 0);
    expect(xapicRead(a, ApicReg.ESR)).toBe(1 << 6);
    xapicWrite(a, ApicReg.ESR, 0);
    expect(xapicRead(a, ApicReg.ESR)).toBe(0);
  });

  it('an unimplemented xAPIC offset sets ESR bit 7 (illegal register address) and reads 0', async () => {
    const m = makeMachine(1);
    const c = await runOn(m, 0, `
      mov rbx, ${APIC}
      mov eax, [rbx + 0x40]
      mov dword ptr [rbx + 0x280], 0
      mov ecx, [rbx + 0x280]`);
    expect(reg32(c, 0)).toBe(0);
    expect(reg32(c, 1)).toBe(1 << 7);
  });

  it('sending a fixed IPI with an illegal vector sets ESR bit 5 and sends nothing', () => {
    const m = makeMachine(2);
    const a = m.lapics[0]!, b = m.lapics[1]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(b, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.ICR_HI, 1 << 24);
    xapicWrite(a, ApicReg.ICR_LO, 0x0c);
    xapicWrite(a, ApicReg.ESR, 0);
    expect(xapicRead(a, ApicReg.ESR)).toBe(1 << 5);
    xapicWrite(b, ApicReg.ESR, 0);
    expect(xapicRead(b, ApicReg.ESR)).toBe(0);
  });
});

describe('§11.5.1 LVT entries', () => {
  it('reserved bits are ignored per entry; delivery status reads 0 (idle)', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_TIMER, 0xffffffff);
    expect(xapicRead(a, ApicReg.LVT_TIMER)).toBe(0x700ff); // vector, mask, mode 18:17
    xapicWrite(a, ApicReg.LVT_LINT0, 0xffffffff);
    expect(xapicRead(a, ApicReg.LVT_LINT0)).toBe(0x1a7ff); // + delivery mode, polarity, trigger; not status, remote IRR
    xapicWrite(a, ApicReg.LVT_ERROR, 0xffffffff);
    expect(xapicRead(a, ApicReg.LVT_ERROR)).toBe(0x100ff);
    for (const r of [ApicReg.LVT_THERMAL, ApicReg.LVT_PERF, ApicReg.LVT_CMCI]) {
      xapicWrite(a, r, 0xffffffff);
      expect(xapicRead(a, r)).toBe(0x107ff);
    }
  });

  it('LINT1 programmed NMI delivers an NMI on the rising edge only', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!, c = m.cpus[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_LINT1, DeliveryMode.Nmi << 8);
    a.setLint(1, true);
    expect(c.nmiPending).toBe(true);
    c.nmiPending = false;
    a.setLint(1, true);
    expect(c.nmiPending).toBe(false);
  });

  it('a level-triggered fixed LINT interrupt sets remote IRR until EOI, then is resent while asserted', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.SVR, 0x1ff);
    xapicWrite(a, ApicReg.LVT_LINT0, 0x8000 | 0x70); // fixed, level, vector 70H
    a.setLint(0, true);
    expect(xapicRead(a, ApicReg.LVT_LINT0)).toBe(0x8000 | 0x4000 | 0x70);
    expect(a.acknowledge()).toBe(0x70);
    expect(xapicRead(a, ApicReg.TMR + 3)).toBe(1 << 16);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(xapicRead(a, ApicReg.LVT_LINT0)).toBe(0x8000 | 0x4000 | 0x70); // still asserted: sent again
    expect(a.acknowledge()).toBe(0x70);
    a.setLint(0, false);
    xapicWrite(a, ApicReg.EOI, 0);
    expect(xapicRead(a, ApicReg.LVT_LINT0)).toBe(0x8000 | 0x70);
    expect(a.hasInterrupt()).toBe(false);
  });
});

describe('§11.4.1 DFR and LDR in xAPIC mode', () => {
  it('DFR keeps the model in bits 31:28, bits 27:0 read as ones; LDR keeps bits 31:24', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    xapicWrite(a, ApicReg.DFR, 0);
    expect(xapicRead(a, ApicReg.DFR)).toBe(0x0fffffff);
    xapicWrite(a, ApicReg.LDR, 0x12345678);
    expect(xapicRead(a, ApicReg.LDR)).toBe(0x12000000);
  });

  it('read-only registers ignore writes: version, PPR, ISR, current count', () => {
    const m = makeMachine(1);
    const a = m.lapics[0]!;
    for (const r of [ApicReg.VERSION, ApicReg.PPR, ApicReg.ISR, ApicReg.IRR + 7, ApicReg.TIMER_CURRENT]) {
      const before = xapicRead(a, r);
      xapicWrite(a, r, 0xdeadbeef);
      expect(xapicRead(a, r)).toBe(before);
    }
    xapicWrite(a, ApicReg.ESR, 0);
    expect(xapicRead(a, ApicReg.ESR)).toBe(0); // no illegal-register error for those
  });
});
