/**
 * The host CPU as an oracle: builds harness.c with the machine's gcc (once,
 * cached under node_modules/.cache/turtles-hostcpu/ or the OS temp
 * directory, keyed by a hash of the source, the flags and the compiler) and
 * runs batches of single-instruction cases through it, one process per batch.
 *
 * Only an x86-64 Linux host with gcc can serve; `hostCpuAvailable()` says why
 * not otherwise, so the tests can skip loudly instead of passing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the harness maps its scratch buffer; the emulated core puts its copy at the same address. */
export const SCRATCH_BASE = 0x200000;
/** Bytes of scratch a case may use. */
export const SCRATCH_SIZE = 4096;

export interface HostCase {
  /** One instruction's bytes (no RIP-relative operand: the host runs it at another address). */
  code: Uint8Array;
  /** The 16 GPRs in encoding order; RSP (index 4) is ignored. */
  regs: readonly bigint[];
  /** CF PF AF ZF SF OF and DF are loaded; other bits are ignored. */
  rflags: number;
  /** Initial bytes of the scratch buffer at SCRATCH_BASE. */
  scratch?: Uint8Array;
}

/** OK, or the signal the instruction raised: DE (#DE), UD (#UD), SEGV (#GP/#PF), TRAP (#DB/#BP). */
export type HostEvent = 'OK' | 'DE' | 'UD' | 'SEGV' | 'TRAP';

export interface HostResult {
  event: HostEvent;
  /** GPRs after the instruction, or at the fault. RSP is the harness's own. */
  regs: bigint[];
  rflags: number;
  /** The scratch bytes the case supplied, as they are afterwards. */
  scratch: Uint8Array;
}

export type Availability = { ok: true } | { ok: false; why: string };

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(HERE, 'harness.c');
const CFLAGS = ['-O2', '-std=gnu11', `-DSCRATCH_BASE=${SCRATCH_BASE}UL`];

let state: { avail: Availability; exe: string } | undefined;

/** Whether the harness can run here; builds it on first call. */
export function hostCpuAvailable(): Availability {
  state ??= prepare();
  return state.avail;
}

function prepare(): { avail: Availability; exe: string } {
  const no = (why: string) => ({ avail: { ok: false as const, why }, exe: '' });
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return no(`host is ${process.platform}/${process.arch}, the harness needs x86-64 Linux`);
  }
  const version = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return no('gcc not found: install it with apt-get install gcc');
  }
  const source = fs.readFileSync(SOURCE, 'utf8');
  const key = createHash('sha256')
    .update(source).update('\0').update(CFLAGS.join(' ')).update('\0').update(version.stdout.split('\n')[0] ?? '')
    .digest('hex').slice(0, 16);
  const dir = cacheDir();
  if (!dir) return no(`no writable cache directory for the harness (tried ${CACHE_DIRS.join(', ')})`);
  const exe = path.join(dir, `harness-${key}`);
  if (!fs.existsSync(exe)) {
    // Build beside the final name and rename: test files build concurrently in separate workers.
    const tmp = `${exe}.${process.pid}.tmp`;
    const cc = spawnSync('gcc', [...CFLAGS, '-o', tmp, SOURCE], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      return no(`gcc failed to build ${SOURCE}: ${(cc.stderr || String(cc.error)).trim().split('\n').slice(0, 5).join(' | ')}`);
    }
    fs.renameSync(tmp, exe);
  }
  // Sanity: ADD EAX, EBX with 1 + 2 must give 3 and PF only.
  try {
    const [r] = runHarness(exe, [{ code: Uint8Array.of(0x01, 0xd8), regs: [1n, 0n, 0n, 2n, ...new Array<bigint>(12).fill(0n)], rflags: 0 }]);
    if (r?.event !== 'OK' || r.regs[0] !== 3n || (r.rflags & 0x8d5) !== 0x4) {
      return no(`the harness built but gave a wrong answer for ADD EAX, EBX: ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    }
  } catch (e) {
    return no(`the harness built but does not run: ${(e as Error).message}`);
  }
  return { avail: { ok: true }, exe };
}

const CACHE_DIRS = [
  path.resolve(HERE, '../../../node_modules/.cache/turtles-hostcpu'),
  path.join(os.tmpdir(), 'turtles-hostcpu'),
];

/** node_modules/.cache/turtles-hostcpu/ when it can be created, else a directory under os.tmpdir(). */
function cacheDir(): string | undefined {
  for (const dir of CACHE_DIRS) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

const hex = (b: Uint8Array) => (b.length === 0 ? '-' : Buffer.from(b).toString('hex'));

/** Runs the cases on the host CPU in one harness process. */
export function runOnHost(cases: readonly HostCase[]): HostResult[] {
  const avail = hostCpuAvailable();
  if (!avail.ok) throw new Error(`host CPU harness unavailable: ${avail.why}`);
  return runHarness(state!.exe, cases);
}

function runHarness(exe: string, cases: readonly HostCase[]): HostResult[] {
  if (cases.length === 0) return [];
  const lines = cases.map((c) => {
    if (c.code.length < 1 || c.code.length > 15) throw new Error(`instruction of ${c.code.length} bytes`);
    if (c.regs.length !== 16) throw new Error(`case has ${c.regs.length} registers, not 16`);
    if ((c.scratch?.length ?? 0) > SCRATCH_SIZE) throw new Error(`scratch larger than ${SCRATCH_SIZE} bytes`);
    const regs = c.regs.map((v) => BigInt.asUintN(64, v).toString(16)).join(' ');
    return `${hex(c.code)} ${regs} ${(c.rflags >>> 0).toString(16)} ${hex(c.scratch ?? new Uint8Array(0))}`;
  });
  const run = spawnSync(exe, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 30 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`harness exited with ${run.status ?? run.signal}: ${run.stderr.trim()}`);
  const out = run.stdout.split('\n');
  if (out[out.length - 1] === '') out.pop();
  if (out.length !== cases.length) throw new Error(`harness answered ${out.length} of ${cases.length} cases: ${run.stderr.trim()}`);
  return out.map(parseLine);
}

function parseLine(line: string): HostResult {
  const f = line.split(' ');
  if (f.length !== 19) throw new Error(`malformed harness line: ${line}`);
  const scratch = f[18] === '-' ? new Uint8Array(0) : new Uint8Array(Buffer.from(f[18]!, 'hex'));
  return {
    event: f[0] as HostEvent,
    regs: f.slice(1, 17).map((h) => BigInt('0x' + h)),
    rflags: parseInt(f[17]!, 16),
    scratch,
  };
}

let features: Set<string> | undefined;
/** CPUID feature names the host reports in /proc/cpuinfo (e.g. 'abm' for LZCNT, 'bmi1' for TZCNT). */
export function hostHasFeature(name: string): boolean {
  if (!features) {
    let text = '';
    try { text = fs.readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux: no features */ }
    const line = /^flags\s*:(.*)$/m.exec(text)?.[1] ?? '';
    features = new Set(line.trim().split(/\s+/));
  }
  return features.has(name);
}
