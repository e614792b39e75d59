/**
 * Task switches in VMX non-root operation (SDM Vol. 3C §26.2 "Task
 * switches", §26.4.2 "Treatment of Task Switches"): the checks that come
 * before the switch, then a VM exit with basic reason 9, exit qualification
 * per §28.2.1 Table 28-2 (bits 15:0 the new TSS selector, bits 31:30 the
 * source: 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT), IDT-vectoring
 * information for a task gate met in event delivery (§28.2.3), instruction
 * length (§28.2.4), and RIP and RFLAGS.RF as §28.3.3 gives them.
 *
 * The guests are 32-bit protected mode with PAE paging (task switches do
 * not exist in IA-32e mode) and the tables below; descriptors are composed
 * from SDM Vol. 3A Figure 3-8 (segments), Figure 7-3 (TSS descriptor) and
 * Figure 7-8 (task gate).
 */
import { describe, expect, it } from 'vitest';
import { GUEST_CODE, type HarnessOptions, SCRATCH, VmxHarness } from '../support/vmxHarness.ts';
import { EVENT_FEATURES, eventGuest, interruptSource, writeGate } from '../support/vmxGuestEvents.ts';

const TASK_SWITCH = 9, EXCEPTION = 0;
const CALL = 0n, IRET = 1n, JMP = 2n, IDT_GATE = 3n;
const qualification = (source: bigint, selector: number): bigint => (source << 30n) | BigInt(selector);
const VALID = 1n << 31n, ERROR_CODE = 1n << 11n;
const info = (vector: number, type: number, errorCode = false): bigint =>
  VALID | (errorCode ? ERROR_CODE : 0n) | (BigInt(type) << 8n) | BigInt(vector);
const EXTERNAL = 0, NMI = 2, HARDWARE = 3, SOFTWARE_INT = 4;
const RF = 1n << 16n, NT = 0x4000, IF = 0x200;

const GDT = 0x300000, IDT = 0x301000, TSS_NOW = 0x302000, TSS_NEW = 0x304000, TSS_BACK = 0x305000, POINTER = 0x306000;
const PDPT = SCRATCH + 0x20000, PD = SCRATCH + 0x21000;

/** A segment descriptor: base, limit (bytes - 1, < 1 MByte: G = 0), type, S, DPL, P and the flags nibble (Figure 3-8). */
function descriptor(base: number, limit: number, access: number, flags = 0): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = ((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (base & 0xff000000);
  return [lo >>> 0, hi >>> 0];
}
/** A TSS descriptor (Figure 7-3): type 9 available 32-bit, 0BH busy, 1 available 16-bit; P = 1 unless `present` is false. */
const tss = (base: number, limit: number, type: number, o: { dpl?: number; present?: boolean } = {}): [number, number] =>
  descriptor(base, limit, ((o.present ?? true) ? 0x80 : 0) | ((o.dpl ?? 0) << 5) | type);
/** A task gate (Figure 7-8): the TSS selector in bits 31:16, type 5. */
const taskGate = (selector: number, o: { dpl?: number; present?: boolean } = {}): [number, number] =>
  [(selector << 16) >>> 0, (((o.present ?? true) ? 0x8000 : 0) | ((o.dpl ?? 0) << 13) | 0x500) >>> 0];

/** The GDT, by selector. */
const SEL = {
  code: 0x08, data: 0x10, tssNow: 0x18, tss: 0x20, gate: 0x28, tss16: 0x30, tssAbsent: 0x38, tssBusy: 0x48,
  tssShort: 0x50, gateAbsent: 0x58, gateToBusy: 0x60, gateToLdt: 0x68, gateBeyondGdt: 0x70, tss16Short: 0x78,
  busyAbsent: 0x80, userCode: 0x88, userData: 0x90, gateUser: 0x98,
} as const;
const GDT_ENTRIES: Record<number, [number, number]> = {
  [SEL.code]: [0x0000ffff, 0x00cf9b00],
  [SEL.data]: [0x0000ffff, 0x00cf9300],
  [SEL.tssNow]: tss(TSS_NOW, 0x67, 0xb),
  [SEL.tss]: tss(TSS_NEW, 0x67, 0x9),
  [SEL.gate]: taskGate(SEL.tss),
  [SEL.tss16]: tss(TSS_NEW, 0x2c, 0x1),
  [SEL.tssAbsent]: tss(TSS_NEW, 0x67, 0x9, { present: false }),
  [SEL.tssBusy]: tss(TSS_BACK, 0x67, 0xb),
  [SEL.tssShort]: tss(TSS_NEW, 0x66, 0x9),
  [SEL.gateAbsent]: taskGate(SEL.tss, { present: false }),
  [SEL.gateToBusy]: taskGate(SEL.tssBusy),
  [SEL.gateToLdt]: taskGate(SEL.tss | 4),
  [SEL.gateBeyondGdt]: taskGate(0x400),
  [SEL.tss16Short]: tss(TSS_NEW, 0x2b, 0x1),
  [SEL.busyAbsent]: tss(TSS_BACK, 0x67, 0xb, { present: false }),
  [SEL.userCode]: [0x0000ffff, 0x00cffb00],
  [SEL.userData]: [0x0000ffff, 0x00cff300],
  [SEL.gateUser]: taskGate(SEL.tss, { dpl: 3 }),
};
const GDT_LIMIT = 0xa0 - 1;

/** A 32-bit interrupt gate to `offset` (Figure 6-2), for the IDT entries that are not task gates. */
const interruptGate = (offset: number): [number, number] =>
  [((SEL.code << 16) | (offset & 0xffff)) >>> 0, ((offset & 0xffff0000) | 0x8e00) >>> 0];

function write8(h: VmxHarness, at: number, [lo, hi]: [number, number]): void {
  h.t.phys.writeSized(at, 4, lo);
  h.t.phys.writeSized(at + 4, 4, hi);
}

/**
 * A 32-bit guest (`source`, 32-bit code at GUEST_CODE, CPL 0) with PAE
 * identity paging over 16 MBytes, the GDT above, TR = 18H (busy, at
 * TSS_NOW) and an IDT whose entries are `gates` (vector → descriptor),
 * the others interrupt gates to a HLT.
 */
async function guest32(source: string, o: HarnessOptions & { gates?: Record<number, [number, number]> } = {}): Promise<VmxHarness> {
  const h = await VmxHarness.create(source, {
    features: EVENT_FEATURES, ia32eModeGuest: false, events: true, ...o,
    fields: {
      guestCr3: PDPT, guestGdtrBase: GDT, guestGdtrLimit: GDT_LIMIT, guestIdtrBase: IDT, guestIdtrLimit: 0x7ff,
      guestTrBase: TSS_NOW, ...o.fields,
    },
  });
  const p = h.t.phys;
  p.writeSized(PDPT, 4, PD | 1);
  for (let k = 0; k < 8; k++) p.writeSized(PD + 8 * k, 4, (k << 21) | 0x87);
  for (const [sel, d] of Object.entries(GDT_ENTRIES)) write8(h, GDT + Number(sel), d);
  p.writeSized(0x307000, 1, 0xf4);
  for (let v = 0; v < 256; v++) write8(h, IDT + 8 * v, o.gates?.[v] ?? interruptGate(0x307000));
  return h;
}

const far = (opcode: number, sel: number): string => `.byte ${opcode}, 0, 0, 0, 0, ${sel}, 0`;
const jmpFar = (sel: number): string => far(0xea, sel);
const callFar = (sel: number): string => far(0x9a, sel);
const read = (h: VmxHarness, f: Parameters<VmxHarness['read']>[0]): bigint => h.read(f);
/** The type byte (P, DPL, S, type) of GDT entry `sel`. */
const accessByte = (h: VmxHarness, sel: number): number => h.t.phys.readSized(GDT + sel + 5, 1);

describe('CALL, JMP and IRET that would switch tasks (SDM Vol. 3C §26.4.2, §28.2.1 Table 28-2)', () => {
  it('JMP ptr16:32 to an available 32-bit TSS exits: reason 9, qualification source 2 | selector, RIP and length of the JMP, RF 0 (§28.2.4, §28.3.3)', async () => {
    const h = await guest32(`nop\n${jmpFar(SEL.tss)}`, { fields: { guestRflags: 0x2 | Number(RF) } });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(JMP, SEL.tss), guestRip: BigInt(GUEST_CODE + 1), instructionLength: 7 }]);
    // RF was cleared when the JMP began (SDM Vol. 3A §18.3.1.1): the old TSS's image would have 0.
    expect(read(h, 'guestRflags')).toBe(0x2n);
    expect(read(h, 'idtVectoringInformationField') & VALID).toBe(0n);
    // Nothing of the switch happened (§28.1): TR as before, the new TSS still available.
    expect(read(h, 'guestTrSelector')).toBe(BigInt(SEL.tssNow));
    expect(accessByte(h, SEL.tss)).toBe(0x89);
  });

  it('CALL ptr16:32 through a task gate: source 0, the selector of the TSS the gate names (not the gate\'s)', async () => {
    const h = await guest32(callFar(SEL.gate));
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(CALL, SEL.tss), guestRip: BigInt(GUEST_CODE), instructionLength: 7 }]);
    expect(read(h, 'guestRsp')).toBe(0x80000n); // no return address pushed
  });

  it('JMP m16:32 with RPL 3 through a DPL-3 task gate: source 2, length 6', async () => {
    const h = await guest32(`.byte 0xff, 0x2d\n.long ${POINTER}`);
    h.t.phys.writeSized(POINTER, 4, 0x12345678);
    h.t.phys.writeSized(POINTER + 4, 2, SEL.gateUser | 3);
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(JMP, SEL.tss), guestRip: BigInt(GUEST_CODE), instructionLength: 6 }]);
  });

  it('a 16-bit TSS with limit 2CH passes the limit check (SDM Vol. 3A Table 6-6)', async () => {
    const h = await guest32(jmpFar(SEL.tss16));
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(JMP, SEL.tss16) }]);
  });

  it('IRETD with NT = 1 exits with the back link of the current TSS: source 1, length 1; NT stays set', async () => {
    const h = await guest32('nop\niretd', { fields: { guestRflags: 0x2 | NT } });
    h.t.phys.writeSized(TSS_NOW, 2, SEL.tssBusy);
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(IRET, SEL.tssBusy), guestRip: BigInt(GUEST_CODE + 1), instructionLength: 1 }]);
    expect(read(h, 'guestRflags')).toBe(BigInt(0x2 | NT));
    expect(read(h, 'guestRsp')).toBe(0x80000n); // nothing popped
  });
});

describe('the checks before the exit fault first (SDM Vol. 3C §26.4.2 steps 1-4; Vol. 2A JMP, IRET)', () => {
  // Every exception exits (bitmap all ones), so the fault is the exit's interruption information.
  const faults: [string, string, number, number, HarnessOptions['fields']?, number?][] = [
    ['TSS DPL 0 < RPL 3: #GP(TSS)', jmpFar(SEL.tss | 3), 13, SEL.tss],
    ['task gate DPL 0 < RPL 3: #GP(gate)', jmpFar(SEL.gate | 3), 13, SEL.gate],
    ['task gate not present: #NP(gate)', jmpFar(SEL.gateAbsent), 11, SEL.gateAbsent],
    ['task gate to a busy TSS: #GP(TSS)', jmpFar(SEL.gateToBusy), 13, SEL.tssBusy],
    ['task gate to a TSS selector with TI = 1: #GP(TSS)', jmpFar(SEL.gateToLdt), 13, SEL.tss | 4],
    ['task gate to a TSS selector beyond the GDT limit: #GP(TSS)', jmpFar(SEL.gateBeyondGdt), 13, 0x400],
    ['a busy TSS: #GP(TSS)', jmpFar(SEL.tssBusy), 13, SEL.tssBusy],
    ['a TSS not present: #NP(TSS)', jmpFar(SEL.tssAbsent), 11, SEL.tssAbsent],
    ['a 32-bit TSS with limit 66H: #TS(TSS)', jmpFar(SEL.tssShort), 10, SEL.tssShort],
    ['a 16-bit TSS with limit 2BH: #TS(TSS)', jmpFar(SEL.tss16Short), 10, SEL.tss16Short],
    ['IRET, back link to an available TSS: #TS(back link)', 'iretd', 10, SEL.tss, { guestRflags: 0x2 | NT }, SEL.tss],
    ['IRET, back link with TI = 1: #TS(back link)', 'iretd', 10, SEL.tssBusy | 4, { guestRflags: 0x2 | NT }, SEL.tssBusy | 4],
    ['IRET, back link to a busy TSS not present: #NP(back link)', 'iretd', 11, SEL.busyAbsent, { guestRflags: 0x2 | NT }, SEL.busyAbsent],
  ];
  for (const [what, source, vector, errorCode, fields, backLink] of faults) {
    it(`${what}, no task-switch exit`, async () => {
      const h = await guest32(source, { fields: { exceptionBitmap: 0xffffffff, ...fields } });
      if (backLink !== undefined) h.t.phys.writeSized(TSS_NOW, 2, backLink);
      h.launch(100);
      expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE) }]);
      expect(read(h, 'vmExitInterruptionInformation')).toBe(info(vector, HARDWARE, true));
      expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt(errorCode));
    });
  }

  it('IA-32e mode has no task switches: JMP m16:32 to a TSS is #GP(selector), IRETQ with NT = 1 is #GP(0) (§26.4.2 a, c, g)', async () => {
    // The 64-bit guest's GDT (vmxGuestEvents.ts) has its 64-bit TSS at 18H.
    const jmp = await eventGuest(`.byte 0xff, 0x2c, 0x25\n.long ${POINTER}`, { fields: { exceptionBitmap: 1 << 13 } });
    jmp.t.phys.writeSized(POINTER + 4, 2, 0x18);
    jmp.launch(100);
    expect(jmp.exits).toMatchObject([{ reason: EXCEPTION }]);
    expect(jmp.read('vmExitInterruptionErrorCode')).toBe(0x18n);
    const iret = await eventGuest('iretq', { fields: { exceptionBitmap: 1 << 13, guestRflags: 0x2 | NT } });
    iret.launch(100);
    expect(iret.exits).toMatchObject([{ reason: EXCEPTION }]);
    expect(iret.read('vmExitInterruptionErrorCode')).toBe(0n);
  });
});

describe('task gates in the IDT (SDM Vol. 3C §26.4.2, §28.2.3, §28.3.3)', () => {
  const GATE = taskGate(SEL.tss);

  it('#UD through a task gate: source 3, #UD as IDT-vectoring information, RIP of UD2, RF 1 (§28.3.3)', async () => {
    const h = await guest32('nop\nud2', { gates: { 6: GATE } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE + 1) }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(6, HARDWARE));
    expect(read(h, 'vmExitInterruptionInformation') & VALID).toBe(0n);
    expect(read(h, 'guestRflags') & RF).toBe(RF);
    expect(read(h, 'guestRsp')).toBe(0x80000n);
  });

  it('#GP(1230H) through a task gate: the error code is the IDT-vectoring error code', async () => {
    const h = await guest32('mov ax, 0x1230\nmov ds, ax', { gates: { 13: GATE } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE + 4) }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(13, HARDWARE, true));
    expect(read(h, 'idtVectoringErrorCode')).toBe(0x1230n);
  });

  it('INT n through a task gate: RIP and length of INT n, type 4, RF 0 even when entered with RF = 1 (§28.2.4, §28.3.3)', async () => {
    const h = await guest32('nop\nint 0x40', { gates: { 0x40: GATE }, fields: { guestRflags: 0x2 | Number(RF) } });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE + 1), instructionLength: 2 }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(0x40, SOFTWARE_INT));
    expect(read(h, 'guestRflags')).toBe(0x2n);
    // VMLAUNCH and the NOP retired, the INT n did not (transitionRecord.ts: the exiting instruction does not complete).
    expect(h.trace.map((r) => r.icount - h.trace[0]!.icount)).toEqual([0, 2]);
  });

  it('INT n checks the task gate\'s DPL first: at CPL 3 a DPL-0 gate is #GP(IDT error code), a DPL-3 gate exits (§26.4.2 1b)', async () => {
    const cpl3 = {
      guestCsSelector: SEL.userCode | 3, guestCsAccessRights: 0xc0fb, guestSsSelector: SEL.userData | 3, guestSsAccessRights: 0xc0f3,
      exceptionBitmap: 1 << 13,
    };
    let gp = -1n;
    const h = await guest32('int 0x40\nint 0x41', {
      gates: { 0x40: GATE, 0x41: taskGate(SEL.tss, { dpl: 3 }) }, fields: cpl3,
      // Past INT 0x40 (the exit's instruction length is the INT's, §28.2.4) to INT 0x41.
      onExit: (e, hh) => e.reason === EXCEPTION ? (gp = hh.read('vmExitInterruptionErrorCode'), 'skip') : 'stop',
    });
    h.launch(100);
    expect(h.exits.map((e) => [e.reason, e.guestRip])).toEqual([[EXCEPTION, BigInt(GUEST_CODE)], [TASK_SWITCH, BigInt(GUEST_CODE + 2)]]);
    expect(gp).toBe(BigInt((0x40 << 3) | 2)); // IDT error code, EXT = 0 (SDM Vol. 3A §6.13)
    expect(h.exits[1]!.qualification).toBe(qualification(IDT_GATE, SEL.tss));
  });

  it('an external interrupt through a task gate: type 0 as IDT-vectoring information, RIP of the next instruction, acknowledged', async () => {
    const h = await guest32('nop', { gates: { 0x41: GATE }, fields: { guestRflags: 0x2 | IF } });
    const src = interruptSource(h, 0x41);
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(0x41, EXTERNAL));
    expect(src.acknowledged).toBe(1);
  });

  it('an NMI through a task gate: type 2, and NMIs are blocked before the exit (§28.1)', async () => {
    const h = await guest32('nop', { gates: { 2: GATE } });
    h.t.cpu.nmiPending = true;
    h.t.cpu.eventsPending = true;
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss) }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(2, NMI));
    expect(read(h, 'guestInterruptibilityState')).toBe(8n);
  });

  it('a task gate to a TSS not present: #NP(TSS | EXT) exits with the event as IDT-vectoring information (§26.4.2 step 4)', async () => {
    const h = await guest32('ud2', { gates: { 6: taskGate(SEL.tssAbsent) }, fields: { exceptionBitmap: 1 << 11 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION, guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'vmExitInterruptionErrorCode')).toBe(BigInt(SEL.tssAbsent | 1));
    expect(read(h, 'idtVectoringInformationField')).toBe(info(6, HARDWARE));
  });

  it('an injected hardware exception through a task gate: the guest RIP, RF as loaded (0) (§27.6.1.1, §28.3.3)', async () => {
    const h = await guest32('nop', { gates: { 13: GATE }, fields: { vmEntryInterruptionInformationField: info(13, HARDWARE, true), vmEntryExceptionErrorCode: 0x18 } });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE) }]);
    expect(read(h, 'idtVectoringInformationField')).toBe(info(13, HARDWARE, true));
    expect(read(h, 'idtVectoringErrorCode')).toBe(0x18n);
    expect(read(h, 'guestRflags')).toBe(0x2n);
  });

  it('an injected software interrupt through a task gate: the guest RIP and the VM-entry instruction length (§28.2.4)', async () => {
    const h = await guest32('nop', {
      gates: { 0x40: GATE }, fields: { vmEntryInterruptionInformationField: info(0x40, SOFTWARE_INT), vmEntryInstructionLength: 3 },
    });
    h.launch(100);
    expect(h.exits).toEqual([{ reason: TASK_SWITCH, qualification: qualification(IDT_GATE, SEL.tss), guestRip: BigInt(GUEST_CODE), instructionLength: 3 }]);
    expect(h.trace.map((r) => r.kind)).toEqual(['vmentry', 'vmexit']);
  });

  it('IA-32e mode: a task gate in the IDT is #GP(IDT error code), not a task switch (§26.4.2 e)', async () => {
    const h = await eventGuest('ud2', { fields: { exceptionBitmap: 1 << 13 } });
    writeGate(h, 6, { type: 5 });
    h.launch(100);
    expect(h.exits).toMatchObject([{ reason: EXCEPTION }]);
    expect(h.read('vmExitInterruptionErrorCode')).toBe(BigInt((6 << 3) | 2 | 1));
    expect(h.read('idtVectoringInformationField')).toBe(info(6, HARDWARE));
  });
});
