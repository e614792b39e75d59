/**
 * The SMP scheduler (DESIGN decision 3): round-robin with a fixed quantum,
 * machine time shared by all cores, timers run at their exact due times,
 * halted cores idling forward, and same inputs ⇒ same interleaving ⇒
 * same outputs. Programs are 64-bit, started directly in flat mode; APs
 * are started by setting their state (INIT/SIPI comes with the system part).
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { enterAt } from '../../cpu/loaders/entry.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import type { MachineOptions } from '../../cpu/machine/options.ts';
import { Reg } from '../../cpu/registers.ts';
import { asm } from '../support/asm.ts';

const CODE = 0x10000;

/** A machine with `source` at CODE; every core listed in `start` runs it from CODE with RAX = its core number. */
async function smp(source: string, opts: MachineOptions & { start?: number[] } = {}): Promise<Machine> {
  const m = new Machine({ memoryMiB: 4, ...opts });
  const code = await asm(source, 64, CODE);
  const entry = m.loadFlat(code, { fileName: 'test', address: CODE, bits: 64 });
  for (const k of opts.start ?? [0]) {
    enterAt(m.cpus[k]!, entry);
    m.cpus[k]!.r[Reg.RAX << 1] = k;
  }
  return m;
}

const text = (m: Machine): string => String.fromCharCode(...m.serialOutput);

/** Each core prints its digit forever: two instructions per byte. */
const PRINT_DIGIT_LOOP = `
  add al, '0'
  mov dx, 0x3f8
l: out dx, al
  jmp l`;

describe('round-robin scheduling with a fixed quantum', () => {
  it('gives each core `quantum` instructions per round, in core order', async () => {
    const quantum = 10;
    const m = await smp(PRINT_DIGIT_LOOP, { cpus: 3, quantum, start: [0, 1, 2] });
    const stop = m.run({ maxInstructions: 3 * quantum * 4 });
    expect(stop).toEqual({ kind: 'limit' });
    expect(m.probe.instructionCounts()).toEqual([40, 40, 40]);
    // Round 1: 2 setup instructions, then 4 bytes (8 instructions); later rounds: 5 bytes each.
    const round = (n: number) => '0'.repeat(n) + '1'.repeat(n) + '2'.repeat(n);
    expect(text(m)).toBe(round(4) + round(5) + round(5) + round(5));
    expect(m.time).toBe(40);
  });

  it('counts the budget over all cores and resumes mid-turn exactly where it stopped', async () => {
    const once = await smp(PRINT_DIGIT_LOOP, { cpus: 3, quantum: 10, start: [0, 1, 2] });
    once.run({ maxInstructions: 97 });
    const chunked = await smp(PRINT_DIGIT_LOOP, { cpus: 3, quantum: 10, start: [0, 1, 2] });
    let total = 0;
    for (const n of [7, 1, 13, 30, 4, 42]) {
      const before = chunked.retired;
      chunked.run({ maxInstructions: n });
      expect(chunked.retired - before).toBe(n);
      total += n;
    }
    expect(total).toBe(97);
    expect(text(chunked)).toBe(text(once));
    expect(chunked.probe.instructionCounts()).toEqual(once.probe.instructionCounts());
    // 97 = 3 full rounds (90) + 7 of core 0's fourth turn.
    expect(once.probe.instructionCounts()).toEqual([37, 30, 30]);
  });

  it('step() retires exactly one instruction', async () => {
    const m = await smp(PRINT_DIGIT_LOOP, { cpus: 2, quantum: 3, start: [0, 1] });
    const seen: number[][] = [];
    for (let k = 0; k < 8; k++) {
      expect(m.step()).toEqual({ kind: 'limit' });
      seen.push(m.probe.instructionCounts());
    }
    expect(seen).toEqual([[1, 0], [2, 0], [3, 0], [3, 1], [3, 2], [3, 3], [4, 3], [5, 3]]);
  });
});

describe('determinism: same inputs, same interleaving, same outputs', () => {
  // Cores race on a shared counter with LOCK XADD and print the last digit of what they got.
  const RACE = `
    mov rbx, 0x20000
    mov ecx, 200
    mov dx, 0x3f8
  l: mov eax, 1
    lock xadd dword ptr [rbx], eax
    xor edx, edx
    mov esi, 10
    div esi
    lea eax, [rdx + 0x30]
    mov dx, 0x3f8
    out dx, al
    imul edi, eax, 7
    and edi, 15
  spin: dec edi
    jns spin
    dec ecx
    jnz l
    hlt`;

  it('gives byte-identical serial output and identical per-core instruction counts on two runs', async () => {
    const runOnce = async () => {
      const m = await smp(RACE, { cpus: 4, quantum: 37, start: [0, 1, 2, 3] });
      const stop = m.run({ maxInstructions: 1_000_000 });
      return { stop, out: text(m), counts: m.probe.instructionCounts(), time: m.time, counter: m.probe.read32(0x20000) };
    };
    const a = await runOnce();
    const b = await runOnce();
    expect(a.stop).toEqual({ kind: 'idle' });
    expect(a.counter).toBe(800);
    expect(a.out.length).toBe(800);
    expect(b).toEqual(a);
  });
});

describe('time: clocks, idle cores and timers', () => {
  it('keeps a halted core\'s clock level with machine time (idle ticks)', async () => {
    const m = await smp('l: jmp l', { cpus: 2, quantum: 10 });
    m.cpus[1]!.activity = Activity.Hlt;
    m.run({ maxInstructions: 100 });
    expect(m.probe.core(0).icount).toBe(100);
    expect(m.probe.core(1)).toMatchObject({ icount: 0, clock: 100, idleTicks: 100, activity: 'hlt' });
    expect(m.time).toBe(100);
  });

  it('runs a core\'s timer at exactly its due clock, never letting the core run past it', async () => {
    const m = await smp('l: jmp l', { cpus: 2, quantum: 10, start: [0, 1] });
    const fired: { clock: number; icount: number; time: number }[] = [];
    const c1 = m.cpus[1]!;
    c1.timers.schedule(25, () => fired.push({ clock: c1.clock, icount: c1.icount, time: m.time }));
    m.run({ maxInstructions: 60 });
    expect(fired).toEqual([{ clock: 25, icount: 25, time: 25 }]);
  });

  it('runs global timers at machine time between rounds, with every core at that time', async () => {
    const m = await smp('l: jmp l', { cpus: 3, quantum: 10, start: [0, 1, 2] });
    const clocks: number[][] = [];
    m.timers.schedule(35, () => clocks.push(m.cpus.map((c) => c.clock)));
    m.run({ maxInstructions: 120 });
    expect(clocks).toEqual([[35, 35, 35]]);
  });

  it('wakes a halted core from its own timer and lets it run from that time', async () => {
    // Core 1 halts at once; its timer at 37 makes it active again (as an interrupt would), it prints '1' and halts.
    const m = await smp(`
      add al, '0'
      mov dx, 0x3f8
      hlt
      out dx, al
      hlt`, { cpus: 2, quantum: 10, start: [1] });
    m.cpus[0]!.activity = Activity.Hlt;
    const c1 = m.cpus[1]!;
    c1.timers.schedule(37, () => { c1.activity = Activity.Active; });
    const stop = m.run({ maxInstructions: 1000 });
    expect(stop).toEqual({ kind: 'idle' });
    expect(text(m)).toBe('1');
    expect(c1.icount).toBe(5); // add, mov, hlt, out, hlt
    expect(c1.idleTicks).toBe(37 - 3 + (m.time - 39));
  });

  it('jumps machine time straight to the next timer when every core is halted', async () => {
    const m = await smp('hlt', { cpus: 2, quantum: 10 });
    const due = 1_000_000_000;
    let firedAt = -1;
    m.cpus[1]!.timers.schedule(due, () => { firedAt = m.cpus[1]!.clock; });
    const stop = m.run({ maxInstructions: 10 });
    expect(stop).toEqual({ kind: 'idle' });
    expect(firedAt).toBe(due);
    expect(m.time).toBeGreaterThanOrEqual(due);
    expect(m.probe.instructionCounts()).toEqual([1, 0]);
  });

  it('treats events that cannot wake a halted core (still pending after a quiet round) like no events', async () => {
    const m = await smp('hlt', { cpus: 2, quantum: 10 });
    let serviced = 0;
    for (const c of m.cpus) {
      c.eventsPending = true;
      c.serviceEvents = () => { serviced++; }; // e.g. an interrupt held off by IF = 0: it stays pending
    }
    const due = 500_000_000;
    m.cpus[0]!.timers.schedule(due, () => {});
    expect(m.run()).toEqual({ kind: 'idle' });
    expect(m.time).toBeGreaterThanOrEqual(due);
    expect(serviced).toBeLessThan(20); // a handful of rounds, not due / quantum of them
  });

  it('stops as idle when every core is halted and no timer is pending anywhere', async () => {
    const m = await smp('hlt', { cpus: 4 });
    expect(m.cpus.slice(1).map((c) => c.activity)).toEqual([Activity.WaitForSipi, Activity.WaitForSipi, Activity.WaitForSipi]);
    const stops: string[] = [];
    m.events.on('stop', (s) => stops.push(s.kind));
    expect(m.run()).toEqual({ kind: 'idle' });
    expect(stops).toEqual(['idle']);
  });
});
