/**
 * ACPI tables describing the machine (ACPI Specification 6.4 chapter 5),
 * written into guest memory in the BIOS area where the RSDP scan finds
 * them (§5.2.5.1: a 16-byte-aligned "RSD PTR " in 0xE0000-0xFFFFF):
 *
 *   RSDP (rev 2) → RSDT (32-bit pointers) and XSDT (64-bit) → FADT, MADT
 *   FADT → DSDT
 *
 * The FADT declares a hardware-reduced ACPI platform (§4.1, FADT flag
 * HW_REDUCED_ACPI): the machine has no PM1 event/control blocks, PM timer,
 * GPE blocks or SCI, and a full-hardware FADT would have to point at them.
 * No FACS is needed then. The DSDT is an empty definition block.
 *
 * The MADT (§5.2.12) lists one enabled Processor Local APIC per CPU (APIC
 * ID = processor UID = core index), the IOAPIC, the ISA IRQ0 → GSI 2
 * override of PC-compatible boards (the 8254 PIT is wired to IOAPIC pin 2),
 * and LINT1 as NMI on every processor. PCAT_COMPAT says dual 8259s exist.
 *
 * Every table carries the standard header (§5.2.6) and a checksum that
 * makes its bytes sum to 0 mod 256; the RSDP has its 20-byte checksum and
 * its extended (36-byte) checksum (§5.2.5.3).
 */
import type { PhysicalMemory } from '../memory/physical.ts';

export interface AcpiConfig {
  /** Where the tables start (16-byte aligned, inside 0xE0000-0xFFFFF so the RSDP scan finds them). */
  base: number;
  /** Where the tables must end (exclusive). */
  limit: number;
  cpus: number;
  localApicBase: number;
  ioapicId: number;
  ioapicBase: number;
}

export interface AcpiTables {
  rsdp: number;
  rsdt: number;
  xsdt: number;
  fadt: number;
  dsdt: number;
  madt: number;
  /** First byte after the tables. */
  end: number;
}

const OEM_ID = 'TURTLE';
const OEM_TABLE_ID = 'TURTLES ';
const CREATOR_ID = 'TRTL';
const HEADER_SIZE = 36;
const FADT_SIZE = 276; // revision 6 (ACPI 6.0 and later)
const FADT_MAJOR = 6, FADT_MINOR = 4; // ACPI 6.4
const MADT_REVISION = 5; // ACPI 6.3 and 6.4
// FADT Flags (Table 5.10): WBINVD works (bit 0), HW_REDUCED_ACPI (bit 20).
const FADT_WBINVD = 1 << 0, FADT_HW_REDUCED = 1 << 20;
// MADT flags: PCAT_COMPAT. Local APIC flags: Enabled.
const MADT_PCAT_COMPAT = 1, LAPIC_ENABLED = 1;
const enum MadtType { LocalApic = 0, IoApic = 1, SourceOverride = 2, LocalApicNmi = 4 }

/** A little-endian byte writer for one table. */
class TableBytes {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.dv = new DataView(this.bytes.buffer);
  }
  ascii(at: number, s: string): void {
    for (let k = 0; k < s.length; k++) this.bytes[at + k] = s.charCodeAt(k);
  }
  u64(at: number, v: number): void {
    this.dv.setUint32(at, v % 0x100000000, true);
    this.dv.setUint32(at + 4, Math.floor(v / 0x100000000), true);
  }
  /** Sets byte `at` so that bytes [from, to) sum to 0 mod 256. */
  checksum(at: number, from = 0, to = this.bytes.length): void {
    this.bytes[at] = 0;
    let sum = 0;
    for (let k = from; k < to; k++) sum += this.bytes[k]!;
    this.bytes[at] = (256 - (sum & 0xff)) & 0xff;
  }
}

/** A table with its System Description Table Header filled (checksum left for `finish`). */
function sdt(signature: string, length: number, revision: number): TableBytes {
  const t = new TableBytes(length);
  t.ascii(0, signature);
  t.dv.setUint32(4, length, true);
  t.bytes[8] = revision;
  t.ascii(10, OEM_ID);
  t.ascii(16, OEM_TABLE_ID);
  t.dv.setUint32(24, 1, true); // OEM revision
  t.ascii(28, CREATOR_ID);
  t.dv.setUint32(32, 1, true); // creator revision
  return t;
}

function finish(t: TableBytes): Uint8Array {
  t.checksum(9);
  return t.bytes;
}

function madt(cfg: AcpiConfig): Uint8Array {
  const length = HEADER_SIZE + 8 + 8 * cfg.cpus + 12 + 10 + 6;
  const t = sdt('APIC', length, MADT_REVISION);
  t.dv.setUint32(36, cfg.localApicBase, true);
  t.dv.setUint32(40, MADT_PCAT_COMPAT, true);
  let at = 44;
  for (let k = 0; k < cfg.cpus; k++) {
    // Processor Local APIC (§5.2.12.2): type, length, ACPI processor UID, APIC ID, flags.
    t.bytes.set([MadtType.LocalApic, 8, k, k], at);
    t.dv.setUint32(at + 4, LAPIC_ENABLED, true);
    at += 8;
  }
  // I/O APIC (§5.2.12.3): type, length, ID, reserved, address, global system interrupt base.
  t.bytes.set([MadtType.IoApic, 12, cfg.ioapicId, 0], at);
  t.dv.setUint32(at + 4, cfg.ioapicBase, true);
  t.dv.setUint32(at + 8, 0, true);
  at += 12;
  // Interrupt Source Override (§5.2.12.5): ISA bus 0, IRQ 0 → GSI 2, flags 0 (conforms to the bus).
  t.bytes.set([MadtType.SourceOverride, 10, 0, 0], at);
  t.dv.setUint32(at + 4, 2, true);
  t.dv.setUint16(at + 8, 0, true);
  at += 10;
  // Local APIC NMI (§5.2.12.7): all processors (UID 0xFF), flags 0, LINT1.
  t.bytes.set([MadtType.LocalApicNmi, 6, 0xff, 0, 0, 1], at);
  return finish(t);
}

function fadt(dsdt: number): Uint8Array {
  const t = sdt('FACP', FADT_SIZE, FADT_MAJOR);
  // FIRMWARE_CTRL (36) stays 0: no FACS on a hardware-reduced platform.
  t.dv.setUint32(40, dsdt, true); // DSDT
  t.dv.setUint32(112, FADT_WBINVD | FADT_HW_REDUCED, true); // Flags
  t.bytes[131] = FADT_MINOR; // FADT Minor Version
  t.u64(140, dsdt); // X_DSDT
  return finish(t);
}

function rsdp(rsdt: number, xsdt: number): Uint8Array {
  const t = new TableBytes(36);
  t.ascii(0, 'RSD PTR ');
  t.ascii(9, OEM_ID);
  t.bytes[15] = 2; // revision 2: ACPI 2.0 and later, with Length and XsdtAddress
  t.dv.setUint32(16, rsdt, true);
  t.dv.setUint32(20, 36, true);
  t.u64(24, xsdt);
  t.checksum(8, 0, 20);
  t.checksum(32, 0, 36);
  return t.bytes;
}

function rootTable(signature: 'RSDT' | 'XSDT', entries: number[]): Uint8Array {
  const width = signature === 'RSDT' ? 4 : 8;
  const t = sdt(signature, HEADER_SIZE + width * entries.length, 1);
  entries.forEach((e, k) => (width === 4 ? t.dv.setUint32(HEADER_SIZE + 4 * k, e, true) : t.u64(HEADER_SIZE + 8 * k, e)));
  return finish(t);
}

const align16 = (a: number): number => (a + 15) & ~15;

/** Lays the tables out from `cfg.base` and writes them to guest memory. */
export function writeAcpiTables(phys: PhysicalMemory, cfg: AcpiConfig): AcpiTables {
  // Sizes are known up front, so addresses can be assigned before the tables that point at them are built.
  const madtBytes = madt(cfg);
  const rsdpAt = cfg.base;
  const rsdtAt = align16(rsdpAt + 36);
  const xsdtAt = align16(rsdtAt + HEADER_SIZE + 2 * 4);
  const fadtAt = align16(xsdtAt + HEADER_SIZE + 2 * 8);
  const dsdtAt = align16(fadtAt + FADT_SIZE);
  const madtAt = align16(dsdtAt + HEADER_SIZE);
  const end = madtAt + madtBytes.length;
  if (end > cfg.limit) throw new RangeError(`ACPI tables for ${cfg.cpus} CPUs end at 0x${end.toString(16)}, past 0x${cfg.limit.toString(16)}`);
  phys.load(rsdpAt, rsdp(rsdtAt, xsdtAt));
  phys.load(rsdtAt, rootTable('RSDT', [fadtAt, madtAt]));
  phys.load(xsdtAt, rootTable('XSDT', [fadtAt, madtAt]));
  phys.load(fadtAt, fadt(dsdtAt));
  phys.load(dsdtAt, finish(sdt('DSDT', HEADER_SIZE, 2)));
  phys.load(madtAt, madtBytes);
  return { rsdp: rsdpAt, rsdt: rsdtAt, xsdt: xsdtAt, fadt: fadtAt, dsdt: dsdtAt, madt: madtAt, end };
}
