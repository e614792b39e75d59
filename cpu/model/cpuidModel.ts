/**
 * The CPU model as CPUID reports it (DESIGN "The CPU model" and decision 4):
 * one configurable model of a recent Intel server core, defined as data.
 * Identity: GenuineIntel, family 6 model 8FH stepping 8 (a Sapphire Rapids
 * Xeon signature), brand "turtles virtual x86-64 CPU".
 *
 * Honesty rule: a feature bit is set only when the core implements it, or
 * when the machine will have it by design. Every reported bit is a row of
 * CPUID_FEATURES saying which of those it is (`source`):
 *   core    the instructions or behaviour exist in the core;
 *   state   the register state exists with its save/restore (FXSAVE, XSAVE),
 *           moves and bitwise logic; the arithmetic does not. Reported
 *           because every x86-64 operating system requires FPU/SSE/SSE2
 *           (Intel 64 architecture includes them) and only saves, restores
 *           and copies this state;
 *   system  promised by the model, built in the system-architecture issue:
 *           PSE PAE SEP PGE (leaf 1 EDX), PCID (leaf 1 ECX), SMEP INVPCID
 *           SMAP (leaf 7 EBX), SYSCALL NX 1-GByte pages (leaf 80000001H
 *           EDX). MSR, APIC, MTRR, PAT, x2APIC, TSC-deadline and
 *           TSC_ADJUST are 'core': RDMSR/WRMSR, the local APIC
 *           (cpu/devices/apic/) and the platform MSRs (cpu/msr/platform.ts);
 *   vmx     built by the VMX work; off by default until VMX exists.
 * Every row can be switched off (or VMX on) per model, so that the absence
 * of a feature can be studied. Switches change what CPUID reports; which
 * instructions execute is the core's business.
 *
 * Address widths: MAXPHYADDR 46, linear 48 (CPUID 80000008H), as on Xeon
 * server cores without 5-level paging. Physical addresses stay below 2^52
 * (DESIGN decision 5); paging code takes reserved-bit limits from
 * `physAddrBits`.
 */
import type { Cpu } from '../cpu.ts';

const EAX = 0, EBX = 1, ECX = 2, EDX = 3;

export type FeatureSource = 'core' | 'state' | 'system' | 'vmx';

export interface FeatureDef {
  readonly name: string;
  readonly leaf: number;
  /** Register index in CPUID's output: 0 EAX, 1 EBX, 2 ECX, 3 EDX. */
  readonly reg: number;
  readonly bit: number;
  readonly source: FeatureSource;
  /** Reported by the default model. */
  readonly on: boolean;
}

/**
 * Every feature bit the model can report (SDM Vol. 2A CPUID, Tables 3-8 to
 * 3-11 and the leaf 07H / 80000001H / 80000007H descriptions). All leaf-7
 * rows are sub-leaf 0.
 */
export const CPUID_FEATURES = [
  // Leaf 01H EDX.
  { name: 'fpu', leaf: 1, reg: EDX, bit: 0, source: 'state', on: true },
  { name: 'pse', leaf: 1, reg: EDX, bit: 3, source: 'system', on: true },
  { name: 'tsc', leaf: 1, reg: EDX, bit: 4, source: 'core', on: true },
  { name: 'msr', leaf: 1, reg: EDX, bit: 5, source: 'core', on: true },
  { name: 'pae', leaf: 1, reg: EDX, bit: 6, source: 'system', on: true },
  { name: 'cx8', leaf: 1, reg: EDX, bit: 8, source: 'core', on: true },
  { name: 'apic', leaf: 1, reg: EDX, bit: 9, source: 'core', on: true },
  { name: 'sep', leaf: 1, reg: EDX, bit: 11, source: 'system', on: true },
  { name: 'mtrr', leaf: 1, reg: EDX, bit: 12, source: 'core', on: true },
  { name: 'pge', leaf: 1, reg: EDX, bit: 13, source: 'system', on: true },
  { name: 'cmov', leaf: 1, reg: EDX, bit: 15, source: 'core', on: true },
  { name: 'pat', leaf: 1, reg: EDX, bit: 16, source: 'core', on: true },
  { name: 'clfsh', leaf: 1, reg: EDX, bit: 19, source: 'core', on: true },
  { name: 'fxsr', leaf: 1, reg: EDX, bit: 24, source: 'core', on: true },
  { name: 'sse', leaf: 1, reg: EDX, bit: 25, source: 'state', on: true },
  { name: 'sse2', leaf: 1, reg: EDX, bit: 26, source: 'state', on: true },
  // Leaf 01H ECX. Bit 27 (OSXSAVE) mirrors CR4.OSXSAVE; bit 31 is 0: not a hypervisor guest.
  { name: 'vmx', leaf: 1, reg: ECX, bit: 5, source: 'vmx', on: false },
  { name: 'cx16', leaf: 1, reg: ECX, bit: 13, source: 'core', on: true },
  { name: 'pcid', leaf: 1, reg: ECX, bit: 17, source: 'system', on: true },
  { name: 'x2apic', leaf: 1, reg: ECX, bit: 21, source: 'core', on: true },
  { name: 'movbe', leaf: 1, reg: ECX, bit: 22, source: 'core', on: true },
  { name: 'popcnt', leaf: 1, reg: ECX, bit: 23, source: 'core', on: true },
  { name: 'tscDeadline', leaf: 1, reg: ECX, bit: 24, source: 'core', on: true },
  { name: 'xsave', leaf: 1, reg: ECX, bit: 26, source: 'core', on: true },
  { name: 'rdrand', leaf: 1, reg: ECX, bit: 30, source: 'core', on: true },
  // Leaf 07H sub-leaf 0 EBX/ECX. BMI1 stays off: TZCNT alone is not BMI1 (ANDN, BEXTR, BLSI... too).
  { name: 'tscAdjust', leaf: 7, reg: EBX, bit: 1, source: 'core', on: true },
  { name: 'fdpExcptnOnly', leaf: 7, reg: EBX, bit: 6, source: 'core', on: true },
  { name: 'smep', leaf: 7, reg: EBX, bit: 7, source: 'system', on: true },
  { name: 'invpcid', leaf: 7, reg: EBX, bit: 10, source: 'system', on: true },
  { name: 'fcsFdsDeprecated', leaf: 7, reg: EBX, bit: 13, source: 'core', on: true },
  { name: 'rdseed', leaf: 7, reg: EBX, bit: 18, source: 'core', on: true },
  { name: 'smap', leaf: 7, reg: EBX, bit: 20, source: 'system', on: true },
  { name: 'clflushopt', leaf: 7, reg: EBX, bit: 23, source: 'core', on: true },
  { name: 'rdpid', leaf: 7, reg: ECX, bit: 22, source: 'core', on: true },
  // Leaf 80000001H ECX/EDX.
  { name: 'lahfLm', leaf: 0x80000001, reg: ECX, bit: 0, source: 'core', on: true },
  { name: 'lzcnt', leaf: 0x80000001, reg: ECX, bit: 5, source: 'core', on: true },
  { name: 'prefetchw', leaf: 0x80000001, reg: ECX, bit: 8, source: 'core', on: true },
  { name: 'syscall', leaf: 0x80000001, reg: EDX, bit: 11, source: 'system', on: true },
  { name: 'nx', leaf: 0x80000001, reg: EDX, bit: 20, source: 'system', on: true },
  { name: 'page1gb', leaf: 0x80000001, reg: EDX, bit: 26, source: 'system', on: true },
  { name: 'rdtscp', leaf: 0x80000001, reg: EDX, bit: 27, source: 'core', on: true },
  { name: 'lm', leaf: 0x80000001, reg: EDX, bit: 29, source: 'core', on: true },
  // Leaf 80000007H EDX: the TSC counts retired instructions (DESIGN decision 3), a constant rate.
  { name: 'invariantTsc', leaf: 0x80000007, reg: EDX, bit: 8, source: 'core', on: true },
] as const satisfies readonly FeatureDef[];

export type FeatureName = (typeof CPUID_FEATURES)[number]['name'];
export type FeatureSwitches = Partial<Record<FeatureName, boolean>>;

/** XCR0 bits the core supports: x87 (0) and SSE (1) (SDM Vol. 1 §13.3). */
export const XCR0_SUPPORTED = 0x3;
/** Legacy region (512) plus XSAVE header (64): the whole standard-format area (SDM Vol. 1 §13.4). */
export const XSAVE_AREA_SIZE = 576;

const CR4_OSXSAVE = 1 << 18;
const OSXSAVE_BIT = 1 << 27;
const HTT_BIT = 1 << 28;

export interface CpuModelConfig {
  /** Switches over the default feature set. */
  features?: FeatureSwitches;
  /** Cores per package, for the topology leaves (0BH, 1FH) and HTT. */
  coresPerPackage?: number;
}

function dwordsOf(s: string, start: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | (s.charCodeAt(start + k) || 0);
  return v;
}

export class CpuModel {
  readonly vendor = 'GenuineIntel';
  readonly family = 6;
  readonly modelNumber = 0x8f;
  readonly stepping = 8;
  readonly brand = 'turtles virtual x86-64 CPU';
  readonly maxBasicLeaf = 0x1f;
  readonly maxExtLeaf = 0x80000008;
  readonly physAddrBits = 46;
  readonly linearAddrBits = 48;
  readonly coresPerPackage: number;
  readonly switches: Readonly<Record<FeatureName, boolean>>;
  /** Leaf values for sub-leaf 0 before the per-core parts: [leaf * 4 + reg]. */
  private readonly basic: Int32Array;
  private readonly ext: Int32Array;

  constructor(config: CpuModelConfig = {}) {
    const cores = config.coresPerPackage ?? 1;
    if (!Number.isInteger(cores) || cores < 1 || cores > 256) {
      throw new Error(`CPU model: coresPerPackage must be an integer 1..256, got ${cores}`);
    }
    this.coresPerPackage = cores;
    const switches = {} as Record<FeatureName, boolean>;
    for (const f of CPUID_FEATURES) switches[f.name] = f.on;
    for (const [name, on] of Object.entries(config.features ?? {})) {
      if (!(name in switches)) throw new Error(`CPU model: unknown feature '${name}'`);
      switches[name as FeatureName] = on === true;
    }
    this.switches = Object.freeze(switches);
    this.basic = new Int32Array((this.maxBasicLeaf + 1) * 4);
    this.ext = new Int32Array((this.maxExtLeaf - 0x80000000 + 1) * 4);
    this.fillStatic();
  }

  has(name: FeatureName): boolean {
    return this.switches[name];
  }

  /** A copy of this model with some features switched. */
  with(config: CpuModelConfig): CpuModel {
    return new CpuModel({
      coresPerPackage: config.coresPerPackage ?? this.coresPerPackage,
      features: { ...this.switches, ...config.features },
    });
  }

  /** log2 of the APIC-ID space per package (cores rounded up to a power of two). */
  private coreShift(): number {
    let s = 0;
    while (1 << s < this.coresPerPackage) s++;
    return s;
  }

  private fillStatic(): void {
    const b = this.basic, x = this.ext;
    b[0 * 4 + EAX] = this.maxBasicLeaf;
    b[0 * 4 + EBX] = dwordsOf(this.vendor, 0);
    b[0 * 4 + EDX] = dwordsOf(this.vendor, 4);
    b[0 * 4 + ECX] = dwordsOf(this.vendor, 8);
    // Leaf 01H EAX: stepping[3:0], model[7:4], family[11:8], extended model[19:16] (SDM Figure 3-6).
    b[1 * 4 + EAX] = this.stepping | ((this.modelNumber & 0xf) << 4) | (this.family << 8) | ((this.modelNumber >> 4) << 16);
    // EBX: CLFLUSH line size in 8-byte units [15:8], addressable logical-processor IDs [23:16]; APIC ID added per core.
    b[1 * 4 + EBX] = (8 << 8) | ((1 << this.coreShift()) << 16);
    if (this.coresPerPackage > 1) b[1 * 4 + EDX] |= HTT_BIT;
    // Leaf 80000000H: highest extended leaf; EBX/ECX/EDX reserved (0) on Intel.
    x[EAX] = this.maxExtLeaf;
    // Leaves 80000002H-80000004H: the brand string, 16 bytes each, NUL-padded.
    for (let k = 0; k < 12; k++) x[2 * 4 + k] = dwordsOf(this.brand, k * 4);
    x[8 * 4 + EAX] = this.physAddrBits | (this.linearAddrBits << 8);
    for (const f of CPUID_FEATURES) {
      if (!this.switches[f.name]) continue;
      const t = f.leaf >= 0x80000000 ? x : b;
      t[(f.leaf >= 0x80000000 ? f.leaf - 0x80000000 : f.leaf) * 4 + f.reg] |= 1 << f.bit;
    }
  }

  /**
   * CPUID(EAX=leaf, ECX=sub) for core `c` into out[0..3] = EAX, EBX, ECX, EDX.
   * A leaf above the highest basic leaf that is not a valid extended leaf
   * returns the highest basic leaf's data, as Intel processors do (SDM
   * Vol. 2A CPUID, "INPUT EAX = 0").
   */
  query(c: Cpu, leaf: number, sub: number, out: Int32Array): void {
    const l = leaf >>> 0;
    let t = this.basic, n = Math.min(l, this.maxBasicLeaf);
    if (l >= 0x80000000 && l <= this.maxExtLeaf) { t = this.ext; n = l - 0x80000000; }
    out[EAX] = t[n * 4 + EAX]!;
    out[EBX] = t[n * 4 + EBX]!;
    out[ECX] = t[n * 4 + ECX]!;
    out[EDX] = t[n * 4 + EDX]!;
    if (t !== this.basic) return;
    switch (n) {
      case 1:
        out[EBX] |= (c.id & 0xff) << 24; // initial APIC ID
        if (this.switches.xsave && (c.cr4 & CR4_OSXSAVE) !== 0) out[ECX] |= OSXSAVE_BIT;
        break;
      case 7:
        if (sub !== 0) out.fill(0); // EAX of sub-leaf 0 = 0: no further sub-leaves
        break;
      case 0xb: case 0x1f:
        this.topology(c, sub, out);
        break;
      case 0xd:
        this.xsaveLeaf(sub, out);
        break;
    }
  }

  /**
   * Extended topology (SDM Vol. 2A CPUID leaves 0BH/1FH): one thread per
   * core (SMT level, shift 0), `coresPerPackage` cores; x2APIC ID = core id.
   */
  private topology(c: Cpu, sub: number, out: Int32Array): void {
    const level = sub & 0xff;
    out[EAX] = level === 1 ? this.coreShift() : 0;
    out[EBX] = level === 0 ? 1 : level === 1 ? this.coresPerPackage : 0;
    out[ECX] = level | ((level === 0 ? 1 : level === 1 ? 2 : 0) << 8);
    out[EDX] = c.id;
  }

  /**
   * XSAVE features (SDM Vol. 1 §13.2): sub-leaf 0 gives the supported XCR0
   * bits and the area sizes (legacy + header, no extended components);
   * sub-leaf 1 reports no XSAVEOPT/XSAVEC/XGETBV1/XSAVES; components 2+ do not exist.
   */
  private xsaveLeaf(sub: number, out: Int32Array): void {
    out.fill(0);
    if (sub !== 0 || !this.switches.xsave) return;
    out[EAX] = XCR0_SUPPORTED;
    out[EBX] = XSAVE_AREA_SIZE; // for the components enabled in XCR0 (x87 and SSE live in the legacy region)
    out[ECX] = XSAVE_AREA_SIZE; // for all supported components
  }
}

export const DEFAULT_CPU_MODEL = new CpuModel();
