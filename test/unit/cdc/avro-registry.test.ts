/**
 * AvroDecoder (src/cdc/avro.ts) end to end against an in-process fake of the
 * Confluent Schema Registry API (loopback HTTP server started by the test, no
 * external network): `GET <base>/schemas/ids/{id}` answers `{"schema": "<json>"}`
 * (optionally `schemaType`), an unknown id answers 404 with error_code 40403,
 * `GET <base>/subjects` answers 200 `[]` — as the Confluent "Schema Registry
 * API reference" describes them.
 *
 * Records are built in the Confluent wire format: magic byte 0, the schema id
 * as a 4-byte big-endian integer, then the Avro binary encoded with avsc.
 *
 * What is tested: key + value decoding, schema caching (one request per id),
 * tombstones (null or empty value, with an Avro key, and via autoDecoder), key
 * errors (not framed, not a struct), the error classification (unknown id vs.
 * wrong URL vs. 5xx vs. a timeout, bad bytes, a non-Avro schema, an invalid
 * Avro schema, a schema with no Connect mapping, a 404 whose /subjects check
 * gets no answer) with their exact messages and causes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { loopbackHttp, type LoopbackHttp } from '../../support/net.ts';
import { AvroDecoder, AvroErrorCode, autoDecoder, parseAvroSchema, type AvroSchema } from '../../../src/cdc/avro.ts';
import type { RawRecord } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError, DecodeError, DecodeErrorCode } from '../../../src/errors.ts';

const ORDERS = JSON.parse(readFileSync(new URL('../../fixtures/debezium/avro-orders-value.json', import.meta.url), 'utf8')) as AvroSchema;
const KEY: AvroSchema = { type: 'record', name: 'Key', namespace: 'demo.public.orders', fields: [{ name: 'id', type: 'long' }] };

/** Schemas the fake registry knows, by id: [schema text, schemaType or undefined for AVRO]. */
const SCHEMAS = new Map<number, [string, string | undefined]>([
  [1, [JSON.stringify(ORDERS), undefined]],
  [2, [JSON.stringify(KEY), undefined]],
  [3, ['"long"', undefined]], // a key that is not a struct
  [4, [JSON.stringify({ type: 'array', items: 'int' }), undefined]], // neither is an array
  [5, [JSON.stringify(['null', KEY]), undefined]], // an optional key struct
  [6, ['{"type":"object"}', 'JSON']], // a JSON Schema, not Avro
  [7, ['{"type":"nope"}', undefined]], // not a valid Avro schema
  [8, [JSON.stringify({ type: 'record', name: 'V', fields: [{ name: 'x', type: ['int', 'string'] }] }), undefined]], // no Connect mapping
]);

const BASE = '/apis/ccompat/v7';
/** Requests seen, by path. */
const requests = new Map<string, number>();
/** How the fake answers every request: normally, 404 everywhere (wrong URL), 500, or never. */
let mode: 'ok' | 'all404' | 'error500' | 'hang' | 'subjectsDrop' = 'ok';
let server: LoopbackHttp;
let url: string;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  requests.set(path, (requests.get(path) ?? 0) + 1);
  if (mode === 'hang') return; // never answers (sockets closed in after())
  if (mode === 'error500') return send(res, 500, { error_code: 50001, message: 'Error in the backend data store' });
  if (mode === 'subjectsDrop' && path === `${BASE}/subjects`) {
    req.socket.destroy(); // the connection drops: no HTTP answer at all
    return;
  }
  if (mode === 'ok' && path === `${BASE}/subjects`) return send(res, 200, []);
  const m = mode === 'ok' ? new RegExp(`^${BASE}/schemas/ids/(\\d+)$`).exec(path) : null;
  const known = m ? SCHEMAS.get(Number(m[1])) : undefined;
  if (!known) return send(res, 404, { error_code: 40403, message: 'Schema not found' });
  send(res, 200, known[1] === undefined ? { schema: known[0] } : { schema: known[0], schemaType: known[1] });
}

before(async () => {
  server = await loopbackHttp(handle);
  url = `${server.url}${BASE}`;
});

after(() => server.close());

/** Confluent wire format: 0, id (uint32 BE), Avro binary. */
function framed(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

const keyType = parseAvroSchema(KEY);
const valueType = parseAvroSchema(ORDERS);
const TOPIC = 'demo.public.orders';

const row = {
  id: 5_000_000_901n,
  customer_id: 1001,
  status: 'new',
  total: Buffer.from([0x0c, 0x4d]), // unscaled 0x0C4D = 3149, scale 2
  currency: 'EUR',
  placed_at: '2024-12-31T23:30:00Z',
  placed_local: 1_700_000_000_000_000n, // µs → 2023-11-14T22:13:20Z
  ship_by: 20_089, // days → 2025-01-01
  note: null,
  updated_at: '2024-12-31T23:30:00Z',
};
const source = {
  version: '3.1.3.Final', connector: 'postgresql', name: 'demo', ts_ms: 1_700_000_000_000n, snapshot: 'false', db: 'cdcv_demo',
  sequence: null, ts_us: null, ts_ns: null, schema: 'public', table: 'orders', txId: 4242n, lsn: 270_767_104n, xmin: null,
};
const keyBytes = framed(2, keyType.toBuffer({ id: 5_000_000_901n }));
const valueBytes = framed(1, valueType.toBuffer({ before: null, after: row, source, transaction: null, op: 'c', ts_ms: 1_700_000_000_001n, ts_us: null, ts_ns: null }));

function record(key: Buffer | null, value: Buffer | null, offset = '7'): RawRecord {
  return { topic: TOPIC, partition: 3, offset, timestamp: '1700000000002', key, value };
}

/** A decoder on the fake registry; a long timeout so that a timer left pending would keep the test process alive. */
const decoder = (registryUrl = url, timeoutMs = 60_000): AvroDecoder => new AvroDecoder({ registryUrl, timeoutMs });

/**
 * Asserts a rejection with the given class, code, retriability and message;
 * with `cause`, that the underlying error (HTTP, avsc, mapping) is kept as the cause.
 */
async function rejectsWith(p: Promise<unknown>, cls: typeof CdcViewsError, code: string, retriable: boolean, message: string | RegExp, cause = false): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `${cls.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.retriable, retriable);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (cause) assert.ok(e.cause instanceof Error, `the cause of ${e.message} is kept`);
    return true;
  });
}

void test('key and value decode to the canonical ChangeEvent; each schema id is fetched once', async () => {
  mode = 'ok';
  requests.clear();
  const d = decoder(`${url}/`); // a trailing slash on the URL is tolerated
  const event = await d.decode(record(keyBytes, valueBytes));
  assert.equal(event.kind, 'change');
  if (event.kind !== 'change') return;
  assert.deepEqual(event.key, { id: 5_000_000_901 });
  assert.equal(event.keyString, '{"id":5000000901}');
  assert.equal(event.table, 'public.orders');
  assert.equal(event.op, 'c');
  assert.deepEqual(event.position, { topic: TOPIC, partition: 3, offset: '7', timestamp: 1_700_000_000_002 });
  assert.deepEqual(event.after, {
    id: 5_000_000_901,
    customer_id: 1001,
    status: 'new',
    total: '31.49',
    currency: 'EUR',
    placed_at: '2024-12-31T23:30:00.000000Z',
    placed_local: '2023-11-14T22:13:20.000000Z',
    ship_by: '2025-01-01',
    note: null,
    updated_at: '2024-12-31T23:30:00.000000Z',
  });
  const again = await d.decode(record(keyBytes, valueBytes, '8'));
  assert.equal(again.position.offset, '8');
  assert.deepEqual(again.key, { id: 5_000_000_901 });
  assert.equal(requests.get(`${BASE}/schemas/ids/1`), 1);
  assert.equal(requests.get(`${BASE}/schemas/ids/2`), 1);
});

void test('tombstones: a null or empty value gives a Tombstone with the decoded Avro key', async () => {
  mode = 'ok';
  const d = decoder();
  const expected = { kind: 'tombstone', table: 'public.orders', key: { id: 5_000_000_901 }, keyString: '{"id":5000000901}', position: { topic: TOPIC, partition: 3, offset: '7', timestamp: 1_700_000_000_002 } };
  assert.deepEqual(await d.decode(record(keyBytes, null)), expected);
  assert.deepEqual(await d.decode(record(keyBytes, Buffer.alloc(0))), expected);
  // No key at all (null or empty): key and keyString are null
  const noKey = { ...expected, key: null, keyString: null };
  assert.deepEqual(await d.decode(record(null, null)), noKey);
  assert.deepEqual(await d.decode(record(Buffer.alloc(0), null)), noKey);
  // An optional key struct ([null, Key]) holding null
  assert.deepEqual(await d.decode(record(framed(5, Buffer.from([0])), null)), noKey); // union branch 0 = null
  // autoDecoder: a tombstone whose key is framed goes to the Avro decoder (the JSON decoder would refuse the bytes)
  const auto = autoDecoder({ registryUrl: url, timeoutMs: 60_000 });
  assert.deepEqual(await auto.decode(record(keyBytes, null)), expected);
  assert.deepEqual(await auto.decode(record(keyBytes, Buffer.alloc(0))), expected);
  const change = await auto.decode(record(keyBytes, valueBytes));
  assert.equal(change.kind, 'change');
  // A framed value decides, whatever the key (here none)
  const keyless = await auto.decode(record(null, valueBytes));
  assert.deepEqual([keyless.kind, keyless.key], ['change', null]);
});

void test('keys: not framed, or not a struct, is DECODE_BAD_KEY', async () => {
  mode = 'ok';
  const d = decoder();
  await rejectsWith(d.decode(record(Buffer.from('{"id":1}'), valueBytes)), DecodeError, DecodeErrorCode.BadKey, false, 'record key is not Confluent-framed Avro although its value is');
  // long 1 = zig-zag 2
  await rejectsWith(d.decode(record(framed(3, Buffer.from([2])), valueBytes)), DecodeError, DecodeErrorCode.BadKey, false, 'record key is not a struct of primary-key columns');
  // array of one int (block count 1 = zig-zag 2, item 1 = 2, end 0)
  await rejectsWith(d.decode(record(framed(4, Buffer.from([2, 2, 0])), valueBytes)), DecodeError, DecodeErrorCode.BadKey, false, 'record key is not a struct of primary-key columns');
});

void test('a value that is not framed, or bytes that do not match the schema, is DECODE_BAD_AVRO', async () => {
  mode = 'ok';
  const d = decoder();
  await rejectsWith(d.decode(record(keyBytes, Buffer.from('{"op":"c"}'))), CdcViewsError, AvroErrorCode.BadAvro, false, 'record value is not Confluent-framed Avro (no magic byte 0)');
  await rejectsWith(d.decode(record(keyBytes, framed(1, Buffer.from([0x02])))), CdcViewsError, AvroErrorCode.BadAvro, false, /^record value: bytes do not match Avro schema id 1: /, true);
  await rejectsWith(d.decode(record(framed(2, Buffer.alloc(0)), valueBytes)), CdcViewsError, AvroErrorCode.BadAvro, false, /^record key: bytes do not match Avro schema id 2: /);
});

void test('schemas the decoder cannot use are DECODE_BAD_AVRO, naming the id', async () => {
  mode = 'ok';
  const d = decoder();
  await rejectsWith(d.decode(record(null, framed(6, Buffer.from([0])))), CdcViewsError, AvroErrorCode.BadAvro, false, 'record value: schema id 6 is not an Avro schema');
  await rejectsWith(d.decode(record(null, framed(7, Buffer.from([0])))), CdcViewsError, AvroErrorCode.BadAvro, false, /^record value: schema id 7 is not a valid Avro schema: /, true);
  await rejectsWith(d.decode(record(null, framed(8, Buffer.from([0, 0])))), CdcViewsError, AvroErrorCode.BadAvro, false, 'record value: schema id 8 cannot be mapped to a Connect schema: unsupported Avro union of 2 non-null branches', true);
});

void test('an id the registry does not have is DECODE_UNKNOWN_SCHEMA_ID (DLQ), for keys and values', async () => {
  mode = 'ok';
  const d = decoder();
  await rejectsWith(d.decode(record(null, framed(99, Buffer.from([0])))), CdcViewsError, AvroErrorCode.UnknownSchemaId, false, new RegExp(`^record value: schema id 99 does not exist in the registry at ${url} \\(`), true);
  await rejectsWith(d.decode(record(framed(98, Buffer.from([0])), valueBytes)), CdcViewsError, AvroErrorCode.UnknownSchemaId, false, new RegExp(`^record key: schema id 98 does not exist in the registry at ${url} \\(`));
  // With a trailing slash the registry's /subjects is still found
  await rejectsWith(decoder(`${url}/`).decode(record(null, framed(97, Buffer.from([0])))), CdcViewsError, AvroErrorCode.UnknownSchemaId, false, /schema id 97 does not exist/);
});

void test('a registry that answers 404 to everything (wrong URL) or 5xx is REGISTRY_UNAVAILABLE (retriable)', async () => {
  const d = decoder();
  mode = 'all404';
  await rejectsWith(d.decode(record(null, framed(1, Buffer.from([0])))), CdcViewsError, AvroErrorCode.RegistryUnavailable, true, new RegExp(`^schema registry at ${url} unavailable fetching schema id 1: `));
  mode = 'error500';
  await rejectsWith(d.decode(record(null, framed(1, Buffer.from([0])))), CdcViewsError, AvroErrorCode.RegistryUnavailable, true, new RegExp(`^schema registry at ${url} unavailable fetching schema id 1: `), true);
  // A 404 for the id, and then no answer from /subjects: the 404 cannot be trusted to mean the id
  mode = 'subjectsDrop';
  await rejectsWith(d.decode(record(null, framed(99, Buffer.from([0])))), CdcViewsError, AvroErrorCode.RegistryUnavailable, true, new RegExp(`^schema registry at ${url} unavailable fetching schema id 99: `));
  mode = 'ok';
});

void test('a registry that never answers is REGISTRY_UNAVAILABLE after timeoutMs, with that timeout in the message', async () => {
  mode = 'hang';
  try {
    const d = decoder(url, 200);
    await rejectsWith(d.decode(record(null, framed(1, Buffer.from([0])))), CdcViewsError, AvroErrorCode.RegistryUnavailable, true, `schema registry at ${url} did not answer within 200 ms`);
  } finally {
    mode = 'ok';
    server.server.closeAllConnections();
  }
});
