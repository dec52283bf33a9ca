/**
 * Pure conversions of src/cdc/values.ts. Expected values are worked out by hand
 * (comments) or taken from PostgreSQL's rendering in the captured fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToBigInt, canonicalZonedTimestamp, convertValue, decodeDecimalBase64, formatDecimal, formatEpochDays, formatEpochMicros,
} from '../../../src/cdc/values.ts';
import { DecodeError } from '../../../src/errors.ts';

void test('formatDecimal keeps the scale: negatives, scale 0, leading zeros, scale beyond the digits', () => {
  assert.equal(formatDecimal(1250n, 2), '12.50');
  assert.equal(formatDecimal(-1250n, 2), '-12.50');
  assert.equal(formatDecimal(1050n, 2), '10.50');
  assert.equal(formatDecimal(0n, 2), '0.00');
  assert.equal(formatDecimal(0n, 0), '0');
  assert.equal(formatDecimal(123n, 0), '123');
  assert.equal(formatDecimal(-123n, 0), '-123');
  assert.equal(formatDecimal(5n, 2), '0.05'); // leading zero before the point
  assert.equal(formatDecimal(-5n, 2), '-0.05');
  assert.equal(formatDecimal(7n, 3), '0.007');
  assert.equal(formatDecimal(5n, 6), '0.000005'); // scale > number of digits
  assert.equal(formatDecimal(-1n, 10), '-0.0000000001');
  assert.equal(formatDecimal(100n, 2), '1.00');
  assert.equal(formatDecimal(999999999999n, 2), '9999999999.99');
  assert.equal(formatDecimal(12n, -2), '1200'); // negative scale: unscaled × 10^2
  assert.equal(formatDecimal(123456789012345678901234567890n, 5), '1234567890123456789012345.67890'); // beyond 2^64
});

void test('bytesToBigInt reads big-endian two\'s complement', () => {
  const b = (...xs: number[]) => bytesToBigInt(Uint8Array.from(xs));
  assert.equal(b(), 0n);
  assert.equal(b(0x00), 0n);
  assert.equal(b(0x7f), 127n);
  assert.equal(b(0x80), -128n); // sign bit set: 128 − 256
  assert.equal(b(0xff), -1n);
  assert.equal(b(0xfb), -5n);
  assert.equal(b(0x00, 0x80), 128n); // leading 0x00 keeps it positive
  assert.equal(b(0x00, 0xff), 255n);
  assert.equal(b(0xff, 0x7f), -129n); // 0xff7f − 0x10000
  assert.equal(b(0x04, 0x1a), 1050n);
  assert.equal(b(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -1n); // 9 bytes
  assert.equal(b(0x80, 0, 0, 0, 0, 0, 0, 0), -(2n ** 63n));
  assert.equal(b(0x00, 0xe8, 0xd4, 0xa5, 0x0f, 0xff), 999999999999n); // 1e12 − 1 = 0xE8D4A50FFF
  assert.equal(decodeDecimalBase64(Buffer.from([0xff, 0x7f]).toString('base64'), 2), '-1.29');
  assert.equal(decodeDecimalBase64('', 2), '0.00');
});

void test('formatEpochMicros: µs since the epoch → UTC with six fraction digits, including before 1970', () => {
  assert.equal(formatEpochMicros(0), '1970-01-01T00:00:00.000000Z');
  assert.equal(formatEpochMicros(1), '1970-01-01T00:00:00.000001Z');
  assert.equal(formatEpochMicros(-1), '1969-12-31T23:59:59.999999Z');
  assert.equal(formatEpochMicros(-1n), '1969-12-31T23:59:59.999999Z');
  assert.equal(formatEpochMicros(-1_000_000), '1969-12-31T23:59:59.000000Z'); // exact second: no borrow
  assert.equal(formatEpochMicros(-1_500_000), '1969-12-31T23:59:58.500000Z');
  assert.equal(formatEpochMicros(-86_400_000_000n), '1969-12-31T00:00:00.000000Z');
  // Captured from Debezium for TIMESTAMP '1965-07-01 08:30:00.5' (PostgreSQL renders 1965-07-01T08:30:00.500000Z)
  assert.equal(formatEpochMicros(-142097399500000), '1965-07-01T08:30:00.500000Z');
  assert.equal(formatEpochMicros(BigInt(Date.UTC(2024, 1, 29, 23, 59, 59)) * 1000n + 123456n), '2024-02-29T23:59:59.123456Z');
});

void test('formatEpochDays: days since the epoch → YYYY-MM-DD', () => {
  assert.equal(formatEpochDays(0), '1970-01-01');
  assert.equal(formatEpochDays(-1), '1969-12-31');
  assert.equal(formatEpochDays(1), '1970-01-02');
  // Captured from Debezium for DATE '1962-03-04'
  assert.equal(formatEpochDays(-2860), '1962-03-04');
  // 2000 is a leap year: 30 years × 365 + 7 leap days (72..96) + 31 + 28 days = 11016 → Feb 29
  assert.equal(formatEpochDays(11016), '2000-02-29');
  assert.equal(formatEpochDays(20089), '2025-01-01');
});

void test('canonicalZonedTimestamp: offsets applied, fractions padded or cut to µs', () => {
  assert.equal(canonicalZonedTimestamp('2024-03-01T00:00:00Z'), '2024-03-01T00:00:00.000000Z'); // Debezium trims the fraction
  assert.equal(canonicalZonedTimestamp('2024-03-01T00:00:00.5Z'), '2024-03-01T00:00:00.500000Z');
  assert.equal(canonicalZonedTimestamp('2024-03-01T00:00:00.123456Z'), '2024-03-01T00:00:00.123456Z');
  assert.equal(canonicalZonedTimestamp('2024-03-01T00:00:00.123456789Z'), '2024-03-01T00:00:00.123456Z');
  assert.equal(canonicalZonedTimestamp('2024-02-29T23:59:59.123456+05:30'), '2024-02-29T18:29:59.123456Z');
  assert.equal(canonicalZonedTimestamp('2025-01-02T03:04:05.000001-08:00'), '2025-01-02T11:04:05.000001Z');
  assert.equal(canonicalZonedTimestamp('2025-01-01T01:00:00.25+02:00'), '2024-12-31T23:00:00.250000Z'); // crosses the year
  assert.equal(canonicalZonedTimestamp('2024-01-01T05:30:00+0530'), '2024-01-01T00:00:00.000000Z');
  assert.equal(canonicalZonedTimestamp('2024-01-01T00:00:00+00:00'), '2024-01-01T00:00:00.000000Z');
  assert.equal(canonicalZonedTimestamp('1969-12-31T23:59:59.999999Z'), '1969-12-31T23:59:59.999999Z');
  assert.equal(canonicalZonedTimestamp('infinity'), 'infinity');
});

void test('convertValue: a Decimal takes its scale from the schema; bad values are DECODE_BAD_VALUE', () => {
  const decimal = { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } };
  assert.equal(convertValue('BBo=', decimal, 'after.price'), '10.50');
  assert.equal(convertValue(null, decimal, 'after.price'), null);
  assert.equal(convertValue({ scale: 3, value: Buffer.from([0xfb]).toString('base64') }, { type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' }, 'x'), '-0.005');
  assert.throws(() => convertValue(12, decimal, 'after.price'), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_BAD_VALUE' && e.message.includes('after.price'));
  assert.throws(() => convertValue('{not json', { type: 'string', name: 'io.debezium.data.Json' }, 'after.j'), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_BAD_VALUE');
  assert.equal(convertValue('9007199254740993', { type: 'int64' }, 'x'), '9007199254740993'); // beyond 2^53: kept exact as a string
});
