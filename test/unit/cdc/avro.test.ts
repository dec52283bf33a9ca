/**
 * Pure parts of the Avro decoder (src/cdc/avro.ts), against a writer schema
 * captured from the real connector (Debezium 3.1 + Apicurio's AvroConverter:
 * test/fixtures/debezium/avro-orders-value.json), plus the error
 * classification that needs no registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import {
  AvroDecoder, AvroErrorCode, autoDecoder, avroToConnectSchema, isConfluentFramed, parseAvroSchema, toConnectPayload, type AvroSchema,
} from '../../../src/cdc/avro.ts';
import { decodeEnvelope } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError } from '../../../src/errors.ts';

const ORDERS = JSON.parse(readFileSync(new URL('../../fixtures/debezium/avro-orders-value.json', import.meta.url), 'utf8')) as AvroSchema;
const position = { topic: 'demo.public.orders', partition: 0, offset: '7', timestamp: 0 };

const after = {
  id: 5_000_000_901n,
  customer_id: 1001,
  status: 'new',
  total: Buffer.from([0x0c, 0x4d]), // unscaled 3149, scale 2
  currency: 'EUR',
  placed_at: '2024-12-31T23:30:00Z',
  placed_local: BigInt(Date.UTC(1965, 6, 1, 8, 30, 0, 500)) * 1000n, // 1965-07-01T08:30:00.5 in µs
  ship_by: 20089, // 2025-01-01
  note: null,
  updated_at: '2024-12-31T23:30:00Z',
};
const source = {
  version: '3.1.3.Final', connector: 'postgresql', name: 'demo', ts_ms: 1_700_000_000_000n, snapshot: 'false', db: 'cdcv_demo',
  sequence: null, ts_us: null, ts_ns: null, schema: 'public', table: 'orders', txId: 4242n, lsn: 270_767_104n, xmin: null,
};

void test('a Debezium Avro envelope (captured writer schema) decodes to the canonical ChangeEvent', () => {
  const type = parseAvroSchema(ORDERS);
  const bytes = type.toBuffer({ before: null, after, source, transaction: null, op: 'c', ts_ms: 1_700_000_000_001n, ts_us: null, ts_ns: null });
  const event = decodeEnvelope(toConnectPayload(type.fromBuffer(bytes)), avroToConnectSchema(ORDERS), { id: 5_000_000_901 }, position);
  assert.deepEqual(event.after, {
    id: 5_000_000_901,
    customer_id: 1001,
    status: 'new',
    total: '31.49',
    currency: 'EUR',
    placed_at: '2024-12-31T23:30:00.000000Z',
    placed_local: '1965-07-01T08:30:00.500000Z',
    ship_by: '2025-01-01',
    note: null,
    updated_at: '2024-12-31T23:30:00.000000Z',
  });
  assert.equal(event.op, 'c');
  assert.equal(event.before, null);
  assert.deepEqual(event.source, { connector: 'postgresql', name: 'demo', tsMs: 1_700_000_000_000, snapshot: false, db: 'cdcv_demo', schema: 'public', table: 'orders', lsn: 270_767_104, txId: 4242 });
});

void test('Connect schema from Avro: optional unions, named references, connect.name and parameters', () => {
  const connect = avroToConnectSchema(ORDERS);
  const value = connect.fields!.find((f) => f.field === 'after')!;
  assert.equal(value.optional, true);
  assert.equal(value.type, 'struct');
  const total = value.fields!.find((f) => f.field === 'total')!;
  assert.deepEqual({ name: total.name, scale: total.parameters?.scale }, { name: 'org.apache.kafka.connect.data.Decimal', scale: '2' });
  // `before` and `after` use one named record ("Value"): same fields.
  assert.deepEqual(connect.fields!.find((f) => f.field === 'before')!.fields, value.fields);
  assert.equal(value.fields!.find((f) => f.field === 'ship_by')!.name, 'io.debezium.time.Date');
  assert.deepEqual(avroToConnectSchema({ type: 'int', 'connect.type': 'int16' }), { type: 'int16' });
  assert.equal(avroToConnectSchema({ type: 'record', name: 'VariableScaleDecimal', namespace: 'io.debezium.data', fields: [] }).name, 'io.debezium.data.VariableScaleDecimal');
});

void test('int64 beyond 2^53 stays exact; bytes become base64 like the JsonConverter writes them', () => {
  assert.deepEqual(toConnectPayload({ a: 9_007_199_254_740_993n, b: 42n, c: Buffer.from([0xff]), d: [1n] }), { a: 9_007_199_254_740_993n, b: 42, c: '/w==', d: [1] });
  const type = parseAvroSchema({ type: 'record', name: 'K', fields: [{ name: 'id', type: 'long' }] });
  assert.equal((type.fromBuffer(type.toBuffer({ id: -9_007_199_254_740_993n })) as { id: bigint }).id, -9_007_199_254_740_993n);
  const micros = parseAvroSchema({ type: 'long', 'connect.name': 'io.debezium.time.MicroTimestamp' });
  assert.equal(micros.fromBuffer(micros.toBuffer(2n ** 60n)), 2n ** 60n);
});

void test('the Confluent wire format is detected by the magic byte; JSON never starts with 0', () => {
  assert.equal(isConfluentFramed(Buffer.from([0, 0, 0, 0, 7, 2])), true);
  assert.equal(isConfluentFramed(Buffer.from('{"schema":{}}')), false);
  assert.equal(isConfluentFramed(Buffer.from([0, 0, 0])), false); // too short for a header
  assert.equal(isConfluentFramed(null), false);
});

/** A port where nothing listens (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

void test('a registry that does not answer is retriable (the partition waits), never a DLQ record', async () => {
  const decoder = new AvroDecoder({ registryUrl: `http://127.0.0.1:${await closedPort()}/apis/ccompat/v7`, timeoutMs: 2000 });
  const record = { topic: 't.public.x', partition: 0, offset: '0', timestamp: 0, key: null, value: Buffer.from([0, 0, 0, 0, 1, 2]) };
  await assert.rejects(decoder.decode(record), (err: unknown) => err instanceof CdcViewsError && err.retriable && err.code === AvroErrorCode.RegistryUnavailable);
});

void test('per record: JSON goes to the JSON decoder, a non-framed value with a framed key is refused', async () => {
  const decoder = autoDecoder({ registryUrl: 'http://127.0.0.1:9/apis/ccompat/v7' });
  const json = { topic: 'p.public.x', partition: 0, offset: '1', timestamp: 0, key: Buffer.from('{"id":1}'), value: null };
  assert.deepEqual((await decoder.decode(json)).keyString, '{"id":1}');
  await assert.rejects(decoder.avro.decode({ ...json, key: null, value: Buffer.from('{}') }), (err: unknown) => err instanceof CdcViewsError && !err.retriable && err.code === AvroErrorCode.BadAvro);
});
