/**
 * VM-entry checks on the VM-exit control fields, in the order of SDM Vol.
 * 3C §27.2.1.2 "VM-Exit Control Fields" (§26.2.1.2 in older editions).
 */
import { bit, exitControls, msrAreaChecks, pinControls, reservedBitsOk, type ControlCheck } from './controlFields.ts';
import { SLOT } from './vmcsView.ts';

const SECTION = '§27.2.1.2 VM-Exit Control Fields';

const ACTIVATE_PREEMPTION_TIMER = bit('pin', 'activatePreemptionTimer');
const SAVE_PREEMPTION_TIMER = bit('exit', 'savePreemptionTimer');

export const EXIT_CONTROL_CHECKS: readonly ControlCheck[] = [
  { name: 'exitReservedBits', section: SECTION, holds: (v, m) => reservedBitsOk(exitControls(v), m, 'exit') },
  // "If the 'activate VMX-preemption timer' VM-execution control is 0, the 'save VMX-preemption
  // timer value' VM-exit control must also be 0."
  {
    name: 'savePreemptionTimerNeedsActivate', section: SECTION,
    holds: (v) => (pinControls(v) & ACTIVATE_PREEMPTION_TIMER) !== 0 || (exitControls(v) & SAVE_PREEMPTION_TIMER) === 0,
  },
  ...msrAreaChecks('exitMsrStore', SECTION, SLOT.vmExitMsrStoreAddress, SLOT.vmExitMsrStoreCount),
  ...msrAreaChecks('exitMsrLoad', SECTION, SLOT.vmExitMsrLoadAddress, SLOT.vmExitMsrLoadCount),
];
