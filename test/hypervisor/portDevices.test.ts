/**
 * The port devices L1 gives each VM (hypervisor/devices/portDevices.ts):
 * COM1 as a 16550A UART whose transmitted bytes are the VM's console
 * (PC16550D data sheet: LCR bit 7 DLAB switches port 3F8H to the divisor
 * latch; LSR bit 5 THRE and bit 6 TEMT, bit 0 DR), and QEMU's fw_cfg
 * (docs/specs/fw_cfg.rst: 16-bit selector at 510H, data bytes at 511H;
 * key 0 the signature "QEMU", key 3 the RAM size, key 5 the CPU count,
 * little-endian). IN writes AL/AX/EAX as the instruction does (SDM Vol. 2A
 * IN; Vol. 1 §3.4.1.1: a 32-bit result clears RAX bits 63:32).
 */
import { describe, expect, it } from 'vitest';
import { L1 } from '../../hypervisor/l1/l1.ts';
import { GUEST_CODE } from '../../hypervisor/vm.ts';
import { asm } from '../support/asm.ts';

const EXIT = 'mov dx, 0xf4\nout dx, eax\nhlt';

describe('VM port devices', () => {
  it('COM1: a byte written with DLAB set goes to the divisor latch, not the console; LSR says the transmitter is empty; fw_cfg gives "QEMU", the RAM size and the vCPU count', async () => {
    const l1 = new L1();
    const vm = l1.createVm('devices', 4);
    l1.addLongModeVcpu(vm, await asm(`
      mov dx, 0x3fb
      mov al, 0x83                 ; LCR: DLAB, 8N1
      out dx, al
      mov dx, 0x3f8
      mov al, 1
      out dx, al                   ; divisor latch low byte
      in al, dx
      cmp al, 1
      jne fail_1
      mov dx, 0x3fb
      mov al, 3                    ; LCR: 8N1, DLAB clear
      out dx, al
      in al, dx
      cmp al, 3
      jne fail_2
      mov dx, 0x3f8
      mov al, 'A'
      out dx, al                   ; THR: the console
      mov dx, 0x3fd
      mov rax, 0x1122334455667700
      in al, dx                    ; LSR: THRE | TEMT, no data ready
      mov rbx, 0x1122334455667760
      cmp rax, rbx
      jne fail_3
      mov dx, 0x510
      xor eax, eax                 ; key 0: signature
      out dx, ax
      mov dx, 0x511
      mov rax, -1
      in eax, dx                   ; four bytes in increasing order, RAX[63:32] cleared
      cmp rax, 0x554d4551          ; "QEMU"
      jne fail_4
      mov dx, 0x510
      mov ax, 3                    ; key 3: RAM size, 64-bit little-endian
      out dx, ax
      mov dx, 0x511
      in eax, dx
      cmp eax, 0x400000
      jne fail_5
      mov dx, 0x510
      mov ax, 5                    ; key 5: CPU count, 16-bit little-endian
      out dx, ax
      mov dx, 0x511
      in al, dx
      mov bl, al
      in al, dx
      mov bh, al
      cmp bx, 3
      jne fail_6
      xor eax, eax
      ${EXIT}
      ${Array.from({ length: 6 }, (_, k) => `fail_${k + 1}: mov eax, ${k + 1}\njmp fail`).join('\n')}
    fail:
      ${EXIT}`, 64, GUEST_CODE));
    l1.addApVcpu(vm);
    l1.addApVcpu(vm);
    l1.run(1_000_000);
    expect(vm.outcome).toEqual({ kind: 'passed', detail: 'debug exit 0' });
    expect(vm.console).toBe('A');
    const handlers = [...new Set(l1.trace.map((e) => e.handler))];
    expect(handlers).toEqual(['io:console', 'io:fw_cfg', 'io:debug-exit']);
  });

  it('each VM has its own devices: DLAB set in one VM leaves the other printing', async () => {
    const l1 = new L1({ cpus: 2 });
    const a = l1.createVm('a'), b = l1.createVm('b');
    l1.addLongModeVcpu(a, await asm(`mov dx, 0x3fb\nmov al, 0x80\nout dx, al\nmov dx, 0x3f8\nmov al, 'a'\nout dx, al\nxor eax, eax\n${EXIT}`, 64, GUEST_CODE));
    l1.addLongModeVcpu(b, await asm(`mov dx, 0x3f8\nmov al, 'b'\nout dx, al\nxor eax, eax\n${EXIT}`, 64, GUEST_CODE));
    l1.run(1_000_000);
    expect([a.console, b.console]).toEqual(['', 'b']);
  });
});
