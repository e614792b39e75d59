; turtles test kernel: a multiboot (v1) kernel of the project's own, for QEMU's
; PC machine or turtles. It runs in root mode on the machine and checks the
; system architecture from the inside, reporting over the 16550 UART (0x3f8)
; and exiting through isa-debug-exit (port 0xf4):
;   - entered by the loader in 32-bit protected mode (EAX = 0x2BADB002),
;   - builds identity page tables (4 GiB in 2 MiB pages) and enters long mode,
;   - installs an IDT and takes and checks #UD, #DE, #BP, #GP, #PF (error code
;     and CR2) and #DF (a #PF whose gate is not present),
;   - reads the CPU count from fw_cfg, enables its local APIC, uses the APIC
;     timer (one-shot and periodic) to wake from HLT,
;   - starts every AP with INIT-SIPI-SIPI; each AP enters long mode through the
;     same path, says hello over serial and waits for an IPI from the BSP,
;   - exits with code 0x21 (debug-exit value 0x10) when all checks passed, or
;     (n << 1) | 1 for the number n of the check that failed.
; It is a flat image with the a.out-kludge multiboot header (flags bit 16), so
; the loader needs no ELF; the load address is 1 MiB.

.code32
image_start:
multiboot_header:
    .long 0x1BADB002                    ; magic
    .long 0x00010003                    ; page-align modules, memory info, address fields
    .long -(0x1BADB002 + 0x00010003)    ; checksum
    .long multiboot_header              ; header_addr
    .long image_start                   ; load_addr
    .long image_end                     ; load_end_addr
    .long bss_end                       ; bss_end_addr
    .long entry32                       ; entry_addr

; ---- 32-bit entry (BSP, from the loader) ----------------------------------
entry32:
    mov esp, bsp_stack_top
    mov [mb_magic], eax
    mov [mb_info], ebx
    call serial_init32
    mov esi, text_hello
    call puts32
    mov eax, 1                          ; check 1: the loader's magic
    cmp dword ptr [mb_magic], 0x2BADB002
    jne fail32
    call build_page_tables
    jmp enter_long_mode

; ---- 32-bit helpers ---------------------------------------------------------
fail32:                                  ; eax = check number
    shl eax, 1
    mov dx, 0xf4
    out dx, eax                          ; exit code (eax << 1) | 1
    cli
    hlt

serial_init32:
    mov dx, 0x3f9
    xor al, al
    out dx, al                           ; IER: no interrupts
    mov dx, 0x3fb
    mov al, 0x80
    out dx, al                           ; LCR: DLAB
    mov dx, 0x3f8
    mov al, 1
    out dx, al                           ; divisor 1 (115200 baud)
    mov dx, 0x3f9
    xor al, al
    out dx, al
    mov dx, 0x3fb
    mov al, 0x03
    out dx, al                           ; 8N1
    ret

puts32:                                  ; esi: zero-terminated string
    mov al, [esi]
    test al, al
    jz puts32_done
    call putc32
    inc esi
    jmp puts32
puts32_done:
    ret

putc32:
    push eax
    mov dx, 0x3fd
putc32_wait:
    in al, dx
    test al, 0x20                        ; LSR.THRE
    jz putc32_wait
    pop eax
    mov dx, 0x3f8
    out dx, al
    ret

; Identity-maps 4 GiB with 2 MiB pages: PML4[0] -> PDPT, PDPT[0..3] -> PD0..3.
; The 2 MiB page at 1 GiB is left not present, for the #PF checks.
build_page_tables:
    mov edi, pml4
    mov ecx, 6 * 1024
    xor eax, eax
    rep stosd
    mov dword ptr [pml4], pdpt + 3
    mov dword ptr [pdpt], pd0 + 3
    mov dword ptr [pdpt + 8], pd0 + 0x1000 + 3
    mov dword ptr [pdpt + 16], pd0 + 0x2000 + 3
    mov dword ptr [pdpt + 24], pd0 + 0x3000 + 3
    mov edi, pd0
    mov eax, 0x83                        ; present, writable, 2 MiB page
    xor edx, edx                         ; high half of the address
    mov ecx, 2048
build_pd_loop:
    mov [edi], eax
    mov [edi + 4], edx
    add eax, 0x200000
    adc edx, 0
    add edi, 8
    dec ecx
    jnz build_pd_loop
    and dword ptr [pd0 + 0x1000], -2     ; 1 GiB: not present
    ret

; Shared by the BSP and the APs: 32-bit protected mode -> long mode (SDM Vol. 3A §10.8.5).
enter_long_mode:
    lgdt [gdt_pointer]
    mov eax, cr4
    or eax, 0x20                         ; PAE
    mov cr4, eax
    mov eax, pml4
    mov cr3, eax
    mov ecx, 0xC0000080                  ; IA32_EFER
    rdmsr
    or eax, 0x100                        ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000001                   ; PG, PE
    mov cr0, eax
    .byte 0xea                           ; jmp far 0x08:long_entry
    .long long_entry
    .word 0x08

; ---- the AP trampoline, copied to 0x8000 (SIPI vector 8) -----------------------
.code16
; Its GDT pointer sits at a fixed offset (2) from the start, because keystone
; assembles a label difference inside a memory operand as an absolute address.
trampoline:
    jmp tramp_code                       ; 2 bytes: the pointer starts at offset 2
tramp_gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt
tramp_code:
    cli
    mov ax, cs
    mov ds, ax
    .byte 0x66                           ; lgdt with a 32-bit base, from ds:2
    lgdt [2]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    .byte 0x66, 0xea                     ; jmp far 0x18:ap_entry32 (32-bit offset)
    .long ap_entry32
    .word 0x18
trampoline_end:

.code32
ap_entry32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    jmp enter_long_mode

; ---- 64-bit code ------------------------------------------------------------
.code64
long_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov ecx, 0x1B                        ; IA32_APIC_BASE: BSP bit 8
    rdmsr
    test eax, 0x100
    jz ap_main
    lea rsp, [rip + bsp_stack_top]
    jmp bsp_main

fail:                                    ; eax = check number
    lea rsi, [rip + text_fail]
    push rax
    call puts
    pop rax
    push rax
    call put_hex8
    pop rax
    shl eax, 1
    mov dx, 0xf4
    out dx, eax
    cli
    hlt

puts:                                    ; rsi: zero-terminated string
    call serial_lock
puts_loop:
    mov al, [rsi]
    test al, al
    jz puts_done
    call putc
    inc rsi
    jmp puts_loop
puts_done:
    jmp serial_unlock

putc:
    push rax
    mov dx, 0x3fd
putc_wait:
    in al, dx
    test al, 0x20
    jz putc_wait
    pop rax
    mov dx, 0x3f8
    out dx, al
    ret

put_hex8:                                ; al: a byte as two hex digits and a newline
    push rax
    call serial_lock                     ; (clobbers eax)
    mov rax, [rsp]
    shr al, 4
    call put_nibble
    pop rax
    call put_nibble
    mov al, 10
    call putc
    jmp serial_unlock
put_nibble:
    and al, 0xf
    add al, 0x30
    cmp al, 0x39
    jbe put_nibble_out
    add al, 7
put_nibble_out:
    jmp putc

serial_lock:                             ; one core prints at a time
    mov r8d, 1
serial_lock_spin:
    xor eax, eax
    lock cmpxchg dword ptr [rip + serial_busy], r8d
    jz serial_lock_done
    pause
    jmp serial_lock_spin
serial_lock_done:
    ret
serial_unlock:
    mov dword ptr [rip + serial_busy], 0
    ret

ok:                                      ; rsi: name of the check that passed
    push rsi
    lea rsi, [rip + text_ok]
    call puts
    pop rsi
    call puts
    lea rsi, [rip + text_newline]
    jmp puts

; ---- the IDT: 256 gates to stubs that push the vector and go to one handler ---------
install_idt:
    lea rdi, [rip + idt]
    lea rsi, [rip + isr_stubs]
    xor ecx, ecx
install_idt_loop:
    mov rax, rsi
    mov [rdi], ax                        ; offset 15:0
    mov word ptr [rdi + 2], 0x08         ; code segment
    mov word ptr [rdi + 4], 0x8e00       ; present, DPL 0, 64-bit interrupt gate
    shr rax, 16
    mov [rdi + 6], ax                    ; offset 31:16
    shr rax, 16
    mov [rdi + 8], eax                   ; offset 63:32
    mov dword ptr [rdi + 12], 0
    add rdi, 16
    add rsi, 16
    inc ecx
    cmp ecx, 256
    jb install_idt_loop
    lidt [rip + idt_pointer]
    ret

; Each stub is 16 bytes: [push 0 (no error code)], push vector, jmp common.
; The CPU pushes an error code for 8, 10-14, 17, 21 (SDM Vol. 3A Table 6-1).
.align 16
isr_stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
.align 16
.if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21)
    push \v
.else
    push 0
    push \v
.endif
    jmp isr_common
.endr
.set vec, 32
.rept 224
.align 16
    push 0
    push vec
    jmp isr_common
.set vec, vec + 1
.endr

; The common handler: after the pushes below, rsp + 56 -> vector, error code,
; RIP, CS, RFLAGS, RSP, SS.
; Interrupts (vector >= 32) go to their handlers; an exception must be the one
; the running check expects: its error code and CR2 are recorded and the saved
; RIP is replaced by the check's resume address.
isr_common:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r10
    mov r10d, 0xFEE00000                  ; the local APIC page (identity-mapped)
    mov rax, [rsp + 56]                  ; vector
    cmp rax, 32
    jae isr_interrupt
    cmp rax, [rip + expect_vector]
    jne isr_unexpected
    mov rcx, [rsp + 64]
    mov [rip + seen_error], rcx
    mov rcx, cr2
    mov [rip + seen_cr2], rcx
    mov rcx, [rip + resume_rip]
    mov [rsp + 72], rcx
    mov qword ptr [rip + expect_vector], -1
    jmp isr_return
isr_interrupt:
    cmp rax, 0x40
    je isr_timer
    cmp rax, 0x41
    je isr_ipi
    jmp isr_eoi                          ; spurious or unknown: acknowledge
isr_timer:
    lock inc dword ptr [rip + timer_ticks]
    jmp isr_eoi
isr_ipi:
    lock inc dword ptr [rip + ipi_count]
isr_eoi:
    mov dword ptr [r10 + 0x0B0], 0        ; EOI
isr_return:
    pop r10
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    add rsp, 16                          ; vector and error code
    iretq
isr_unexpected:
    lea rsi, [rip + text_unexpected]
    call puts
    mov rax, [rsp + 56]
    call put_hex8
    mov eax, 0x7f
    jmp fail

; ---- the BSP ------------------------------------------------------------------
bsp_main:
    mov r10d, 0xFEE00000                  ; the local APIC page, for the whole BSP path
    call install_idt
    lea rsi, [rip + text_long_mode]
    call ok

    ; check 2: #UD from UD2, no error code
    mov qword ptr [rip + expect_vector], 6
    lea rax, [rip + after_ud]
    mov [rip + resume_rip], rax
    ud2
after_ud:
    mov eax, 2
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    lea rsi, [rip + text_ud]
    call ok

    ; check 3: #DE from a division by zero
    mov qword ptr [rip + expect_vector], 0
    lea rax, [rip + after_de]
    mov [rip + resume_rip], rax
    xor ecx, ecx
    xor edx, edx
    mov eax, 5
    div ecx
after_de:
    mov eax, 3
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    lea rsi, [rip + text_de]
    call ok

    ; check 4: #BP from INT3 (a trap)
    mov qword ptr [rip + expect_vector], 3
    lea rax, [rip + after_bp]
    mov [rip + resume_rip], rax
    int3
after_bp:
    mov eax, 4
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    lea rsi, [rip + text_bp]
    call ok

    ; check 5: #GP(0) from a non-canonical address
    mov qword ptr [rip + expect_vector], 13
    lea rax, [rip + after_gp]
    mov [rip + resume_rip], rax
    mov rbx, 0x8000000000000000
    mov rax, [rbx]
after_gp:
    mov eax, 5
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    cmp qword ptr [rip + seen_error], 0
    jne fail
    lea rsi, [rip + text_gp]
    call ok

    ; check 6: #PF on a read of a not-present page: error code 0, CR2 = the address
    mov qword ptr [rip + expect_vector], 14
    lea rax, [rip + after_pf_read]
    mov [rip + resume_rip], rax
    mov rbx, 0x40000123
    mov rax, [rbx]
after_pf_read:
    mov eax, 6
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    cmp qword ptr [rip + seen_error], 0
    jne fail
    mov rbx, 0x40000123
    cmp [rip + seen_cr2], rbx
    jne fail
    lea rsi, [rip + text_pf_read]
    call ok

    ; check 7: #PF on a write: error code 2 (W/R)
    mov qword ptr [rip + expect_vector], 14
    lea rax, [rip + after_pf_write]
    mov [rip + resume_rip], rax
    mov rbx, 0x40000ff8
    mov qword ptr [rbx], 1
after_pf_write:
    mov eax, 7
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    cmp qword ptr [rip + seen_error], 2
    jne fail
    lea rsi, [rip + text_pf_write]
    call ok

    ; check 8: #DF when the #PF gate is not present (#PF then #NP: SDM Vol. 3A Table 6-5)
    and byte ptr [rip + idt + 14 * 16 + 5], 0x7f
    mov qword ptr [rip + expect_vector], 8
    lea rax, [rip + after_df]
    mov [rip + resume_rip], rax
    mov rbx, 0x40000000
    mov rax, [rbx]
after_df:
    or byte ptr [rip + idt + 14 * 16 + 5], 0x80
    mov eax, 8
    cmp qword ptr [rip + expect_vector], -1
    jne fail
    cmp qword ptr [rip + seen_error], 0
    jne fail
    lea rsi, [rip + text_df]
    call ok

    ; check 9: the CPU count from fw_cfg (key 0x05), 1..64
    mov dx, 0x510
    mov ax, 0x05
    out dx, ax
    mov dx, 0x511
    in al, dx
    movzx ebx, al
    in al, dx
    movzx eax, al
    shl eax, 8
    or ebx, eax
    mov [rip + cpu_count], ebx
    mov eax, 9
    test ebx, ebx
    jz fail
    cmp ebx, 64
    ja fail
    lea rsi, [rip + text_cpus]
    call ok

    ; check 10: the local APIC timer, one-shot, wakes the core from HLT
    call apic_enable
    mov dword ptr [r10 + 0x3E0], 0xb      ; divide by 1
    mov dword ptr [r10 + 0x320], 0x40     ; LVT timer: vector 0x40, one-shot, unmasked
    mov dword ptr [r10 + 0x380], 20000    ; initial count
    sti
wait_timer:
    hlt
    cmp dword ptr [rip + timer_ticks], 1
    jb wait_timer
    cli
    mov eax, 10
    cmp dword ptr [r10 + 0x390], 0        ; current count is 0 after a one-shot expiry
    jne fail
    lea rsi, [rip + text_timer]
    call ok

    ; check 11: periodic timer, three more ticks
    mov dword ptr [r10 + 0x320], 0x20040  ; periodic, vector 0x40
    mov dword ptr [r10 + 0x380], 5000
    sti
wait_periodic:
    hlt
    cmp dword ptr [rip + timer_ticks], 4
    jb wait_periodic
    cli
    mov dword ptr [r10 + 0x320], 0x10040  ; masked
    lea rsi, [rip + text_periodic]
    call ok

    ; check 12: start the APs with INIT-SIPI-SIPI (SDM Vol. 3A §9.4.4.1)
    cmp dword ptr [rip + cpu_count], 1
    je all_passed
    lea rsi, [rip + trampoline]
    mov edi, 0x8000
    mov ecx, trampoline_end - trampoline
    rep movsb
    mov dword ptr [r10 + 0x310], 0
    mov dword ptr [r10 + 0x300], 0x000C4500   ; INIT, all excluding self
    mov ecx, 10000
delay_init:
    pause
    dec ecx
    jnz delay_init
    mov dword ptr [r10 + 0x300], 0x000C4608   ; SIPI, vector 8 (0x8000)
    mov ecx, 200
delay_sipi:
    pause
    dec ecx
    jnz delay_sipi
    mov dword ptr [r10 + 0x300], 0x000C4608   ; the second SIPI
    mov ebx, [rip + cpu_count]
    dec ebx
    mov r9d, 2000000                         ; bounded wait
wait_aps:
    cmp [rip + aps_started], ebx
    je aps_up
    pause
    dec r9d
    jnz wait_aps
    mov eax, 12
    jmp fail
aps_up:
    lea rsi, [rip + text_aps]
    call ok

    ; check 13: a fixed IPI (vector 0x41) to every AP, each counts it
    mov dword ptr [r10 + 0x310], 0
    mov dword ptr [r10 + 0x300], 0x000C4041   ; fixed, assert, all excluding self
    mov r9d, 2000000
wait_ipis:
    cmp [rip + ipi_count], ebx
    je ipis_done
    pause
    dec r9d
    jnz wait_ipis
    mov eax, 13
    jmp fail
ipis_done:
    lea rsi, [rip + text_ipis]
    call ok

all_passed:
    lea rsi, [rip + text_passed]
    call puts
    mov eax, 0x10                         ; exit code (0x10 << 1) | 1 = 0x21
    mov dx, 0xf4
    out dx, eax
    cli
    hlt

apic_enable:
    mov eax, [r10 + 0x0F0]
    or eax, 0x1ff                         ; software enable, spurious vector 0xFF
    mov [r10 + 0x0F0], eax
    mov dword ptr [r10 + 0x080], 0         ; TPR 0
    ret

; ---- an AP, in long mode -------------------------------------------------------
ap_main:
    mov r10d, 0xFEE00000
    mov eax, 1
    lock xadd [rip + next_ap_stack], eax  ; this AP's stack slot
    shl eax, 12
    lea rsp, [rip + ap_stacks]
    add rsp, rax
    lidt [rip + idt_pointer]
    call apic_enable
    mov r12d, [r10 + 0x020]                ; APIC ID register
    shr r12d, 24
    lea rsi, [rip + text_ap]
    call puts
    mov eax, r12d
    call put_hex8
    lock inc dword ptr [rip + aps_started]
    sti
ap_idle:
    hlt
    jmp ap_idle

; ---- data ------------------------------------------------------------------------
.align 16
gdt:
    .quad 0
    .quad 0x00af9a000000ffff              ; 0x08: 64-bit code
    .quad 0x00cf92000000ffff              ; 0x10: data
    .quad 0x00cf9a000000ffff              ; 0x18: 32-bit code
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt
idt_pointer:
    .word 256 * 16 - 1
    .quad idt

text_hello:      .ascii "turtles test kernel\n"
                 .byte 0
text_ok:         .ascii "ok "
                 .byte 0
text_newline:    .byte 10, 0
text_fail:       .ascii "FAIL check "
                 .byte 0
text_unexpected: .ascii "unexpected vector "
                 .byte 0
text_long_mode:  .ascii "long mode"
                 .byte 0
text_ud:         .ascii "#UD"
                 .byte 0
text_de:         .ascii "#DE"
                 .byte 0
text_bp:         .ascii "#BP"
                 .byte 0
text_gp:         .ascii "#GP"
                 .byte 0
text_pf_read:    .ascii "#PF read"
                 .byte 0
text_pf_write:   .ascii "#PF write"
                 .byte 0
text_df:         .ascii "#DF"
                 .byte 0
text_cpus:       .ascii "fw_cfg cpu count"
                 .byte 0
text_timer:      .ascii "apic timer one-shot"
                 .byte 0
text_periodic:   .ascii "apic timer periodic"
                 .byte 0
text_aps:        .ascii "all APs started"
                 .byte 0
text_ipis:       .ascii "IPIs"
                 .byte 0
text_ap:         .ascii "AP up, APIC ID "
                 .byte 0
text_passed:     .ascii "all checks passed\n"
                 .byte 0

.align 8
mb_magic:        .long 0
mb_info:         .long 0
expect_vector:   .quad -1
resume_rip:      .quad 0
seen_error:      .quad 0
seen_cr2:        .quad 0
cpu_count:       .long 0
timer_ticks:     .long 0
ipi_count:       .long 0
aps_started:     .long 0
next_ap_stack:   .long 1
serial_busy:     .long 0
image_end:

; ---- bss (zeroed by the loader) ----------------------------------------------------
.align 4096
pml4:            .skip 4096
pdpt:            .skip 4096
pd0:             .skip 4 * 4096
idt:             .skip 256 * 16
bsp_stack:       .skip 8192
bsp_stack_top:
ap_stacks:       .skip 64 * 4096
bss_end:
