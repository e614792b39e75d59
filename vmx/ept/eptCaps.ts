/**
 * The walker's EPT capabilities from the model's IA32_VMX_EPT_VPID_CAP
 * settings (SDM Vol. 3C Appendix A.10; bit names in model/capabilityBits.ts)
 * and MAXPHYADDR (the CPU model's physAddrBits).
 */
import type { EptCap } from '../model/capabilityBits.ts';
import type { EptCaps } from './eptWalk.ts';

export function eptCapsOf(ept: readonly EptCap[], physAddrBits: number): EptCaps {
  return {
    executeOnly: ept.includes('executeOnly'),
    page2M: ept.includes('pde2MPages'),
    page1G: ept.includes('pdpte1GPages'),
    accessedDirty: ept.includes('accessedDirty'),
    physAddrBits,
  };
}
