/**
 * Pure parts of src/cdc/avro.ts not covered by avro.test.ts: the Avro → Kafka
 * Connect schema mapping for every primitive and complex type (Avro 1.11
 * specification: primitive types, records, enums, arrays, maps, fixed, unions,
 * names and namespaces; Connect's AvroData: int → int32, long → int64,
 * float → float32, double → float64, enum → string, fixed → bytes,
 * `connect.name` / `connect.parameters` / `connect.type` properties), the
 * avsc value → JsonConverter payload shape (int64 exact beyond ±(2^53 − 1)),
 * the bigint `long` type, and wire-format detection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avroToConnectSchema, isConfluentFramed, parseAvroSchema, toConnectPayload } from '../../../src/cdc/avro.ts';

void test('every Avro primitive maps to its Connect type', () => {
  const expected: Record<string, string> = { null: 'null', boolean: 'boolean', int: 'int32', long: 'int64', float: 'float32', double: 'float64', bytes: 'bytes', string: 'string' };
  for (const [avro, connect] of Object.entries(expected)) {
    assert.deepEqual(avroToConnectSchema(avro), { type: connect }, avro);
    // The same primitive written as {"type": …}
    assert.deepEqual(avroToConnectSchema({ type: avro }), { type: connect }, `{type: ${avro}}`);
  }
  assert.deepEqual(avroToConnectSchema({ type: 'string', 'connect.name': 'io.debezium.data.Json', 'connect.parameters': { a: 'b' } }), { type: 'string', name: 'io.debezium.data.Json', parameters: { a: 'b' } });
  // A type that is itself a schema object is unwrapped
  assert.deepEqual(avroToConnectSchema({ type: { type: 'long' } }), { type: 'int64' });
});

void test('unions: [null, T] and [T, null] are an optional T, [T] is T, more than one non-null branch is refused', () => {
  assert.deepEqual(avroToConnectSchema(['null', 'int']), { type: 'int32', optional: true });
  assert.deepEqual(avroToConnectSchema(['string', 'null']), { type: 'string', optional: true });
  assert.deepEqual(avroToConnectSchema(['int']), { type: 'int32', optional: false });
  assert.throws(() => avroToConnectSchema(['null', 'int', 'string']), { message: 'unsupported Avro union of 2 non-null branches' });
  assert.throws(() => avroToConnectSchema(['null']), { message: 'unsupported Avro union of 0 non-null branches' });
});

void test('unknown type names are refused with the name', () => {
  assert.throws(() => avroToConnectSchema('Missing'), { message: 'unknown Avro type name Missing' });
  assert.throws(() => avroToConnectSchema({ type: 'Missing' }), { message: 'unknown Avro type name Missing' });
});

void test('arrays map their items (null items when absent); maps keep only their type', () => {
  assert.deepEqual(avroToConnectSchema({ type: 'array', items: 'long' }), { type: 'array', items: { type: 'int64' } });
  assert.deepEqual(avroToConnectSchema({ type: 'array' }), { type: 'array', items: { type: 'null' } });
  assert.deepEqual(avroToConnectSchema({ type: 'array', items: 'int', 'connect.name': 'tags' }), { type: 'array', items: { type: 'int32' }, name: 'tags' });
  assert.deepEqual(avroToConnectSchema({ type: 'map', values: 'string' }), { type: 'map' });
  assert.deepEqual(avroToConnectSchema({ type: 'map', values: 'string', 'connect.name': 'm' }), { type: 'map', name: 'm' });
});

void test('records: full names from name/namespace, nested namespaces, no name, no fields', () => {
  assert.deepEqual(avroToConnectSchema({ type: 'record', name: 'X', fields: [] }), { type: 'struct', fields: [], name: 'X' });
  assert.deepEqual(avroToConnectSchema({ type: 'record', name: 'X', namespace: 'n', fields: [] }), { type: 'struct', fields: [], name: 'n.X' });
  // A dotted name is already full: the namespace attribute is ignored
  assert.deepEqual(avroToConnectSchema({ type: 'record', name: 'a.b.X', namespace: 'n', fields: [] }), { type: 'struct', fields: [], name: 'a.b.X' });
  assert.deepEqual(avroToConnectSchema({ type: 'record', fields: [{ name: 'f', type: 'int' }] }), { type: 'struct', fields: [{ type: 'int32', field: 'f' }] });
  assert.deepEqual(avroToConnectSchema({ type: 'record', name: 'E' }), { type: 'struct', fields: [], name: 'E' });
  assert.deepEqual(avroToConnectSchema({ type: 'record', name: 'R', 'connect.name': 'io.x.Y', fields: [] }), { type: 'struct', fields: [], name: 'io.x.Y' });
  // The namespace of a dotted record name (a.b) applies to a nested unqualified name (S → a.b.S), which can be referred to by full name
  const outer = avroToConnectSchema({
    type: 'record',
    name: 'a.b.R',
    fields: [
      { name: 's', type: { type: 'record', name: 'S', fields: [{ name: 'v', type: 'int' }] } },
      { name: 't', type: 'a.b.S' },
      { name: 'u', type: 'S' }, // short name, resolved in the enclosing namespace
    ],
  });
  const s = { type: 'struct', fields: [{ type: 'int32', field: 'v' }], name: 'a.b.S' };
  assert.deepEqual(outer, { type: 'struct', name: 'a.b.R', fields: [{ ...s, field: 's' }, { ...s, field: 't' }, { ...s, field: 'u' }] });
});

void test('enums and fixed become string and bytes, and are named types in their own namespace', () => {
  const color = { type: 'enum', name: 'Color', namespace: 'own', symbols: ['RED'], 'connect.name': 'io.debezium.data.Enum', 'connect.parameters': { allowed: 'RED' } };
  const mapped = avroToConnectSchema({
    type: 'record',
    name: 'T',
    namespace: 'outer',
    fields: [
      { name: 'c', type: color },
      { name: 'c2', type: 'own.Color' },
      { name: 'f', type: { type: 'fixed', name: 'F', size: 2 } },
      { name: 'f2', type: 'F' }, // outer.F
      { name: 'f3', type: 'outer.F' },
    ],
  });
  const enumSchema = { type: 'string', name: 'io.debezium.data.Enum', parameters: { allowed: 'RED' } };
  assert.deepEqual(mapped.fields, [
    { ...enumSchema, field: 'c' },
    { ...enumSchema, field: 'c2' },
    { type: 'bytes', field: 'f' },
    { type: 'bytes', field: 'f2' },
    { type: 'bytes', field: 'f3' },
  ]);
  // An enum without a name is not registered (nothing to refer to) but still maps
  assert.deepEqual(avroToConnectSchema({ type: 'enum', symbols: ['A'] }), { type: 'string' });
  assert.throws(() => avroToConnectSchema({ type: 'record', name: 'T', namespace: 'outer', fields: [{ name: 'c', type: color }, { name: 'c2', type: 'outer.Color' }] }), { message: 'unknown Avro type name outer.Color' });
});

void test('toConnectPayload: undefined is null; int64 is a number within ±(2^53 − 1), a bigint beyond', () => {
  assert.equal(toConnectPayload(undefined), null);
  assert.equal(toConnectPayload(null), null);
  assert.equal(toConnectPayload(9_007_199_254_740_991n), 9_007_199_254_740_991);
  assert.equal(toConnectPayload(-9_007_199_254_740_991n), -9_007_199_254_740_991);
  assert.equal(toConnectPayload(9_007_199_254_740_992n), 9_007_199_254_740_992n);
  assert.equal(toConnectPayload(-9_007_199_254_740_992n), -9_007_199_254_740_992n);
  assert.deepEqual(toConnectPayload({ nested: { b: Buffer.from('hi') }, list: [null, 'x'] }), { nested: { b: 'aGk=' }, list: [null, 'x'] });
});

void test('long is read as bigint everywhere (JSON text, defaults, ordering), logical longs stay numbers', () => {
  const long = parseAvroSchema('long');
  assert.equal(long.fromString('123'), 123n);
  assert.equal(long.toString(5n), '5');
  assert.equal(long.compare(1n, 2n), -1);
  assert.equal(long.compare(2n, 1n), 1);
  assert.equal(long.compare(2n, 2n), 0);
  assert.equal(long.isValid(1n), true);
  assert.equal(long.isValid(1), false);
  // A field default (JSON number in the schema) is read as bigint too
  const withDefault = parseAvroSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'long', default: 7 }] });
  assert.deepEqual({ ...(withDefault.clone({}, {}) as object) }, { a: 7n });
  // {"type":"long"} with connect.* properties → bigint; with a logicalType → avsc's number (not hooked)
  assert.equal(parseAvroSchema({ type: 'long', 'connect.name': 'x' }).fromBuffer(Buffer.from([10])), 5n); // zig-zag 10 = 5
  assert.equal(parseAvroSchema({ type: 'long', logicalType: 'timestamp-micros' }).fromBuffer(Buffer.from([10])), 5);
});

void test('the Confluent header is exactly 5 bytes: a framed value may have an empty Avro body', () => {
  assert.equal(isConfluentFramed(Buffer.from([0, 0, 0, 0, 1])), true);
  assert.equal(isConfluentFramed(Buffer.from([0, 0, 0, 1])), false);
  assert.equal(isConfluentFramed(Buffer.from([1, 0, 0, 0, 1, 0])), false);
});
