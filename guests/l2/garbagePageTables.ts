/**
 * Bad input (issue 6): a guest that writes garbage over its own page
 * tables. It fills its PML4 (GUEST_PAGE_TABLES, hypervisor/vm.ts) with one
 * 64-bit value, then reloads CR3, which flushes the non-global translations
 * the TLB still held (SDM Vol. 3A §4.10.4.1), so that its next instruction
 * fetch walks the garbage. What follows is architectural:
 *   - an entry with P = 0 (or a reserved bit set) is a #PF (§4.7); its
 *     delivery reads the IDT through the same garbage and faults again,
 *     #DF, then shutdown: a triple-fault exit (SDM Vol. 3C §26.2), which
 *     ends the VM with a report;
 *   - a present entry that points beyond guest RAM sends the walk to a
 *     guest-physical address ept12 does not map: an EPT violation on the
 *     paging-structure access (§29.3.3.2), which ends the VM with a report.
 * Test-only (test/hypervisor/badInput.test.ts): not in the default suite.
 */
import { GUEST_PAGE_TABLES } from '../../hypervisor/vm.ts';
import type { Expectation, L2Guest } from './guest.ts';
import { failure } from './ucall.ts';

/** A guest whose every PML4 entry becomes `entry`, expected to end as `expect`. */
export function garbagePageTablesGuest(name: string, entry: bigint, expect: Expectation): L2Guest {
  return {
    name,
    description: `fills its PML4 with 0x${entry.toString(16)} and reloads CR3`,
    expect,
    source: `
    mov rdi, ${GUEST_PAGE_TABLES}
    mov rax, 0x${entry.toString(16)}
    mov ecx, 512
    rep stosq
    mov rax, cr3
    mov cr3, rax
    ${failure('survived', 'the fetch after the garbage page tables did not fault')}`,
  };
}

/** P = 0 in every entry: #PF, #DF, triple fault. */
export const NOT_PRESENT = 0xdeadbeefcafebaben;
/** Present and writable, the next table at 1 GiB: beyond the VM's RAM. */
export const BEYOND_RAM = 0x40000003n;

export default garbagePageTablesGuest('garbage-page-tables', NOT_PRESENT, { kind: 'stopped', detail: 'triple fault' });
