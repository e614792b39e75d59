/**
 * The benchmark loops of issue 2, as 64-bit guest code, so the same
 * instructions can be run on other emulators for comparison.
 */
import { CODE_BASE, makeCore, type TestCore } from '../support/machine.ts';
import { asm } from '../support/asm.ts';
import { pagingStateChanged } from '../../cpu/memory/paging.ts';
import { CR4_PAE, EFER_LMA, EFER_LME, PageTables, W } from '../memory/pageTables.ts';

export interface BenchLoop {
  name: string;
  source: string;
  regs: Record<string, bigint>;
  /** Instructions retired per measured run. */
  instructions: number;
  /** Guest RAM (default 4 MiB). */
  memBytes?: number;
  /** Prepares the core after the program is loaded. */
  setup?: (t: TestCore) => void;
}

const MiB = 1 << 20;
const PAGED_DATA = 16 * MiB, PAGED_SPAN = 64 * MiB, PAGED_TABLES = 88 * MiB;

/**
 * 4-level paging with 4 KiB pages identity-mapping the first 80 MiB
 * (supervisor, writable), CPL 0; the 64 MiB the loop sweeps are allocated
 * beforehand so the run measures translation, not host allocation.
 */
function pagedSetup(t: TestCore): void {
  const pt = new PageTables(t.phys, '4level', PAGED_TABLES);
  pt.identity(0, PAGED_DATA + PAGED_SPAN, W);
  for (let a = PAGED_DATA; a < PAGED_DATA + PAGED_SPAN; a += 4096) t.phys.ramPage(a / 4096);
  const c = t.cpu;
  c.cr3 = PAGED_TABLES;
  c.cr4 |= CR4_PAE;
  c.efer |= EFER_LME | EFER_LMA;
  pagingStateChanged(c);
}

const FOREVER = 1n << 40n;

export const BENCH_LOOPS: BenchLoop[] = [
  {
    // 2 instructions per iteration.
    name: 'ALU loop',
    source: 'l: dec rcx\njnz l',
    regs: { rcx: FOREVER },
    instructions: 40_000_000,
  },
  {
    // 9 instructions per iteration.
    name: 'memory loop',
    source: `l: mov rax, [rsi]
      add rax, rdx
      mov [rsi+8], rax
      xor rdx, rax
      inc edi
      and edi, 0xff
      lea rsi, [0x8000+rdi*8]
      dec rcx
      jnz l`,
    regs: { rcx: FOREVER, rsi: 0x8000n, rdi: 0n, rdx: 0x12345n },
    instructions: 30_000_000,
  },
  {
    // The memory loop's 9 instructions under 4-level paging, sweeping 64 MiB in 64-byte steps:
    // a new 4 KiB page every 64 iterations, 16384 pages, more than the TLB holds.
    name: 'paged memory loop (4-level, 4 KiB pages, 64 MiB)',
    source: `l: mov rax, [rsi]
      add rax, rdx
      mov [rsi+8], rax
      xor rdx, rax
      add edi, 64
      and edi, ${PAGED_SPAN - 1}
      lea rsi, [rbx+rdi]
      dec rcx
      jnz l`,
    regs: { rcx: FOREVER, rbx: BigInt(PAGED_DATA), rsi: BigInt(PAGED_DATA), rdi: 0n, rdx: 0x12345n },
    instructions: 30_000_000,
    memBytes: 96 * MiB,
    setup: pagedSetup,
  },
  {
    // 6 instructions per iteration: a call to a leaf function and back.
    name: 'call/return loop',
    source: `l: call f
      dec rcx
      jnz l
      hlt
    f: add rax, rcx
      xor rax, rdx
      ret`,
    regs: { rcx: FOREVER, rdx: 0x55n },
    instructions: 20_000_000,
  },
  {
    // Copies 4 KiB with rep movsb; each iteration of a REP string instruction retires as one instruction.
    name: 'string copy (rep movsb)',
    source: `l: mov rsi, 0x10000
      mov rdi, 0x20000
      mov ecx, 4096
      rep movsb
      dec rbx
      jnz l`,
    regs: { rbx: FOREVER },
    instructions: 40_000_000,
  },
];

export async function prepareLoop(loop: BenchLoop): Promise<TestCore> {
  const code = await asm(loop.source, 64, CODE_BASE);
  const t = makeCore(64, loop.memBytes ?? 4 << 20);
  t.phys.load(CODE_BASE, code);
  for (const [k, v] of Object.entries(loop.regs)) t.setReg(k as never, v);
  loop.setup?.(t);
  return t;
}
