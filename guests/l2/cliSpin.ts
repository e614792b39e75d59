/**
 * Bad input (issue 6): a guest that loops forever with interrupts off and
 * never exits on its own. RFLAGS.IF = 0 blocks the guest's own interrupts
 * but not the VMX-preemption timer (SDM Vol. 3C §26.5.1), so L1's time
 * slices (hypervisor/l1/scheduler.ts) still take the core back for the
 * other vCPUs there; the run ends at the instruction limit with this VM
 * still running. Test-only (test/hypervisor/badInput.test.ts).
 */
import type { L2Guest } from './guest.ts';

export default {
  name: 'cli-spin',
  description: 'CLI, then a jump to itself: loops forever with interrupts off',
  expect: { kind: 'running' },
  source: `
    cli
  spin:
    jmp spin`,
} satisfies L2Guest;
