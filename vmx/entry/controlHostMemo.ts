/**
 * Remembers that a VMCS passed the checks on VMX controls and host state
 * (§27.2), so that VM entries after a VM exit need not repeat them: a VM
 * exit writes only guest-state and exit-information fields (and the valid
 * bit of the VM-entry interruption information, which it clears), so the
 * fields those checks read are usually what they were at the last entry.
 *
 * The checks are pure functions of the fields in MEMO_SLOTS, the model, the
 * host's IA-32e mode and, with "use TPR shadow", one byte of memory (VTPR):
 * a test proves by recording every slot they read that MEMO_SLOTS covers
 * them. An entry whose slots, model and host mode equal the remembered
 * ones passes them again, so skipping them changes no outcome; with "use
 * TPR shadow" the memo is never used, since VTPR can change in between.
 */
import type { VmxModel } from '../model/vmxModel.ts';
import { FieldType } from '../vmcs/encoding.ts';
import { VMCS_FIELDS } from '../vmcs/fields.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import { bit, primaryControls } from './controlFields.ts';
import { SLOT } from './vmcsView.ts';

/** The slots the control and host-state checks may read: every control and host-state field, and guest CR0 (§27.2.1.3's error-code rule). */
export const MEMO_SLOTS: Int32Array = Int32Array.from([
  ...VMCS_FIELDS.flatMap((f, k) => (f.type === FieldType.Control || f.type === FieldType.HostState ? [k] : [])),
  SLOT.guestCr0,
]);

const USE_TPR_SHADOW = bit('proc', 'useTprShadow');

export class ControlHostMemo {
  private readonly lo = new Int32Array(MEMO_SLOTS.length);
  private readonly hi = new Int32Array(MEMO_SLOTS.length);
  private model: VmxModel | null = null;
  private hostIa32e = false;

  /** Whether `v` passed before: same model, host mode and memo slots as the last VMCS remembered. */
  passed(v: VmcsImage, model: VmxModel, hostIa32e: boolean): boolean {
    if (this.model !== model || this.hostIa32e !== hostIa32e) return false;
    const slots = MEMO_SLOTS, lo = this.lo, hi = this.hi;
    for (let j = 0; j < slots.length; j++) {
      const k = slots[j]!;
      if (v.lo[k] !== lo[j] || v.hi[k] !== hi[j]) return false;
    }
    return true;
  }

  /** Records that `v` passed both check lists (not with "use TPR shadow": VTPR lives in memory). */
  remember(v: VmcsImage, model: VmxModel, hostIa32e: boolean): void {
    if ((primaryControls(v) & USE_TPR_SHADOW) !== 0) {
      this.model = null;
      return;
    }
    const slots = MEMO_SLOTS;
    for (let j = 0; j < slots.length; j++) {
      this.lo[j] = v.lo[slots[j]!]!;
      this.hi[j] = v.hi[slots[j]!]!;
    }
    this.model = model;
    this.hostIa32e = hostIa32e;
  }
}
