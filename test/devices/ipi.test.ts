/**
 * Interprocessor interrupts through the ICR (SDM Vol. 3A §11.6): delivery
 * modes, physical and logical destinations, shorthands and lowest-priority
 * arbitration; two or three bare cores on one PhysicalMemory and one
 * BlockCache, run alternately.
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { xapicRead, xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { makeMachine } from './harness.ts';

const FLAG = 0x9000;

/** Software-enables every APIC. */
function enableAll(m: ReturnType<typeof makeMachine>): void {
  for (const a of m.lapics) xapicWrite(a, ApicReg.SVR, 0x1ff);
}

const irrHas = (a: ReturnType<typeof makeMachine>['lapics'][0], v: number) =>
  ((a.readRegister(ApicReg.IRR + (v >> 5))! >>> (v & 31)) & 1) === 1;

describe('§11.6.1 ICR: fixed IPIs between running cores', () => {
  it('core 0 sends vector 31H to APIC ID 1, which is halted with interrupts enabled; the ICR reads back idle', async () => {
    const m = makeMachine(2);
    await m.load(0x2000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0xf0], 0x1ff
      mov byte ptr [${FLAG}], 1
      sti
      hlt
      cli
      hlt`);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
    wait:
      cmp byte ptr [${FLAG}], 1
      jne wait
      mov dword ptr [rbx + 0x310], 0x01000000
      mov dword ptr [rbx + 0x300], 0x4031
      mov eax, [rbx + 0x300]
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.cpus[1]!.rip = 0x2000;
    m.run(1000, 20);
    expect(m.events.map(({ core, kind, vector }: { core: number; kind: string; vector?: number }) => ({ core, kind, vector })))
      .toEqual([{ core: 1, kind: 'interrupt', vector: 0x31 }]);
    expect(m.cpus[0]!.r[0]! >>> 0).toBe(0x4031); // delivery status (bit 12) idle
  });
});

describe('§11.4.4.1 / §11.6.1 INIT and start-up IPIs', () => {
  it('INIT, INIT level de-assert, SIPI, SIPI: the AP starts once, at vector × 4096', async () => {
    const m = makeMachine(2);
    m.cpus[1]!.activity = Activity.WaitForSipi;
    await m.load(0x2000, `mov dword ptr [0x9100], 0x1234\ncli\nhlt`);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0x310], 0x01000000
      mov dword ptr [rbx + 0x300], 0xc500
      mov dword ptr [rbx + 0x300], 0x8500
      mov dword ptr [rbx + 0x300], 0x4602
      mov ecx, 200
    spin:
      dec ecx
      jnz spin
      mov dword ptr [rbx + 0x300], 0x4602
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.run(1000, 50);
    expect(m.events.map((e) => [e.core, e.kind, 'vector' in e ? e.vector : -1])).toEqual([[1, 'init', -1], [1, 'sipi', 2]]);
    expect(m.phys.readBytes(0x9100, 4)).toEqual(new Uint8Array([0x34, 0x12, 0, 0]));
  });

  it('INIT resets the target APIC\'s registers but keeps its ID', () => {
    const m = makeMachine(2);
    enableAll(m);
    const b = m.lapics[1]!;
    xapicWrite(b, ApicReg.TPR, 0x30);
    xapicWrite(b, ApicReg.ID, 0x07000000);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 0x07000000);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0xc500);
    expect(m.cpus[1]!.initPending).toBe(true);
    expect([xapicRead(b, ApicReg.TPR), xapicRead(b, ApicReg.SVR), xapicRead(b, ApicReg.ID)]).toEqual([0, 0xff, 0x07000000]);
  });

  it('a SIPI to a core that is not waiting for one is dropped', () => {
    const m = makeMachine(2);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 0x01000000);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0x4608);
    expect(m.cpus[1]!.sipiVector).toBe(-1);
    m.cpus[1]!.activity = Activity.WaitForSipi;
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0x4608);
    expect(m.cpus[1]!.sipiVector).toBe(8);
    expect(m.cpus[1]!.eventsPending).toBe(true);
  });

  it('NMI IPIs set the target core\'s NMI pending; SMI is not modelled and does nothing', () => {
    const m = makeMachine(2);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 0x01000000);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0x4200);
    expect(m.cpus[1]!.nmiPending).toBe(false);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0x4400);
    expect(m.cpus[1]!.nmiPending).toBe(true);
    expect(m.cpus[0]!.nmiPending).toBe(false);
  });
});

describe('§11.6.1 destination shorthands (the destination field and mode are ignored)', () => {
  const cases: [string, number, boolean[]][] = [
    ['self', 1, [true, false, false]],
    ['all including self', 2, [true, true, true]],
    ['all excluding self', 3, [false, true, true]],
  ];
  for (const [name, sh, expected] of cases) {
    it(name, () => {
      const m = makeMachine(3);
      enableAll(m);
      xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 0x02000000);
      xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, (sh << 18) | 0x4000 | 0x800 | 0x66);
      expect(m.lapics.map((a) => irrHas(a, 0x66))).toEqual(expected);
    });
  }
});

describe('§11.6.2 destinations', () => {
  function send(m: ReturnType<typeof makeMachine>, dest: number, lo: number): boolean[] {
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, dest << 24);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, lo);
    const got = m.lapics.map((a) => irrHas(a, lo & 0xff));
    for (const a of m.lapics) while (a.hasInterrupt()) { a.acknowledge(); xapicWrite(a, ApicReg.EOI, 0); }
    return got;
  }

  it('§11.6.2.1 physical: the APIC ID, or FFH for all', () => {
    const m = makeMachine(3);
    enableAll(m);
    expect(send(m, 2, 0x4050)).toEqual([false, false, true]);
    expect(send(m, 0xff, 0x4051)).toEqual([true, true, true]);
    expect(send(m, 5, 0x4052)).toEqual([false, false, false]);
  });

  it('§11.6.2.2 logical, flat model: the MDA is a bit mask against LDR[31:24]', () => {
    const m = makeMachine(3);
    enableAll(m);
    m.lapics.forEach((a, k) => xapicWrite(a, ApicReg.LDR, (1 << k) << 24));
    expect(send(m, 0x06, 0x4850)).toEqual([false, true, true]);
    expect(send(m, 0x01, 0x4851)).toEqual([true, false, false]);
    expect(send(m, 0xff, 0x4852)).toEqual([true, true, true]);
  });

  it('§11.6.2.2 logical, cluster model: MDA[7:4] the cluster (FH: all), MDA[3:0] the members', () => {
    const m = makeMachine(3);
    enableAll(m);
    const ldrs = [0x11, 0x12, 0x21];
    m.lapics.forEach((a, k) => {
      xapicWrite(a, ApicReg.DFR, 0x0fffffff);
      xapicWrite(a, ApicReg.LDR, ldrs[k]! << 24);
    });
    expect(send(m, 0x13, 0x4850)).toEqual([true, true, false]);
    expect(send(m, 0x21, 0x4851)).toEqual([false, false, true]);
    expect(send(m, 0xf1, 0x4852)).toEqual([true, false, true]);
    expect(send(m, 0x22, 0x4853)).toEqual([false, false, false]);
  });

  it('§11.6.2.4 lowest priority: the target with the lowest TPR, ties to the lowest APIC ID', () => {
    const m = makeMachine(3);
    enableAll(m);
    m.lapics.forEach((a, k) => xapicWrite(a, ApicReg.LDR, (1 << k) << 24));
    const tprs = [0x20, 0x10, 0x10];
    m.lapics.forEach((a, k) => xapicWrite(a, ApicReg.TPR, tprs[k]!));
    expect(send(m, 0x07, 0x4950)).toEqual([false, true, false]);
    expect(send(m, 0x05, 0x4951)).toEqual([false, false, true]); // only 0 and 2 match: TPR 10H on 2 wins
  });

  it('a level-triggered fixed IPI sets the target\'s TMR bit', () => {
    const m = makeMachine(2);
    enableAll(m);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_HI, 0x01000000);
    xapicWrite(m.lapics[0]!, ApicReg.ICR_LO, 0xc070);
    expect(m.lapics[1]!.readRegister(ApicReg.TMR + 3)).toBe(1 << 16);
  });
});
