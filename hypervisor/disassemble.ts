/**
 * The instruction at a guest's RIP, in Intel syntax, for the exit trace
 * (DESIGN decision 9: iced-x86 formats instructions for traces). It only
 * reads guest memory, so tracing cannot change what the guest does, and it
 * is a pure function of the bytes: any bytes give a string, "(bad)" for
 * those that are no instruction, never an exception.
 */
import { Code, Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import type { Vm } from './vm.ts';

/** The longest x86 instruction (SDM Vol. 2A §2.3.11). */
const MAX_LENGTH = 15;

/** One formatter for the process: numbers as 0x..., lower case, "op, op" (iced's wasm object lives as long as the module). */
let formatter: Formatter | undefined;

function intel(): Formatter {
  if (!formatter) {
    formatter = new Formatter(FormatterSyntax.Intel);
    formatter.hexPrefix = '0x';
    formatter.hexSuffix = '';
    formatter.uppercaseHex = false;
    formatter.branchLeadingZeros = false;
    formatter.spaceAfterOperandSeparator = true;
  }
  return formatter;
}

/** Code sizes the trace decodes in: the guest's CS.L and CS.D/B at the exit. */
export type CodeBits = 16 | 32 | 64;

/** The first instruction of `bytes` decoded as `bits`-bit code at address `ip`, and how many bytes its text depends on (all of them for "(bad)"). */
function decodeFirst(bytes: Uint8Array, ip: bigint, bits: CodeBits): { text: string; length: number } {
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  decoder.ip = ip;
  const insn = decoder.decode();
  try {
    return insn.code === Code.INVALID ? { text: '(bad)', length: bytes.length } : { text: intel().format(insn), length: insn.length };
  } finally {
    insn.free();
    decoder.free();
  }
}

/** The first instruction of `bytes`, decoded as `bits`-bit code at address `ip` (branch and RIP-relative targets absolute). */
export function disassemble(bytes: Uint8Array, ip: bigint, bits: CodeBits = 64): string {
  return decodeFirst(bytes, ip, bits).text;
}

/** What was decoded at a guest-physical address: the instruction's bytes there, and their text. */
interface Decoded {
  readonly at: number;
  readonly bits: CodeBits;
  readonly bytes: Uint8Array;
  readonly text: string;
}

/**
 * Per VM, the last instruction decoded at addresses congruent modulo
 * CACHE_SLOTS, so that the cache stays small whatever RIPs a guest exits
 * at. Decoding costs about as much as an exit's round trip, and guests
 * exit at the same few RIPs again and again; the text is a function of the
 * address and of the instruction's own bytes alone, so a hit whose bytes
 * are unchanged gives the same text.
 */
const CACHE_SLOTS = 256;
const decodedAt = new WeakMap<Vm, (Decoded | undefined)[]>();

/** The bytes `d` was decoded from are still in guest memory. */
function unchanged(vm: Vm, d: Decoded): boolean {
  const now = vm.read(d.at, d.bytes.length);
  if (!now) return false;
  for (let k = 0; k < now.length; k++) if (now[k] !== d.bytes[k]) return false;
  return true;
}

/**
 * The `bits`-bit instruction at guest-linear address `la` of `vm` (a
 * number below 0 is a sign-extended address, outside guest RAM). L1's
 * guests run with identity paging or with paging off (vm.ts, loaders/), so
 * the address is read as a guest-physical one; past the end of guest RAM
 * there are no bytes.
 */
export function guestInstruction(vm: Vm, la: bigint | number, bits: CodeBits = 64): string {
  if (la < 0 || la >= vm.ramBytes) return '(outside guest RAM)';
  const at = Number(la);
  let cache = decodedAt.get(vm);
  if (!cache) decodedAt.set(vm, (cache = new Array<Decoded | undefined>(CACHE_SLOTS)));
  const slot = at % CACHE_SLOTS, hit = cache[slot];
  if (hit && hit.at === at && hit.bits === bits && unchanged(vm, hit)) return hit.text;
  const bytes = vm.read(at, Math.min(MAX_LENGTH, vm.ramBytes - at)) ?? new Uint8Array(0);
  const { text, length } = decodeFirst(bytes, BigInt(at), bits);
  cache[slot] = { at, bits, bytes: bytes.subarray(0, length), text };
  return text;
}
