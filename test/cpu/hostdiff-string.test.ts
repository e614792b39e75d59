/** Differential execution against the host CPU: string instructions, XADD/CMPXCHG. */
import { hostDiffSuite } from '../support/hostcpu/suite.ts';
import { ATOMIC_TEMPLATES } from '../support/hostcpu/templates/atomic.ts';
import { STRING_TEMPLATES } from '../support/hostcpu/templates/string.ts';

await hostDiffSuite('host CPU differential: string instructions', STRING_TEMPLATES, 150);
await hostDiffSuite('host CPU differential: XADD, CMPXCHG, CMPXCHG8B/16B', ATOMIC_TEMPLATES, 150);
