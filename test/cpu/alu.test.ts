/**
 * ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST/INC/DEC/NEG/NOT (SDM Vol. 2, each
 * instruction's "Flags Affected"). Expected values come from a BigInt
 * reference model written here, not from the core.
 */
import { describe, expect, it } from 'vitest';
import { runAsm } from '../support/machine.ts';

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

function parity(v: bigint): number {
  let n = 0;
  for (let b = v & 0xffn; b; b >>= 1n) n += Number(b & 1n);
  return n % 2 === 0 ? PF : 0;
}

/** Reference flags for a + b + cin or a - b - cin at `bits` width. */
function arith(op: 'add' | 'sub', a: bigint, b: bigint, cin: bigint, bits: number) {
  const m = (1n << BigInt(bits)) - 1n;
  const sign = 1n << BigInt(bits - 1);
  a &= m; b &= m;
  const raw = op === 'add' ? a + b + cin : a - b - cin;
  const r = raw & m;
  let f = 0;
  if (op === 'add' ? raw > m : raw < 0n) f |= CF;
  if (r === 0n) f |= ZF;
  if (r & sign) f |= SF;
  f |= parity(r);
  if (((op === 'add' ? (a & 0xfn) + (b & 0xfn) + cin : (a & 0xfn) - (b & 0xfn) - cin) & 0x10n) !== 0n) f |= AF;
  const sa = (a & sign) !== 0n, sb = (b & sign) !== 0n, sr = (r & sign) !== 0n;
  if (op === 'add' ? sa === sb && sr !== sa : sa !== sb && sr !== sa) f |= OF;
  return { r, f };
}

const REGS = { 8: ['al', 'bl'], 16: ['ax', 'bx'], 32: ['eax', 'ebx'], 64: ['rax', 'rbx'] } as const;
const VALUES = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x123456789abcdef0n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfn, 0x10n];

describe('ADD/ADC/SUB/SBB/CMP flags and results (SDM Vol. 2A ADD, ADC; Vol. 2B SUB, SBB; Vol. 2A CMP)', () => {
  for (const bits of [8, 16, 32, 64] as const) {
    const [a, b] = REGS[bits];
    for (const op of ['add', 'adc', 'sub', 'sbb', 'cmp'] as const) {
      it(`${op} ${a}, ${b} over edge values`, async () => {
        for (const x of VALUES) {
          for (const y of [0n, 1n, 0x80n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fffffffn]) {
            for (const cin of op === 'adc' || op === 'sbb' ? [0n, 1n] : [0n]) {
              const t = await runAsm(`${op} ${a}, ${b}`, { regs: { rax: x, rbx: y }, rflags: Number(cin) });
              const ref = arith(op === 'add' || op === 'adc' ? 'add' : 'sub', x, y, cin, bits);
              const m = (1n << BigInt(bits)) - 1n;
              // A 32-bit result zero-extends into the register; 8/16-bit results keep the upper bits.
              const expectRax = op === 'cmp' ? x : bits >= 32 ? ref.r : (x & ~m) | ref.r;
              expect(t.reg('rax'), `${op} ${x.toString(16)},${y.toString(16)} cin=${cin}`).toBe(expectRax);
              expect(t.flags() & ARITH, `${op} flags ${x.toString(16)},${y.toString(16)} cin=${cin}`).toBe(ref.f);
            }
          }
        }
      });
    }
  }
});

describe('logical ops clear CF and OF (SDM Vol. 2A AND, OR, XOR, TEST)', () => {
  for (const op of ['and', 'or', 'xor', 'test'] as const) {
    it(`${op} at every size`, async () => {
      for (const bits of [8, 16, 32, 64] as const) {
        const [a, b] = REGS[bits];
        const m = (1n << BigInt(bits)) - 1n;
        for (const [x, y] of [[0xf0f0f0f0f0f0f0f0n, 0xff00ff00ff00ff00n], [0n, 0n], [0x8000000000000080n, 0xffffffffffffffffn]] as const) {
          const t = await runAsm(`${op} ${a}, ${b}`, { regs: { rax: x, rbx: y }, rflags: CF | OF });
          const r = (op === 'or' ? x | y : op === 'xor' ? x ^ y : x & y) & m;
          const f = (r === 0n ? ZF : 0) | ((r >> BigInt(bits - 1)) & 1n ? SF : 0) | parity(r);
          expect(t.flags() & (CF | ZF | SF | PF | OF)).toBe(f);
          const written = op === 'test' ? x : bits === 32 ? r : (x & ~m) | r;
          expect(t.reg('rax')).toBe(written);
        }
      }
    });
  }
});

describe('immediate forms (SDM Vol. 2A Table 3-x: 80/81/83 group 1, 04/05 accumulator)', () => {
  it('83 /0 sign-extends imm8 to the operand size', async () => {
    const t = await runAsm('add rax, -1', { regs: { rax: 5n } });
    expect(t.reg('rax')).toBe(4n);
    expect(t.flags() & CF).toBe(CF);
  });
  it('81 with a 64-bit operand sign-extends imm32', async () => {
    const t = await runAsm('and rax, -256', { regs: { rax: 0x1122334455667788n } });
    expect(t.reg('rax')).toBe(0x1122334455667700n);
  });
  it('16-bit op with imm16 leaves the upper bits of the register', async () => {
    const t = await runAsm('sub bx, 0x1234', { regs: { rbx: 0xdead0000ffffn } });
    expect(t.reg('rbx')).toBe(0xdead0000edcbn);
  });
  it('accumulator forms AL/EAX/RAX', async () => {
    const t = await runAsm('add al, 0x90\nadd eax, 0x10\nxor rax, 0x7fffffff', { regs: { rax: 0xffffffff_ffffff80n } });
    // al: 0x80+0x90 = 0x110 -> 0x10, eax = 0xffffff10 + 0x10 = 0xffffff20 (zero-extended), ^ 0x7fffffff
    expect(t.reg('rax')).toBe(0xffffff20n ^ 0x7fffffffn);
  });
  it('memory destination read-modify-write', async () => {
    const t = await runAsm('add qword ptr [0x3000], 7\nadd dword ptr [0x3008], ebx\nor byte ptr [0x300c], 0x81', {
      regs: { rbx: 0xffffffffn },
      setup: (t) => t.phys.load(0x3000, new Uint8Array([0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0x10])),
    });
    expect(Array.from(t.phys.readBytes(0x3000, 13))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x91]);
  });
  it('high-byte registers AH..BH without REX', async () => {
    const t = await runAsm('add ah, bh\nxor ch, dh', { regs: { rax: 0x1200n, rbx: 0x3400n, rcx: 0xff00n, rdx: 0x0f00n } });
    expect(t.reg('rax')).toBe(0x4600n);
    expect(t.reg('rcx')).toBe(0xf000n);
  });
  it('SPL/BPL/SIL/DIL with REX', async () => {
    const t = await runAsm('add sil, dil', { regs: { rsi: 0x1ffn, rdi: 0x2n } });
    expect(t.reg('rsi')).toBe(0x101n);
  });
});

describe('INC/DEC preserve CF; NEG sets CF unless zero; NOT changes no flags (SDM Vol. 2A INC, DEC; Vol. 2B NEG, NOT)', () => {
  it('INC and DEC at every size keep CF', async () => {
    for (const cf of [0, CF]) {
      const t = await runAsm('inc al\ndec bx\ninc ecx\ndec rdx', { regs: { rax: 0xffn, rbx: 0x8000n, rcx: 0x7fffffffn, rdx: 0n }, rflags: cf });
      expect(t.reg('rax')).toBe(0n);
      expect(t.reg('rbx')).toBe(0x7fffn);
      expect(t.reg('rcx')).toBe(0x80000000n);
      expect(t.reg('rdx')).toBe(0xffffffffffffffffn);
      expect(t.flags() & CF).toBe(cf);
      expect(t.flags() & (SF | ZF | OF | AF)).toBe(SF | AF); // dec rdx: 0 - 1 = -1
    }
  });
  it('INC sets OF on 0x7f..f and DEC on 0x80..0', async () => {
    let t = await runAsm('inc rax', { regs: { rax: 0x7fffffffffffffffn } });
    expect(t.flags() & (OF | SF | ZF)).toBe(OF | SF);
    t = await runAsm('dec rax', { regs: { rax: 0x8000000000000000n } });
    expect(t.flags() & (OF | SF | ZF)).toBe(OF);
    t = await runAsm('dec ax', { regs: { rax: 0x8000n } });
    expect(t.flags() & OF).toBe(OF);
  });
  it('NEG', async () => {
    let t = await runAsm('neg rax', { regs: { rax: 1n } });
    expect(t.reg('rax')).toBe(0xffffffffffffffffn);
    expect(t.flags() & (CF | SF | ZF | OF)).toBe(CF | SF);
    t = await runAsm('neg eax', { regs: { rax: 0n } });
    expect(t.flags() & (CF | ZF)).toBe(ZF);
    t = await runAsm('neg al', { regs: { rax: 0x80n } });
    expect(t.reg('rax')).toBe(0x80n);
    expect(t.flags() & (CF | OF)).toBe(CF | OF);
  });
  it('NOT', async () => {
    const t = await runAsm('not rax\nnot bl', { regs: { rax: 0x00ff00ff00ff00ffn, rbx: 0x1234n }, rflags: CF | ZF });
    expect(t.reg('rax')).toBe(0xff00ff00ff00ff00n);
    expect(t.reg('rbx')).toBe(0x12cbn);
    expect(t.flags() & (CF | ZF)).toBe(CF | ZF);
  });
});

describe('LOCK (SDM Vol. 2A LOCK)', () => {
  it('LOCK ADD to memory is allowed', async () => {
    const t = await runAsm('lock add dword ptr [0x3000], 2', { setup: (t) => t.phys.load(0x3000, new Uint8Array([5])) });
    expect(t.stop.kind).toBe('halt');
    expect(t.phys.readBytes(0x3000, 1)[0]).toBe(7);
  });
  it('LOCK with a register destination raises #UD', async () => {
    const t = await runAsm('.byte 0xf0, 0x01, 0xd8');
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 6, rip: 0x1000 });
  });
  it('LOCK CMP raises #UD', async () => {
    const t = await runAsm('.byte 0xf0, 0x39, 0x18');
    expect(t.stop).toMatchObject({ kind: 'exception', vector: 6 });
  });
});
