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

/** The first instruction of `bytes` decoded in 64-bit mode at address `ip`, and how many bytes its text depends on (all of them for "(bad)"). */
function decodeFirst(bytes: Uint8Array, ip: bigint): { text: string; length: number } {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = ip;
  const insn = decoder.decode();
  try {
    return insn.code === Code.INVALID ? { text: '(bad)', length: bytes.length } : { text: intel().format(insn), length: insn.length };
  } finally {
    insn.free();
    decoder.free();
  }
}

/** The first instruction of `bytes`, decoded in 64-bit mode at address `ip` (branch and RIP-relative targets absolute). */
export function disassemble(bytes: Uint8Array, ip: bigint): string {
  return decodeFirst(bytes, ip).text;
}

/** What was decoded at a guest-physical address: the instruction's bytes there, and their text. */
interface Decoded {
  readonly at: number;
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
 * The instruction at guest RIP `rip` of `vm` (a number below 0 is a
 * sign-extended RIP, outside guest RAM). Every vCPU L1 creates runs in
 * 64-bit mode with identity paging (vm.ts), so the RIP is read as a
 * guest-physical address; past the end of guest RAM there are no bytes.
 */
export function guestInstruction(vm: Vm, rip: bigint | number): string {
  if (rip < 0 || rip >= vm.ramBytes) return '(outside guest RAM)';
  const at = Number(rip);
  let cache = decodedAt.get(vm);
  if (!cache) decodedAt.set(vm, (cache = new Array<Decoded | undefined>(CACHE_SLOTS)));
  const slot = at % CACHE_SLOTS, hit = cache[slot];
  if (hit && hit.at === at && unchanged(vm, hit)) return hit.text;
  const bytes = vm.read(at, Math.min(MAX_LENGTH, vm.ramBytes - at)) ?? new Uint8Array(0);
  const { text, length } = decodeFirst(bytes, BigInt(at));
  cache[slot] = { at, bytes: bytes.subarray(0, length), text };
  return text;
}
