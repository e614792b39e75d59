/**
 * VMFUNC in VMX non-root operation once its #UD checks have passed ("enable
 * VM functions" = 1, EAX < 64: vmxInstructionExits.ts): SDM Vol. 3C §26.5.6
 * "VM Functions" and the VMFUNC page. The function EAX selects runs if bit
 * EAX of the VM-function controls (§25.6.14) is 1; otherwise VMFUNC exits
 * with basic reason 59 and exit qualification 0 (§26.5.6.2), and so does a
 * function's own failure. The model's only VM function is 0, EPTP switching
 * (VM entry keeps every other control bit 0 against IA32_VMX_VMFUNC,
 * §27.2.1.1), which needs "enable EPT" (also checked at VM entry).
 *
 * EPTP switching (§26.5.6.3): ECX ≥ 512 exits; else the EPTP-list entry ECX
 * (8 bytes at EPTP-list address + 8 × ECX, a physical address) must be an
 * EPTP that VM entry would accept in the EPTP field (eptpValid), else the
 * instruction exits. A valid one is written to the EPTP field and used for
 * guest-physical addresses from the next access on: the EPT stage walks
 * from its root and translations come from the context (VPID, new EPT root)
 * — nothing is invalidated, combined mappings being tagged by EPT root
 * (§29.4.1). The EPTP-index field takes ECX[15:0] only on processors with
 * "EPT-violation #VE". No register or flag changes.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { InternalError } from '../../cpu/exceptions.ts';
import { enterTranslationContext, pagingUnit } from '../../cpu/memory/paging.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { hi, lo, set, SLOT } from '../entry/vmcsView.ts';
import { VM_FUNCTIONS } from '../model/capabilityBits.ts';
import { eptRoot } from '../ept/eptEntry.ts';
import { EptStage } from '../transition/eptStage.ts';
import { natural } from '../transition/guestState.ts';
import { eptpValid } from '../entry/eptpRules.ts';
import type { VmxState } from '../unit/vmxState.ts';

const ENABLE_VPID = bit('proc2', 'enableVpid');
/** The EPTP list is one 4-KByte page of 8-byte EPTPs (§25.6.14). */
const EPTP_LIST_ENTRIES = 512;

/** Bit `n` (0..63) of the VM-function controls. */
function functionEnabled(s: VmxState, n: number): boolean {
  const half = n < 32 ? lo(s.vmcs, SLOT.vmFunctionControls) : hi(s.vmcs, SLOT.vmFunctionControls);
  return ((half >>> (n & 31)) & 1) !== 0;
}

/** EPTP switching with index ECX: true when it switched, false when VMFUNC must exit instead. */
function eptpSwitching(s: VmxState, c: Cpu): boolean {
  const index = c.r[2]! >>> 0;
  if (index >= EPTP_LIST_ENTRIES) return false;
  const v = s.vmcs;
  const entry = natural(v, SLOT.eptpListAddress) + 8 * index;
  const eptpLo = c.phys.readSized(entry, 4), eptpHi = c.phys.readSized(entry + 4, 4);
  if (!eptpValid(s.model, c.model.physAddrBits, eptpLo, eptpHi)) return false;
  const stage = pagingUnit(c).stage;
  if (!(stage instanceof EptStage)) throw new InternalError('VMFUNC EPTP switching without the EPT stage VM entry installs');
  set(v, SLOT.eptp, eptpLo, eptpHi);
  if (s.model.supports('proc2', 'eptViolationVe')) set(v, SLOT.eptpIndex, index & 0xffff);
  stage.setEptp(eptpLo, eptpHi);
  const vpid = (secondaryControls(v) & ENABLE_VPID) !== 0 ? lo(v, SLOT.vpid) & 0xffff : 0;
  enterTranslationContext(c, vpid, eptRoot(eptpLo, eptpHi), stage);
  return true;
}

/**
 * Performs VM function EAX (already < 64): true when it ran, false when
 * VMFUNC causes a VM exit (basic reason 59, qualification 0) instead.
 */
export function vmFunction(s: VmxState, c: Cpu): boolean {
  const n = c.r[0]! >>> 0;
  return functionEnabled(s, n) && n === VM_FUNCTIONS.eptpSwitching && eptpSwitching(s, c);
}
