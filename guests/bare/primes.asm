; The bare-core demo: a sieve of Eratosthenes in 64-bit mode, run directly on
; the machine (root mode, no hypervisor). It counts the primes below 100000
; and prints the count and the largest one on the debug console (port 0xe9).
; The sieve lives at 1 MiB, one byte per number.

start:
    mov rdi, 0x100000
    mov ecx, 100000
    mov al, 1
    rep stosb                       ; every number starts as a candidate
    mov word ptr [0x100000], 0      ; 0 and 1 are not prime
    mov ebx, 2
outer:
    mov rax, rbx
    imul rax, rbx
    cmp rax, 100000
    jae count
    cmp byte ptr [0x100000 + rbx], 0
    je next
strike:
    mov byte ptr [0x100000 + rax], 0
    add rax, rbx
    cmp rax, 100000
    jb strike
next:
    inc rbx
    jmp outer

count:
    xor ecx, ecx                    ; how many
    xor edx, edx                    ; the largest
    mov ebx, 2
scan:
    cmp byte ptr [0x100000 + rbx], 0
    je not_prime
    inc rcx
    mov rdx, rbx
not_prime:
    inc rbx
    cmp rbx, 100000
    jb scan

    lea rsi, [rip + text_count]
    call puts
    mov rax, rcx
    call put_decimal
    lea rsi, [rip + text_largest]
    call puts
    mov rax, rdx
    call put_decimal
    mov al, 10
    out 0xe9, al
    hlt

; puts: writes the zero-terminated string at rsi.
puts:
    movzx eax, byte ptr [rsi]
    test al, al
    jz puts_done
    out 0xe9, al
    inc rsi
    jmp puts
puts_done:
    ret

; put_decimal: writes rax in decimal.
put_decimal:
    push rcx
    push rdx
    push rbx
    mov ebx, 10
    xor ecx, ecx
digits:
    xor edx, edx
    div rbx
    push rdx
    inc ecx
    test rax, rax
    jnz digits
emit:
    pop rax
    add al, 0x30
    out 0xe9, al
    dec ecx
    jnz emit
    pop rbx
    pop rdx
    pop rcx
    ret

text_count:
    .ascii "primes below 100000: "
    .byte 0
text_largest:
    .ascii ", the largest is "
    .byte 0
