/**
 * VM exits caused by task switches (SDM Vol. 3C §26.2 "Task switches",
 * §26.4.2 "Treatment of Task Switches"): a task switch never happens in
 * VMX non-root operation. The core makes the checks that come first (the
 * gate's or TSS descriptor's privilege and P bit, the new TSS selector,
 * type, P bit and limit: cpu/system/taskSwitch.ts) and then hands the
 * switch to the unit, which exits with basic reason 9. Nothing of the
 * switch is done: no TSS, TSS descriptor, TR or RFLAGS.NT changes (§28.1).
 *
 *   exit qualification (§28.2.1 Table 28-2): bits 15:0 the selector of the
 *     new TSS, bits 31:30 the source: 0 CALL, 1 IRET, 2 JMP, 3 a task gate
 *     in the IDT;
 *   CALL, IRET, JMP: the saved RIP is the instruction's and the VM-exit
 *     instruction length its length (§28.2.4, §28.3.3);
 *   a task gate in the IDT: the event being delivered is the IDT-vectoring
 *     information (§28.2.3), with no blocking by STI or MOV SS left (§28.1);
 *     the saved RIP is what the old TSS would have received (the event's
 *     return address), except for INT n, INT3, INTO and INT1 (and events
 *     injected as those), whose instruction it names, with its length, or
 *     the VM-entry instruction length, as instruction length (§28.2.4).
 *
 * RFLAGS.RF is saved as the old TSS's RFLAGS image would have it (§28.3.3);
 * the core has put that value in RFLAGS before asking.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import { TaskSwitchSource } from '../../cpu/vmxPort.ts';
import { ExitReason } from '../exitReason.ts';
import { vmExit } from '../transition/vmExit.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { interruptionInfo } from './eventExits.ts';
import { guestEvents, keepNmiBlocking } from './eventState.ts';
import { instructionExit } from './instructionExit.ts';

/** VmxUnit.taskSwitchExit: the VM exit of a task switch to TSS `selector` from `source`. */
export function taskSwitchExit(
  s: VmxState, c: Cpu, selector: number, source: TaskSwitchSource, i: Insn | null,
  vector: number, kind: EventKind, errorCode: number,
): void {
  // An IRET that exits this way must not have ended the NMI blocking that "NMI exiting" without "virtual NMIs" holds (§26.3).
  keepNmiBlocking(c, guestEvents(s));
  const qualification = ((source << 30) | (selector & 0xffff)) | 0;
  if (i !== null) {
    instructionExit(s, c, i, ExitReason.TaskSwitch, qualification);
    return;
  }
  const x = s.exitInfo;
  x.vectoringInfo = interruptionInfo(c, vector, kind, errorCode);
  x.vectoringErrorCode = errorCode;
  c.inhibitUntil = 0;
  let rip = c.rip;
  // Types 4-6: INT n, INT1, INT3/INTO (§24.8.3). RIP is past the instruction (or the injected RIP plus the
  // VM-entry instruction length, 1-15): the low 4 bits of the difference are the length.
  if (kind >= EventKind.SoftwareInt) {
    rip = c.sys.softwareRip;
    x.instructionLength = (c.rip - rip) & 0xf;
  }
  vmExit(s, c, ExitReason.TaskSwitch, qualification, 0, rip);
}
