/**
 * Events between instructions (SDM Vol. 3A §6.7-§6.9, §10.4): NMI and its
 * blocking until IRET, maskable interrupts from the interrupt source, the
 * STI and MOV SS interrupt shadows, wake-up from HLT, INIT and SIPI; and
 * the double-fault rules with shutdown (§6.15, Table 6-5).
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { Vector } from '../../cpu/exceptions.ts';
import type { InterruptSource } from '../../cpu/interrupts/source.ts';
import { CODE_BASE } from '../support/machine.ts';
import {
  gate64, handlerAddress, IDT, load, longModeCore, SEL64, stackSlots, systemCore, toUser64, TSS, writeDwords,
} from './support.ts';

/** An interrupt controller stand-in: a queue of vectors. */
class FakeSource implements InterruptSource {
  readonly queue: number[] = [];
  acknowledged = 0;
  hasInterrupt(): boolean { return this.queue.length > 0; }
  acknowledge(): number { this.acknowledged++; return this.queue.shift()!; }
}

function raise(t: { cpu: { eventsPending: boolean } }): void {
  t.cpu.eventsPending = true;
}

describe('maskable interrupts (SDM Vol. 3A §6.8.1)', () => {
  it('are delivered when IF = 1, with the next instruction as return address', async () => {
    const t = await longModeCore('sti\nnop\nnop\nnop\nhlt');
    const src = new FakeSource();
    t.cpu.interruptSource = src;
    src.queue.push(0x30);
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x30) + 1);
    expect(src.acknowledged).toBe(1);
  });

  it('stay pending while IF = 0 and are taken after STI plus one instruction (the STI shadow, §6.8.3)', async () => {
    // LTR prologue (7) | nop (1) | sti (1) | nop (1) | nop ...: delivery after the NOP following STI.
    const t = await longModeCore('nop\nsti\nnop\nnop\nnop\nhlt');
    const src = new FakeSource();
    t.cpu.interruptSource = src;
    src.queue.push(0x31);
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x31) + 1);
    expect(stackSlots(t, 1)[0]).toBe(BigInt(CODE_BASE + 7 + 3));
  });

  it('MOV SS blocks them until the next instruction retires (§6.8.3)', async () => {
    // Bytes: LTR prologue (7), STI (1), NOP (1), MOV AX, SS (66 8C D0), MOV SS, AX (66 8E D0), NOP, NOP, HLT.
    const t = await longModeCore('sti\nnop\nmov ax, ss\nmov ss, ax\nnop\nnop\nhlt');
    const src = new FakeSource();
    t.cpu.interruptSource = src;
    t.run(6); // through MOV SS
    src.queue.push(0x32);
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x32) + 1);
    // Not before the NOP after MOV SS: the return address is the second NOP.
    expect(stackSlots(t, 1)[0]).toBe(BigInt(CODE_BASE + 7 + 1 + 1 + 3 + 3 + 1));
  });

  it('wake a core from HLT; RIP returns past the HLT (§6.8, HLT)', async () => {
    const t = await longModeCore('sti\nhlt\nnop');
    const src = new FakeSource();
    t.cpu.interruptSource = src;
    expect(t.run().kind).toBe('halt');
    expect(t.cpu.activity).toBe(Activity.Hlt);
    src.queue.push(0x33);
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(0x33) + 1);
    expect(stackSlots(t, 1)[0]).toBe(BigInt(CODE_BASE + 7 + 2));
  });

  it('do not wake HLT with IF = 0', async () => {
    const t = await longModeCore('cli\nhlt\nnop');
    const src = new FakeSource();
    t.cpu.interruptSource = src;
    t.run();
    src.queue.push(0x34);
    raise(t);
    expect(t.run().kind).toBe('halt');
    expect(src.acknowledged).toBe(0);
    expect(t.cpu.activity).toBe(Activity.Hlt);
  });
});

describe('NMI (SDM Vol. 3A §6.7.1)', () => {
  /** The NMI handler counts NMIs at [6000H] and returns with IRETQ. */
  const program = `
    mov dword ptr [0x6000], 0
    mov rax, nmi
    mov word ptr [${IDT} + 2 * 16], ax
    shr rax, 16
    mov word ptr [${IDT} + 2 * 16 + 6], ax
    cli
  spin:
    cmp dword ptr [0x6000], 2
    jne spin
    hlt
  nmi:
    inc dword ptr [0x6000]
    mov ecx, 200
  busy:
    loop busy
    iretq`;

  it('is delivered with IF = 0, blocks further NMIs until IRET, then the next one is taken', async () => {
    const t = await longModeCore(program);
    t.run(20);
    t.cpu.nmiPending = true;
    raise(t);
    t.run(20); // inside the first handler's busy loop
    expect(t.phys.readSized(0x6000, 4)).toBe(1);
    expect(t.cpu.sys.nmiBlocked).toBe(true);
    t.cpu.nmiPending = true;
    raise(t);
    t.run(100); // still in the handler: the second NMI waits
    expect(t.phys.readSized(0x6000, 4)).toBe(1);
    expect(t.cpu.nmiPending).toBe(true);
    t.run();
    expect(t.phys.readSized(0x6000, 4)).toBe(2);
    expect(t.cpu.sys.nmiBlocked).toBe(false);
    expect(t.stop.kind).toBe('halt');
  });

  it('wakes a core from HLT even with IF = 0', async () => {
    const t = await longModeCore('cli\nhlt\nnop');
    t.run();
    t.cpu.nmiPending = true;
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.NMI) + 1);
  });
});

describe('double fault and shutdown (SDM Vol. 3A §6.15, Table 6-5)', () => {
  it('a contributory fault while delivering a contributory one is #DF with error code 0', async () => {
    // #GP's gate is not present: delivering #GP raises #NP → #DF.
    const t = await longModeCore('mov ax, 0x1000\nmov ds, ax');
    writeDwords(t, IDT + 16 * Vector.GP, gate64({ type: 0xe, selector: SEL64.code, offset: 0, present: false }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.DF) + 1);
    expect(stackSlots(t, 1)[0]).toBe(0n);
  });

  it('a benign exception whose delivery faults is handled serially: #NP for #UD, not #DF', async () => {
    const t = await longModeCore('ud2');
    writeDwords(t, IDT + 16 * Vector.UD, gate64({ type: 0xe, selector: SEL64.code, offset: 0, present: false }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.NP) + 1);
  });

  it('a #PF while delivering a #PF is #DF (stack of the handler not mapped)', async () => {
    // User code touches an unmapped page (above the 2-MiB identity map); TSS.RSP0 points to another.
    const t = await longModeCore(`${toUser64('user')}\nuser:\nmov rax, 0x400000\nmov rax, [rax]`);
    writeDwords(t, TSS + 4, [0x600000, 0]);
    writeDwords(t, IDT + 16 * Vector.DF, gate64({ type: 0xe, selector: SEL64.code, offset: handlerAddress(Vector.DF), count: 1 }));
    t.run();
    expect(t.cpu.rip).toBe(handlerAddress(Vector.DF) + 1);
    expect(t.cpu.cr2).toBe(0x600000 - 8); // the second #PF: the first push on the new stack
    const [err, , cs] = stackSlots(t, 3);
    expect(err).toBe(0n);
    expect(cs).toBe(BigInt(SEL64.codeUser));
  });

  it('a contributory fault while delivering #DF shuts the core down (triple fault)', async () => {
    const t = await longModeCore('mov ax, 0x1000\nmov ds, ax');
    for (const v of [Vector.GP, Vector.DF]) {
      writeDwords(t, IDT + 16 * v, gate64({ type: 0xe, selector: SEL64.code, offset: 0, present: false }));
    }
    const stop = t.run();
    expect(stop.kind).toBe('stop');
    expect(stop.kind === 'stop' && stop.why).toMatch(/^triple fault \(#GP → #NP → #DF → #NP\) at rip=0x000000000000100b cr0=0x80000011 cr3=0x0000000000009000 cr4=0x00000020/);
    expect(t.cpu.activity).toBe(Activity.Shutdown);
    expect(t.run().kind).toBe('halt'); // stays shut down
  });
});

describe('INIT and SIPI (SDM Vol. 3A §10.1.1 Table 10-1, §10.4)', () => {
  it('INIT puts an AP into wait-for-SIPI with the INIT state; SIPI starts it at VV00:0000 in real mode', async () => {
    const t = await longModeCore('mov rax, 5\nhlt');
    Object.defineProperty(t.cpu, 'id', { value: 1 }); // an AP (no local APIC here: core 0 is the BSP)
    t.run();
    t.cpu.initPending = true;
    raise(t);
    expect(t.run().kind).toBe('halt');
    expect(t.cpu.activity).toBe(Activity.WaitForSipi);
    expect(t.cpu.cr0).toBe(0x10); // CD, NW kept (0 here), ET set
    expect(t.cpu.efer & 0x400).toBe(0); // LMA follows CR0.PG
    expect(t.reg('rax')).toBe(0n);
    expect(Number(t.reg('rdx')) >>> 8).toBe(0x806); // processor signature: family 6, extended model 8
    // The SIPI: vector 10H starts at 1000:0000, physical 10000H.
    await load(t, 'mov ax, cs\nhlt', 16, 0x10000);
    t.cpu.sipiVector = 0x10;
    raise(t);
    t.run();
    expect(t.cpu.activity).toBe(Activity.Hlt);
    expect(t.reg('rax') & 0xffffn).toBe(0x1000n);
    expect(t.cpu.codeSize).toBe(16);
    expect(t.cpu.segBase[1]).toBe(0x10000);
  });

  it('INIT on the BSP restarts it at the reset vector F000:FFF0 (CS base FFFF0000H)', async () => {
    const t = systemCore(64);
    t.cpu.initPending = true;
    t.cpu.serviceEvents(t.cpu);
    expect(t.cpu.activity).toBe(Activity.Active);
    expect(t.cpu.rip).toBe(0xfff0);
    expect(t.cpu.segSel[1]).toBe(0xf000);
    expect(t.cpu.segBase[1]).toBe(0xffff0000);
    expect(t.cpu.codeSize).toBe(16);
    expect(t.cpu.sys.gdtrLimit).toBe(0xffff);
    expect(t.cpu.sys.dr[14]).toBe(0x400);
  });

  it('a SIPI reaching a running core is dropped', async () => {
    const t = systemCore(64);
    await load(t, 'nop\nhlt');
    t.cpu.sipiVector = 0x20;
    raise(t);
    t.run();
    expect(t.cpu.rip).toBe(CODE_BASE + 2);
    expect(t.cpu.sipiVector).toBe(-1);
  });
});
