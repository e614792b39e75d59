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

/** The first instruction of `bytes`, decoded in 64-bit mode at address `ip` (branch and RIP-relative targets absolute). */
export function disassemble(bytes: Uint8Array, ip: bigint): string {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = ip;
  const insn = decoder.decode();
  try {
    return insn.code === Code.INVALID ? '(bad)' : intel().format(insn);
  } finally {
    insn.free();
    decoder.free();
  }
}

/** What was decoded at a guest-physical address: the bytes read there, and their text. */
interface Decoded {
  readonly bytes: Uint8Array;
  readonly text: string;
}

/**
 * Per VM, the last instruction decoded at each address. Decoding costs
 * about as much as an exit's round trip, and guests exit at the same few
 * RIPs again and again; the text is a function of the bytes and the
 * address alone, so a hit whose bytes are unchanged gives the same text.
 */
const decodedAt = new WeakMap<Vm, Map<number, Decoded>>();

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, k) => x === b[k]);

/**
 * The instruction at guest RIP `rip` of `vm`. Every vCPU L1 creates runs in
 * 64-bit mode with identity paging (vm.ts), so the RIP is read as a
 * guest-physical address; past the end of guest RAM there are no bytes.
 */
export function guestInstruction(vm: Vm, rip: bigint): string {
  if (rip >= BigInt(vm.ramBytes)) return '(outside guest RAM)';
  const at = Number(rip);
  const bytes = vm.read(at, Math.min(MAX_LENGTH, vm.ramBytes - at)) ?? new Uint8Array(0);
  let cache = decodedAt.get(vm);
  if (!cache) decodedAt.set(vm, (cache = new Map()));
  const hit = cache.get(at);
  if (hit && sameBytes(hit.bytes, bytes)) return hit.text;
  const text = disassemble(bytes, rip);
  cache.set(at, { bytes, text });
  return text;
}
