/**
 * convertValue (src/cdc/values.ts) for every Kafka Connect / Debezium logical
 * type name it handles, int64 range handling, structs/arrays and the error
 * messages of DECODE_BAD_VALUE.
 *
 * Expected values are derived by hand from the Debezium PostgreSQL connector's
 * "Data type mappings" (Time = ms past midnight, MicroTime = µs, NanoTime = ns;
 * Timestamp = ms since the epoch, MicroTimestamp = µs, NanoTimestamp = ns;
 * Date = days since the epoch) and Kafka Connect's Decimal (big-endian
 * two's-complement unscaled value, `scale` parameter). Reference instants:
 * 1_700_000_000 s after the epoch is 2023-11-14T22:13:20Z; 12:34:56.789012 is
 * 12·3600 + 34·60 + 56 = 45_296 s (+ .789012) past midnight; day 20_089 is
 * 2025-01-01 (as in the captured fixtures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalZonedTimestamp, convertValue, type ConnectSchema } from '../../../src/cdc/values.ts';
import { DecodeError, DecodeErrorCode } from '../../../src/errors.ts';

const named = (name: string, type: string): ConnectSchema => ({ type, name });

/** Asserts that converting `value` throws DECODE_BAD_VALUE with exactly `message`. */
function assertBadValue(value: unknown, schema: ConnectSchema, path: string, message: string): void {
  assert.throws(() => convertValue(value, schema, path), (e: unknown) => {
    assert.ok(e instanceof DecodeError, `DecodeError, got ${String(e)}`);
    assert.equal(e.code, DecodeErrorCode.BadValue);
    assert.equal(e.message, message);
    assert.ok(e.cause instanceof Error, 'the original error is kept as the cause');
    return true;
  });
}

void test('time of day: Time/connect Time are ms, MicroTime µs, NanoTime ns past midnight', () => {
  // 12:34:56.789 = 45_296_789 ms
  assert.equal(convertValue(45_296_789, named('io.debezium.time.Time', 'int32'), 'c'), '12:34:56.789000');
  assert.equal(convertValue(45_296_789, named('org.apache.kafka.connect.data.Time', 'int32'), 'c'), '12:34:56.789000');
  assert.equal(convertValue(45_296_789_012, named('io.debezium.time.MicroTime', 'int64'), 'c'), '12:34:56.789012');
  // ns: the sub-µs digits (345) are truncated
  assert.equal(convertValue(45_296_789_012_345, named('io.debezium.time.NanoTime', 'int64'), 'c'), '12:34:56.789012');
  // Last µs of the day, and midnight
  assert.equal(convertValue(86_399_999_999, named('io.debezium.time.MicroTime', 'int64'), 'c'), '23:59:59.999999');
  assert.equal(convertValue(0, named('io.debezium.time.MicroTime', 'int64'), 'c'), '00:00:00.000000');
  // 01:02:03.000004: hours, minutes and seconds all distinct and non-zero
  assert.equal(convertValue(3_723_000_004, named('io.debezium.time.MicroTime', 'int64'), 'c'), '01:02:03.000004');
});

void test('timestamps: Timestamp/connect Timestamp ms, MicroTimestamp µs, NanoTimestamp ns since the epoch', () => {
  assert.equal(convertValue(1_700_000_000_123, named('io.debezium.time.Timestamp', 'int64'), 'c'), '2023-11-14T22:13:20.123000Z');
  assert.equal(convertValue(1_700_000_000_123, named('org.apache.kafka.connect.data.Timestamp', 'int64'), 'c'), '2023-11-14T22:13:20.123000Z');
  assert.equal(convertValue(1_700_000_000_123_456, named('io.debezium.time.MicroTimestamp', 'int64'), 'c'), '2023-11-14T22:13:20.123456Z');
  // ns beyond 2^53 arrive as bigint from the Avro path; the last 3 digits are truncated
  assert.equal(convertValue(1_700_000_000_123_456_789n, named('io.debezium.time.NanoTimestamp', 'int64'), 'c'), '2023-11-14T22:13:20.123456Z');
  assert.equal(convertValue(1_000_000_001_500, named('io.debezium.time.NanoTimestamp', 'int64'), 'c'), '1970-01-01T00:16:40.000001Z');
});

void test('dates: io.debezium Date and connect Date are days since the epoch', () => {
  assert.equal(convertValue(20_089, named('io.debezium.time.Date', 'int32'), 'c'), '2025-01-01');
  assert.equal(convertValue(20_089, named('org.apache.kafka.connect.data.Date', 'int32'), 'c'), '2025-01-01');
  assert.equal(convertValue(-1, named('org.apache.kafka.connect.data.Date', 'int32'), 'c'), '1969-12-31');
});

void test('io.debezium.data.Json is parsed; a Decimal without parameters has scale 0', () => {
  assert.deepEqual(convertValue('{"a":[1,2],"b":null}', named('io.debezium.data.Json', 'string'), 'c'), { a: [1, 2], b: null });
  // 0x04D2 = 1234
  assert.equal(convertValue(Buffer.from([0x04, 0xd2]).toString('base64'), named('org.apache.kafka.connect.data.Decimal', 'bytes'), 'c'), '1234');
});

void test('int64: numbers pass, strings and bigints become numbers within ±(2^53 − 1), exact strings beyond', () => {
  const int64: ConnectSchema = { type: 'int64' };
  assert.equal(convertValue(42, int64, 'c'), 42);
  assert.equal(convertValue('42', int64, 'c'), 42);
  assert.equal(convertValue(42n, int64, 'c'), 42);
  assert.equal(convertValue(9_007_199_254_740_991n, int64, 'c'), 9_007_199_254_740_991); // 2^53 − 1: still exact as a number
  assert.equal(convertValue(-9_007_199_254_740_991n, int64, 'c'), -9_007_199_254_740_991);
  assert.equal(convertValue(9_007_199_254_740_992n, int64, 'c'), '9007199254740992'); // 2^53
  assert.equal(convertValue(-9_007_199_254_740_992n, int64, 'c'), '-9007199254740992');
  assert.equal(convertValue('-9223372036854775808', int64, 'c'), '-9223372036854775808'); // int8 minimum
  assertBadValue(true, int64, 'row.n', 'row.n: cannot decode int64 value: expected an int64, got boolean');
});

void test('null and undefined are both SQL NULL', () => {
  assert.equal(convertValue(undefined, { type: 'string' }, 'c'), null);
  assert.equal(convertValue(null, { type: 'string' }, 'c'), null);
});

void test('structs: fields converted by their schema; no fields → empty row; unnamed field keyed by ""', () => {
  const schema: ConnectSchema = {
    type: 'struct',
    fields: [
      { type: 'int64', field: 'id' },
      { type: 'int32', field: 'd', name: 'io.debezium.time.Date' },
      { type: 'string', field: 'missing', optional: true },
    ],
  };
  assert.deepEqual(convertValue({ id: '9007199254740993', d: 0 }, schema, 'row'), { id: '9007199254740993', d: '1970-01-01', missing: null });
  assert.deepEqual(convertValue({ x: 1 }, { type: 'struct' }, 'row'), {});
  assert.deepEqual(convertValue({ '': 'v' }, { type: 'struct', fields: [{ type: 'string' }] }, 'row'), { '': 'v' });
});

void test('arrays: items converted by the items schema, kept as they are without one', () => {
  assert.deepEqual(convertValue(['1', '9007199254740993'], { type: 'array', items: { type: 'int64' } }, 'c'), [1, '9007199254740993']);
  assert.deepEqual(convertValue([0, 1], { type: 'array', items: named('io.debezium.time.Date', 'int32') }, 'c'), ['1970-01-01', '1970-01-02']);
  assert.deepEqual(convertValue(['a', 2], { type: 'array' }, 'c'), ['a', 2]);
});

void test('errors name the innermost path and schema once (nested DecodeErrors are not wrapped again)', () => {
  const decimal = named('org.apache.kafka.connect.data.Decimal', 'bytes');
  assertBadValue(123, decimal, 'row.total', 'row.total: cannot decode org.apache.kafka.connect.data.Decimal value: expected a string, got number');
  assertBadValue({ total: 123 }, { type: 'struct', fields: [{ ...decimal, field: 'total' }] }, 'row', 'row.total: cannot decode org.apache.kafka.connect.data.Decimal value: expected a string, got number');
  assertBadValue([123], { type: 'array', items: decimal }, 'row.totals', 'row.totals[0]: cannot decode org.apache.kafka.connect.data.Decimal value: expected a string, got number');
});

void test('ZonedTimestamp: UTC offsets are reformatted, other offsets converted, anything else passes through', () => {
  // Zero offsets in all three spellings are only reformatted (no Date round trip, so even a 5-digit year works).
  assert.equal(canonicalZonedTimestamp('10000-01-01T00:00:00Z'), '10000-01-01T00:00:00.000000Z');
  assert.equal(canonicalZonedTimestamp('10000-01-01T00:00:00+00:00'), '10000-01-01T00:00:00.000000Z');
  assert.equal(canonicalZonedTimestamp('10000-01-01T00:00:00+0000'), '10000-01-01T00:00:00.000000Z');
  assert.equal(canonicalZonedTimestamp('2024-06-01T12:00:00.5+00:00'), '2024-06-01T12:00:00.500000Z');
  // +01:30 → subtract 1 h 30 min; the fraction is kept (to µs)
  assert.equal(canonicalZonedTimestamp('2024-01-01T01:30:00.1234567+01:30'), '2024-01-01T00:00:00.123456Z');
  assert.equal(canonicalZonedTimestamp('2023-12-31T22:00:00-0200'), '2024-01-01T00:00:00.000000Z');
  // Not an anchored match: unchanged
  assert.equal(canonicalZonedTimestamp('infinity'), 'infinity');
  assert.equal(canonicalZonedTimestamp('x2024-01-01T00:00:00Z'), 'x2024-01-01T00:00:00Z');
  assert.equal(canonicalZonedTimestamp('2024-01-01T00:00:00Zx'), '2024-01-01T00:00:00Zx');
  assert.equal(convertValue('infinity', named('io.debezium.time.ZonedTimestamp', 'string'), 'c'), 'infinity');
});
