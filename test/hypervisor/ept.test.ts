/**
 * L1's EPT-violation and EPT-misconfiguration handling (exits/ept.ts,
 * mmioEmulation.ts; reasons 48 and 49, SDM Vol. 3C §29.3.3, qualification
 * §28.2.1 Table 28-7), the VM's MMIO regions (Vm.addMmio) and the guest
 * page walk L1 uses to read the faulting instruction (guestPaging.ts,
 * Vol. 3A §4.5). Expected values come from the SDM and the guests' code.
 */
import { describe, expect, it } from 'vitest';
import mmioGuest, { SCRATCH_GPA, SCRATCH_SIZE, ScratchDevice } from '../../guests/l2/mmio.ts';
import { guestLinearToPhysical } from '../../hypervisor/guestPaging.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import type { MmioDevice } from '../../hypervisor/mmio.ts';
import { GUEST_CODE, GUEST_PAGE_TABLES, type Vm } from '../../hypervisor/vm.ts';
import { ExitReason } from '../../vmx/exitReason.ts';
import { asm } from '../support/asm.ts';

/** Maps linear 3 GiB - 4 GiB to guest-physical 3 GiB - 4 GiB with one 1-GByte page (PDPT entry 3: P, R/W, PS). */
const MAP_HIGH_GIB = `
    mov rdi, ${GUEST_PAGE_TABLES + 0x1000}
    mov rax, 0xc0000083
    mov [rdi + 24], rax`;

async function runMmio(source: string, withDevice = true): Promise<{ l1: L1; vm: Vm; device: ScratchDevice }> {
  const l1 = new L1();
  const vm = l1.createVm('mmio');
  const device = new ScratchDevice();
  if (withDevice) vm.addMmio(SCRATCH_GPA, SCRATCH_SIZE, device);
  l1.addLongModeVcpu(vm, await asm(source, 64, GUEST_CODE));
  l1.run(1_000_000);
  return { l1, vm, device };
}

const eptExits = (l1: L1) => l1.trace.filter((e) => e.reason === ExitReason.EptViolation).map((e) => [e.qualification, e.handler, e.decision]);

describe('MMIO emulation on EPT violations (SDM Vol. 3C §29.3.3.2)', () => {
  it('the mmio guest passes: every MOV form reaches the device with the right offset, size and value', async () => {
    const l1 = new L1();
    const vm = l1.createVm('mmio');
    mmioGuest.setup(vm);
    l1.addLongModeVcpu(vm, await asm(mmioGuest.source, 64, GUEST_CODE));
    l1.run(1_000_000);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'ucall done' });
    expect(vm.console).toBe('MMIO stores and loads of every size behave\n');
    const device = vm.mmioAt(SCRATCH_GPA)!.device as ScratchDevice;
    // The guest's stack pointer at the store: GUEST_STACK, untouched by then.
    expect(device.log).toEqual([
      ['write', 0, 1, 0x11n], ['write', 2, 2, 0x2233n], ['write', 4, 4, 0x44556677n], ['write', 8, 8, 0x8877665544332211n],
      ['write', 16, 8, 0xfffffffffffffffen], ['write', 24, 1, 0x22n], ['write', 25, 1, 0x99n], ['write', 26, 2, 0xabcdn],
      ['write', 32, 8, 0x80000n],
      ['read', 8, 8, 0x8877665544332211n], ['read', 4, 4, 0x44556677n], ['read', 2, 2, 0x2233n], ['read', 0, 1, 0x11n],
      ['read', 25, 1, 0x99n], ['read', 16, 8, 0xfffffffffffffffen], ['read', 26, 2, 0xabcdn], ['read', 32, 8, 0x80000n],
      ['read', 8, 8, 0x8877665544332211n],
      ['write', 36, 4, 0x5a5a5a5an], ['read', 36, 4, 0x5a5a5a5an],
    ]);
    // Qualification: data write 0x182 / data read 0x181 (bits 1/0, linear address valid 7, to its translation 8), EPT entries not present (5:3 = 0).
    const exits = eptExits(l1);
    expect(exits.length).toBe(20);
    expect(exits.slice(0, 2)).toEqual([['0000000000000182', 'mmio:write', 'resume'], ['0000000000000182', 'mmio:write', 'resume']]);
    expect(exits[9]).toEqual(['0000000000000181', 'mmio:read', 'resume']);
  });

  it('moves RIP past the emulated instruction by its decoded length (the exit gives no length, §28.2.4)', async () => {
    const { l1, vm } = await runMmio(`${MAP_HIGH_GIB}
    mov rsi, 0xc0000000
    mov qword ptr [rsi + 8], 0x7f   ; 48 C7 46 08 7F 00 00 00: 8 bytes
    mov eax, 1
    mov ebx, 0
    vmcall`);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'exit 0' });
    const ept = l1.trace.find((e) => e.reason === ExitReason.EptViolation)!;
    const vmcall = l1.trace.find((e) => e.reason === ExitReason.Vmcall)!;
    expect(BigInt(`0x${vmcall.guestRip}`) - BigInt(`0x${ept.guestRip}`)).toBe(8n + 5n + 5n);
  });

  it('stops the VM for an instruction it does not emulate, naming it', async () => {
    const { vm } = await runMmio(`${MAP_HIGH_GIB}
    mov rsi, 0xc0000000
    add [rsi], eax`);
    expect(vm.outcome.kind).toBe('stopped');
    expect((vm.outcome as { detail: string }).detail).toMatch(/^MMIO scratch at 0xc0000000: add \(opcode 0x1\) is not emulated/);
  });

  it('stops the VM for an access that leaves the device region', async () => {
    const { vm } = await runMmio(`${MAP_HIGH_GIB}
    mov rsi, 0xc0000ffc
    mov [rsi], rax`);
    expect(vm.outcome).toMatchObject({ kind: 'stopped', detail: expect.stringContaining('MMIO scratch at 0xc0000ffc: a 8-byte access leaves the region') });
  });
});

describe('EPT violations outside guest RAM and MMIO stop the VM (Table 28-7)', () => {
  it.each([
    ['data write', 'mov dword ptr [rsi], 1'],
    ['data read', 'mov eax, [rsi]'],
    ['instruction fetch', 'jmp rsi'],
  ])('a %s at guest-physical 0xd0000000 is reported with the address and the access', async (access, insn) => {
    const { vm } = await runMmio(`${MAP_HIGH_GIB}
    mov rsi, 0xd0000000
    ${insn}`);
    expect(vm.outcome).toMatchObject({
      kind: 'stopped',
      detail: expect.stringMatching(new RegExp(`^EPT violation: ${access} at guest-physical 0xd0000000 beyond the VM's 4 MiB of RAM, at rip 0x`)),
    });
  });

  it('an instruction fetch from a device region stops the VM', async () => {
    const { vm } = await runMmio(`${MAP_HIGH_GIB}
    mov rsi, 0xc0000000
    jmp rsi`);
    expect(vm.outcome).toMatchObject({ kind: 'stopped', detail: expect.stringContaining('instruction fetch at guest-physical 0xc0000000 from MMIO scratch') });
  });
});

describe('EPT misconfigurations are L1 bugs (SDM Vol. 3C §29.3.3.1)', () => {
  it('a write-only ept12 entry (bits 2:0 = 010b) stops the VM with the guest-physical address', async () => {
    const l1 = new L1();
    const vm = l1.createVm('misconfig');
    l1.addLongModeVcpu(vm, await asm(`
    mov rdi, ${GUEST_PAGE_TABLES + 0x1000}
    mov rax, 0x40000083            ; linear 1 GiB: guest-physical 1 GiB, one 1-GByte page
    mov [rdi + 8], rax
    mov rsi, 0x40000000
    mov eax, [rsi]`, 64, GUEST_CODE));
    // ept12's PML4 entry 0 points at its PDPT; entry 1 there (guest-physical 1-2 GiB) becomes write-only.
    const phys = l1.machine.phys;
    const pdpt = phys.readSized(vm.ept.pml4, 4) & ~0xfff;
    phys.writeSized(pdpt + 8, 4, 0x2);
    l1.run(1_000_000);
    expect(l1.trace.at(-1)!.reason).toBe(ExitReason.EptMisconfiguration);
    expect(vm.outcome).toMatchObject({ kind: 'stopped', detail: expect.stringMatching(/^EPT misconfiguration at guest-physical 0x40000000 \(an L1 bug in ept12\)/) });
  });
});

describe('Vm.addMmio', () => {
  const device: MmioDevice = { name: 'd', read: () => 0n, write: () => {} };

  it('refuses a region inside guest RAM or overlapping another, and finds the region of an address', () => {
    const vm = new L1().createVm('regions', 4);
    expect(() => vm.addMmio(0x3ff000, 0x1000, device)).toThrow(/beyond guest RAM/);
    vm.addMmio(0x400000, 0x1000, device);
    expect(() => vm.addMmio(0x400800, 0x1000, device)).toThrow(/overlaps d/);
    expect(vm.mmioAt(0x400fff)?.gpa).toBe(0x400000);
    expect(vm.mmioAt(0x401000)).toBeUndefined();
  });
});

describe('the guest page walk (SDM Vol. 3A §4.5, 4-level paging)', () => {
  /** A VM with tables at 0x100000: PML4 → PDPT → PD → PT, with a 4-KByte, a 2-MByte and a 1-GByte page. */
  function tables(): Vm {
    const vm = new L1().createVm('walk', 4);
    const entry = (at: number, value: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, value, true);
      vm.write(at, b);
    };
    const pml4 = 0x100000, pdpt = 0x101000, pd = 0x102000, pt = 0x103000;
    entry(pml4 + 8 * 1, BigInt(pdpt) | 0x3n);          // linear 0x0000_0080_0000_0000
    entry(pdpt + 8 * 2, BigInt(pd) | 0x3n);            // + 2 GiB
    entry(pd + 8 * 3, BigInt(pt) | 0x3n);              // + 6 MiB: a page table
    entry(pt + 8 * 5, 0x234000n | 0x3n);               // + 5 pages → 0x234000
    entry(pd + 8 * 4, 0x200000n | 0x83n);              // + 8 MiB: a 2-MByte page at 0x200000
    entry(pdpt + 8 * 3, 0xc0000000n | 0x83n);          // + 3 GiB: a 1-GByte page at 3 GiB
    entry(pt + 8 * 6, 0x235000n);                      // not present
    return vm;
  }
  const base = 0x80_0000_0000;

  it.each([
    ['a 4-KByte page', base + 0x80000000 + 3 * 0x200000 + 5 * 0x1000 + 0x123, 0x234123],
    ['a 2-MByte page', base + 0x80000000 + 4 * 0x200000 + 0x12345, 0x212345],
    ['a 1-GByte page', base + 3 * 0x40000000 + 0x1234567, 0xc1234567],
    ['a not-present PTE', base + 0x80000000 + 3 * 0x200000 + 6 * 0x1000, null],
    ['a not-present PML4E', 0x1000, null],
  ])('translates through %s', (_what, linear, gpa) => {
    expect(guestLinearToPhysical(tables(), 0x100000, linear)).toBe(gpa);
  });

  it('ignores CR3 bits 11:0 and gives null for tables outside guest RAM', () => {
    const vm = tables();
    expect(guestLinearToPhysical(vm, 0x100018, base + 3 * 0x40000000)).toBe(0xc0000000);
    expect(guestLinearToPhysical(vm, 0x10000000, 0)).toBeNull();
  });
});
