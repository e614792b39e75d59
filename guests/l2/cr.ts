/**
 * CR0 and CR4 under L1 (guest/host masks and read shadows, SDM Vol. 3C
 * §25.6.6, §26.3; control-register exits, reason 28, §26.1.3; the bits L1
 * owns are those of hypervisor/exits/cr.ts): CR4 reads with VMXE clear
 * though the processor runs with it set, and setting it raises #GP(0);
 * the guest clears CR0.NE, which VMX keeps set, and sets CD and NW, which
 * L1 keeps clear, and reads its own values back; MOV to CR0 values the
 * instruction refuses (NW without CD, PG cleared, bits 63:32) raise #GP(0);
 * bits the guest owns (TS, CR4.TSD) change with no exit.
 */
import { attempt, catchSetup, catchTables, expectFault } from './faults.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

const GP = 13;

/** Goes to `label` unless RAX is `value`. */
const expectRax = (value: number, label: string): string => `
    mov rbx, ${value}
    cmp rax, rbx
    jne ${label}`;

export default {
  name: 'cr',
  description: 'CR0/CR4: read shadows hide CR4.VMXE and show the guest its own CR0.NE/CD/NW; bad values #GP',
  expect: { kind: 'passed' },
  source: `
    ${catchSetup([GP])}
    mov rax, cr4
    bt rax, 13                     ; VMXE: set in the real CR4, 0 in the read shadow
    jc vmxe_visible
    bt rax, 5                      ; PAE: the guest's own
    jnc pae_hidden
    mov rax, cr0
    ${expectRax(0x80000031, 'cr0_start')}   ; PG | NE | ET | PE
    btr rax, 5                     ; clear NE: an owned bit changes, exit
    mov cr0, rax
    mov rax, cr0
    ${expectRax(0x80000011, 'ne_not_cleared')}
    smsw eax                       ; SMSW reads through the shadow too
    and eax, 0xffff
    cmp eax, 0x11
    jne smsw_wrong
    mov rax, 0xc0000011            ; CD
    mov cr0, rax
    mov rax, cr0
    ${expectRax(0xc0000011, 'cd_not_set')}
    mov rax, 0xe0000011            ; CD | NW
    mov cr0, rax
    mov rax, cr0
    ${expectRax(0xe0000011, 'nw_not_set')}
    mov rax, 0xa0000011            ; NW without CD
    ${attempt('after_nw', 'mov cr0, rax')}
    ${expectFault('nw_accepted', GP, 0)}
    mov rax, 0x60000031            ; NE back, PG cleared
    ${attempt('after_pg', 'mov cr0, rax')}
    ${expectFault('pg_cleared', GP, 0)}
    mov rbx, 0x1e0000031           ; NE back, bit 32 set
    ${attempt('after_high', 'mov cr0, rbx')}
    ${expectFault('high_accepted', GP, 0)}
    mov rax, cr0
    ${expectRax(0xe0000011, 'cr0_changed_by_fault')}
    mov rax, 0xe0000039            ; NE back, and TS (the guest's) with it
    mov cr0, rax
    mov rax, cr0
    ${expectRax(0xe0000039, 'ne_ts_not_set')}
    clts                           ; TS is the guest's: no exit
    mov rax, cr0
    ${expectRax(0xe0000031, 'ts_not_cleared')}
    mov rax, cr4
    bts rax, 13                    ; VMXE: VMX is not offered
    ${attempt('after_vmxe', 'mov cr4, rax')}
    ${expectFault('vmxe_accepted', GP, 0)}
    mov rax, cr4
    bts rax, 2                     ; TSD is the guest's: no exit
    mov cr4, rax
    mov rbx, cr4
    cmp rax, rbx
    jne tsd_not_set
    ${print('passed')}
    ${done()}
    ${failure('vmxe_visible', 'CR4 reads with VMXE set')}
    ${failure('pae_hidden', 'CR4 reads with PAE clear')}
    ${failure('cr0_start', 'CR0 does not read 80000031H at start')}
    ${failure('ne_not_cleared', 'CR0 does not read 80000011H after clearing NE')}
    ${failure('smsw_wrong', 'SMSW does not read 0011H after clearing NE')}
    ${failure('cd_not_set', 'CR0 does not read C0000011H after setting CD')}
    ${failure('nw_not_set', 'CR0 does not read E0000011H after setting NW')}
    ${failure('nw_accepted', 'MOV to CR0 with NW but not CD did not raise #GP(0)')}
    ${failure('pg_cleared', 'MOV to CR0 clearing PG did not raise #GP(0)')}
    ${failure('high_accepted', 'MOV to CR0 with bit 32 set did not raise #GP(0)')}
    ${failure('cr0_changed_by_fault', 'a MOV to CR0 that faulted changed CR0')}
    ${failure('ne_ts_not_set', 'CR0 does not read E0000039H after setting NE and TS')}
    ${failure('ts_not_cleared', 'CR0 does not read E0000031H after CLTS')}
    ${failure('vmxe_accepted', 'MOV to CR4 setting VMXE did not raise #GP(0)')}
    ${failure('tsd_not_set', 'CR4.TSD did not take')}
    ${catchTables([GP])}
    ${string('passed', 'CR0/CR4 shadows and owned bits behave\n')}`,
} satisfies L2Guest;
