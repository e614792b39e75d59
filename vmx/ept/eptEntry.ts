/**
 * Bits of the EPT paging-structure entries (SDM Vol. 3C §29.3.2, Tables
 * 29-1 to 29-6; Figure 29-1) and of the EPTP (§25.6.11, Table 25-9).
 *
 * Low half of an entry: bits 2:0 read/write/execute access (all 0: not
 * present, the rest of the entry is ignored); in an entry that maps a page,
 * 5:3 the EPT memory type and 6 ignore-PAT; 7 the page-size bit of a PDPTE
 * or PDE (reserved in a PML4E, ignored in a PTE); 8 accessed and, in an
 * entry that maps a page, 9 dirty (with EPTP bit 6 = 1, ignored without);
 * 10 user-mode execute (mode-based execute control: not modelled, ignored);
 * 11 ignored. Entries that reference a table reserve bits 7:3 (Tables 29-1,
 * 29-3, 29-5: bit 7 being the page-size bit that must be 0 there).
 * High half: address bits MAXPHYADDR-1:32, reserved bits 51:MAXPHYADDR,
 * bits 63:52 ignored (63 is "suppress #VE" and 57-60 belong to features
 * the model does not have: ignored without them).
 */

export const EPT_R = 0x1, EPT_W = 0x2, EPT_X = 0x4, EPT_RWX = 0x7;
/** Page size: the PDPTE maps a 1-GByte page, the PDE a 2-MByte page. */
export const EPT_PS = 0x80;
/** Accessed (bit 8) and dirty (bit 9) flags, §29.3.5. */
export const EPT_A = 0x100, EPT_D = 0x200;
/** EPT memory type, bits 5:3 of an entry that maps a page (§29.3.7). */
export const EPT_MT_SHIFT = 3;
/** Ignore PAT memory type, bit 6 of an entry that maps a page (§29.3.7). */
export const EPT_IPAT = 0x40;

/** Reserved bits 6:3 of an entry that references a table (bit 7 is checked as the page-size bit). */
export const EPT_RSVD_TABLE = 0x78;
/** Reserved bits 29:12 of a PDPTE that maps a 1-GByte page (Table 29-2). */
export const EPT_RSVD_1G = 0x3ffff000;
/** Reserved bits 20:12 of a PDE that maps a 2-MByte page (Table 29-4). */
export const EPT_RSVD_2M = 0x001ff000;

/** EPT memory types 2, 3 and 7 are reserved (§29.3.3.1): a bit per type. */
export const EPT_MT_RESERVED = (1 << 2) | (1 << 3) | (1 << 7);

/** EPTP bit 6: enable accessed and dirty flags for EPT (§25.6.11, Table 25-9). */
export const EPTP_AD = 0x40;

/** The EPT root of an EPTP (bits 51:12, §25.6.11): the tag of its translation contexts and guest-physical mappings. */
export function eptRoot(eptpLo: number, eptpHi: number): number {
  return (eptpHi & 0xfffff) * 4294967296 + ((eptpLo & 0xfffff000) >>> 0);
}
