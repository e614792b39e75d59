/**
 * Helpers for system-architecture tests: descriptors and gates built from
 * their SDM fields (Vol. 3A Figures 3-8, 5-8, 6-2, 6-8), tables written to
 * a bare core's memory, and a core with exception delivery and event
 * servicing attached. Values are computed here from the SDM layouts,
 * independently of cpu/system.
 */
import { pagingStateChanged, writeCr3 } from '../../cpu/memory/paging.ts';
import { attachSystem } from '../../cpu/system/events.ts';
import { asm } from '../support/asm.ts';
import { CODE_BASE, makeCore, type TestCore } from '../support/machine.ts';

export interface SegmentSpec {
  base?: number;
  limit?: number;
  /** Type field (bits 11:8 of the high dword). */
  type: number;
  /** S: 1 code/data (default), 0 system. */
  s?: 0 | 1;
  dpl?: number;
  present?: boolean;
  l?: boolean;
  db?: boolean;
  g?: boolean;
}

/** An 8-byte segment descriptor as [low dword, high dword] (SDM Vol. 3A Figure 3-8). */
export function segment(spec: SegmentSpec): number[] {
  const base = spec.base ?? 0, limit = spec.limit ?? 0xfffff;
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = ((base >>> 16) & 0xff) | (spec.type << 8) | ((spec.s ?? 1) << 12) | ((spec.dpl ?? 0) << 13) |
    ((spec.present ?? true) ? 1 << 15 : 0) | (limit & 0xf0000) | (spec.l ? 1 << 21 : 0) | (spec.db ? 1 << 22 : 0) |
    (spec.g ? 1 << 23 : 0) | (base & 0xff000000);
  return [lo >>> 0, hi >>> 0];
}

/** A 16-byte system descriptor of IA-32e mode (LDT, TSS): base bits 63:32 in the third dword. */
export function segment64(spec: SegmentSpec & { baseHigh?: number }): number[] {
  return [...segment({ ...spec, s: 0 }), spec.baseHigh ?? 0, 0];
}

export interface GateSpec {
  type: number;
  selector: number;
  offset: number;
  dpl?: number;
  present?: boolean;
  /** Call gates: parameter count; 64-bit interrupt/trap gates: IST index. */
  count?: number;
  /** 64-bit gates: offset bits 63:32. */
  offsetHigh?: number;
}

/** An 8-byte gate (SDM Vol. 3A Figures 5-8, 6-2). */
export function gate(g: GateSpec): number[] {
  const lo = ((g.selector & 0xffff) << 16) | (g.offset & 0xffff);
  const hi = (g.offset & 0xffff0000) | ((g.present ?? true) ? 1 << 15 : 0) | ((g.dpl ?? 0) << 13) | (g.type << 8) | ((g.count ?? 0) & 0x1f);
  return [lo >>> 0, hi >>> 0];
}

/** A 16-byte gate of IA-32e mode (SDM Vol. 3A Figures 5-9, 6-8). */
export function gate64(g: GateSpec): number[] {
  return [...gate({ ...g, count: g.count ?? 0 }), (g.offsetHigh ?? 0) >>> 0, 0];
}

/** Writes dwords (descriptors flattened) at `addr`. */
export function writeDwords(t: TestCore, addr: number, dwords: number[]): void {
  dwords.forEach((v, k) => t.phys.writeSized(addr + 4 * k, 4, v >>> 0));
}

export function read32(t: TestCore, addr: number): number {
  return t.phys.readSized(addr, 4) >>> 0;
}

export function read64(t: TestCore, addr: number): bigint {
  return (BigInt(read32(t, addr + 4)) << 32n) | BigInt(read32(t, addr));
}

/** Flat descriptors used by most tests (SDM Vol. 3A Table 3-1 type values). */
export const CODE32 = segment({ type: 0xb, db: true, g: true });
export const DATA32 = segment({ type: 0x3, db: true, g: true });
export const CODE64 = segment({ type: 0xb, l: true, g: true });
export const CODE16 = segment({ type: 0xb, limit: 0xffff });
export const DATA16 = segment({ type: 0x3, limit: 0xffff });
export const CODE32_3 = segment({ type: 0xb, db: true, g: true, dpl: 3 });
export const DATA32_3 = segment({ type: 0x3, db: true, g: true, dpl: 3 });
export const CODE64_3 = segment({ type: 0xb, l: true, g: true, dpl: 3 });

/** Memory layout of the tests: GDT, IDT, TSS, handlers, results. */
export const GDT = 0x2000, IDT = 0x3000, TSS = 0x4000, HANDLERS = 0x7000, DATA = 0x6000;

/** A core in flat mode with exception delivery and event servicing attached. */
export function systemCore(bits: 16 | 32 | 64 = 64): TestCore {
  const t = makeCore(bits);
  attachSystem(t.cpu);
  return t;
}

/** Sets GDTR/IDTR directly, as LGDT/LIDT would. */
export function setTables(t: TestCore, gdt: number[][], idtBase = IDT, idtLimit = 0xfff): void {
  writeDwords(t, GDT, gdt.flat());
  t.cpu.sys.gdtrBase = GDT;
  t.cpu.sys.gdtrLimit = gdt.length * 8 - 1;
  t.cpu.sys.idtrBase = idtBase;
  t.cpu.sys.idtrLimit = idtLimit;
}

/**
 * Handlers that stop where they are: vector v's handler is a HLT at
 * HANDLERS + 16 * v, so after delivery the core halts with RIP =
 * handlerAddress(v) + 1 and the frame on its stack.
 */
export function handlerAddress(v: number): number {
  return HANDLERS + 16 * v;
}

export function installHaltHandlers(t: TestCore): void {
  for (let v = 0; v < 256; v++) t.phys.write8(handlerAddress(v), 0xf4);
}

/** Fills IDT entries 0..255 with 64-bit interrupt gates to the halt handlers. */
export function idt64(t: TestCore, selector = 0x18, over: Partial<GateSpec> = {}): void {
  installHaltHandlers(t);
  for (let v = 0; v < 256; v++) writeDwords(t, IDT + 16 * v, gate64({ type: 0xe, selector, offset: handlerAddress(v), ...over }));
}

/** Fills IDT entries 0..255 with 32-bit interrupt gates to the halt handlers. */
export function idt32(t: TestCore, selector = 0x08, over: Partial<GateSpec> = {}): void {
  installHaltHandlers(t);
  for (let v = 0; v < 256; v++) writeDwords(t, IDT + 8 * v, gate({ type: 0xe, selector, offset: handlerAddress(v), ...over }));
}

/** Assembles `source` at `addr` for `bits`-bit code and loads it. */
export async function load(t: TestCore, source: string, bits: 16 | 32 | 64 = 64, addr = CODE_BASE): Promise<void> {
  t.phys.load(addr, await asm(source, bits, addr));
}

/** `.byte` lines for a direct far JMP ptr16:32 (keystone encodes it with a 16-bit offset). */
export function farJmp32(selector: number, target: string, inCode16 = false): string {
  return `.byte ${inCode16 ? '0x66, ' : ''}0xea\n.long ${target}\n.word ${selector}`;
}

/** `.byte` lines for a direct far CALL ptr16:32. */
export function farCall32(selector: number, target: string): string {
  return `.byte 0x9a\n.long ${target}\n.word ${selector}`;
}

/** Where identityPaging puts its tables: PML4, PDPT and PD on consecutive pages. */
export const PAGE_TABLES = 0x9000;

/**
 * 4-level page tables identity-mapping the first 2 MiB with one 2-MByte
 * page (SDM Vol. 3A §4.5, Tables 4-14 to 4-18): P, R/W, U/S set; CR3 =
 * PAGE_TABLES.
 */
export function identityPaging(t: TestCore): void {
  const pdpt = PAGE_TABLES + 0x1000, pd = PAGE_TABLES + 0x2000;
  writeDwords(t, PAGE_TABLES, [pdpt | 7, 0]);
  writeDwords(t, pdpt, [pd | 7, 0]);
  writeDwords(t, pd, [0x87, 0]);
}

/** The test TSSs: 104 bytes, then an I/O bitmap for ports 0-8191 and its terminating 0xFF byte. */
export const TSS_LIMIT = 0x68 + 1024;

/** Stacks: the kernel stack TSS.RSP0/ESP0 names, IST1, and a user stack. */
export const KERNEL_STACK = 0x60000, IST1_STACK = 0x50000, USER_STACK = 0x70000;

/**
 * The GDT of the 64-bit tests: kernel code/data at 08H/10H (SYSCALL's
 * STAR[47:32] = 08H), user 32-bit code, data, 64-bit code at 18H/20H/28H
 * (SYSRET's STAR[63:48] = 18H), a 64-bit TSS at 30H (16 bytes).
 */
export const SEL64 = { code: 0x08, data: 0x10, code32User: 0x1b, dataUser: 0x23, codeUser: 0x2b, tss: 0x30 } as const;

/** The GDT of the 32-bit tests: kernel code/data, user code/data, 16-bit code, a 32-bit TSS. */
export const SEL32 = { code: 0x08, data: 0x10, codeUser: 0x1b, dataUser: 0x23, code16: 0x28, tss: 0x30 } as const;

export function gdt64(extra: number[][] = []): number[][] {
  const tss = segment64({ base: TSS, limit: TSS_LIMIT, type: 9 });
  return [[0, 0], CODE64, DATA32, CODE32_3, DATA32_3, CODE64_3, tss.slice(0, 2), tss.slice(2), ...extra];
}

export function gdt32(extra: number[][] = []): number[][] {
  return [[0, 0], CODE32, DATA32, CODE32_3, DATA32_3, CODE16, segment({ s: 0, type: 9, base: TSS, limit: TSS_LIMIT }), ...extra];
}

/** A 64-bit TSS (SDM Vol. 3A Figure 7-11): RSP0 and IST1, the I/O bitmap at 68H denying every port. */
export function writeTss64(t: TestCore): void {
  writeDwords(t, TSS, new Array(26).fill(0));
  writeDwords(t, TSS + 4, [KERNEL_STACK, 0]);
  writeDwords(t, TSS + 0x24, [IST1_STACK, 0]);
  t.phys.writeSized(TSS + 0x66, 2, 0x68);
  for (let k = 0; k <= 1024; k++) t.phys.write8(TSS + 0x68 + k, 0xff);
}

/** A 32-bit TSS (SDM Vol. 3A Figure 7-2): SS0:ESP0 = 10H:KERNEL_STACK, the I/O bitmap at 68H. */
export function writeTss32(t: TestCore): void {
  writeDwords(t, TSS, new Array(26).fill(0));
  writeDwords(t, TSS + 4, [KERNEL_STACK, SEL32.data]);
  t.phys.writeSized(TSS + 0x66, 2, 0x68);
  for (let k = 0; k <= 1024; k++) t.phys.write8(TSS + 0x68 + k, 0xff);
}

/** Makes the paging unit use identityPaging's tables through its entry points (MOV CR3 and a state change). */
export function activatePaging(t: TestCore): void {
  identityPaging(t);
  writeCr3(t.cpu, PAGE_TABLES, 0);
  pagingStateChanged(t.cpu);
}

/**
 * A 64-bit core at CPL 0 with gdt64, a TSS, 64-bit interrupt gates to the
 * halt handlers, identity paging, and `source` at CODE_BASE after an LTR.
 */
export async function longModeCore(source: string, extraGdt: number[][] = []): Promise<TestCore> {
  const t = systemCore(64);
  setTables(t, gdt64(extraGdt));
  writeTss64(t);
  idt64(t, SEL64.code);
  activatePaging(t);
  await load(t, `mov ax, ${SEL64.tss}\nltr ax\n${source}`, 64);
  return t;
}

/** The 32-bit counterpart: gdt32, a 32-bit TSS, 32-bit interrupt gates, paging off. */
export async function protectedModeCore(source: string, extraGdt: number[][] = []): Promise<TestCore> {
  const t = systemCore(32);
  setTables(t, gdt32(extraGdt));
  writeTss32(t);
  idt32(t, SEL32.code);
  await load(t, `mov ax, ${SEL32.tss}\nltr ax\n${source}`, 32);
  return t;
}

/** Drops to CPL 3 at `label` with IRETQ (SS:RSP = dataUser:USER_STACK, RFLAGS = `rflags`). */
export function toUser64(label: string, rflags = 0x2): string {
  return `push ${SEL64.dataUser}\npush ${USER_STACK}\npush ${rflags}\npush ${SEL64.codeUser}\nmov rax, ${label}\npush rax\niretq`;
}

/** Drops to CPL 3 at `label` with IRETD. */
export function toUser32(label: string, eflags = 0x2): string {
  return `push ${SEL32.dataUser}\npush ${USER_STACK}\npush ${eflags}\npush ${SEL32.codeUser}\nmov eax, ${label}\npush eax\niretd`;
}

/** The stack of a core stopped in a halt handler: `n` slots of `size` bytes from RSP up. */
export function stackSlots(t: TestCore, n: number, size: 2 | 4 | 8 = 8): bigint[] {
  const width = t.cpu.stackSize;
  const sp = Number(t.reg('rsp') & (width === 8 ? 0xffffffffffffn : width === 4 ? 0xffffffffn : 0xffffn));
  const base = t.cpu.codeSize === 64 ? 0 : t.cpu.segBase[2]!;
  return Array.from({ length: n }, (_, k) => {
    const a = base + sp + k * size;
    return size === 8 ? read64(t, a) : BigInt(size === 4 ? read32(t, a) : t.phys.readSized(a, 2));
  });
}
