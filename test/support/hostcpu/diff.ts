/**
 * Compares a host outcome with the core's, masking what the SDM leaves
 * undefined, and formats a mismatch so that it can be reproduced by hand.
 */
import { AF, CF, DF, OF, PF, SF, ZF } from '../../../cpu/flags.ts';
import { REG64_NAMES } from '../../../cpu/registers.ts';
import type { Outcome } from './core.ts';
import { MASK64, type CaseInput } from './gen.ts';
import { SCRATCH_BASE } from './hostcpu.ts';
import type { Undefined } from './undefinedFlags.ts';

const FLAG_BITS: [string, number][] = [['CF', CF], ['PF', PF], ['AF', AF], ['ZF', ZF], ['SF', SF], ['DF', DF], ['OF', OF]];
const COMPARED_FLAGS = CF | PF | AF | ZF | SF | DF | OF;
const RSP = 4;
/** Differing scratch bytes listed per case. */
const SHOWN_BYTES = 8;

const hex = (v: bigint) => `0x${v.toString(16)}`;

export function flagNames(v: number): string {
  const set = FLAG_BITS.filter(([, b]) => v & b).map(([n]) => n);
  return set.length ? set.join(' ') : '-';
}

/** What differs between host and core, one line per register, flag or scratch byte. */
export function differences(host: Outcome, core: Outcome, undef: Undefined): string[] {
  if (host.event !== core.event) return [`event: host ${host.event}, core ${core.event}`];
  const out: string[] = [];
  for (let n = 0; n < 16; n++) {
    if (n === RSP || host.regs[n] === core.regs[n]) continue;
    const keep = MASK64 & ~(undef.regs?.find(([r]) => r === n)?.[1] ?? 0n);
    if ((host.regs[n]! & keep) !== (core.regs[n]! & keep)) {
      out.push(`${REG64_NAMES[n]}: host ${hex(host.regs[n]!)}, core ${hex(core.regs[n]!)}`);
    }
  }
  const flags = COMPARED_FLAGS & ~undef.flags;
  for (const [name, bit] of FLAG_BITS) {
    if ((flags & bit) && (host.rflags & bit) !== (core.rflags & bit)) {
      out.push(`${name}: host ${host.rflags & bit ? 1 : 0}, core ${core.rflags & bit ? 1 : 0}`);
    }
  }
  let bytes = 0;
  for (let k = 0; k < host.scratch.length; k++) {
    if (host.scratch[k] !== core.scratch[k] && bytes++ < SHOWN_BYTES) {
      out.push(`byte at ${hex(BigInt(SCRATCH_BASE + k))}: host ${hex(BigInt(host.scratch[k]!))}, core ${hex(BigInt(core.scratch[k]!))}`);
    }
  }
  if (bytes > SHOWN_BYTES) out.push(`... ${bytes - SHOWN_BYTES} more scratch bytes differ`);
  return out;
}

/** The inputs of a case, for a failure message. */
export function describeInput(code: Uint8Array, x: CaseInput): string {
  const regs = x.regs.map((v, n) => (n === RSP ? '' : `${REG64_NAMES[n]}=${hex(v)}`)).filter(Boolean).join(' ');
  const bytes = Buffer.from(code).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  const scratch = x.scratch.length ? ` scratch@${hex(BigInt(SCRATCH_BASE))}=${Buffer.from(x.scratch).toString('hex')}` : '';
  return `bytes ${bytes}; ${regs}; flags ${flagNames(x.rflags)}${scratch}`;
}
