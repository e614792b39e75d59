import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AccessType, decodeField, encodeField, FieldType, FieldWidth, formatEncoding, isValidEncoding,
} from '../../vmx/vmcs/encoding.ts';

// SDM Vol. 3C §25.11.2, Table 25-21 "Structure of VMCS Component Encoding".
describe('VMCS component encoding (SDM Vol. 3C §25.11.2)', () => {
  it('packs access type, index, type and width into bits 0, 9:1, 11:10, 14:13', () => {
    expect(encodeField(FieldType.GuestState, FieldWidth.Natural, 15)).toBe(0x681e); // guest RIP
    expect(encodeField(FieldType.Control, FieldWidth.Bits64, 13, AccessType.High)).toBe(0x201b); // EPTP high
    expect(encodeField(FieldType.HostState, FieldWidth.Bits32, 0)).toBe(0x4c00); // host IA32_SYSENTER_CS
    expect(encodeField(FieldType.ReadOnlyData, FieldWidth.Bits16, 0x1ff)).toBe(0x07fe);
  });

  it('refuses indexes beyond bits 9:1 and high access to non-64-bit fields', () => {
    expect(() => encodeField(FieldType.Control, FieldWidth.Bits32, 512)).toThrow(RangeError);
    expect(() => encodeField(FieldType.Control, FieldWidth.Bits32, -1)).toThrow(RangeError);
    expect(() => encodeField(FieldType.Control, FieldWidth.Bits32, 0, AccessType.High)).toThrow(RangeError);
  });

  it('round-trips every (type, width, index, access)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 511 }), fc.boolean(),
      (type, width, index, high) => {
        const access = high && width === FieldWidth.Bits64 ? AccessType.High : AccessType.Full;
        const enc = encodeField(type, width, index, access);
        expect(isValidEncoding(enc)).toBe(true);
        expect(decodeField(enc)).toEqual({ type, width, index, access });
      },
    ));
  });

  it('a 15-bit value is valid exactly when bit 12 is clear and high access is on a 64-bit field', () => {
    const wrong: number[] = [];
    for (let enc = 0; enc < 0x8000; enc++) {
      const bit12 = (enc >> 12) & 1;
      const high = enc & 1;
      const width = (enc >> 13) & 3;
      if (isValidEncoding(enc) !== (bit12 === 0 && (high === 0 || width === 1))) wrong.push(enc);
    }
    expect(wrong).toEqual([]);
  });

  it('rejects reserved bits 31:15 and non-32-bit values', () => {
    for (let bit = 15; bit < 32; bit++) expect(isValidEncoding(0x681e + 2 ** bit)).toBe(false);
    expect(isValidEncoding(-2)).toBe(false);
    expect(isValidEncoding(2 ** 32)).toBe(false);
    expect(isValidEncoding(0x681e + 0.5)).toBe(false);
  });

  it('formats encodings for traces', () => {
    expect(formatEncoding(0x681e)).toBe('0x681e (natural-width guest state, index 15)');
    expect(formatEncoding(0x201b)).toBe('0x201b (64-bit control, index 13, high)');
    expect(formatEncoding(0x1000)).toBe('0x1000 (malformed)');
  });
});
