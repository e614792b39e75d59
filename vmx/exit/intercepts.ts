/**
 * The non-root intercept table: for each Intercept (cpu/vmxPort.ts), the
 * function that applies the VMX controls to it. An instruction with no row
 * never exits, so a model must not report the control that would make it
 * (issue 4: a control not built is reported unsupported).
 */
import type { Intercept } from '../../cpu/vmxPort.ts';
import { ACCESS_INTERCEPTS } from './accessExits.ts';
import { BASIC_INTERCEPTS } from './basicExits.ts';
import { INSTRUCTION_INTERCEPTS } from './instructionExits.ts';
import type { InterceptFn } from './interceptRow.ts';

const never: InterceptFn = () => false;

/** Intercept number → its function, as a dense array for the hot path. */
export const INTERCEPTS: readonly InterceptFn[] = (() => {
  const table: InterceptFn[] = [];
  for (const [what, fn] of [...BASIC_INTERCEPTS, ...INSTRUCTION_INTERCEPTS, ...ACCESS_INTERCEPTS]) {
    if (table[what] !== undefined) throw new Error(`two intercept rows for Intercept ${what}`);
    table[what] = fn;
  }
  for (let k = 0; k < table.length; k++) table[k] ??= never;
  return table;
})();

export function interceptFn(what: Intercept): InterceptFn {
  return INTERCEPTS[what] ?? never;
}
