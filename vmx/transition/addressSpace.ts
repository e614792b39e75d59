/**
 * The address space a VMX transition switches to (SDM Vol. 3C §29.4
 * "Caching Translation Information"): the translation context — VPID and
 * EPT root — and the EPT stage of the guest, or VPID 0000H without EPT for
 * the host. Without "enable VPID", VM entries and VM exits invalidate the
 * linear and combined mappings of VPID 0000H, for every PCID and EPT root
 * (§29.4.3.3); with it, the guest's and the host's mappings both survive.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { enterTranslationContext, invalidateContexts } from '../../cpu/memory/paging.ts';
import { NO_EPT } from '../../cpu/memory/translationContexts.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { eptRoot } from '../ept/eptEntry.ts';
import { EptStage } from './eptStage.ts';

const ENABLE_VPID = bit('proc2', 'enableVpid');
const ENABLE_EPT = bit('proc2', 'enableEpt');

/** Each unit's EPT stage, made on first use. */
const stages = new WeakMap<VmxState, EptStage>();

const isVpidZero = (vpid: number): boolean => vpid === 0;

function vpidEnabled(v: VmcsImage): boolean {
  return (secondaryControls(v) & ENABLE_VPID) !== 0;
}

/** VM entry, after the guest's CR0, CR3, CR4 and EFER are loaded ("Updating Non-Register State", §27.3.2.5). */
export function enterGuestAddressSpace(s: VmxState, c: Cpu): void {
  const v = s.vmcs;
  const vpid = vpidEnabled(v) ? lo(v, SLOT.vpid) & 0xffff : 0;
  if (vpid === 0) invalidateContexts(c, isVpidZero);
  if ((secondaryControls(v) & ENABLE_EPT) === 0) {
    enterTranslationContext(c, vpid, NO_EPT, null);
    return;
  }
  let stage = stages.get(s);
  if (!stage) stages.set(s, (stage = new EptStage(s, c)));
  stage.setEptp(v.lo[SLOT.eptp]!, v.hi[SLOT.eptp]!);
  enterTranslationContext(c, vpid, eptRoot(v.lo[SLOT.eptp]!, v.hi[SLOT.eptp]!), stage);
}

/** VM exit (and a VM-entry failure after the guest-state checks), after host CR0, CR3, CR4 and EFER are loaded (§28.5.5). */
export function enterHostAddressSpace(v: VmcsImage, c: Cpu): void {
  if (!vpidEnabled(v)) invalidateContexts(c, isVpidZero);
  enterTranslationContext(c, 0, NO_EPT, null);
}
