/**
 * EPT violations and misconfigurations met by IRET, and blocking by NMI
 * (SDM Vol. 3C, 2023+ numbering): an IRET that ends blocking by NMI
 * (virtual-NMI blocking with "virtual NMIs") leaves it ended when the VM
 * exit commences (§28.1), unless "NMI exiting" = 1 and "virtual NMIs" = 0,
 * where IRET does not end it (§26.3); an EPT violation records the end in
 * bit 12 of its exit qualification, "NMI unblocking due to IRET" (§28.2.1
 * Table 28-7, §28.2.3), undefined (0 here) with "NMI exiting" and not
 * "virtual NMIs". Expected values are composed from Table 28-7's bit
 * positions and the interruptibility-state layout (§25.4.2 Table 25-3:
 * bit 3 blocking by NMI).
 */
import { describe, expect, it } from 'vitest';
import { FULL_VMX_MODEL } from '../../vmx/model/presets.ts';
import { EPT_R, EPT_W, EPT_X, type EptBuilder } from '../support/eptBuilder.ts';
import { GUEST_CODE, type HarnessOptions, VmxHarness } from '../support/vmxHarness.ts';

const EPT_VIOLATION = 48, EPT_MISCONFIG = 49;
/** Table 28-7: bits 2:0 the access, 5:3 the translation's R/W/X, 7 linear address valid, 8 access to the translation, 12 NMI unblocking due to IRET. */
const Q_READ = 1n, Q_LINEAR = 0x80n, Q_TRANSLATION = 0x100n, Q_NMI_UNBLOCKING = 0x1000n;
const perms = (p: bigint): bigint => p << 3n;
/** Interruptibility state bit 3: blocking by NMI (virtual-NMI blocking with "virtual NMIs"). */
const BLOCKING_BY_NMI = 8n;
/** The IRET frame (RIP, CS, RFLAGS, RSP, SS) in a page of its own; the page RSI points at for a later access. */
const FRAME = 0x480fd8n, LATER = 0x490010n;
const CODE = BigInt(GUEST_CODE);
/** A GDT for the IRET that completes: 08H flat 64-bit code, 10H flat data (Vol. 3A Figure 3-8). */
const GDT = 0x2000n;

type Pin = NonNullable<NonNullable<HarnessOptions['controls']>['pin']>;

interface Outcome {
  reason: number;
  qual: bigint;
  gpa: bigint;
  rip: bigint;
  interruptibility: bigint;
}

const write64 = (h: VmxHarness, pa: bigint, v: bigint): void => h.t.phys.ramPage(Number(pa >> 12n))!.setBigUint64(Number(pa & 0xfffn), v, true);

/** Runs `guest` (RSP = FRAME, RSI = LATER) to its first exit under identity EPT changed by `ept`. */
async function run(guest: string, pin: Pin, blocked: boolean, ept: (b: EptBuilder) => void, frame?: bigint[]): Promise<Outcome> {
  const h = await VmxHarness.create(guest, {
    features: FULL_VMX_MODEL,
    controls: { pin },
    fields: { guestRsp: FRAME, guestInterruptibilityState: blocked ? BLOCKING_BY_NMI : 0n, guestGdtrBase: GDT, guestGdtrLimit: 0x17 },
    ept: (b) => {
      b.identity(0, 0x400000, { size: '2M' });
      b.identity(0x400000, 0x800000);
      ept(b);
    },
  });
  write64(h, GDT + 8n, 0x00af9b000000ffffn);
  write64(h, GDT + 16n, 0x00cf93000000ffffn);
  frame?.forEach((v, k) => write64(h, FRAME + 8n * BigInt(k), v));
  h.t.setReg('rsi', LATER);
  h.launch(100);
  return {
    reason: Number(h.read('exitReason')),
    qual: h.read('exitQualification'),
    gpa: h.read('guestPhysicalAddress'),
    rip: h.read('guestRip'),
    interruptibility: h.read('guestInterruptibilityState'),
  };
}

/** IRETQ whose first pop reads a page the EPT makes execute-only: a read, bits 5:3 = X. */
const iretOnExecuteOnly = (pin: Pin, blocked: boolean): Promise<Outcome> =>
  run('iretq', pin, blocked, (b) => b.protect(FRAME, 1, EPT_X));
const IRET_VIOLATION = Q_READ | perms(EPT_X) | Q_LINEAR | Q_TRANSLATION;

describe('an EPT violation on IRET\'s stack read: bit 12 "NMI unblocking due to IRET" (§28.2.1 Table 28-7, §28.2.3, §28.1)', () => {
  it('"NMI exiting" = 0 with blocking by NMI: bit 12 = 1, and the blocking is cleared before the exit commences', async () => {
    const o = await iretOnExecuteOnly([], true);
    expect([o.reason, o.qual.toString(16), o.gpa, o.rip]).toEqual([EPT_VIOLATION, (IRET_VIOLATION | Q_NMI_UNBLOCKING).toString(16), FRAME, CODE]);
    expect(o.interruptibility).toBe(0n);
  });

  it('"virtual NMIs" = 1 with virtual-NMI blocking: bit 12 = 1, virtual-NMI blocking cleared', async () => {
    const o = await iretOnExecuteOnly(['nmiExiting', 'virtualNmis'], true);
    expect([o.reason, o.qual.toString(16)]).toEqual([EPT_VIOLATION, (IRET_VIOLATION | Q_NMI_UNBLOCKING).toString(16)]);
    expect(o.interruptibility).toBe(0n);
  });

  it('"NMI exiting" = 1 and "virtual NMIs" = 0: IRET keeps the blocking (§26.3), bit 12 (undefined) is 0', async () => {
    const o = await iretOnExecuteOnly(['nmiExiting'], true);
    expect([o.reason, o.qual.toString(16)]).toEqual([EPT_VIOLATION, IRET_VIOLATION.toString(16)]);
    expect(o.interruptibility).toBe(BLOCKING_BY_NMI);
  });

  it('without blocking by NMI before the IRET: bit 12 = 0', async () => {
    for (const pin of [[], ['nmiExiting', 'virtualNmis']] as Pin[]) {
      const o = await iretOnExecuteOnly(pin, false);
      expect([o.reason, o.qual.toString(16), o.interruptibility]).toEqual([EPT_VIOLATION, IRET_VIOLATION.toString(16), 0n]);
    }
  });

  it('a not-present stack page: bits 5:3 = 0, bit 12 = 1', async () => {
    const o = await run('iretq', [], true, (b) => b.unmap(FRAME, 1));
    expect([o.reason, o.qual.toString(16)]).toEqual([EPT_VIOLATION, (Q_READ | Q_LINEAR | Q_TRANSLATION | Q_NMI_UNBLOCKING).toString(16)]);
  });

  it('an IRET that completes, then a violation by the next instruction: bit 12 = 0 (it concerns the IRET\'s own exit), blocking stays cleared', async () => {
    // Frame: RIP = the MOV after the IRETQ (2 bytes), CS 08H, RFLAGS 2, RSP = FRAME + 40 (the frame popped), SS 10H.
    const frame = [CODE + 2n, 0x08n, 0x2n, FRAME + 40n, 0x10n];
    const o = await run('iretq\nmov rax, [rsi]', [], true, (b) => b.unmap(LATER, 1), frame);
    expect([o.reason, o.qual.toString(16), o.gpa, o.rip]).toEqual([EPT_VIOLATION, (Q_READ | Q_LINEAR | Q_TRANSLATION).toString(16), LATER, CODE + 2n]);
    expect(o.interruptibility).toBe(0n);
  });
});

describe('an EPT misconfiguration on IRET\'s stack read clears blocking by NMI as a violation does (§28.1)', () => {
  // A write-only leaf (bits 2:0 = 010b) is a misconfiguration (§29.3.3.1); its qualification is 0 (no bit 12).
  it('"NMI exiting" = 0: cleared', async () => {
    const o = await run('iretq', [], true, (b) => b.protect(FRAME, 1, EPT_W));
    expect([o.reason, o.qual, o.gpa, o.interruptibility]).toEqual([EPT_MISCONFIG, 0n, FRAME, 0n]);
  });

  it('"NMI exiting" = 1, "virtual NMIs" = 0: kept', async () => {
    const o = await run('iretq', ['nmiExiting'], true, (b) => b.protect(FRAME, 1, EPT_W));
    expect([o.reason, o.interruptibility]).toEqual([EPT_MISCONFIG, BLOCKING_BY_NMI]);
  });

  it('and a read-only stack page is enough for the IRET (no exit from EPT)', async () => {
    const frame = [CODE + 2n, 0x08n, 0x2n, FRAME + 40n, 0x10n];
    const o = await run('iretq\ncpuid', [], true, (b) => b.protect(FRAME, 1, EPT_R), frame);
    expect([o.reason, o.rip, o.interruptibility]).toEqual([10, CODE + 2n, 0n]);
  });
});
