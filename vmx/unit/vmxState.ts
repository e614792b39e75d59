/**
 * One core's VMX state (SDM Vol. 3C ch. 24 "Introduction to VMX
 * Operation", §25.1 "Overview" of the VMCS): whether the core is in VMX
 * operation, the VMXON pointer, the current-VMCS pointer and the cached
 * current VMCS, and what VM entries and exits keep beside them. Whether
 * the core is in non-root operation is the core's own flag (Cpu.nonRoot),
 * which its instructions test.
 */
import type { EntryCheckFailure } from '../entry/checkResult.ts';
import { ControlHostMemo } from '../entry/controlHostMemo.ts';
import type { VmxModel } from '../model/vmxModel.ts';
import { ExitInfo } from '../transition/exitInfo.ts';
import type { TransitionSink } from '../transition/transitionRecord.ts';
import { FIELD_SLOTS, type VmcsImage } from './vmcsRegion.ts';

/** The pointer value FFFFFFFF_FFFFFFFFH ("no current VMCS", §25.1), kept as -1. */
export const INVALID_POINTER = -1;

export class VmxState {
  /** In VMX operation (between VMXON and VMXOFF). */
  inVmxOperation = false;
  /** Physical address of the VMXON region; INVALID_POINTER outside VMX operation. */
  vmxonPointer = INVALID_POINTER;
  /** Physical address of the current VMCS, or INVALID_POINTER. */
  currentVmcs = INVALID_POINTER;
  /** The current VMCS was loaded with the shadow-VMCS indicator set (VMPTRLD, §25.10). */
  currentIsShadow = false;
  /** The current VMCS, cached as hardware does (§25.11.1); meaningful while currentVmcs is valid. */
  readonly vmcs: VmcsImage = { lo: new Int32Array(FIELD_SLOTS), hi: new Int32Array(FIELD_SLOTS), launched: false };
  /** The information of the VM exit being taken (vmx/transition/exitInfo.ts). */
  readonly exitInfo = new ExitInfo();
  /** The last VMCS contents that passed the checks on controls and host state (entry/controlHostMemo.ts). */
  readonly controlHostMemo = new ControlHostMemo();
  /** The VM-entry check that failed last (for logs and the harness's messages), or null. */
  lastFailedCheck: EntryCheckFailure | null = null;
  /** Receives every VM entry, VM exit and VM-entry failure, for the exit trace; null when nobody listens. */
  onTransition: TransitionSink | null = null;

  constructor(readonly model: VmxModel) {}

  /**
   * INIT is blocked in VMX root operation (VMXON page: "block INIT
   * signals"; §26.2 / §33.14 for non-root). The system part's event
   * delivery should hold a pending INIT while this is true.
   */
  get blocksInit(): boolean {
    return this.inVmxOperation;
  }
}
