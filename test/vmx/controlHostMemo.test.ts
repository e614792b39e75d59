/**
 * The memo of passed control and host-state checks (vmx/entry/controlHostMemo.ts)
 * may skip those checks only if they read nothing outside MEMO_SLOTS (SDM Vol.
 * 3C §27.2: the checks on VMX controls and on the host-state area). Every
 * predicate of both lists runs here on random VMCS images through a recording
 * view of the image, and no slot outside MEMO_SLOTS may be read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTROL_CHECKS, type ControlCheckContext } from '../../vmx/entry/controlChecks.ts';
import { ControlHostMemo, MEMO_SLOTS } from '../../vmx/entry/controlHostMemo.ts';
import { HOST_STATE_CHECKS } from '../../vmx/entry/hostStateChecks.ts';
import { SLOT } from '../../vmx/entry/vmcsView.ts';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { VmxModel } from '../../vmx/model/vmxModel.ts';
import { FIELD_SLOTS, type VmcsImage } from '../../vmx/unit/vmcsRegion.ts';
import { VMCS_FIELDS } from '../../vmx/vmcs/fields.ts';

const model = new VmxModel(FULL_VMX_MODEL, { cr4Settable: 0xffffffff, vmcsHighestIndex: 0x1d });
const allowed = new Set(MEMO_SLOTS);

function recording(values: Int32Array, seen: Set<number>): Int32Array {
  return new Proxy(values, {
    get(target, p) {
      if (typeof p === 'string' && /^\d+$/.test(p)) seen.add(Number(p));
      return Reflect.get(target, p) as unknown;
    },
  });
}

describe('control and host-state checks read only MEMO_SLOTS (SDM Vol. 3C §27.2.1-§27.2.4)', () => {
  it('no predicate reads a field outside the memo slots, on 400 random VMCS images', () => {
    const seen = new Set<number>();
    fc.assert(fc.property(
      fc.array(fc.integer(), { minLength: FIELD_SLOTS * 2, maxLength: FIELD_SLOTS * 2 }), fc.boolean(),
      (words, hostIa32e) => {
        const lo = Int32Array.from(words.slice(0, FIELD_SLOTS)), hi = Int32Array.from(words.slice(FIELD_SLOTS));
        const v: VmcsImage = { lo: recording(lo, seen), hi: recording(hi, seen), launched: false };
        const ctx: ControlCheckContext = { physAddrBits: 46, hostInIa32eMode: hostIa32e, readVtpr: () => 0 };
        for (const c of [...CONTROL_CHECKS, ...HOST_STATE_CHECKS]) c.holds(v, model, ctx);
      },
    ), { numRuns: 400, seed: 27 });
    const outside = [...seen].filter((k) => !allowed.has(k)).map((k) => VMCS_FIELDS[k]!.name);
    expect(outside).toEqual([]);
    expect(seen.size).toBeGreaterThan(40);
    expect(seen.has(SLOT.hostRip) && seen.has(SLOT.guestCr0)).toBe(true);
  });
});

describe('ControlHostMemo', () => {
  const image = (): VmcsImage => ({ lo: new Int32Array(FIELD_SLOTS), hi: new Int32Array(FIELD_SLOTS), launched: true });

  it('passes an image equal in the memo slots, whatever its guest-state fields', () => {
    const memo = new ControlHostMemo(), v = image();
    memo.remember(v, model, true);
    v.lo[SLOT.guestRip] = 0x1234;
    v.lo[SLOT.exitReason] = 10;
    expect(memo.passed(v, model, true)).toBe(true);
  });

  it('forgets on a changed control, host field, guest CR0, host mode or model', () => {
    const other = new VmxModel(FULL_VMX_MODEL, { cr4Settable: 0xffffffff, vmcsHighestIndex: 0x1d });
    for (const change of [
      (v: VmcsImage) => { v.lo[SLOT.pinBasedVmExecutionControls] = 1; },
      (v: VmcsImage) => { v.hi[SLOT.hostRip] = 1; },
      (v: VmcsImage) => { v.lo[SLOT.guestCr0] = 1; },
    ]) {
      const memo = new ControlHostMemo(), v = image();
      memo.remember(v, model, true);
      change(v);
      expect(memo.passed(v, model, true)).toBe(false);
    }
    const memo = new ControlHostMemo(), v = image();
    memo.remember(v, model, true);
    expect(memo.passed(v, model, false)).toBe(false);
    expect(memo.passed(v, other, true)).toBe(false);
  });

  it('is never used with "use TPR shadow" (VTPR is in memory; §27.2.1.1)', () => {
    const memo = new ControlHostMemo(), v = image();
    v.lo[SLOT.primaryProcessorBasedVmExecutionControls] = 1 << 21;
    memo.remember(v, model, true);
    expect(memo.passed(v, model, true)).toBe(false);
  });
});
