/**
 * vCPUs that never exit on their own still take turns (L1's scheduler,
 * VMX-preemption timer, SDM Vol. 3C §26.5.1): every vCPU counts to COUNT
 * in its own counter in shared memory, with no exit in its loop. Each
 * finds its index in its x2APIC ID (SDM Vol. 3A §11.12.5.1). When a vCPU
 * has counted, the others must have made progress too — on one core only
 * time slicing lets them — then it says so and waits for the rest; vCPU 0
 * reports done when all have counted. With one vCPU it just counts.
 */
import { ApicReg } from '../../cpu/devices/apic/registers.ts';
import { DATA_BASE, enableX2apic, readApic } from './apicAsm.ts';
import type { L2Guest } from './guest.ts';
import { done, failure, print, string } from './ucall.ts';

/** Iterations of each vCPU's loop (two instructions each), a few turns' worth. */
export const COUNT = 20_000;
const COUNTERS = DATA_BASE, FINISHED = DATA_BASE + 0x100;

/** The guest for a VM of `vcpus` vCPUs, all starting at its first instruction. */
export function timeSliceGuest(vcpus: number): L2Guest {
  return {
    name: 'time-slice',
    description: `${vcpus} vCPU(s) counting without exits take turns on the VMX-preemption timer`,
    expect: { kind: 'passed' },
    vcpus,
    source: `
    ${enableX2apic()}
    ${readApic(ApicReg.ID)}
    mov ebx, eax                   ; this vCPU's index
    lea rsi, [${COUNTERS} + rbx * 8]
    mov ecx, ${COUNT}
  count:
    inc qword ptr [rsi]
    loop count
    xor edi, edi                   ; every other vCPU must have counted some
  others:
    cmp edi, ${vcpus}
    je counted
    cmp edi, ebx
    je next_other
    cmp qword ptr [${COUNTERS} + rdi * 8], 0
    je other_idle
  next_other:
    inc edi
    jmp others
  counted:
    mov byte ptr [${FINISHED} + rbx], 1
    ${print('finished')}
    test ebx, ebx
    jnz wait_forever
    xor edi, edi                   ; vCPU 0: wait until all have counted
  wait_all:
    cmp edi, ${vcpus}
    je all_done
    cmp byte ptr [${FINISHED} + rdi], 0
    je wait_all
    inc edi
    jmp wait_all
  all_done:
    ${done()}
  wait_forever:
    cli
    hlt
    ${failure('other_idle', 'a vCPU finished counting while another had not started')}
    ${string('finished', 'counted\n')}`,
  };
}

export default timeSliceGuest(2);
