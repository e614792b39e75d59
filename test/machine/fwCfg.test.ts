/**
 * QEMU's fw_cfg over I/O ports (QEMU docs/specs/fw_cfg.rst): a 16-bit
 * selector at 0x510, an 8-bit data port at 0x511; items in little-endian,
 * the file directory in big-endian. Read from guest code and directly.
 */
import { describe, expect, it } from 'vitest';
import { FwCfg } from '../../cpu/devices/fwCfg.ts';
import { Machine } from '../../cpu/machine/machine.ts';
import { asm } from '../support/asm.ts';

const SEL = 0x510, DATA = 0x511;

/** Selects `key` and reads `n` bytes through the data port, as a guest would. */
function item(dev: { read(p: number, s: number): number; write(p: number, s: number, v: number): void }, key: number, n: number): number[] {
  dev.write(SEL, 2, key);
  return Array.from({ length: n }, () => dev.read(DATA, 1));
}

const le = (bytes: number[]): bigint => bytes.reduceRight((v, b) => (v << 8n) | BigInt(b), 0n);

describe('fw_cfg items', () => {
  const m = new Machine({ cpus: 6, memoryMiB: 512 });

  it('signature "QEMU" at key 0 and the traditional-interface ID (bit 0 only: no DMA) at key 1', () => {
    expect(String.fromCharCode(...item(m.io, 0x00, 4))).toBe('QEMU');
    expect(le(item(m.io, 0x01, 4))).toBe(1n);
  });

  it('RAM size at key 3 (64-bit), CPU count at key 5 and maximum CPUs at key 0x0f (16-bit)', () => {
    expect(le(item(m.io, 0x03, 8))).toBe(512n * 1024n * 1024n);
    expect(le(item(m.io, 0x05, 2))).toBe(6n);
    expect(le(item(m.io, 0x0f, 2))).toBe(6n);
  });

  it('reads 0 past an item\'s end and for an item that does not exist; reselecting restarts at offset 0', () => {
    expect(item(m.io, 0x00, 6).slice(4)).toEqual([0, 0]);
    expect(item(m.io, 0x1234, 3)).toEqual([0, 0, 0]);
    expect(item(m.io, 0x00, 1)).toEqual([0x51]);
  });

  it('ignores data-port writes and byte writes to the selector', () => {
    m.io.write(SEL, 2, 0x05);
    m.io.write(DATA, 1, 0x99);
    m.io.write(SEL, 1, 0x00);
    expect(m.io.read(DATA, 1)).toBe(6);
  });

  it('a 32-bit read of the data port returns the next four bytes in order', () => {
    m.io.write(SEL, 2, 0x00);
    expect(m.io.read(DATA, 4) >>> 0).toBe(0x554d4551); // 'Q' 'E' 'M' 'U' from the lowest byte up
  });

  it('lists etc/e820 in the file directory (key 0x19): big-endian count, then {size, select, name[56]}', () => {
    const dir = item(m.io, 0x19, 4 + 64);
    const be = (bytes: number[]) => bytes.reduce((v, b) => v * 256 + b, 0);
    expect(be(dir.slice(0, 4))).toBe(1);
    const name = String.fromCharCode(...dir.slice(12, 12 + 56)).replace(/\0.*$/s, '');
    expect(name).toBe('etc/e820');
    const size = be(dir.slice(4, 8));
    const select = be(dir.slice(8, 10));
    expect(select).toBe(0x20);
    // 512 MiB below the APIC pages: RAM, EBDA, legacy area, RAM from 1 MiB: 4 entries of {u64 base, u64 length, u32 type}.
    expect(size).toBe(4 * 20);
    const e820 = item(m.io, select, size);
    const entries = [0, 1, 2, 3].map((k) => [le(e820.slice(20 * k, 20 * k + 8)), le(e820.slice(20 * k + 8, 20 * k + 16)), le(e820.slice(20 * k + 16, 20 * k + 20))]);
    expect(entries).toEqual([
      [0n, 0x9fc00n, 1n], [0x9fc00n, 0x400n, 2n], [0xa0000n, 0x60000n, 2n], [0x100000n, 512n * 1024n * 1024n - 0x100000n, 1n],
    ]);
  });

  it('refuses a file name that does not fit the 56-byte field', () => {
    expect(() => new FwCfg({ ramBytes: 1 << 21, cpus: 1 }).addFile('x'.repeat(56), new Uint8Array(1))).toThrow(/longer than 55/);
  });
});

describe('fw_cfg from guest code (port I/O)', () => {
  it('a 32-bit program reads the signature, CPU count and RAM size', async () => {
    const code = await asm(`
      mov dx, 0x510
      xor eax, eax
      out dx, ax          ; select the signature
      inc dx
      mov ecx, 4
    sig: shl ebx, 8
      in al, dx
      mov bl, al
      dec ecx
      jnz sig             ; EBX = 'Q','E','M','U' read in order, first byte highest
      dec dx
      mov ax, 5
      out dx, ax          ; NB_CPUS
      inc dx
      in al, dx
      movzx esi, al
      dec dx
      mov ax, 3
      out dx, ax          ; RAM_SIZE, low dword
      inc dx
      mov ecx, 4
      xor edi, edi
    ram: in al, dx
      movzx eax, al
      shrd edi, eax, 8    ; each byte enters at the top: the first read ends lowest
      dec ecx
      jnz ram
      hlt`, 32, 0x10000);
    const m = new Machine({ cpus: 3, memoryMiB: 64 });
    m.loadFlat(code, { fileName: 'test', address: 0x10000, bits: 32 });
    m.run({ maxInstructions: 1000 });
    const r = m.probe.core(0).regs;
    expect(r.rbx).toBe(BigInt(0x51454d55)); // "QEMU"
    expect(r.rsi).toBe(3n);
    expect(r.rdi).toBe(64n * 1024n * 1024n);
  });
});
