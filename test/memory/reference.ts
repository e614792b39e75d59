/**
 * A reference for paging tests, written from the SDM's text (Vol. 3A
 * §4.3-§4.7) in BigInt, independently of cpu/memory: the walk over paging
 * structures in memory, the access-rights bullets of §4.6.1 and the
 * page-fault error code of §4.7.
 */
import type { PagingKind } from './pageTables.ts';

export type Kind = 'read' | 'write' | 'fetch';

export interface RefState {
  kind: PagingKind;
  cr3: bigint;
  /** CR0.WP, CR4.PSE/SMEP/SMAP/PGE, EFER.NXE. */
  wp: boolean;
  pse: boolean;
  smep: boolean;
  smap: boolean;
  nxe: boolean;
  cpl: number;
  ac: boolean;
  implicit?: boolean;
  maxPhys?: bigint;
}

export type RefResult =
  | { fault: false; pa: bigint; entries: bigint[]; pageSize: bigint; us: boolean; rw: boolean; xd: boolean }
  | { fault: true; errorCode: number };

const bit = (n: bigint): bigint => 1n << n;
const bitsRange = (hi: bigint, lo: bigint): bigint => (bit(hi + 1n) - 1n) & ~(bit(lo) - 1n);

/** The linear-address translation of `la` for an access of `access`, or the #PF error code. */
export function refTranslate(read: (pa: bigint, size: 4 | 8) => bigint, s: RefState, la: bigint, access: Kind): RefResult {
  const m = s.maxPhys ?? 46n;
  const userAccess = s.cpl === 3 && !s.implicit;
  const idBit = access === 'fetch' && (s.smep || (s.kind !== '32' && s.nxe));
  const code = (present: boolean, rsvd: boolean): RefResult => ({
    fault: true,
    errorCode: (present ? 1 : 0) | (access === 'write' ? 2 : 0) | (userAccess ? 4 : 0) | (rsvd ? 8 : 0) | (idBit ? 16 : 0),
  });
  const entries: bigint[] = [];
  let rw = true, us = true, xd = false;
  let pa: bigint, pageSize: bigint;

  if (s.kind === '32') {
    const pdeAddr = (s.cr3 & 0xfffff000n) + ((la >> 22n) & 0x3ffn) * 4n;
    const pde = read(pdeAddr, 4);
    if ((pde & 1n) === 0n) return code(false, false);
    entries.push(pdeAddr);
    rw &&= (pde & 2n) !== 0n;
    us &&= (pde & 4n) !== 0n;
    if (s.pse && (pde & 0x80n) !== 0n) {
      if ((pde & bit(21n)) !== 0n) return code(true, true);
      pa = (pde & 0xffc00000n) | (((pde >> 13n) & 0xffn) << 32n) | (la & 0x3fffffn);
      pageSize = bit(22n);
    } else {
      const pteAddr = (pde & 0xfffff000n) + ((la >> 12n) & 0x3ffn) * 4n;
      const pte = read(pteAddr, 4);
      if ((pte & 1n) === 0n) return code(false, false);
      entries.push(pteAddr);
      rw &&= (pte & 2n) !== 0n;
      us &&= (pte & 4n) !== 0n;
      pa = (pte & 0xfffff000n) | (la & 0xfffn);
      pageSize = bit(12n);
    }
  } else {
    const addrMask = bitsRange(m - 1n, 12n);
    // Reserved: 51:M in IA-32e paging, 62:M in PAE paging; 63 without NXE.
    const highRsvd = (s.kind === 'pae' ? bitsRange(62n, m) : bitsRange(51n, m)) | (s.nxe ? 0n : bit(63n));
    let table: bigint;
    let levels: bigint[];
    if (s.kind === 'pae') {
      const pdpte = read((s.cr3 & 0xffffffe0n) + ((la >> 30n) & 3n) * 8n, 8);
      if ((pdpte & 1n) === 0n) return code(false, false);
      table = pdpte & addrMask;
      levels = [21n, 12n];
    } else {
      table = s.cr3 & addrMask;
      levels = [39n, 30n, 21n, 12n];
    }
    for (;;) {
      const shift = levels.shift()!;
      const eAddr = table + ((la >> shift) & 0x1ffn) * 8n;
      const e = read(eAddr, 8);
      if ((e & 1n) === 0n) return code(false, false);
      if ((e & highRsvd) !== 0n) return code(true, true);
      const ps = (e & 0x80n) !== 0n;
      if (shift === 39n && ps) return code(true, true);
      const leaf = shift === 12n || ps;
      if (leaf && shift === 30n && (e & bitsRange(29n, 13n)) !== 0n) return code(true, true);
      if (leaf && shift === 21n && (e & bitsRange(20n, 13n)) !== 0n) return code(true, true);
      entries.push(eAddr);
      rw &&= (e & 2n) !== 0n;
      us &&= (e & 4n) !== 0n;
      if (s.nxe && (e & bit(63n)) !== 0n) xd = true;
      if (leaf) {
        pa = (e & addrMask & ~(bit(shift) - 1n)) | (la & (bit(shift) - 1n));
        pageSize = bit(shift);
        break;
      }
      table = e & addrMask;
    }
  }
  if (!refAllowed(s, { us, rw, xd }, access)) return code(true, false);
  return { fault: false, pa, entries, pageSize, us, rw, xd };
}

/** §4.6.1, bullet by bullet. */
export function refAllowed(s: RefState, r: { us: boolean; rw: boolean; xd: boolean }, access: Kind): boolean {
  const supervisor = s.cpl < 3 || s.implicit === true;
  const explicit = s.cpl < 3 && !s.implicit;
  const smapAllows = !s.smap || (s.ac && explicit);
  const noXd = !r.xd; // XD is only collected with NXE = 1 (PAE or IA-32e)
  if (supervisor) {
    switch (access) {
      case 'read':
        return !r.us || smapAllows;
      case 'write':
        if (!r.us) return !s.wp || r.rw;
        return s.wp ? smapAllows && r.rw : smapAllows;
      case 'fetch':
        if (!r.us) return noXd;
        return !s.smep && noXd;
    }
  }
  if (!r.us) return false;
  switch (access) {
    case 'read': return true;
    case 'write': return r.rw;
    case 'fetch': return noXd;
  }
}
