/**
 * Golden exit traces (DESIGN decision 8): each scenario's trace, written
 * with the exit trace's own serialisation (vmx/transition/transitionRecord.ts
 * traceLine, guest time from GuestClock), must equal its .jsonl file in
 * this folder byte for byte. `UPDATE_GOLDEN=1 npx vitest run
 * test/vmx/golden` rewrites the files; review the diff before committing.
 *
 * The files were checked by hand against the SDM when written: exit
 * reasons (Appendix C), guest RIPs of the exiting instructions (§28.3.3),
 * qualifications (§27.8), and guest time counted from the guest programs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Activity } from '../../../cpu/cpu.ts';
import {
  GuestClock, traceLine, transitionRecord, withGuestTime, type TransitionRecord,
} from '../../../vmx/transition/transitionRecord.ts';
import { asm } from '../../support/asm.ts';
import { policyHandler, VmxAsmDriver, type ExitPolicy } from '../../support/vmxAsmDriver.ts';
import { VmxHarness } from '../../support/vmxHarness.ts';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** The trace as the .jsonl text: one line per record, newline-terminated. */
const jsonl = (trace: readonly TransitionRecord[]): string => withGuestTime(trace).map((r) => `${traceLine(r)}\n`).join('');

/** Compares `trace` with golden/<name>.jsonl, or rewrites the file under UPDATE_GOLDEN=1. */
function matchesGolden(name: string, trace: readonly TransitionRecord[]): void {
  const file = fileURLToPath(new URL(`./${name}.jsonl`, import.meta.url));
  const text = jsonl(trace);
  if (UPDATE) {
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden trace ${file} is missing: run with UPDATE_GOLDEN=1 to write it`);
  const want = readFileSync(file, 'utf8');
  // Line by line first, for a readable diff; then the bytes.
  expect(text.split('\n'), `trace differs from ${file} (UPDATE_GOLDEN=1 rewrites it)`).toEqual(want.split('\n'));
  expect(text).toBe(want);
}

/** A CPUID loop, a VMCALL and HLT: exits 10, 10, 10, 18, 12. */
const LOOP_GUEST = 'mov ecx, 3\nl: cpuid\ndec ecx\njnz l\nvmcall\nhlt';
const LOOP_POLICY: ExitPolicy = { on: { 10: 'skip', 18: 'skip' } };

describe('golden exit traces (byte for byte)', () => {
  it('native handler: CPUID ×3 (§26.1.2), VMCALL, HLT exiting (§26.1.3)', async () => {
    const h = await VmxHarness.create(LOOP_GUEST, { controls: { proc: ['hltExiting'] }, onExit: policyHandler(LOOP_POLICY) });
    h.launch();
    matchesGolden('native-cpuid-vmcall-hlt', h.trace);
  });

  it('x86 root-mode program: the same guest; only icount differs from the native trace', async () => {
    const d = await VmxAsmDriver.create(LOOP_GUEST, { controls: { proc: ['hltExiting'] }, policy: LOOP_POLICY });
    d.run();
    matchesGolden('asm-cpuid-vmcall-hlt', d.trace);
  });

  it('VM-entry failures (§27.8): bad guest RFLAGS (33), then an MSR-load failure at entry 1 (34), then a VMLAUNCH that enters', async () => {
    const h = await VmxHarness.create('cpuid', { fields: { guestRflags: 0 }, onExit: policyHandler({}) });
    h.launch();
    // Root code relaunches after each fix: the VMCS is still clear after a VM-entry failure.
    const relaunch = async (): Promise<void> => {
      h.t.phys.load(0x300000, await asm('vmlaunch\nhlt', 64, 0x300000));
      h.t.cpu.rip = 0x300000;
      h.t.cpu.activity = Activity.Active;
      h.run(100);
    };
    h.write('guestRflags', 2);
    h.write('vmEntryMsrLoadAddress', 0x202000);
    h.write('vmEntryMsrLoadCount', 1);
    h.t.phys.writeSized(0x202000, 4, 0xc0000100); // IA32_FS_BASE may not be loaded (§27.4)
    await relaunch();
    h.write('vmEntryMsrLoadCount', 0);
    await relaunch();
    expect(h.exits.map((e) => e.reason)).toEqual([0x80000021, 0x80000022, 10]);
    matchesGolden('entry-failures', h.trace);
  });
});

describe('trace serialisation and guest time (vmx/transition/transitionRecord.ts)', () => {
  it('a trace line has the fixed key order, whatever order the record was built in', () => {
    const r = transitionRecord('vmexit', 1, 10, 10, 0, 0, 0x1005, 0);
    const line = '{"kind":"vmexit","core":1,"icount":10,"reason":10,"reasonName":"Cpuid","qualification":"0000000000000000","guestRip":"0000000000001005"}';
    expect(traceLine(r)).toBe(line);
    const shuffled = { guestRip: r.guestRip, qualification: r.qualification, reasonName: r.reasonName, reason: r.reason, icount: 10, core: 1, kind: r.kind };
    expect(traceLine(shuffled)).toBe(line);
    expect(traceLine({ ...r, guestIcount: 3 })).toBe(line.replace('"icount":10,', '"icount":10,"guestIcount":3,'));
  });

  it('an entry failure has bit 31 in the reason, its basic reason name and its qualification (§27.8)', () => {
    expect(traceLine(transitionRecord('entry-failure', 0, 7, 0x80000022, 2, 0, 0x1000, 0))).toBe(
      '{"kind":"entry-failure","core":0,"icount":7,"reason":2147483682,"reasonName":"VmentryFailureMsrLoading","qualification":"0000000000000002","guestRip":"0000000000001000"}',
    );
  });

  it('guest time is kept per core: each stay counts exit - entry - 1; entry failures add nothing', () => {
    const rec = (kind: 'vmentry' | 'vmexit' | 'entry-failure', core: number, icount: number): TransitionRecord =>
      transitionRecord(kind, core, icount, kind === 'vmentry' ? 0 : 10, 0, 0, 0x1000, 0);
    const trace = [
      rec('vmentry', 0, 0), rec('vmentry', 1, 0), rec('vmexit', 0, 5), rec('vmexit', 1, 3),
      rec('entry-failure', 0, 8), rec('vmentry', 0, 9), rec('vmexit', 0, 13),
    ];
    expect(withGuestTime(trace).map((r) => r.guestIcount)).toEqual([0, 0, 4, 2, 4, 4, 7]);
  });

  it('a VM exit without a VM entry before it is refused', () => {
    expect(() => new GuestClock().stamp(transitionRecord('vmexit', 0, 5, 10, 0, 0, 0, 0))).toThrow(/without a recorded VM entry/);
  });
});
