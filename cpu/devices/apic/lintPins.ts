/**
 * A local APIC's two local interrupt pins, LINT0 and LINT1 (SDM Vol. 3A
 * §11.5.1): each pin's level, polarity-adjusted assertion, and the remote
 * IRR of a level-triggered fixed interrupt (set when the APIC accepts it,
 * cleared by the EOI of its vector). With the APIC globally disabled the
 * pins are the core's INTR and NMI inputs (§11.4.3).
 */
import { ApicReg, DeliveryMode, LVT_DELIVERY_MODE, LVT_LEVEL, LVT_MASKED, LVT_POLARITY_LOW, LVT_VECTOR } from './registers.ts';

/** What the pins need from their local APIC. */
export interface LintHost {
  readonly enabled: boolean;
  lvtValue(reg: number): number;
  acceptFixed(vector: number, level: boolean): void;
  acceptNmi(): void;
  acceptInit(): void;
  /** Re-evaluates whether a maskable interrupt (here: ExtINT on LINT0) is ready. */
  kick(): void;
}

const LINT_REG = [ApicReg.LVT_LINT0, ApicReg.LVT_LINT1] as const;

export class LintPins {
  private readonly level = [false, false];
  readonly remoteIrr = [false, false];

  constructor(private readonly host: LintHost) {}

  private asserted(pin: 0 | 1, lvt: number): boolean {
    return this.level[pin] !== ((lvt & LVT_POLARITY_LOW) !== 0);
  }

  /** The electrical level on a pin: the LVT entry says what its assertion delivers. */
  set(pin: 0 | 1, level: boolean): void {
    const h = this.host;
    const lvt = h.lvtValue(LINT_REG[pin]);
    const wasAsserted = this.asserted(pin, lvt);
    this.level[pin] = level;
    if (!h.enabled) {
      if (pin === 0 && level) h.kick();
      else if (pin === 1 && level && !wasAsserted) h.acceptNmi();
      return;
    }
    if ((lvt & LVT_MASKED) || !this.asserted(pin, lvt)) return;
    const edge = !wasAsserted;
    switch ((lvt & LVT_DELIVERY_MODE) >>> 8) {
      case DeliveryMode.Fixed:
        if (lvt & LVT_LEVEL) this.serviceLevel(pin);
        else if (edge) h.acceptFixed(lvt & LVT_VECTOR, false);
        break;
      case DeliveryMode.ExtInt: h.kick(); break; // level-sensitive: INTR is sampled when the core asks
      case DeliveryMode.Nmi: if (edge) h.acceptNmi(); break; // NMI is always edge-sensitive
      case DeliveryMode.Init: if (edge) h.acceptInit(); break;
      default: break;
    }
  }

  /** After an LVT write or an EOI: a level-triggered fixed interrupt is (re)sent while asserted with remote IRR clear. */
  serviceLevel(pin: 0 | 1): void {
    const h = this.host;
    const lvt = h.lvtValue(LINT_REG[pin]);
    if ((lvt & LVT_MASKED) || !this.asserted(pin, lvt)) return;
    const mode = (lvt & LVT_DELIVERY_MODE) >>> 8;
    if (mode === DeliveryMode.ExtInt) h.kick();
    if (mode !== DeliveryMode.Fixed || !(lvt & LVT_LEVEL) || this.remoteIrr[pin]) return;
    this.remoteIrr[pin] = true;
    h.acceptFixed(lvt & LVT_VECTOR, true);
  }

  /** EOI of a level-triggered vector: the pin delivering it drops remote IRR and may send again. */
  eoi(vector: number): void {
    for (const pin of [0, 1] as const) {
      if (this.remoteIrr[pin] && (this.host.lvtValue(LINT_REG[pin]) & LVT_VECTOR) === vector) {
        this.remoteIrr[pin] = false;
        this.serviceLevel(pin);
      }
    }
  }

  reset(): void {
    this.remoteIrr[0] = this.remoteIrr[1] = false;
  }
}
