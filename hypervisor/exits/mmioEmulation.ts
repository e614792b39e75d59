/**
 * An access to a VM's memory-mapped device (hypervisor/mmio.ts), which
 * reaches L1 as an EPT violation (ept.ts): L1 reads the instruction at the
 * guest RIP through the guest's own paging (guestPaging.ts), decodes it
 * with the core's decoder, completes the access with the device and moves
 * RIP past the instruction, as KVM's MMIO emulation does. The exit's
 * guest-physical address (SDM Vol. 3C §28.2.1) says where; the decoded
 * instruction says the size and the register or immediate.
 *
 * Emulated: the MOV forms (Vol. 2B MOV) 88/89 (store a register), 8A/8B
 * (load a register: a 32-bit load zero-extends, an 8- or 16-bit one keeps
 * the rest of the register, Vol. 1 §3.4.1.1) and C6/C7 (store an
 * immediate, sign-extended to 64 bits), 1, 2, 4 or 8 bytes. Anything else
 * stops the VM with a report naming it: another instruction, an access
 * that leaves the device's region, an access made by event delivery
 * (IDT-vectoring information valid) or by the guest's page walk, or code
 * L1 cannot read.
 *
 * The VM-exit instruction length is undefined for EPT violations (§28.2.4),
 * so the decoded length moves RIP and the decision is "resume". Like a
 * skipped instruction, the emulated one ends blocking by STI or MOV SS
 * (interruptibility state bits 1:0, §25.4.2).
 */
import { EFER_LMA } from '../../cpu/system/mode.ts';
import { guestLinearToPhysical } from '../guestPaging.ts';
import { vmreadField, vmreadNumber } from '../l1/vmxOps.ts';
import type { AccessSize, MmioRegion } from '../mmio.ts';
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import { resume, stop, type Decision } from './decision.ts';
import { readOperand, writeOperand } from './gprs.ts';
import { INTERRUPTION_VALID } from './inject.ts';

const MAX_INSN_LENGTH = 15, PAGE = 4096;
const AR_L = 1 << 13, AR_DB = 1 << 14;
const CR0_PG = 0x80000000;
/** Exit qualification (§28.2.1 Table 28-7): bit 1 write; bit 7 guest-linear address valid, bit 8 access to its translation. */
const QUAL_WRITE = 1 << 1, QUAL_LINEAR_VALID = 1 << 7, QUAL_TO_TRANSLATION = 1 << 8;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The guest's code size from CS.L, CS.D and IA32_EFER.LMA (Vol. 3A §5.2.1). */
function codeSize(vcpu: Vcpu): 16 | 32 | 64 {
  const ar = vmreadNumber(vcpu.host, 'guestCsAccessRights');
  if ((ar & AR_L) !== 0 && (vmreadNumber(vcpu.host, 'guestIa32Efer') & EFER_LMA) !== 0) return 64;
  return (ar & AR_DB) !== 0 ? 32 : 16;
}

/**
 * Guest-linear to guest-physical for the guest's paging mode: none (CR0.PG
 * = 0), or 4-level paging (IA32_EFER.LMA = 1); undefined for 32-bit and
 * PAE paging, which L1 does not walk.
 */
function translator(vcpu: Vcpu): ((linear: number) => number | null) | undefined {
  const h = vcpu.host;
  if ((vmreadNumber(h, 'guestCr0') & CR0_PG) === 0) return (linear) => linear;
  if ((vmreadNumber(h, 'guestIa32Efer') & EFER_LMA) === 0) return undefined;
  const cr3 = Number(vmreadField(h, 'guestCr3'));
  return (linear) => guestLinearToPhysical(vcpu.vm, cr3, linear);
}

/** Up to 15 bytes of code from guest-linear `linear`, page by page, as far as they are mapped in guest RAM. */
function fetchCode(vcpu: Vcpu, translate: (linear: number) => number | null, linear: number): Uint8Array {
  const code = new Uint8Array(MAX_INSN_LENGTH);
  let n = 0;
  while (n < MAX_INSN_LENGTH) {
    const gpa = translate(linear + n);
    const chunk = Math.min(MAX_INSN_LENGTH - n, PAGE - ((linear + n) % PAGE));
    const bytes = gpa === null ? null : vcpu.vm.read(gpa, chunk);
    if (bytes === null) break;
    code.set(bytes, n);
    n += chunk;
  }
  return code.subarray(0, n);
}

const STORES = new Set([0x88, 0x89, 0xc6, 0xc7]), LOADS = new Set([0x8a, 0x8b]);

export function emulateMmio(vcpu: Vcpu, exit: ExitEvent, region: MmioRegion, gpa: number, qualification: number): Decision {
  const h = vcpu.host, what = `MMIO ${region.device.name} at ${hex(gpa)}`;
  const refuse = (why: string): Decision => stop('mmio', { kind: 'stopped', detail: `${what}: ${why} (rip ${hex(exit.guestRip)})` });
  if ((vmreadNumber(h, 'idtVectoringInformationField') & INTERRUPTION_VALID) !== 0) return refuse('accessed while delivering an event');
  if ((qualification & (QUAL_LINEAR_VALID | QUAL_TO_TRANSLATION)) === QUAL_LINEAR_VALID) return refuse('the guest keeps paging structures there');
  const mode = codeSize(vcpu), translate = translator(vcpu);
  if (!translate) return refuse('the guest uses 32-bit or PAE paging, which L1 does not walk');
  // Paging translates bits 47:0 of a 64-bit linear address; bits 63:48 only repeat bit 47.
  const linear = mode === 64
    ? Number(exit.guestRip & 0xffffffffffffn)
    : (Number(vmreadField(h, 'guestCsBase')) + Number(exit.guestRip)) % 2 ** 32;
  const code = fetchCode(vcpu, translate, linear);
  const i = h.c.decoder.decode({ bytes: code, start: 0, avail: code.length }, mode);
  if (!i) return refuse(`the instruction at linear ${hex(linear)} cannot be read`);
  const store = STORES.has(i.opcode), size = i.opSize as AccessSize;
  if ((!store && !LOADS.has(i.opcode)) || !i.isMem || i.rep !== 0) return refuse(`${i.mnemonic} (opcode ${hex(i.opcode)}) is not emulated`);
  if (store !== ((qualification & QUAL_WRITE) !== 0)) return refuse(`the qualification ${hex(qualification)} disagrees with ${i.mnemonic}`);
  const offset = gpa - region.gpa;
  if (offset + size > region.size) return refuse(`a ${size}-byte access leaves the region`);
  if (store) {
    const value = i.opcode >= 0xc6 ? (BigInt(i.immHi >>> 0) << 32n) | BigInt(i.imm >>> 0) : readOperand(vcpu, i.reg, i.regShift, size);
    region.device.write(offset, size, BigInt.asUintN(8 * size, value));
  } else {
    writeOperand(vcpu, i.reg, i.regShift, size, region.device.read(offset, size));
  }
  vcpu.advanceRip(exit.guestRip, i.len);
  return resume(`mmio:${store ? 'write' : 'read'}`);
}
