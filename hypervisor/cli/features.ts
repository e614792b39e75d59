/**
 * `--feature no-X`: a VMX feature switched off in the processor model, so
 * that L1 can be seen to cope without it or to refuse with a one-line error
 * (DESIGN "The CPU model": each feature can be switched off, as on older
 * silicon). X is a control of DEFAULT_VMX_MODEL by its key in
 * vmx/model/controls.ts (`no-rdtscExiting`), or one of the short names
 * below. What depends on a control goes with it, as the model requires
 * (vmx/model/vmxModel.ts validate): the EPT capabilities with "enable EPT",
 * the VPID ones with "enable VPID", the VM functions with "enable VM
 * functions", every secondary control with "activate secondary controls"
 * (SDM Vol. 3C Appendix A.3.3, A.10, A.11).
 */
import { CONTROLS, DEFAULT1, controlMask, type ControlGroup, type ControlKey, type ControlSet } from '../../vmx/model/controls.ts';
import { DEFAULT_VMX_MODEL } from '../../vmx/model/presets.ts';
import type { VmxFeatures } from '../../vmx/model/vmxModel.ts';
import { UsageError } from './args.ts';

interface Control {
  readonly group: ControlGroup;
  readonly key: string;
}

/** Short names for the features most worth switching off. */
export const FEATURE_ALIASES: Readonly<Record<string, Control>> = {
  'no-ept': { group: 'proc2', key: 'enableEpt' },
  'no-vpid': { group: 'proc2', key: 'enableVpid' },
  'no-unrestricted': { group: 'proc2', key: 'unrestrictedGuest' },
  'no-secondary': { group: 'proc', key: 'activateSecondaryControls' },
  'no-preemption-timer': { group: 'pin', key: 'activatePreemptionTimer' },
  'no-msr-bitmaps': { group: 'proc', key: 'useMsrBitmaps' },
  'no-io-bitmaps': { group: 'proc', key: 'useIoBitmaps' },
  'no-vmcs-shadowing': { group: 'proc2', key: 'vmcsShadowing' },
  'no-vmfunc': { group: 'proc2', key: 'enableVmFunctions' },
};

const GROUPS = Object.keys(CONTROLS) as ControlGroup[];

function controlNamed(feature: string): Control {
  const alias = FEATURE_ALIASES[feature];
  if (alias) return alias;
  const key = feature.startsWith('no-') ? feature.slice(3) : '';
  const group = GROUPS.find((g) => CONTROLS[g].some((d) => d.key === key));
  if (!group) {
    throw new UsageError(`unknown feature '${feature}' (one of ${Object.keys(FEATURE_ALIASES).join(', ')}, or no-CONTROL with a control of vmx/model/controls.ts)`);
  }
  return { group, key };
}

/** The controls of `set` without `off` (and, for "activate secondary controls", without every secondary control). */
function without(set: ControlSet, off: Control): ControlSet {
  const keep = <G extends ControlGroup>(g: G): readonly ControlKey<G>[] =>
    off.key === 'activateSecondaryControls' && g === 'proc2' ? [] : (set[g] as readonly ControlKey<G>[]).filter((k) => g !== off.group || k !== off.key);
  return { pin: keep('pin'), proc: keep('proc'), proc2: keep('proc2'), exit: keep('exit'), entry: keep('entry') };
}

/** `base` with one feature switched off; a UsageError when the name is unknown or the switch would change nothing. */
export function switchOff(base: VmxFeatures, feature: string): VmxFeatures {
  const off = controlNamed(feature);
  const offered = base.controls[off.group] as readonly string[];
  if (!offered.includes(off.key)) throw new UsageError(`feature '${feature}': the VMX model does not offer the ${off.group} control ${off.key}`);
  if ((controlMask(off.group, [off.key as ControlKey<typeof off.group>]) & DEFAULT1[off.group]) !== 0) {
    throw new UsageError(`feature '${feature}': ${off.key} is a default1 control, always reported allowed (SDM Vol. 3C Appendix A.2)`);
  }
  const controls = without(base.controls, off);
  return {
    ...base,
    controls,
    ept: controls.proc2.includes('enableEpt') ? base.ept : [],
    vpid: controls.proc2.includes('enableVpid') ? base.vpid : [],
    vmFunctions: controls.proc2.includes('enableVmFunctions') ? base.vmFunctions : [],
  };
}

/** DEFAULT_VMX_MODEL with every feature of `features` switched off, in order. */
export function vmxModelWithout(features: readonly string[]): VmxFeatures {
  return features.reduce(switchOff, DEFAULT_VMX_MODEL);
}
