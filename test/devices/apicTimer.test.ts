/**
 * The local APIC timer (SDM Vol. 3A §11.5.4): one-shot, periodic and
 * TSC-deadline modes firing at exact clock values. The timer's input clock
 * is the core's clock (one tick per retired instruction or idle tick)
 * divided by the divide configuration; time is advanced here through the
 * core's idle ticks, or by running instructions.
 */
import { describe, expect, it } from 'vitest';
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { xapicRead, xapicWrite } from '../../cpu/devices/apic/xapicMmio.ts';
import { DEFAULT_CPU_MODEL } from '../../cpu/model/cpuidModel.ts';
import { GP, rdmsr, wrmsr } from '../msr/msrAccess.ts';
import { makeMachine } from './harness.ts';

const VEC = 0x40;
const PERIODIC = 1 << 17, DEADLINE = 2 << 17, MASKED = 1 << 16;
const DIV1 = 0b1011;
const TSC_DEADLINE = 0x6e0;

function setup(opts: { model?: typeof DEFAULT_CPU_MODEL } = {}) {
  const m = makeMachine(1, opts);
  const c = m.cpus[0]!, a = m.lapics[0]!;
  xapicWrite(a, ApicReg.SVR, 0x1ff);
  /** Moves the core's clock to `t` (as halted time would) and runs its due timers. */
  const at = (t: number) => {
    c.idleTicks += t - c.clock;
    c.timers.runDue(c.clock);
  };
  const fired = () => {
    const v = a.hasInterrupt() ? a.acknowledge() : -1;
    if (v >= 0) xapicWrite(a, ApicReg.EOI, 0);
    return v;
  };
  return { m, c, a, at, fired };
}

describe('§11.5.4 divide configuration (Figure 11-10)', () => {
  const table: [number, number][] = [
    [0b0000, 2], [0b0001, 4], [0b0010, 8], [0b0011, 16], [0b1000, 32], [0b1001, 64], [0b1010, 128], [0b1011, 1],
  ];
  for (const [config, divisor] of table) {
    it(`divide value ${config.toString(2).padStart(4, '0')}b divides by ${divisor}: a count of 3 expires after ${3 * divisor} ticks`, () => {
      const { c, a } = setup();
      xapicWrite(a, ApicReg.TIMER_DIVIDE, config);
      xapicWrite(a, ApicReg.LVT_TIMER, VEC);
      xapicWrite(a, ApicReg.TIMER_INITIAL, 3);
      expect(c.timers.nextDue()).toBe(3 * divisor);
    });
  }

  it('bit 2 and bits 31:4 are reserved (read 0, ignored)', () => {
    const { a } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, 0xfffffff4);
    expect(xapicRead(a, ApicReg.TIMER_DIVIDE)).toBe(0);
  });
});

describe('§11.5.4 one-shot mode', () => {
  it('counts down from the initial count at clock / divisor and interrupts exactly when it reaches 0', () => {
    const { c, a, at, fired } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, 0b0001); // divide by 4
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 100); // at clock 0
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(100);
    at(3);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(100); // floor(3 / 4) = 0 counts so far
    at(4);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(99);
    at(399);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(1);
    expect(fired()).toBe(-1);
    at(400);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(0);
    expect(fired()).toBe(VEC);
    expect(xapicRead(a, ApicReg.TIMER_INITIAL)).toBe(100); // the initial count stays
    at(10_000);
    expect(fired()).toBe(-1); // once only
    expect(c.timers.nextDue()).toBe(Infinity);
  });

  it('writing the initial count restarts counting; writing 0 stops the timer', () => {
    const { c, a, at, fired } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, DIV1);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 50);
    at(30);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 50);
    expect(c.timers.nextDue()).toBe(80);
    at(60);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 0);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(0);
    at(100);
    expect(fired()).toBe(-1);
  });

  it('a masked timer keeps counting without interrupting; unmasked before expiry it fires on time, after it the interrupt is lost', () => {
    const { c, a, at, fired } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, DIV1);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | MASKED);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 20);
    expect(c.timers.nextDue()).toBe(Infinity);
    at(5);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(15);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    expect(c.timers.nextDue()).toBe(20);
    at(20);
    expect(fired()).toBe(VEC);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | MASKED);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 10); // due at 30
    at(35);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    at(100);
    expect(fired()).toBe(-1);
  });

  it('a divide change mid-count carries the count reached on at the new rate', () => {
    const { c, a, at } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, 0b0000); // by 2
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 100);
    at(21); // 10 counts done
    xapicWrite(a, ApicReg.TIMER_DIVIDE, DIV1);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(90);
    expect(c.timers.nextDue()).toBe(21 + 90);
  });
});

describe('§11.5.4 periodic mode', () => {
  it('reloads the initial count and interrupts every initial × divisor ticks, without drift', () => {
    const { a, at, fired } = setup();
    xapicWrite(a, ApicReg.TIMER_DIVIDE, 0b0000); // by 2
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | PERIODIC);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 10); // period 20
    for (const k of [1, 2, 3, 4]) {
      at(20 * k - 1);
      expect(fired()).toBe(-1);
      expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(1);
      at(20 * k);
      expect(fired()).toBe(VEC);
      expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(10);
    }
    at(95);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(3); // 15 ticks into the fifth period: 7 counts done
  });

  it('§11.5.4.1 a write to the LVT that changes the timer mode disarms the timer', () => {
    const { c, a } = setup();
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 1000);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | PERIODIC);
    expect(xapicRead(a, ApicReg.TIMER_INITIAL)).toBe(0);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(0);
    expect(c.timers.nextDue()).toBe(Infinity);
  });
});

describe('§11.5.4.1 TSC-deadline mode', () => {
  it('fires when the TSC reaches IA32_TSC_DEADLINE, then reads 0 (disarmed)', () => {
    const { c, a, at, fired } = setup();
    c.tscOffset = 1000;
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    a.timer.writeDeadline(1500, 0);
    expect(a.timer.readDeadline(c)).toBe(1500);
    expect(c.timers.nextDue()).toBe(500); // TSC = clock + 1000
    at(499);
    expect(fired()).toBe(-1);
    at(500);
    expect(fired()).toBe(VEC);
    expect(a.timer.readDeadline(c)).toBe(0);
  });

  it('a deadline already passed fires at once; writing 0 disarms', () => {
    const { c, a, at, fired } = setup();
    c.tscOffset = 1000;
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    a.timer.writeDeadline(999, 0);
    expect(fired()).toBe(VEC);
    a.timer.writeDeadline(5000, 0);
    a.timer.writeDeadline(0, 0);
    at(10_000);
    expect(fired()).toBe(-1);
  });

  it('initial-count writes are ignored and the current count reads 0', () => {
    const { c, a } = setup();
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    xapicWrite(a, ApicReg.TIMER_INITIAL, 100);
    expect(xapicRead(a, ApicReg.TIMER_INITIAL)).toBe(0);
    expect(xapicRead(a, ApicReg.TIMER_CURRENT)).toBe(0);
    expect(c.timers.nextDue()).toBe(Infinity);
  });

  it('in other modes IA32_TSC_DEADLINE reads 0 and ignores writes; leaving TSC-deadline mode disarms it', () => {
    const { c, a } = setup();
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    expect(wrmsr(c, TSC_DEADLINE, 12345n)).toBe('ok');
    expect(rdmsr(c, TSC_DEADLINE)).toBe(0n);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    expect(wrmsr(c, TSC_DEADLINE, 0x1_0000_0000n)).toBe('ok');
    expect(rdmsr(c, TSC_DEADLINE)).toBe(0x1_0000_0000n);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC);
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    expect(rdmsr(c, TSC_DEADLINE)).toBe(0n);
    expect(c.timers.nextDue()).toBe(Infinity);
  });

  it('writing the TSC moves when the deadline falls due', () => {
    const { c, a } = setup();
    xapicWrite(a, ApicReg.LVT_TIMER, VEC | DEADLINE);
    a.timer.writeDeadline(5000, 0);
    expect(c.timers.nextDue()).toBe(5000);
    expect(wrmsr(c, 0x10, 4000n)).toBe('ok'); // WRMSR retires at clock 0: TSC = 4000 from clock 0 on
    expect(c.timers.nextDue()).toBe(1000);
  });

  it('IA32_TSC_DEADLINE raises #GP(0) when the model has no TSC-deadline timer', () => {
    const { c } = setup({ model: DEFAULT_CPU_MODEL.with({ features: { tscDeadline: false } }) });
    expect(rdmsr(c, TSC_DEADLINE)).toMatchObject(GP);
    expect(wrmsr(c, TSC_DEADLINE, 1n)).toMatchObject(GP);
  });
});

describe('the timer on a running core: HLT skips ahead to it', () => {
  it('one-shot programmed through the xAPIC page interrupts the halted core at exactly write clock + count', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0xf0], 0x1ff
      mov dword ptr [rbx + 0x3e0], 0xb
      mov dword ptr [rbx + 0x320], 0x40
      mov dword ptr [rbx + 0x380], 1000
      sti
      hlt
      cli
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.run();
    // The initial-count write is the fifth instruction: it executes at clock 4.
    expect(m.events).toEqual([{ core: 0, kind: 'interrupt', vector: 0x40, clock: 1004 }]);
  });

  it('the interrupt comes on time even when the count ends inside a run of instructions', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0xf0], 0x1ff
      mov dword ptr [rbx + 0x3e0], 0xb
      mov dword ptr [rbx + 0x320], 0x40
      sti
      mov dword ptr [rbx + 0x380], 7
      mov ecx, 100
    spin:
      dec ecx
      jnz spin
      cli
      hlt`);
    m.cpus[0]!.rip = 0x1000;
    m.run(10, 1000);
    // Written at clock 5 (after five instructions): due at 12, inside the loop, within one 1000-instruction run.
    expect(m.events).toEqual([{ core: 0, kind: 'interrupt', vector: 0x40, clock: 12 }]);
  });

  it('periodic interrupts keep coming at exact multiples while the core halts', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0xf0], 0x1ff
      mov dword ptr [rbx + 0x3e0], 0
      mov dword ptr [rbx + 0x320], 0x20041
      mov dword ptr [rbx + 0x380], 500
      sti
    idle:
      hlt
      mov dword ptr [rbx + 0xb0], 0
      jmp idle`);
    m.cpus[0]!.rip = 0x1000;
    m.run(60);
    const clocks = m.events.map((e) => e.clock).slice(0, 4);
    expect(clocks).toEqual([4 + 1000, 4 + 2000, 4 + 3000, 4 + 4000]);
    expect(m.events.every((e) => e.kind === 'interrupt' && e.vector === 0x41)).toBe(true);
  });

  it('TSC-deadline through WRMSR: armed at TSC + 300, the halted core wakes at that TSC', async () => {
    const m = makeMachine(1);
    await m.load(0x1000, `
      mov rbx, 0xfee00000
      mov dword ptr [rbx + 0xf0], 0x1ff
      mov dword ptr [rbx + 0x320], 0x40042
      rdtsc
      add eax, 300
      mov ecx, 0x6e0
      wrmsr
      sti
      hlt
      cli
      hlt`);
    const c = m.cpus[0]!;
    c.rip = 0x1000;
    c.tscOffset = 77;
    m.run();
    // RDTSC is the fourth instruction: it reads TSC = 3 + 77; the deadline 380 is TSC at clock 303.
    expect(m.events).toEqual([{ core: 0, kind: 'interrupt', vector: 0x42, clock: 303 }]);
  });
});
