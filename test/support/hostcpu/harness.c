/*
 * Runs single user-mode x86-64 instructions on the host CPU, for the
 * differential tests in test/cpu/hostdiff*.test.ts. Built at test time by
 * hostcpu.ts with the machine's gcc.
 *
 * stdin: one case per line, fields separated by single spaces:
 *   CODE  R0 .. R15  RFLAGS  SCRATCH
 * CODE is the instruction's bytes in hex (at most 15), R0..R15 the GPRs in
 * encoding order as 16 hex digits (R4, RSP, is ignored: the harness keeps
 * its own stack), RFLAGS in hex (only CF PF AF ZF SF OF DF are loaded) and
 * SCRATCH the initial bytes of the scratch buffer in hex, or "-".
 *
 * stdout: one line per case:
 *   EVENT  R0 .. R15  RFLAGS  SCRATCH
 * EVENT is OK, DE (SIGFPE), UD (SIGILL), SEGV (SIGSEGV/SIGBUS) or TRAP. For
 * a fault the registers and RFLAGS are the ones the kernel saved at the
 * faulting instruction, which has not changed them (SDM Vol. 3A §6.5: a
 * fault reports the state before the instruction).
 *
 * The scratch buffer sits at the fixed address SCRATCH_BASE, so a case can
 * point registers into it with plain numbers and the emulated core can put
 * its copy at the same address.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#ifndef SCRATCH_BASE
#define SCRATCH_BASE 0x200000UL
#endif
#define SCRATCH_SIZE 4096UL
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
/* The flags a case sets: CF PF AF ZF SF DF OF. */
#define LOADED_FLAGS 0x0cd5UL
/* Always present: IF (user mode cannot clear it) and the always-one bit 1. */
#define BASE_FLAGS 0x0202UL

/* Inputs and outputs of the case being run; the asm below reaches them RIP-relative. */
__attribute__((used, visibility("hidden"))) uint64_t hc_in[16];
__attribute__((used, visibility("hidden"))) uint64_t hc_out[16];
__attribute__((used, visibility("hidden"))) uint64_t hc_in_flags, hc_out_flags;
__attribute__((used, visibility("hidden"))) void *hc_code;

/*
 * hc_run: save the callee-saved registers, load RFLAGS and every GPR but RSP
 * from hc_in, CALL the code page (the instruction followed by RET), then
 * store RFLAGS and the GPRs to hc_out. No GPR is free while the case's
 * values are live, so every access is RIP-relative to a global.
 */
void hc_run(void);
__asm__(
  ".text\n"
  ".globl hc_run\n"
  ".type hc_run, @function\n"
  "hc_run:\n"
  "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
  "  pushq hc_in_flags(%rip)\n  popfq\n"
  "  mov hc_in+0(%rip), %rax\n  mov hc_in+8(%rip), %rcx\n"
  "  mov hc_in+16(%rip), %rdx\n  mov hc_in+24(%rip), %rbx\n"
  "  mov hc_in+40(%rip), %rbp\n  mov hc_in+48(%rip), %rsi\n"
  "  mov hc_in+56(%rip), %rdi\n  mov hc_in+64(%rip), %r8\n"
  "  mov hc_in+72(%rip), %r9\n  mov hc_in+80(%rip), %r10\n"
  "  mov hc_in+88(%rip), %r11\n  mov hc_in+96(%rip), %r12\n"
  "  mov hc_in+104(%rip), %r13\n  mov hc_in+112(%rip), %r14\n"
  "  mov hc_in+120(%rip), %r15\n"
  "  call *hc_code(%rip)\n"
  "  pushfq\n  popq hc_out_flags(%rip)\n"
  "  mov %rax, hc_out+0(%rip)\n  mov %rcx, hc_out+8(%rip)\n"
  "  mov %rdx, hc_out+16(%rip)\n  mov %rbx, hc_out+24(%rip)\n"
  "  mov %rbp, hc_out+40(%rip)\n  mov %rsi, hc_out+48(%rip)\n"
  "  mov %rdi, hc_out+56(%rip)\n  mov %r8, hc_out+64(%rip)\n"
  "  mov %r9, hc_out+72(%rip)\n  mov %r10, hc_out+80(%rip)\n"
  "  mov %r11, hc_out+88(%rip)\n  mov %r12, hc_out+96(%rip)\n"
  "  mov %r13, hc_out+104(%rip)\n  mov %r14, hc_out+112(%rip)\n"
  "  mov %r15, hc_out+120(%rip)\n"
  "  cld\n"
  "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
  "  ret\n"
  ".size hc_run, .-hc_run\n");

static sigjmp_buf fault_jmp;

/* Copies the faulting state out of the kernel's signal frame, then abandons the case. */
static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)info;
  const greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
  static const int order[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
  };
  for (int k = 0; k < 16; k++) hc_out[k] = (uint64_t)g[order[k]];
  hc_out_flags = (uint64_t)g[REG_EFL];
  siglongjmp(fault_jmp, sig);
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static void die(const char *what, long line) {
  fprintf(stderr, "harness: %s on input line %ld\n", what, line);
  exit(2);
}

/* Parses hex bytes up to the next space/newline; returns the count. */
static size_t parse_bytes(char **p, uint8_t *out, size_t max, long line) {
  size_t n = 0;
  char *s = *p;
  if (s[0] == '-') { *p = s + 1; return 0; }
  while (hexval(s[0]) >= 0) {
    int hi = hexval(s[0]), lo = hexval(s[1]);
    if (lo < 0) die("odd number of hex digits", line);
    if (n >= max) die("too many bytes", line);
    out[n++] = (uint8_t)(hi << 4 | lo);
    s += 2;
  }
  *p = s;
  return n;
}

static uint64_t parse_u64(char **p, long line) {
  char *s = *p;
  uint64_t v = 0;
  int digits = 0;
  while (hexval(*s) >= 0) { v = v << 4 | (uint64_t)hexval(*s); s++; digits++; }
  if (digits == 0 || digits > 16) die("bad hex number", line);
  *p = s;
  return v;
}

static void expect_space(char **p, long line) {
  if (**p != ' ') die("expected a space", line);
  (*p)++;
}

static void put_hex_bytes(const uint8_t *b, size_t n) {
  static const char digits[] = "0123456789abcdef";
  if (n == 0) { putchar('-'); return; }
  for (size_t k = 0; k < n; k++) { putchar(digits[b[k] >> 4]); putchar(digits[b[k] & 15]); }
}

int main(void) {
  static char outbuf[1 << 20];
  setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

  uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) { perror("harness: mmap of the code page"); return 2; }
  uint8_t *scratch = mmap((void *)SCRATCH_BASE, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (scratch != (uint8_t *)SCRATCH_BASE) {
    fprintf(stderr, "harness: cannot map the scratch buffer at 0x%lx\n", SCRATCH_BASE);
    return 2;
  }
  hc_code = code;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) sigaction(sigs[k], &sa, NULL);

  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  while (getline(&line, &cap, stdin) > 0) {
    lineno++;
    if (line[0] == '\n') continue;
    char *p = line;
    uint8_t insn[15];
    size_t len = parse_bytes(&p, insn, sizeof insn, lineno);
    if (len == 0) die("empty instruction", lineno);
    for (int k = 0; k < 16; k++) { expect_space(&p, lineno); hc_in[k] = parse_u64(&p, lineno); }
    expect_space(&p, lineno);
    hc_in_flags = (parse_u64(&p, lineno) & LOADED_FLAGS) | BASE_FLAGS;
    expect_space(&p, lineno);
    size_t slen = parse_bytes(&p, scratch, SCRATCH_SIZE, lineno);

    memcpy(code, insn, len);
    code[len] = 0xc3; /* RET */

    memset(hc_out, 0, sizeof hc_out);
    int sig = sigsetjmp(fault_jmp, 1);
    if (sig == 0) hc_run();
    const char *event = sig == 0 ? "OK" : sig == SIGFPE ? "DE" : sig == SIGILL ? "UD" : sig == SIGTRAP ? "TRAP" : "SEGV";

    fputs(event, stdout);
    for (int k = 0; k < 16; k++) printf(" %016llx", (unsigned long long)hc_out[k]);
    printf(" %llx ", (unsigned long long)hc_out_flags);
    put_hex_bytes(scratch, slen);
    putchar('\n');
  }
  free(line);
  return fflush(stdout) == 0 ? 0 : 2;
}
