/** Differential execution against the host CPU: MUL/IMUL/DIV/IDIV and the bit instructions. */
import { hostDiffSuite } from '../support/hostcpu/suite.ts';
import { BITS_TEMPLATES } from '../support/hostcpu/templates/bits.ts';
import { MULDIV_TEMPLATES } from '../support/hostcpu/templates/muldiv.ts';

await hostDiffSuite('host CPU differential: MUL, IMUL, DIV, IDIV', MULDIV_TEMPLATES, 250);
await hostDiffSuite('host CPU differential: BT*, BSF/BSR, TZCNT/LZCNT/POPCNT, SETcc', BITS_TEMPLATES, 150);
