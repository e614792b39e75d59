/**
 * The machine's events, delivered synchronously to listeners in the order
 * they were added (DESIGN decision 3: no unordered host state), so a run
 * produces the same sequence of callbacks every time.
 */
import type { MachineStop } from './stop.ts';

export interface MachineEventMap {
  /** A byte the guest transmitted on the serial port. */
  serial: number;
  /** A run ended (every call of run() or step() ends with one). */
  stop: MachineStop;
}

type Listener<T> = (value: T) => void;

export class MachineEvents {
  private readonly listeners: { [K in keyof MachineEventMap]: Listener<MachineEventMap[K]>[] } = { serial: [], stop: [] };

  on<K extends keyof MachineEventMap>(event: K, listener: Listener<MachineEventMap[K]>): () => void {
    const list = this.listeners[event] as Listener<MachineEventMap[K]>[];
    list.push(listener);
    return () => {
      const k = list.indexOf(listener);
      if (k >= 0) list.splice(k, 1);
    };
  }

  emit<K extends keyof MachineEventMap>(event: K, value: MachineEventMap[K]): void {
    for (const l of [...(this.listeners[event] as Listener<MachineEventMap[K]>[])]) l(value);
  }
}
