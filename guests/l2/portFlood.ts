/**
 * Bad input (issue 6): a guest that floods port I/O, an OUT to a port
 * with nothing behind it after another, forever. L1 sets "unconditional
 * I/O exiting", so each is an exit (reason 30, SDM Vol. 3C §26.1.3) that
 * L1 ignores (hypervisor/exits/io.ts); exits do not stretch a vCPU's turn
 * (hypervisor/l1/scheduler.ts), so the other vCPUs of the core still run.
 * The run ends at the instruction limit with this VM still running.
 * Test-only (test/hypervisor/badInput.test.ts).
 */
import type { L2Guest } from './guest.ts';

export const FLOOD_PORT = 0x1234;
/** OUTs between two jumps back: nearly every instruction exits. */
const UNROLL = 64;

export default {
  name: 'port-flood',
  description: `OUT to unclaimed port 0x${FLOOD_PORT.toString(16)}, forever`,
  expect: { kind: 'running' },
  source: `
    mov dx, ${FLOOD_PORT}
  flood:
    ${'out dx, al\n'.repeat(UNROLL)}
    jmp flood`,
} satisfies L2Guest;
