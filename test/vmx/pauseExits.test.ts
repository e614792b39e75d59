/**
 * PAUSE in VMX non-root operation (SDM Vol. 3C §26.1.3 "PAUSE"): "PAUSE
 * exiting" and PAUSE-loop exiting with PLE_Gap and PLE_Window, exit reason
 * 40 with qualification 0 (§28.2.1).
 *
 * Time runs at the TSC's rate, TSC_TICKS_PER_INSTRUCTION ticks per retired
 * instruction, so in the loop `l: inc rcx; pause; jmp l` consecutive
 * PAUSEs are 3 instructions apart. With PLE_Gap >= 3 ticks they form one
 * loop; the k-th PAUSE of the loop (k = 0 first) comes 3k instructions
 * after the first, and the first k with 3k ticks > PLE_Window exits, when
 * INC has run k + 1 times.
 */
import { describe, expect, it } from 'vitest';
import { TSC_TICKS_PER_INSTRUCTION } from '../../cpu/tsc.ts';
import type { ControlKey } from '../../vmx/model/controls.ts';
import { CPL3_FIELDS, firstExit, GUEST_CODE, modelWith, VmxHarness, type HarnessOptions } from '../support/vmxHarness.ts';

const MODEL = modelWith({ proc: ['activateSecondaryControls', 'pauseExiting'], proc2: ['pauseLoopExiting'] });

const LOOP = 'l:\ninc rcx\npause\njmp l';
/** INC RCX is 3 bytes: the PAUSE is at GUEST_CODE + 3. */
const PAUSE_AT = BigInt(GUEST_CODE + 3);
const SPACING = 3 * TSC_TICKS_PER_INSTRUCTION;

function run(guest: string, proc: ControlKey<'proc'>[], proc2: ControlKey<'proc2'>[], fields: HarnessOptions['fields'] = {}, max = 10_000): ReturnType<typeof firstExit> {
  return firstExit(guest, {
    features: MODEL,
    controls: { proc: ['activateSecondaryControls', ...proc], proc2 },
    fields,
    max,
    before: (h) => h.t.setReg('rcx', 0n),
  });
}

/** The first k >= 1 whose PAUSE is more than `window` ticks after the loop's first. */
const exitingPause = (window: number): number => Math.floor(window / SPACING) + 1;

describe('§26.1.3 PAUSE exiting', () => {
  it('PAUSE exits with reason 40 and qualification 0 when "PAUSE exiting" is 1', async () => {
    const { exit } = await run('pause', ['pauseExiting'], []);
    expect(exit).toMatchObject({ reason: 40, qualification: 0n, guestRip: BigInt(GUEST_CODE), instructionLength: 2 });
  });

  it('"PAUSE exiting" applies at CPL 3 too', async () => {
    const { exit } = await run('pause', ['pauseExiting'], [], CPL3_FIELDS);
    expect(exit).toMatchObject({ reason: 40, guestRip: BigInt(GUEST_CODE) });
  });

  it('controls clear: PAUSE runs normally, no exit', async () => {
    const { exit } = await run('pause\ncpuid', [], []);
    expect(exit).toMatchObject({ reason: 10, guestRip: BigInt(GUEST_CODE + 2) });
  });

  it('"PAUSE exiting" = 1 at CPL 0 exits on the first PAUSE, whatever PAUSE-loop exiting says', async () => {
    const { exit, h } = await run(LOOP, ['pauseExiting'], ['pauseLoopExiting'], { pleGap: 1000, pleWindow: 1000 });
    expect(exit).toMatchObject({ reason: 40, guestRip: PAUSE_AT });
    expect(h.reg('rcx')).toBe(1n);
  });
});

describe('§26.1.3 PAUSE-loop exiting (PLE_Gap, PLE_Window)', () => {
  it('a loop of PAUSEs within PLE_Gap of each other exits once more than PLE_Window ticks have passed since its first', async () => {
    for (const window of [10, 12, 30]) {
      const { exit, h } = await run(LOOP, [], ['pauseLoopExiting'], { pleGap: SPACING, pleWindow: window });
      expect(exit).toMatchObject({ reason: 40, qualification: 0n, guestRip: PAUSE_AT, instructionLength: 2 });
      expect(h.reg('rcx')).toBe(BigInt(exitingPause(window) + 1));
    }
  });

  it('PAUSEs further apart than PLE_Gap each begin a new loop and never exit', async () => {
    const { exit, stop } = await run(LOOP, [], ['pauseLoopExiting'], { pleGap: SPACING - 1, pleWindow: 0 }, 3000);
    expect(exit).toBeUndefined();
    expect(stop).toEqual({ kind: 'limit' });
  });

  it('PAUSE-loop exiting is ignored at CPL 3', async () => {
    const { exit, stop } = await run(LOOP, [], ['pauseLoopExiting'], { ...CPL3_FIELDS, pleGap: 1000, pleWindow: 0 }, 3000);
    expect(exit).toBeUndefined();
    expect(stop).toEqual({ kind: 'limit' });
  });

  it('"activate secondary controls" = 0 turns PAUSE-loop exiting off', async () => {
    const { exit } = await firstExit(`${LOOP}`, {
      features: MODEL, controls: { proc: [], proc2: ['pauseLoopExiting'] }, fields: { pleGap: 1000, pleWindow: 0 }, max: 3000,
    });
    expect(exit).toBeUndefined();
  });

  it('the first PAUSE at CPL 0 after a VM entry begins a loop: after a PLE exit and VM entry the loop runs a whole window again', async () => {
    const window = 10;
    const rcx: bigint[] = [];
    const h = await VmxHarness.create(LOOP, {
      features: MODEL,
      controls: { proc: ['activateSecondaryControls'], proc2: ['pauseLoopExiting'] },
      fields: { pleGap: 1000, pleWindow: window },
      onExit: (exit, hh) => {
        expect(exit).toMatchObject({ reason: 40, guestRip: PAUSE_AT });
        rcx.push(hh.reg('rcx'));
        return rcx.length < 3 ? 'resume' : 'stop';
      },
    });
    h.t.setReg('rcx', 0n);
    h.launch(10_000);
    // Each entry resumes at the PAUSE that exited: it is k = 0 of a new loop, INC has already run for it.
    const k = BigInt(exitingPause(window));
    expect(rcx).toEqual([k + 1n, 2n * k + 1n, 3n * k + 1n]);
  });

  it('any VM exit and entry between two PAUSEs starts a new loop (§26.1.3 "first execution of PAUSE at CPL 0 after VM entry")', async () => {
    let pauseExits = 0;
    const h = await VmxHarness.create('l:\ninc rcx\npause\ncpuid\njmp l', {
      features: MODEL,
      controls: { proc: ['activateSecondaryControls'], proc2: ['pauseLoopExiting'] },
      fields: { pleGap: 1000, pleWindow: 0 },
      onExit: (exit) => {
        if (exit.reason === 40) pauseExits++;
        return exit.reason === 10 ? 'skip' : 'stop';
      },
    });
    h.t.setReg('rcx', 0n);
    expect(h.launch(3000)).toEqual({ kind: 'limit' });
    expect(pauseExits).toBe(0);
    expect(h.reg('rcx')).toBeGreaterThan(100n);
  });
});
