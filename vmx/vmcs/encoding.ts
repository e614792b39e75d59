/**
 * VMCS component encodings (SDM Vol. 3C §25.11.2 "VMCS Field Encoding",
 * Table 25-21 "Structure of VMCS Component Encoding"; Appendix B). The
 * 32-bit value VMREAD/VMWRITE take is built from parts:
 *
 *   bit 0      access type: 0 full, 1 high (upper 32 bits of a 64-bit field)
 *   bits 9:1   index
 *   bits 11:10 type: 0 control, 1 VM-exit information (read-only data),
 *              2 guest state, 3 host state
 *   bit 12     reserved, 0
 *   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width
 *   bits 31:15 reserved, 0
 *
 * The field table computes every encoding from these parts, so names and
 * numbers cannot drift apart, and traces decode them back for printing.
 */

export const enum FieldType { Control = 0, ReadOnlyData = 1, GuestState = 2, HostState = 3 }
export const enum FieldWidth { Bits16 = 0, Bits64 = 1, Bits32 = 2, Natural = 3 }
export const enum AccessType { Full = 0, High = 1 }

export const FIELD_TYPE_NAMES: readonly string[] = ['control', 'read-only data', 'guest state', 'host state'];
export const FIELD_WIDTH_NAMES: readonly string[] = ['16-bit', '64-bit', '32-bit', 'natural-width'];

/** Highest index bits 9:1 can hold. */
export const MAX_FIELD_INDEX = 0x1ff;

/** Bits 31:15 and 12: reserved, must be 0 in a valid encoding. */
const RESERVED_MASK = 0xffff9000;

export function encodeField(type: FieldType, width: FieldWidth, index: number, access: AccessType = AccessType.Full): number {
  if (!Number.isInteger(index) || index < 0 || index > MAX_FIELD_INDEX) {
    throw new RangeError(`VMCS field index ${index} does not fit bits 9:1`);
  }
  if (access === AccessType.High && width !== FieldWidth.Bits64) {
    throw new RangeError('high access exists only for 64-bit VMCS fields');
  }
  return (width << 13) | (type << 10) | (index << 1) | access;
}

export function fieldAccess(encoding: number): AccessType { return encoding & 1; }
export function fieldIndex(encoding: number): number { return (encoding >>> 1) & MAX_FIELD_INDEX; }
export function fieldType(encoding: number): FieldType { return (encoding >>> 10) & 3; }
export function fieldWidth(encoding: number): FieldWidth { return (encoding >>> 13) & 3; }

/**
 * Whether `encoding` is well formed: a 32-bit value with reserved bits 31:15
 * and 12 clear, and high access only on a 64-bit field. Well formed is not
 * supported: whether a field exists is the field table's business.
 */
export function isValidEncoding(encoding: number): boolean {
  return Number.isInteger(encoding) && encoding >= 0 && encoding <= 0xffffffff
    && (encoding & RESERVED_MASK) === 0
    && (fieldAccess(encoding) === AccessType.Full || fieldWidth(encoding) === FieldWidth.Bits64);
}

export interface DecodedEncoding {
  readonly type: FieldType;
  readonly width: FieldWidth;
  readonly index: number;
  readonly access: AccessType;
}

export function decodeField(encoding: number): DecodedEncoding {
  return { type: fieldType(encoding), width: fieldWidth(encoding), index: fieldIndex(encoding), access: fieldAccess(encoding) };
}

/** For traces and errors, e.g. "0x681e (natural-width guest state, index 15)". */
export function formatEncoding(encoding: number): string {
  const hex = `0x${(encoding >>> 0).toString(16).padStart(4, '0')}`;
  if (!isValidEncoding(encoding)) return `${hex} (malformed)`;
  const high = fieldAccess(encoding) === AccessType.High ? ', high' : '';
  return `${hex} (${FIELD_WIDTH_NAMES[fieldWidth(encoding)]} ${FIELD_TYPE_NAMES[fieldType(encoding)]}, index ${fieldIndex(encoding)}${high})`;
}
