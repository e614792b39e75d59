/**
 * Memory-mapped devices of a VM (KVM's MMIO bus): guest-physical ranges
 * outside guest RAM, which ept12 leaves unmapped, so each access is an EPT
 * violation (SDM Vol. 3C §29.3.3.2) that L1 completes by emulating the
 * instruction (exits/mmio.ts) and calling the device.
 */

/** The sizes of the accesses a device sees: those of a MOV (1, 2, 4 or 8 bytes). */
export type AccessSize = 1 | 2 | 4 | 8;

export interface MmioDevice {
  /** For reports ("MMIO write to <name>"). */
  readonly name: string;
  /** The `size`-byte value the guest reads at `offset` from the region's start (bits above size*8 are ignored). */
  read(offset: number, size: AccessSize): bigint;
  /** The guest stores the `size`-byte `value` at `offset` from the region's start. */
  write(offset: number, size: AccessSize, value: bigint): void;
}

/** A device at guest-physical [gpa, gpa + size). */
export interface MmioRegion {
  readonly gpa: number;
  readonly size: number;
  readonly device: MmioDevice;
}
