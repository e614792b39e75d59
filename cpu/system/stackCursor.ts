/**
 * A stack pointer moved over a stack without touching RSP, for the
 * transfers that must check every push and pop before committing anything
 * (far CALL/RET, IRET, event delivery: SDM Vol. 3A §5.8.5, §6.12.1). Each
 * slot is checked against the stack segment's limit (16/32-bit stacks) or
 * for canonical form (64-bit stacks); a failure raises #SS with the
 * cursor's error code.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { isCanonical } from '../memory/canonical.ts';
import { implicitSupervisor } from '../memory/paging.ts';
import { readMem, writeMem } from '../exec/operands.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';

export class StackCursor {
  /** Stack-pointer width in bytes: 2 (SP), 4 (ESP), 8 (RSP). */
  width: 2 | 4 | 8 = 8;
  /** The stack pointer: an offset below 2^16/2^32, or a 64-bit linear address. */
  sp = 0;
  private base = 0;
  private lo = 0;
  private hi = 0;
  /** Error code of the #SS a failed check raises. */
  err = 0;
  /** Pushes go to the stack of a more privileged level: supervisor-mode accesses whatever the CPL. */
  supervisor = false;

  /** Starts at the current SS:RSP. */
  current(c: Cpu, err = 0): this {
    this.width = c.stackSize;
    const k = Reg.RSP << 1;
    this.sp = this.width === 8 ? c.r[k + 1]! * TWO32 + (c.r[k]! >>> 0) : this.width === 4 ? c.r[k]! >>> 0 : c.r[k]! & 0xffff;
    this.base = c.segBase[Seg.SS]!;
    this.lo = c.sys.segLo[Seg.SS]!;
    this.hi = c.sys.segHi[Seg.SS]!;
    this.err = err;
    this.supervisor = false;
    return this;
  }

  /** Starts at a new stack: a 64-bit RSP, or an offset into a segment of `base`, `limit` and B/expand-down from `attr`. */
  switchTo(width: 2 | 4 | 8, sp: number, base: number, limit: number, expandDown: boolean, err: number): this {
    this.width = width;
    this.sp = width === 8 ? sp : width === 4 ? sp >>> 0 : sp & 0xffff;
    this.base = base;
    this.lo = expandDown ? limit + 1 : 0;
    this.hi = expandDown ? (width === 2 ? 0xffff : 0xffffffff) : limit;
    this.err = err;
    this.supervisor = true;
    return this;
  }

  /** Linear address of `size` bytes at offset `sp`, after the limit or canonical check. */
  private linear(sp: number, size: number): number {
    if (this.width === 8) {
      if (!isCanonical(sp) || !isCanonical(sp + size - 1)) fault(Vector.SS, this.err);
      return sp;
    }
    if (sp < this.lo || sp + size - 1 > this.hi) fault(Vector.SS, this.err);
    return (this.base + sp) >>> 0;
  }

  private wrap(sp: number): number {
    return this.width === 8 ? sp : this.width === 4 ? sp >>> 0 : sp & 0xffff;
  }

  /** Checks that `size` bytes below the pointer could be pushed, without moving it. */
  checkRoom(size: number): void {
    this.linear(this.wrap(this.sp - size), size);
  }

  push(c: Cpu, size: number, lo: number, hi = 0): void {
    const sp = this.wrap(this.sp - size);
    const la = this.linear(sp, size);
    if (!this.supervisor) writeMem(c, la, size, lo, hi);
    else {
      implicitSupervisor(c, true);
      try { writeMem(c, la, size, lo, hi); } finally { implicitSupervisor(c, false); }
    }
    this.sp = sp;
  }

  /** Pops `size` bytes: the low half, the high half in c.opHi. */
  pop(c: Cpu, size: number): number {
    const v = readMem(c, this.linear(this.sp, size), size);
    this.sp = this.wrap(this.sp + size);
    return v;
  }

  /** Reads `size` bytes at pointer + `offset` without moving (RET far's outer SS:ESP). */
  peek(c: Cpu, offset: number, size: number): number {
    return readMem(c, this.linear(this.wrap(this.sp + offset), size), size);
  }

  skip(bytes: number): void {
    this.sp = this.wrap(this.sp + bytes);
  }

  /**
   * Writes the pointer back to RSP: all 64 bits for a 64-bit stack or a
   * stack switch (`whole`), else only SP or ESP, as pushes and pops do.
   */
  commit(c: Cpu, whole: boolean): void {
    const k = Reg.RSP << 1;
    if (this.width === 8) {
      c.r[k] = this.sp >>> 0;
      c.r[k + 1] = Math.floor(this.sp / TWO32) | 0;
    } else if (this.width === 4) {
      c.r[k] = this.sp | 0;
      if (whole) c.r[k + 1] = 0;
    } else {
      c.r[k] = whole ? this.sp : (c.r[k]! & ~0xffff) | this.sp;
      if (whole) c.r[k + 1] = 0;
    }
  }
}

/**
 * Loads RSP after a return to another stack: all 64 bits for a 64-bit
 * target, ESP (upper half cleared) for a 32-bit stack segment, SP for a
 * 16-bit one (SDM Vol. 2B RET, Vol. 2A IRET "Operation").
 */
export function loadStackPointer(c: Cpu, v: number, width: 2 | 4 | 8): void {
  const k = Reg.RSP << 1;
  if (width === 8) {
    c.r[k] = v >>> 0;
    c.r[k + 1] = Math.floor(v / TWO32) | 0;
  } else if (width === 4) {
    c.r[k] = v | 0;
    c.r[k + 1] = 0;
  } else {
    c.r[k] = (c.r[k]! & ~0xffff) | (v & 0xffff);
  }
}
