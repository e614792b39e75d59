/**
 * Loading guests into L1's VMs (issue 6: "inline assembly, flat binary,
 * 64-bit ELF, or a multiboot kernel booted from 32-bit protected mode via
 * unrestricted guest"), with the machine's loaders writing into a VM's RAM
 * (hypervisor/loaders/). Each guest checks its own entry state and reports
 * through the debug exit (OUT to port F4H: 0 passes, n fails with n), so
 * the expected values come from the conventions: L1's 64-bit entry (vm.ts:
 * identity paging, RSP 80000H), the Multiboot Specification §3.2 (EAX
 * 2BADB002H, EBX the information structure, CR0.PE 1, CR0.PG 0, 32-bit
 * segments) and §3.3 (mem_lower, mem_upper, cmdline).
 */
import { describe, expect, it } from 'vitest';
import { LoadError } from '../../cpu/loaders/loadError.ts';
import { Reg } from '../../cpu/registers.ts';
import { buildKernel, TEST_KERNEL_SOURCE } from '../../guests/kernels/build.ts';
import { vmxModelWithout } from '../../hypervisor/cli/features.ts';
import { HypervisorError } from '../../hypervisor/hypervisorError.ts';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { detectFormat, loadGuestImage, type GuestImageOptions } from '../../hypervisor/loaders/guestImage.ts';
import type { Vm } from '../../hypervisor/vm.ts';
import { asm } from '../support/asm.ts';
import { KERNEL_ENTRY, multibootHeader, multibootKernel, writeElf } from '../support/elf.ts';

const MiB = 1 << 20;
/** The debug exit with the value in EAX (exits/io.ts). */
const EXIT = 'mov dx, 0xf4\nout dx, eax\nhlt';
/** `fail_<n>:` labels that exit with n. */
const failures = (n: number): string => Array.from({ length: n }, (_, k) => `fail_${k + 1}:\nmov eax, ${k + 1}\njmp fail`).join('\n') + `\nfail:\n${EXIT}`;

function vmFor(memoryMiB = 4, l1 = new L1()): { l1: L1; vm: Vm } {
  return { l1, vm: l1.createVm('loaded', memoryMiB) };
}

function runLoaded(image: Uint8Array, o: GuestImageOptions, memoryMiB = 4): { l1: L1; vm: Vm; loaded: ReturnType<typeof loadGuestImage> } {
  const { l1, vm } = vmFor(memoryMiB);
  const loaded = loadGuestImage(l1, vm, image, o);
  l1.run(1_000_000);
  return { l1, vm, loaded };
}

describe('flat binaries: the bytes at one address, entered there in 64-bit mode like inline-assembly guests', () => {
  it('runs at the given address with identity paging, IA32_EFER.LMA set and RSP 80000H, and passes by debug exit 0', async () => {
    const code = await asm(`
      lea rax, [rip]               ; RIP-relative only in 64-bit mode: the end of this 7-byte instruction
      cmp rax, 0x20007
      jne fail_2
      mov rax, rsp
      cmp rax, 0x80000
      jne fail_1
      mov rax, cr0
      bt rax, 31                   ; CR0.PG
      jnc fail_3
      mov ecx, 0xc0000080
      rdmsr
      bt eax, 10                   ; IA32_EFER.LMA (SDM Vol. 3A §2.2.1)
      jnc fail_4
      mov dx, 0x3f8
      mov al, 'F'
      out dx, al
      xor eax, eax
      ${EXIT}
      ${failures(4)}`, 64, 0x20000);
    const { vm, loaded } = runLoaded(code, { fileName: 'f.bin', format: 'flat', address: 0x20000 });
    expect(loaded.format).toBe('flat');
    expect(loaded.entry).toEqual({ bits: 64, address: 0x20000, identityMapAt: 0x1000 });
    expect(vm.read(0x20000, code.length)).toEqual(code);
    expect(vm.console).toBe('F');
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
  });

  it('is loaded at GUEST_CODE (10000H) by default, where inline-assembly guests go', async () => {
    const { vm, loaded } = runLoaded(await asm(`lea rax, [rip]\nsub eax, 0x10007\n${EXIT}`, 64, 0x10000), { fileName: 'f.bin' });
    expect(loaded.format).toBe('flat');
    expect(loaded.entry.address).toBe(0x10000);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
  });
});

describe('64-bit ELF executables (System V gABI): PT_LOAD segments at their physical addresses, entered at e_entry', () => {
  it('copies each segment, zeroes the rest of p_memsz, and enters at e_entry inside a segment in 64-bit mode', async () => {
    const code = await asm(`
      mov rax, [0x300000]
      mov rbx, 0x1122334455667788
      cmp rax, rbx
      jne fail_1
      mov rsi, 0x300008
      mov ecx, 0x100
    zeroed:
      cmp byte ptr [rsi], 0
      jne fail_2
      inc rsi
      loop zeroed
      xor eax, eax
      ${EXIT}
      ${failures(2)}`, 64, 0x200002);
    const text = Uint8Array.of(0x0f, 0x0b, ...code); // UD2 before e_entry: entering at the segment's start would fail
    const data = Uint8Array.of(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
    const elf = writeElf({ bits: 64, entry: 0x200002, segments: [{ paddr: 0x200000, data: text }, { paddr: 0x300000, data, memsz: 8 + 0x100 }] });
    expect(detectFormat(elf)).toBe('elf');
    const { l1, vm } = vmFor();
    vm.write(0x300008, new Uint8Array(0x100).fill(0xaa)); // stale bytes where the zeroed part goes
    const loaded = loadGuestImage(l1, vm, elf, { fileName: 'prog.elf' });
    expect(loaded.entry).toEqual({ bits: 64, address: 0x200002, identityMapAt: 0x1000 });
    l1.run(1_000_000);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
  });
});

describe('multiboot kernels: 32-bit protected mode, paging off, through "unrestricted guest" (Multiboot §3.2, SDM Vol. 3C §25.6.2)', () => {
  /** Checks the §3.2 machine state and the §3.3 fields a 4-MiB VM gives; exits 0 if all hold. */
  const KERNEL = `
      mov esp, 0x90000
      cmp eax, 0x2badb002
      jne fail_1
      mov ecx, cr0
      test ecx, 1                  ; CR0.PE
      jz fail_2
      test ecx, 0x80000000         ; CR0.PG
      jnz fail_3
      mov ecx, esp
      push eax                     ; 4 bytes with a 32-bit stack (8 in 64-bit mode)
      sub ecx, esp
      cmp ecx, 4
      jne fail_4
      test dword ptr [ebx], 3      ; flags: mem_lower/mem_upper (bit 0), boot device (bit 1)
      jz fail_5
      cmp dword ptr [ebx + 4], 639 ; mem_lower: KiB below the EBDA at 9FC00H
      jne fail_6
      cmp dword ptr [ebx + 8], 3072 ; mem_upper: KiB from 1 MiB to the end of the 4 MiB of RAM
      jne fail_7
      mov esi, [ebx + 16]          ; cmdline: the file name, then a space
      cmp dword ptr [esi], 0x6c652e6b ; "k.el"
      jne fail_8
      mov ecx, 0xc0000080
      rdmsr
      test eax, 0x500              ; IA32_EFER.LME and LMA clear
      jnz fail_9
      mov dx, 0x3f8
      mov al, 'M'
      out dx, al
      xor eax, eax
      ${EXIT}
      ${failures(9)}`;

  it('enters at the entry with EAX 2BADB002H, EBX the information structure, CR0.PE 1, PG 0 and 32-bit segments', async () => {
    const kernel = await multibootKernel(KERNEL);
    expect(detectFormat(kernel)).toBe('multiboot');
    const { vm, loaded } = runLoaded(kernel, { fileName: 'k.elf' });
    expect(loaded.format).toBe('multiboot');
    expect(loaded.entry.bits).toBe(32);
    expect(loaded.entry.address).toBe(KERNEL_ENTRY);
    const ebx = loaded.entry.regs!.find((r) => r.reg === Reg.RBX)!.value;
    expect(new DataView(vm.read(ebx + 8, 4)!.buffer).getUint32(0, true)).toBe((4 * MiB - MiB) / 1024);
    expect(vm.console).toBe('M');
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
  });

  it('an a.out-kludge kernel (header flag 16) is detected by its header and loaded at load_addr', async () => {
    const load = 0x100000, header = 32;
    const code = await asm(`cmp eax, 0x2badb002\nsetne al\nmovzx eax, al\n${EXIT}`, 32, load + header);
    const file = new Uint8Array(header + code.length);
    file.set(multibootHeader(0x10003, { header: load, load, loadEnd: 0, bssEnd: 0, entry: load + header }));
    file.set(code, header);
    const { vm, loaded } = runLoaded(file, { fileName: 'kludge.bin' });
    expect(loaded.format).toBe('multiboot');
    expect(loaded.entry.address).toBe(load + header);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
  });

  it('without "unrestricted guest" in the processor model L1 refuses in one line (SDM Vol. 3C §27.3.1.1: CR0.PG 0 needs it)', async () => {
    const { l1, vm } = vmFor(4, new L1({ vmx: vmxModelWithout(['no-unrestricted']) }));
    const kernel = await multibootKernel('hlt');
    expect(() => loadGuestImage(l1, vm, kernel, { fileName: 'k.elf' }))
      .toThrow(new HypervisorError('L1 needs the proc2 control(s) unrestrictedGuest, which this processor model does not support'));
  });
});

describe("the project's multiboot test kernel (guests/kernels/testkernel.asm) as an L2 guest", () => {
  it('boots to long mode, takes its exceptions and reads the CPU count from fw_cfg, then stops at its first xAPIC access (FEE000F0H), which L1 does not emulate', async () => {
    const { l1, vm, loaded } = runLoaded(await buildKernel(TEST_KERNEL_SOURCE), { fileName: 'testkernel' });
    expect(loaded.format).toBe('multiboot');
    expect(vm.console).toBe(['turtles test kernel', 'ok long mode', 'ok #UD', 'ok #DE', 'ok #BP', 'ok #GP', 'ok #PF read',
      'ok #PF write', 'ok #DF', 'ok fw_cfg cpu count', ''].join('\n'));
    // The kernel's check 9: a 16-bit OUT of key 5 to the selector, two byte INs from the data port.
    expect(l1.trace.filter((e) => e.handler === 'io:fw_cfg').map((e) => e.insn)).toEqual(['out dx, ax', 'in al, dx', 'in al, dx']);
    expect(vm.outcome.kind).toBe('stopped');
    expect((vm.outcome as { detail: string }).detail).toMatch(/^EPT violation: data read at guest-physical 0xfee000f0 beyond the VM's 4 MiB of RAM/);
  });

  it.todo('passes every check as an L2 guest (needs an xAPIC MMIO page per vCPU, CMP in MMIO emulation, and real-mode SIPI starts for its APs)');
});

describe('bad files are one-line LoadErrors naming the file, and nothing runs', () => {
  const elf32 = writeElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: Uint8Array.of(0xf4) }] });
  const elf64At = (paddr: number, length = 1): Uint8Array => writeElf({ bits: 64, entry: paddr, segments: [{ paddr, data: new Uint8Array(length) }] });
  const elf64Multiboot = writeElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: multibootHeader(3) }] });
  const badChecksum = Uint8Array.of(0x02, 0xb0, 0xad, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0);
  it.each<[string, Uint8Array, Omit<GuestImageOptions, 'fileName'>, string]>([
    ['a flat binary larger than the VM', new Uint8Array(4 * MiB), {}, 'flat binary (0x10000-0x410000) does not fit in RAM (4 MiB)'],
    ["a flat binary over the VM's page tables (1000H-3FFFH)", new Uint8Array(16), { address: 0x3ff8 }, "overlaps the VM's identity page tables at 0x1000-0x4000"],
    ['an empty flat binary', new Uint8Array(0), {}, 'empty file'],
    ['a 32-bit ELF as elf', elf32, { format: 'elf' }, 'is a 32-bit ELF for machine 3, not an x86-64 ELF'],
    ["an ELF segment over the VM's page tables", elf64At(0x2000), {}, "segment 0 (0x2000-0x2001) overlaps the VM's identity page tables"],
    ['an ELF segment beyond the VM', elf64At(0x3ff000, 0x2000), {}, 'segment 0 (0x3ff000-0x401000) does not fit in RAM (4 MiB)'],
    ['a truncated ELF', elf32.subarray(0, 40), { format: 'elf' }, 'truncated ELF header'],
    ['a multiboot header with a bad checksum', badChecksum, { format: 'multiboot' }, 'bad checksum'],
    ['no multiboot header', new Uint8Array(64), { format: 'multiboot' }, 'no multiboot header'],
    ['a 64-bit ELF with a multiboot header (detected as multiboot, refused as QEMU refuses it)', elf64Multiboot, {}, 'a multiboot kernel must be a 32-bit i386 ELF'],
  ])('%s', (_, image, o, problem) => {
    const { l1, vm } = vmFor();
    let error: unknown;
    try {
      loadGuestImage(l1, vm, image, { fileName: 'bad.img', ...o });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    const message = (error as LoadError).message;
    expect(message.startsWith('bad.img: ')).toBe(true);
    expect(message).toContain(problem);
    expect(message).not.toContain('\n');
    expect(vm.vcpus).toEqual([]);
  });

  it('L1 starts vCPUs in 64-bit or 32-bit protected mode only: a real-mode entry is refused', () => {
    const { l1, vm } = vmFor();
    expect(() => l1.addVcpuAt(vm, { bits: 16, address: 0x7c00 })).toThrow(HypervisorError);
  });
});
