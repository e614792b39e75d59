/**
 * Turns instruction templates into a vitest suite that compares the core
 * with the host CPU on random inputs drawn with fast-check from a fixed
 * seed. Decided when the test file loads:
 *  - a template whose encoding the core decodes to #UD is `it.todo` (its
 *    family is not written yet), so the suite fills in as families land;
 *  - a template the host CPU cannot run (missing CPUID feature) is skipped
 *    with the reason in its name;
 *  - without an x86-64 Linux host and gcc the whole suite is skipped, with
 *    the reason in its title and on the console, never passed.
 * All cases of a file run on the host in one harness process (beforeAll).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { opcodeTable } from '../../../cpu/cpu.ts';
import { Decoder, raiseUD } from '../../../cpu/decode/decoder.ts';
import { assemble, initAssembler } from '../asm.ts';
import { CoreOracle, type Outcome } from './core.ts';
import { describeInput, differences } from './diff.ts';
import { caseArb, immOf, type CaseInput } from './gen.ts';
import { hostCpuAvailable, hostHasFeature, runOnHost } from './hostcpu.ts';
import { templateName, type Template } from './template.ts';
import { DEFINED } from './undefinedFlags.ts';

const SEED = 0x7475_7274;
/** Mismatching cases shown per failing template. */
const SHOWN = 3;

interface Prepared {
  t: Template;
  name: string;
  /** Bytes as assembled; the last immBytes bytes are replaced per case. */
  code: Uint8Array;
  /** Why the template does not run, if it doesn't. */
  todo?: string;
  skip?: string;
}

const PLACEHOLDER: Record<number, bigint> = { 1: 0x12n, 2: 0x1234n, 4: 0x12345678n, 8: 0x123456789abcdef0n };

function prepare(t: Template, decoder: Decoder): Prepared {
  const name = templateName(t);
  const immBytes = t.immBytes ?? 0;
  const code = assemble(immBytes ? t.asm.replace(/\bIMM\b/, `0x${PLACEHOLDER[immBytes]!.toString(16)}`) : t.asm);
  if (immBytes && littleEndian(code.subarray(code.length - immBytes)) !== PLACEHOLDER[immBytes]) {
    throw new Error(`template '${name}': the immediate is not the last ${immBytes} bytes of ${Buffer.from(code).toString('hex')}`);
  }
  if (code.length === 0 || code.length > 15) throw new Error(`template '${name}' assembled to ${code.length} bytes`);
  const p: Prepared = { t, name, code };
  const i = decoder.decode({ bytes: code, start: 0, avail: code.length }, 64);
  if (i?.exec === raiseUD) p.todo = `${name} — the core decodes it as #UD (${t.family} family not implemented)`;
  else if (!i || i.len !== code.length) throw new Error(`template '${name}': the core decodes ${i?.len ?? 'nothing'} of ${code.length} bytes`);
  else if (t.needs && !hostHasFeature(t.needs)) p.skip = `${name} — the host CPU lacks ${t.needs}`;
  return p;
}

function littleEndian(b: Uint8Array): bigint {
  let v = 0n;
  for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]!);
  return v;
}

function withImm(code: Uint8Array, bytes: number, imm: bigint): Uint8Array {
  const out = Uint8Array.from(code);
  for (let k = 0; k < bytes; k++) out[code.length - bytes + k] = Number((imm >> BigInt(8 * k)) & 0xffn);
  return out;
}

/** A stable per-template seed, so adding a template does not reshuffle the others' cases. */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
  return (h ^ SEED) | 0;
}

function drawCases(p: Prepared, n: number): { code: Uint8Array; x: CaseInput }[] {
  const immBytes = p.t.immBytes ?? 0;
  const inputs = { ...p.t.inputs, imm: p.t.inputs?.imm ?? (immBytes ? immOf(immBytes) : undefined) };
  return fc.sample(caseArb(inputs), { seed: seedOf(p.name), numRuns: n }).map((x) => {
    p.t.couple?.(x);
    return { code: immBytes ? withImm(p.code, immBytes, x.imm) : p.code, x };
  });
}

/** Declares the suite `title` over `templates`, `casesPerTemplate` random cases each. */
export async function hostDiffSuite(title: string, templates: readonly Template[], casesPerTemplate: number): Promise<void> {
  await initAssembler();
  const decoder = new Decoder(opcodeTable());
  const prepared = templates.map((t) => prepare(t, decoder));
  const avail = hostCpuAvailable();
  if (!avail.ok) console.warn(`[hostdiff] ${title}: SKIPPED, not passed: ${avail.why}`);
  const running = prepared.filter((p) => !p.todo && !p.skip);

  describe.skipIf(!avail.ok)(avail.ok ? title : `${title} (skipped: ${avail.why})`, () => {
    const cases = new Map<Prepared, { code: Uint8Array; x: CaseInput }[]>();
    const host = new Map<Prepared, Outcome[]>();
    // One core serves every template: building a core costs more than a template's cases.
    let core: CoreOracle;

    beforeAll(() => {
      core = new CoreOracle();
      for (const p of running) cases.set(p, drawCases(p, casesPerTemplate));
      const all = running.flatMap((p) => cases.get(p)!.map(({ code, x }) => ({ code, regs: x.regs, rflags: x.rflags, scratch: x.scratch })));
      const results = runOnHost(all);
      let k = 0;
      for (const p of running) host.set(p, results.slice(k, (k += casesPerTemplate)));
    });

    for (const p of prepared) {
      if (p.todo) { it.todo(p.todo); continue; }
      if (p.skip) { it.skip(p.skip); continue; }
      it(p.name, () => {
        const mine = cases.get(p)!;
        const theirs = host.get(p)!;
        expect(theirs).toHaveLength(mine.length);
        let failed = 0;
        const shown: string[] = [];
        mine.forEach(({ code, x }, k) => {
          const diff = differences(theirs[k]!, core.run(code, x), p.t.undef?.(x) ?? DEFINED);
          if (diff.length === 0) return;
          if (failed++ < SHOWN) shown.push(`  ${describeInput(code, x)}\n    ${diff.join('\n    ')}`);
        });
        expect(failed, `${failed} of ${mine.length} cases differ from the host CPU:\n${shown.join('\n')}`).toBe(0);
      });
    }
  });
}
