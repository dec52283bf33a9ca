/**
 * Avro ≡ JSON: the same statements on two copies of the sample database, one
 * captured by Debezium with the JsonConverter (schemas on), one with Apicurio's
 * AvroConverter (Confluent wire format, real registry), decode to identical
 * ChangeEvents: every column type of the sample database, NULLs, deletes,
 * tombstones, primary-key updates, snapshot reads. Only what differs between
 * two databases by construction is left out: the Kafka position, the source's
 * db/server name, LSN, txId and commit time, and the version built from the
 * LSNs (only its kind and class, which say what the event is, are compared).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { autoDecoder } from '../../src/cdc/avro.ts';
import { jsonDecoder, type RecordDecoder } from '../../src/cdc/debezium-json.ts';
import type { DecodedRecord } from '../../src/cdc/types.ts';
import type { SamplePipeline } from '../support/sample-pipeline.ts';
import { brokers, cfg, pipeline } from './helpers.ts';

const STATEMENTS = [
  `INSERT INTO customers (id, email, name, tier, preferences, marketing_opt_in, external_ref, birth_date, created_at, updated_at)
     VALUES (1001, 'zoe@example.com', 'Zoë Ødegård 李雷 🌸 "q" \\ back', NULL, '{"lang":"de","tags":["früh"],"n":-1e-3,"x":null}', true,
             '6f1c2b1e-8d7a-4c3b-9e2f-0a1b2c3d4e5f', '1962-03-04', '2024-02-29 23:59:59.123456+05:30', '1969-12-31 23:59:59.999999+00')`,
  `UPDATE customers SET tier = 'gold', preferences = '[1,"zwei",{"drei":3}]', marketing_opt_in = false, birth_date = NULL WHERE id = 1001`,
  `INSERT INTO addresses (customer_id, kind, line1, line2, city, postal_code, country, updated_at)
     VALUES (1001, 'billing', 'Königstraße 7', NULL, 'München', '80331', 'DE', '2024-05-05 05:05:05.050505+00')`,
  `UPDATE products SET price = 10.5, attributes = NULL, updated_at = '2024-07-01 00:00:00+00' WHERE sku = 'SKU-0001'`,
  `UPDATE products SET price = -1.28 WHERE sku = 'SKU-0002'`,
  `UPDATE products SET price = 9999999999.99, description = 'max' WHERE sku = 'SKU-0003'`,
  `UPDATE products SET sku = 'SKU-0004-RENAMED' WHERE sku = 'SKU-0004'`,
  `INSERT INTO orders (id, customer_id, status, total, currency, placed_at, placed_local, ship_by, note, updated_at)
     VALUES (5000000901, 1001, 'new', 31.49, 'EUR', '2024-12-31 23:30:00+00', '1965-07-01 08:30:00.5', '2025-01-01', 'Bitte klingeln 🔔', '2024-12-31 23:30:00+00')`,
  `INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, discount)
     VALUES (5000000901, 1, 'SKU-0001', 2, 10.50, NULL), (5000000901, 2, 'SKU-0002', 1, 0.00, 0.01)`,
  `UPDATE order_lines SET line_no = 10 WHERE order_id = 5000000901 AND line_no = 2`,
  `UPDATE orders SET status = 'paid', note = NULL, ship_by = '1969-12-31' WHERE id = 5000000901`,
  `DELETE FROM order_lines WHERE order_id = 5000000901 AND line_no = 1`,
  `DELETE FROM customers WHERE id = 2`,
  `INSERT INTO cdcv_watermark (id, token, written_at) VALUES (1, 'equivalence-end', now()) ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token`,
];

let json: SamplePipeline & { drop: () => Promise<void> };
let avro: SamplePipeline & { drop: () => Promise<void> };

before(async () => {
  [json, avro] = await Promise.all([pipeline('eqjson', { seedCustomers: 5, seedOrders: 5 }), pipeline('eqavro', { format: 'avro', seedCustomers: 5, seedOrders: 5 })]);
});
after(async () => {
  await Promise.all([json?.drop(), avro?.drop()]);
});

async function run(p: SamplePipeline): Promise<void> {
  const c = new pg.Client({ connectionString: p.connectionString });
  await c.connect();
  try {
    for (const sql of STATEMENTS) await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Every record of the pipeline's topics, decoded, per `<table> <key>` in offset
 * order. (Per key, not per partition: the default partitioner hashes the key's
 * bytes, which differ between JSON and Avro, so a key may land in another partition.)
 */
async function consume(p: SamplePipeline, decoder: RecordDecoder): Promise<{ events: Map<string, unknown[]>; raw: number; avro: number }> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = p.tables.map((t) => `${p.topicPrefix}.${t}`);
  const deadline = Date.now() + 120_000;
  // Wait until the last statement's watermark has been captured.
  const ends = new Map<string, bigint>();
  for (;;) {
    let total = 0n;
    for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends.set(`${t}:${o.partition}`, BigInt(o.high));
    for (const o of await admin.fetchTopicOffsets(`${p.topicPrefix}.public.cdcv_watermark`)) total += BigInt(o.high);
    if (total >= 2n) break; // snapshot read + the final upsert
    assert.ok(Date.now() < deadline, 'the final watermark was not captured within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 2000)); // other partitions of the same transactions
  for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends.set(`${t}:${o.partition}`, BigInt(o.high));
  await admin.disconnect();

  const events = new Map<string, unknown[]>();
  let raw = 0;
  let framed = 0;
  const done = new Map<string, bigint>();
  const consumer = kafka.consumer({ groupId: `eq-${p.id}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      raw += 1;
      if (message.value?.[0] === 0) framed += 1;
      const e = await decoder.decode({ topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value });
      const k = `${topic.slice(p.topicPrefix.length + 1)} ${e.keyString}`;
      events.set(k, [...(events.get(k) ?? []), comparable(e)]);
      done.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
    },
  });
  while ([...ends].some(([tp, end]) => (done.get(tp) ?? 0n) < end)) {
    assert.ok(Date.now() < deadline + 60_000, 'not every record was consumed');
    await new Promise((r) => setTimeout(r, 200));
  }
  await consumer.disconnect();
  return { events, raw, avro: framed };
}

/** The event without what differs between two databases by construction (incl. the watermark's now()). */
function comparable(e: DecodedRecord): unknown {
  if (e.kind === 'tombstone') {
    const { position: _position, ...rest } = e;
    return rest;
  }
  const { position: _position, version, ...rest } = e;
  if (rest.table === 'public.cdcv_watermark') for (const row of [rest.before, rest.after]) if (row) delete row.written_at;
  const { lsn, txId, tsMs: _ts, db: _db, name: _name, ...source } = rest.source;
  return { ...rest, versionKind: version.slice(0, 1), versionClass: version.slice(21, 22), source: { ...source, hasLsn: lsn !== undefined, hasTxId: txId !== undefined } };
}

test('the same changes captured as JSON-with-schema and as Avro decode to identical ChangeEvents', async () => {
  await Promise.all([run(json), run(avro)]);
  const a = await consume(avro, autoDecoder({ registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL }));
  const j = await consume(json, jsonDecoder);
  assert.ok(a.raw > 50, `Avro records consumed: ${a.raw}`);
  assert.equal(a.avro, [...a.events.values()].flat().filter((e) => (e as { kind: string }).kind === 'change').length, 'every Avro change record is Confluent-framed');
  assert.equal(j.avro, 0);
  assert.deepEqual([...a.events.keys()].sort(), [...j.events.keys()].sort());
  for (const [k, events] of j.events) assert.deepEqual(a.events.get(k), events, `events of ${k}`);
  // Spot checks that the interesting values went through (not just equally wrong on both sides).
  const orders = [...a.events.entries()].filter(([k]) => k.startsWith('public.orders ')).flatMap(([, v]) => v) as { kind: string; after?: Record<string, unknown> | null }[];
  const o = orders.find((e) => e.kind === 'change' && e.after?.id === 5000000901 && e.after.status === 'new')!.after!;
  assert.deepEqual(
    { total: o.total, placed_local: o.placed_local, ship_by: o.ship_by, placed_at: o.placed_at },
    { total: '31.49', placed_local: '1965-07-01T08:30:00.500000Z', ship_by: '2025-01-01', placed_at: '2024-12-31T23:30:00.000000Z' },
  );
});
