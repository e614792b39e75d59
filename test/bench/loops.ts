/**
 * The benchmark loops of issue 2, as 64-bit guest code, so the same
 * instructions can be run on other emulators for comparison.
 */
import { CODE_BASE, makeCore, type TestCore } from '../support/machine.ts';
import { asm } from '../support/asm.ts';

export interface BenchLoop {
  name: string;
  source: string;
  regs: Record<string, bigint>;
  /** Instructions retired per measured run. */
  instructions: number;
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
  const t = makeCore(64, 4 << 20);
  t.phys.load(CODE_BASE, code);
  for (const [k, v] of Object.entries(loop.regs)) t.setReg(k as never, v);
  return t;
}
