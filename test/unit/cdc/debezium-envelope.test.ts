/**
 * decodeDebeziumJson / decodeEnvelope (src/cdc/debezium-json.ts) on hand-built
 * records in the shape the Debezium PostgreSQL connector writes through the
 * JsonConverter (with `schemas.enable=false`: the bare envelope; with `true`:
 * `{schema, payload}`), covering what the captured fixtures do not: the
 * defaults of the `source` block (missing or mistyped fields, schema/table
 * from the topic name, `snapshot` as string or boolean), the
 * unavailable-value placeholder with a schema (string and base64 bytes),
 * schema lookup of `before`/`after` by field name, the `{schema, payload}`
 * detection, empty/null keys and values, op `m`, and the exact messages of
 * the DECODE_* errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDebeziumJson, UNAVAILABLE_VALUE, type RawRecord } from '../../../src/cdc/debezium-json.ts';
import type { ConnectSchema } from '../../../src/cdc/values.ts';
import { DecodeError, DecodeErrorCode } from '../../../src/errors.ts';

const TOPIC = 'demo.public.t';
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const z = (n: number): string => '0'.repeat(n);
const position = { topic: TOPIC, partition: 1, offset: '42', timestamp: 1_700_000_000_000 };

function raw(key: Buffer | null, value: Buffer | null, topic = TOPIC): RawRecord {
  return { topic, partition: 1, offset: '42', timestamp: '1700000000000', key, value };
}

const SOURCE = { version: '3.1.3.Final', connector: 'postgresql', name: 'demo', ts_ms: 1_700_000_000_000, snapshot: 'false', db: 'd', sequence: null, schema: 'public', table: 't', txId: 5, lsn: 1234, xmin: null };
/** The source block as decoded from SOURCE. */
const DECODED_SOURCE = { connector: 'postgresql', name: 'demo', tsMs: 1_700_000_000_000, snapshot: false, db: 'd', schema: 'public', table: 't', lsn: 1234, txId: 5 };
/** PostgreSQL change at lsn 1234 without sequence: class 1, A = B = 1234, read digit 1. */
const PG_VERSION = `P${z(16)}12341${z(16)}12341`;

function assertDecodeError(r: RawRecord, code: DecodeErrorCode, message: string | RegExp): void {
  assert.throws(() => decodeDebeziumJson(r), (e: unknown) => {
    assert.ok(e instanceof DecodeError, `DecodeError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

void test('a bare envelope decodes to the full ChangeEvent (no unavailable list when nothing is unavailable)', () => {
  const event = decodeDebeziumJson(raw(json({ id: 1 }), json({ before: null, after: { id: 1, name: 'a' }, source: SOURCE, op: 'c', ts_ms: 1 })));
  assert.deepEqual(event, {
    kind: 'change', table: 'public.t', key: { id: 1 }, keyString: '{"id":1}', op: 'c', before: null, after: { id: 1, name: 'a' },
    source: DECODED_SOURCE, version: PG_VERSION, position,
  });
  // A delete without an `after` field at all: after is null; op m (logical decoding message) needs no after either
  const del = decodeDebeziumJson(raw(json({ id: 1 }), json({ before: { id: 1 }, source: SOURCE, op: 'd' })));
  assert.equal(del.kind === 'change' && del.after, null);
  assert.equal('unavailable' in del, false);
  const message = decodeDebeziumJson(raw(null, json({ before: null, after: null, source: SOURCE, op: 'm' })));
  assert.equal(message.kind === 'change' && message.op, 'm');
});

void test('tombstones: a null or empty value; a null, empty or JSON-null key is no key', () => {
  const tombstone = { kind: 'tombstone', table: 'public.t', key: { id: 1 }, keyString: '{"id":1}', position };
  assert.deepEqual(decodeDebeziumJson(raw(json({ id: 1 }), null)), tombstone);
  assert.deepEqual(decodeDebeziumJson(raw(json({ id: 1 }), Buffer.alloc(0))), tombstone);
  const noKey = { ...tombstone, key: null, keyString: null };
  assert.deepEqual(decodeDebeziumJson(raw(null, null)), noKey);
  assert.deepEqual(decodeDebeziumJson(raw(Buffer.alloc(0), null)), noKey);
  assert.deepEqual(decodeDebeziumJson(raw(Buffer.from('null'), null)), noKey);
  assert.deepEqual(decodeDebeziumJson(raw(json({ schema: { type: 'struct', fields: [] }, payload: null }), null)), noKey);
});

void test('{schema, payload} is detected only with exactly those two fields and a schema object with a type', () => {
  // Plain keys whose primary-key columns happen to be named payload / schema
  const k1 = { payload: 1, schema: { a: 1 } }; // schema without a type
  assert.deepEqual(decodeDebeziumJson(raw(json(k1), null)).key, k1);
  const k2 = { schema: { type: 'a' }, name: 'x' }; // no payload
  assert.deepEqual(decodeDebeziumJson(raw(json(k2), null)).key, k2);
  const k3 = { schema: { type: 'struct' }, payload: { id: 1 }, extra: 2 }; // three fields
  assert.deepEqual(decodeDebeziumJson(raw(json(k3), null)).key, k3);
  // The real wrapper: the payload converted by the schema (int64 as a string beyond 2^53)
  const wrapped = { schema: { type: 'struct', fields: [{ type: 'int64', field: 'id' }] }, payload: { id: '9007199254740993' } };
  assert.deepEqual(decodeDebeziumJson(raw(json(wrapped), null)).key, { id: '9007199254740993' });
});

void test('source block: missing or mistyped fields get defaults; schema and table fall back to the topic', () => {
  const decode = (source: Record<string, unknown>, topic = TOPIC) => {
    const e = decodeDebeziumJson(raw(null, json({ before: null, after: { id: 1 }, source, op: 'c' }), topic));
    assert.equal(e.kind, 'change');
    return e.kind === 'change' ? e : assert.fail();
  };
  const empty = decode({});
  assert.deepEqual(empty.source, { connector: '', name: '', tsMs: 0, snapshot: false, db: '', schema: 'public', table: 't' });
  assert.equal(empty.table, 'public.t');
  assert.equal(empty.version, `K${z(18)}42`); // no connector: the Kafka offset
  // Non-string values are rendered as JSON; numeric fields that are not numbers are left out / 0
  assert.deepEqual(decode({ connector: 'x', name: 7, db: null, ts_ms: '5', lsn: '1234', txId: '5', schema: 3, table: false }).source, { connector: 'x', name: '7', tsMs: 0, snapshot: false, db: '', schema: 'public', table: 't' });
  // A topic of two parts: both from the topic; of one part: the table is empty
  assert.deepEqual([decode({}, 'a.b').source.schema, decode({}, 'a.b').source.table], ['a', 'b']);
  assert.deepEqual([decode({}, 'solo').source.schema, decode({}, 'solo').source.table], ['solo', '']);
  // snapshot: string or boolean; 'false', false, null and absent are "not a snapshot"
  for (const [snapshot, expected] of [[true, 'true'], ['true', 'true'], ['last', 'last'], ['incremental', 'incremental'], [false, false], ['false', false], [null, false]] as const) {
    assert.equal(decode({ snapshot }).source.snapshot, expected, `snapshot ${String(snapshot)}`);
  }
  assertDecodeError(raw(null, json({ after: { id: 1 }, source: 'x', op: 'c' })), DecodeErrorCode.BadEnvelope, 'envelope has no source block');
  // Schema and table come from the source block when it has them, not from the topic (e.g. a topic-routing SMT)
  const routed = decode({ schema: 'inventory', table: 'orders' }, 'demo.all_tables');
  assert.deepEqual([routed.source.schema, routed.source.table, routed.table], ['inventory', 'orders', 'inventory.orders']);
});

void test('unavailable-value placeholder (text and bytea) with a schema: columns left out of the row and listed', () => {
  const bytes = Buffer.from(UNAVAILABLE_VALUE, 'utf8').toString('base64');
  const row: ConnectSchema = {
    type: 'struct', optional: true, name: 'demo.public.t.Value',
    fields: [{ type: 'int64', field: 'id' }, { type: 'string', optional: true, field: 'doc' }, { type: 'bytes', optional: true, field: 'bin' }, { type: 'int32', optional: true, name: 'io.debezium.time.Date', field: 'd' }],
  };
  const schema: ConnectSchema = { type: 'struct', fields: [{ type: 'struct', field: 'source', fields: [{ type: 'string', field: 'connector' }] }, { ...row, field: 'before' }, { ...row, field: 'after' }, { type: 'string', field: 'op' }] };
  const payload = { before: { id: 1, doc: 'old', bin: null, d: 0 }, after: { id: 1, doc: UNAVAILABLE_VALUE, bin: bytes, d: 20_089 }, source: SOURCE, op: 'u' };
  const event = decodeDebeziumJson(raw(null, json({ schema, payload })));
  assert.equal(event.kind, 'change');
  if (event.kind !== 'change') return;
  assert.deepEqual(event.before, { id: 1, doc: 'old', bin: null, d: '1970-01-01' }); // converted by the `before` field's schema
  assert.deepEqual(event.after, { id: 1, d: '2025-01-01' });
  assert.deepEqual(event.unavailable, ['doc', 'bin']);
  // Without a schema: the same columns are left out
  const bare = decodeDebeziumJson(raw(null, json(payload)));
  assert.deepEqual(bare.kind === 'change' && [bare.after, bare.unavailable], [{ id: 1, d: 20_089 }, ['doc', 'bin']]);
  // An `after` schema without fields and a placeholder: the column is still left out, the row has no fields
  const afterNoFields = decodeDebeziumJson(raw(null, json({ schema: { type: 'struct', fields: [{ type: 'struct', optional: true, field: 'after' }] }, payload })));
  assert.deepEqual(afterNoFields.kind === 'change' && [afterNoFields.after, afterNoFields.unavailable], [{}, ['doc', 'bin']]);
  // A value schema without fields: rows are kept as they are
  const noFields = decodeDebeziumJson(raw(null, json({ schema: { type: 'struct' }, payload: { ...payload, after: { id: 1, d: 3 } } })));
  assert.deepEqual(noFields.kind === 'change' && noFields.after, { id: 1, d: 3 });
});

void test('DECODE_* errors carry exact messages', () => {
  assertDecodeError(raw(null, Buffer.from('not json')), DecodeErrorCode.NotJson, /^record value is not JSON: /);
  assertDecodeError(raw(Buffer.from('{nope'), null), DecodeErrorCode.NotJson, /^record key is not JSON: /);
  assertDecodeError(raw(json([1]), null), DecodeErrorCode.BadKey, 'record key is not a struct of primary-key columns');
  assertDecodeError(raw(null, Buffer.from('null')), DecodeErrorCode.BadEnvelope, 'record value is not a Debezium envelope object');
  assertDecodeError(raw(null, json({ op: 'x', source: SOURCE })), DecodeErrorCode.BadEnvelope, 'envelope op is "x", expected one of c, u, d, r, t, m');
  assertDecodeError(raw(null, json({ source: SOURCE })), DecodeErrorCode.BadEnvelope, 'envelope op is undefined, expected one of c, u, d, r, t, m');
  assertDecodeError(raw(null, json({ op: 'c', after: null, source: SOURCE })), DecodeErrorCode.BadEnvelope, "op 'c' without an after image");
  assertDecodeError(raw(null, json({ op: 'c', after: [1], source: SOURCE })), DecodeErrorCode.BadEnvelope, 'after is not an object');
  assertDecodeError(raw(null, json({ op: 'd', before: 'x', source: SOURCE })), DecodeErrorCode.BadEnvelope, 'before is not an object');
  // The cause of a NotJson error is the JSON parser's error
  assert.throws(() => decodeDebeziumJson(raw(null, Buffer.from('not json'))), (e: unknown) => e instanceof DecodeError && e.cause instanceof SyntaxError);
});
