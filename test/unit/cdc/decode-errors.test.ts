/**
 * Malformed input gives a DecodeError with the right code, and the canonical
 * key string does not depend on the order of the key fields. The malformed
 * records are real captured records (test/fixtures/debezium) with one part broken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDebeziumJson, type RawRecord } from '../../../src/cdc/debezium-json.ts';
import { canonicalKeyString } from '../../../src/cdc/keys.ts';
import { DecodeError, DecodeErrorCode } from '../../../src/errors.ts';
import type { Encoding, FixtureRecord } from './fixture-types.ts';
import { ENCODINGS, loadRecords, toRaw } from './load-fixtures.ts';

/** The first captured insert into `table`, as a raw record, and its parsed value document. */
function sample(encoding: Encoding, table: string): { raw: RawRecord; value: Record<string, unknown>; key: Record<string, unknown> } {
  const r = loadRecords(encoding).find((x: FixtureRecord) => x.topic.endsWith(`.${table}`) && x.value !== null && x.value.includes('"op":"c"'));
  assert.ok(r, `a captured insert into ${table}`);
  return { raw: toRaw(r), value: JSON.parse(r.value!) as Record<string, unknown>, key: JSON.parse(r.key!) as Record<string, unknown> };
}

/** The envelope inside a value document (under `payload` with schemas). */
function envelope(encoding: Encoding, doc: Record<string, unknown>): Record<string, unknown> {
  return encoding === 'json-schema' ? (doc.payload as Record<string, unknown>) : doc;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');

function assertCode(raw: RawRecord, code: DecodeErrorCode): void {
  assert.throws(() => decodeDebeziumJson(raw), (e: unknown) => {
    assert.ok(e instanceof DecodeError, `DecodeError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.retriable, false);
    return true;
  });
}

for (const encoding of ENCODINGS) {
  void test(`${encoding}: the unmodified sample decodes`, () => {
    const { raw } = sample(encoding, 'customers');
    const d = decodeDebeziumJson(raw);
    assert.equal(d.kind, 'change');
  });

  void test(`${encoding}: value not JSON → DECODE_NOT_JSON`, () => {
    const { raw } = sample(encoding, 'customers');
    assertCode({ ...raw, value: Buffer.from('{"before":null,"after":{"id":1', 'utf8') }, DecodeErrorCode.NotJson);
    assertCode({ ...raw, value: Buffer.from([0x00, 0x00, 0x00, 0x00, 0x01, 0x02]) }, DecodeErrorCode.NotJson); // Avro wire format by mistake
  });

  void test(`${encoding}: key not JSON → DECODE_NOT_JSON`, () => {
    const { raw } = sample(encoding, 'customers');
    assertCode({ ...raw, key: Buffer.from('id=1', 'utf8') }, DecodeErrorCode.NotJson);
  });

  void test(`${encoding}: JSON without op → DECODE_BAD_ENVELOPE`, () => {
    const { raw, value } = sample(encoding, 'customers');
    delete envelope(encoding, value).op;
    assertCode({ ...raw, value: json(value) }, DecodeErrorCode.BadEnvelope);
    assertCode({ ...raw, value: json({ hello: 'world' }) }, DecodeErrorCode.BadEnvelope);
    assertCode({ ...raw, value: json([1, 2, 3]) }, DecodeErrorCode.BadEnvelope);
    assertCode({ ...raw, value: Buffer.from('"c"', 'utf8') }, DecodeErrorCode.BadEnvelope);
  });

  void test(`${encoding}: op 'x' → DECODE_BAD_ENVELOPE`, () => {
    const { raw, value } = sample(encoding, 'customers');
    envelope(encoding, value).op = 'x';
    assertCode({ ...raw, value: json(value) }, DecodeErrorCode.BadEnvelope);
  });

  void test(`${encoding}: 'c' without an after image → DECODE_BAD_ENVELOPE`, () => {
    const { raw, value } = sample(encoding, 'customers');
    envelope(encoding, value).after = null;
    assertCode({ ...raw, value: json(value) }, DecodeErrorCode.BadEnvelope);
    for (const op of ['r', 'u']) {
      const v = structuredClone(value);
      envelope(encoding, v).op = op;
      assertCode({ ...raw, value: json(v) }, DecodeErrorCode.BadEnvelope);
    }
  });

  void test(`${encoding}: no source block → DECODE_BAD_ENVELOPE`, () => {
    const { raw, value } = sample(encoding, 'customers');
    delete envelope(encoding, value).source;
    assertCode({ ...raw, value: json(value) }, DecodeErrorCode.BadEnvelope);
  });

  void test(`${encoding}: key not an object → DECODE_BAD_KEY`, () => {
    const { raw, key } = sample(encoding, 'customers');
    const wrap = (payload: unknown): unknown => (encoding === 'json-schema' ? { schema: key.schema, payload } : payload);
    for (const bad of [42, 'SKU-0001', [1001], true]) {
      assertCode({ ...raw, key: json(wrap(bad)) }, DecodeErrorCode.BadKey);
    }
    if (encoding === 'json-plain') assertCode({ ...raw, key: json(42) }, DecodeErrorCode.BadKey);
  });
}

void test('json-schema: a Decimal value that is not base64 text → DECODE_BAD_VALUE', () => {
  const { raw, value } = sample('json-schema', 'orders');
  (envelope('json-schema', value).after as Record<string, unknown>).total = 31.49;
  assertCode({ ...raw, value: json(value) }, DecodeErrorCode.BadValue);
});

void test('canonical key string is independent of the key field order', () => {
  assert.equal(canonicalKeyString({ kind: 'billing', customer_id: 7 }), canonicalKeyString({ customer_id: 7, kind: 'billing' }));
  assert.equal(canonicalKeyString({ order_id: 5_000_000_901, line_no: 2 }), '{"line_no":2,"order_id":5000000901}');
  assert.equal(canonicalKeyString({ id: 42 }), '{"id":42}');

  // The same captured composite-key record with its key fields (and, with
  // schemas, the key schema's fields) written in the opposite order.
  for (const encoding of ENCODINGS) {
    for (const table of ['addresses', 'order_lines']) {
      const { raw, key } = sample(encoding, table);
      const reversePayload = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).reverse());
      const reversed = encoding === 'json-schema'
        ? {
            schema: { ...(key.schema as Record<string, unknown>), fields: [...((key.schema as { fields: unknown[] }).fields)].reverse() },
            payload: reversePayload(key.payload as Record<string, unknown>),
          }
        : reversePayload(key);
      assert.notEqual(JSON.stringify(reversed), JSON.stringify(key));
      const a = decodeDebeziumJson(raw);
      const b = decodeDebeziumJson({ ...raw, key: json(reversed) });
      assert.ok(a.keyString !== null);
      assert.equal(b.keyString, a.keyString, `${encoding} ${table}`);
      assert.deepEqual(b.key, a.key);
    }
  }
});
