/** Differential execution against the host CPU: shifts and rotates, SHLD/SHRD. */
import { hostDiffSuite } from '../support/hostcpu/suite.ts';
import { SHIFT_TEMPLATES } from '../support/hostcpu/templates/shift.ts';

await hostDiffSuite('host CPU differential: shifts and rotates', SHIFT_TEMPLATES, 250);
