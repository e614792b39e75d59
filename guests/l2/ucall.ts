/**
 * Assembly for the ucall convention (hypervisor/exits/ucall.ts): EAX =
 * call number, RDI = guest-physical address of a NUL-terminated string,
 * then a 32-bit OUT to the ucall port. Guests run with identity paging, so
 * a RIP-relative address is the string's guest-physical address.
 */
import { Ucall, UCALL_PORT } from '../../hypervisor/exits/ucall.ts';

/** A ucall whose RDI is loaded by `loadRdi` (nothing for a call without argument). */
function ucall(call: Ucall, loadRdi = ''): string {
  return [loadRdi, `mov eax, ${call}`, `mov dx, ${UCALL_PORT}`, 'out dx, eax'].filter(Boolean).join('\n');
}

const addressOf = (label: string): string => `lea rdi, [rip + ${label}]`;

/** The guest's checks passed: the VM ends as passed. */
export const done = (): string => ucall(Ucall.Done);

/** Appends the string at `label` to the VM's console. */
export const print = (label: string): string => ucall(Ucall.Print, addressOf(label));

/** Appends the string whose address is in register `reg` to the VM's console. */
export const printAt = (reg: string): string => ucall(Ucall.Print, `mov rdi, ${reg}`);

/** `text` as an assembler string literal: quotes and backslashes escaped, control characters as 3-digit octal escapes. */
const literal = (text: string): string =>
  `"${text.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`)}"`;

/** The NUL-terminated string `text` at `label`. */
export const string = (label: string, text: string): string => `${label}: .asciz ${literal(text)}`;

/** The target `label`: the VM ends as failed with `message`. */
export const failure = (label: string, message: string): string =>
  `${label}:\n${ucall(Ucall.Failed, addressOf(`${label}_message`))}\n${string(`${label}_message`, message)}`;
