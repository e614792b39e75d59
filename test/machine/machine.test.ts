/**
 * The Machine object: configuration checks, the power-up state of the
 * bootstrap processor and the application processors, the read-only
 * probe, events, and every way a run can end.
 */
import { describe, expect, it } from 'vitest';
import { Activity } from '../../cpu/cpu.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { MachineConfigError } from '../../cpu/machine/options.ts';
import { describeStop, type MachineStop } from '../../cpu/machine/stop.ts';
import { asm } from '../support/asm.ts';

const CODE = 0x10000;

async function machineWith(source: string, bits: 16 | 32 | 64 = 64, cpus = 1): Promise<Machine> {
  const m = new Machine({ cpus, memoryMiB: 4 });
  m.loadFlat(await asm(source, bits, CODE), { fileName: 'test', address: CODE, bits });
  return m;
}

describe('configuration (bad options are one-line errors before anything runs)', () => {
  it.each([
    [{ cpus: 0 }, 'cpus must be an integer from 1 to 64, got 0'],
    [{ cpus: 65 }, 'cpus must be an integer from 1 to 64, got 65'],
    [{ cpus: 1.5 }, 'cpus must be an integer from 1 to 64, got 1.5'],
    [{ memoryMiB: 1 }, 'memoryMiB must be an integer from 2 to 16384, got 1'],
    [{ quantum: 0 }, 'quantum must be an integer from 1 to 1000000000, got 0'],
    [{ devices: { floppy: true } }, "unknown device option 'floppy' (known: serial, debugExit, fwCfg, pci, acpi)"],
  ])('%j is refused', (opts, message) => {
    expect(() => new Machine(opts as never)).toThrow(new MachineConfigError(message));
  });

  it('allocates RAM lazily: a 4 GiB machine touches only what it uses', () => {
    const m = new Machine({ memoryMiB: 4096 });
    expect(m.phys.size).toBe(4096 * 1024 * 1024);
    expect(m.phys.allocatedBytes).toBeLessThan(64 * 1024);
  });

  it('leaves devices out on request', () => {
    const m = new Machine({ devices: { serial: false, acpi: false } });
    expect(m.uart).toBeNull();
    expect(m.acpi).toBeNull();
    expect(m.io.read(0x3fd, 1)).toBe(0xff);
  });
});

describe('power-up state (SDM Vol. 3A §10.1.1, Table 10-1)', () => {
  it('starts the BSP at F000:FFF0 (linear FFFFFFF0H) in real mode with EDX = the CPUID signature', () => {
    const m = new Machine({ cpus: 2 });
    const bsp = m.probe.core(0);
    expect(bsp.activity).toBe('active');
    expect(bsp.rip).toBe(0xfff0n);
    expect(bsp.segments.cs).toEqual({ selector: 0xf000, base: 0xffff0000, limit: 0xffff, attr: 0x9b });
    expect(bsp.segments.ds).toEqual({ selector: 0, base: 0, limit: 0xffff, attr: 0x93 });
    expect(bsp.cr0).toBe(0x60000010);
    expect(bsp.rflags).toBe(2);
    expect(bsp.mode).toBe(16);
    // Family 6, model 8FH, stepping 8: stepping | model[3:0] << 4 | family << 8 | model[7:4] << 16.
    expect(bsp.regs.rdx).toBe(BigInt(8 | (0xf << 4) | (6 << 8) | (0x8 << 16)));
  });

  it('keeps the application processors waiting for SIPI', () => {
    const m = new Machine({ cpus: 3 });
    expect([1, 2].map((k) => m.probe.core(k).activity)).toEqual(['wait-for-sipi', 'wait-for-sipi']);
  });

  it('reports the core count in CPUID topology and gives each core its own APIC ID and RDRAND stream', async () => {
    const m = await machineWith('mov eax, 0xb\nmov ecx, 1\ncpuid\nmov r8, rbx\nmov r9, rdx\nrdrand r10\nhlt', 64, 3);
    m.run();
    expect(m.probe.core(0).regs.r8 & 0xffffn).toBe(3n); // logical processors at the core level
    expect(m.cpus.map((c) => c.id)).toEqual([0, 1, 2]);
    expect(new Set(m.cpus.map((c) => c.rngState)).size).toBe(3);
  });
});

describe('the probe reads without changing anything', () => {
  it('reads registers and RAM, and never a device register', async () => {
    const source = 'mov rax, 0x1122334455667788\nmov ebx, 0x30000\nmov dword ptr [rbx], 0xdeadbeef\nhlt';
    const m = await machineWith(source);
    m.run();
    const core = m.probe.core(0);
    expect(core.regs.rax).toBe(0x1122334455667788n);
    expect(core.rip).toBe(BigInt(CODE + (await asm(source, 64, CODE)).length)); // past the HLT
    expect(m.probe.read32(0x30000)).toBe(0xdeadbeef);
    // Addresses beyond RAM (and MMIO pages) read as all ones without reaching any device.
    expect(Array.from(m.probe.read(m.phys.size - 2, 4))).toEqual([0, 0, 0xff, 0xff]);
    expect(m.probe.read(0xfee00000, 4)).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(m.probe.instructionCounts()).toEqual([4]);
  });
});

describe('how a run ends', () => {
  const stopOf = async (source: string, cpus = 1): Promise<{ m: Machine; stop: MachineStop }> => {
    const m = await machineWith(source, 64, cpus);
    const stop = m.run({ maxInstructions: 10_000 });
    return { m, stop };
  };

  it('isa-debug-exit: the machine stops with code (value << 1) | 1 right after the OUT, and stays stopped', async () => {
    const { m, stop } = await stopOf('mov eax, 0x21\nout 0xf4, eax\nmov ebx, 1\nhlt');
    expect(stop).toEqual({ kind: 'exit', code: 0x43 });
    expect(m.exitCode).toBe(0x43);
    expect(m.probe.core(0).regs.rbx).toBe(0n);
    expect(m.probe.core(0).icount).toBe(2);
    expect(m.run()).toEqual({ kind: 'exit', code: 0x43 });
  });

  it('a reset request through port 0xcf9 is a shutdown (the machine does not reboot)', async () => {
    const { stop } = await stopOf('mov al, 6\nmov dx, 0xcf9\nout dx, al\nhlt');
    expect(stop.kind).toBe('shutdown');
    expect(describeStop(stop)).toContain('0xcf9');
  });

  it("an exception the core's hook stops on ends the run naming core, vector, error code and RIP", async () => {
    const m = await machineWith('nop\nud2');
    // The hook a core has without IDT delivery (the Cpu default), whatever wiring.ts installs.
    m.cpus[0]!.onException = (c, e) => { c.stopReason = { kind: 'exception', vector: e.vector, errorCode: e.errorCode, rip: c.rip }; };
    const stop = m.run({ maxInstructions: 100 });
    expect(stop).toEqual({ kind: 'exception', core: 0, vector: 6, errorCode: -1, rip: CODE + 1 });
    expect(describeStop(stop)).toBe('unhandled #UD on core 0 at rip=0x10001 (no exception delivery installed)');
  });

  it('a core in the shutdown state (triple fault) stops the machine with a report of its control registers', async () => {
    const m = await machineWith('l: jmp l');
    const c = m.cpus[0]!;
    c.timers.schedule(50, () => { c.activity = Activity.Shutdown; });
    const stop = m.run({ maxInstructions: 1000 });
    expect(stop.kind).toBe('triple-fault');
    if (stop.kind !== 'triple-fault') return;
    expect(stop.core).toBe(0);
    expect(stop.report).toBe(`triple fault at rip=0x${CODE.toString(16)} cr0=0x80000011 cr3=0x9d000 cr4=0x20 efer=0x500`);
    expect(m.probe.core(0).icount).toBe(50);
  });

  it('the instruction limit leaves the machine ready to continue', async () => {
    const { m, stop } = await stopOf('l: jmp l');
    expect(stop).toEqual({ kind: 'limit' });
    expect(m.retired).toBe(10_000);
    expect(m.run({ maxInstructions: 5 })).toEqual({ kind: 'limit' });
    expect(m.retired).toBe(10_005);
  });

  it('emits serial bytes and the stop as events, in order', async () => {
    const m = await machineWith("mov dx, 0x3f8\nmov al, 'h'\nout dx, al\nmov al, 'i'\nout dx, al\nout 0xf4, al");
    const seen: string[] = [];
    m.events.on('serial', (b) => seen.push(String.fromCharCode(b)));
    const off = m.events.on('stop', (s) => seen.push(s.kind));
    m.run();
    off();
    m.run();
    expect(seen).toEqual(['h', 'i', 'exit']);
  });

  it('counts unclaimed ports, reading all ones and ignoring writes', async () => {
    // COM3's ports: nothing on this machine claims them.
    const m = await machineWith('mov dx, 0x3e9\nin al, dx\nmov bl, al\ninc dx\nout dx, al\nout dx, al\nhlt');
    m.run();
    expect(m.probe.core(0).regs.rbx & 0xffn).toBe(0xffn);
    expect(m.io.unclaimedReads).toBe(1);
    expect(m.io.unclaimedWrites).toBe(2);
    expect(m.io.summary()).toBe('unclaimed ports: 1 reads, 2 writes (0x3e9 r1, 0x3ea w2)');
  });
});
