/**
 * Captures Debezium fixtures FROM THE REAL CONNECTOR for the decoder's unit
 * tests (test/unit/cdc): `npm run capture-fixtures` (needs the local stack).
 *
 * Two sample pipelines over tiny seeds, identical except for the converter:
 *   fx_schema  JsonConverter, schemas.enable=true (the default connector)
 *   fx_plain   JsonConverter, schemas.enable=false for key and value
 * Both get `skipped.operations=none` so that TRUNCATE is captured (op 't').
 *
 * The same scripted statements run on both databases, one transaction each;
 * after each commit the touched rows are read back through readSourceTable
 * (PostgreSQL's own rendering: to_char, ::text), which is what the tests expect
 * the decoder to produce. Then every table topic is consumed from the
 * beginning and written to test/fixtures/debezium/<encoding>.json; the
 * statements, their transaction ids and the expected rows go to
 * test/fixtures/debezium/expected.json. The pipelines are dropped at the end.
 *
 * Snapshot reads are filtered to a few keys (the products seed is 50 rows) to
 * keep the fixtures small; every streamed record is kept.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { canonicalKeyString } from '../src/cdc/keys.ts';
import type { Row } from '../src/cdc/types.ts';
import { loadEnv } from '../src/config.ts';
import { dropSamplePipeline, startSamplePipeline, type SamplePipeline } from '../test/support/sample-pipeline.ts';
import { readSourceTable } from '../test/support/verify/source.ts';
import { toFixtureRecord } from './fixture-record.ts';
import type { Encoding, ExpectedFixtures, ExpectedStatement, FixtureRecord, TableRows } from '../test/unit/cdc/fixture-types.ts';

const OUT_DIR = fileURLToPath(new URL('../test/fixtures/debezium/', import.meta.url));

const COMMON: Record<string, string> = { 'skipped.operations': 'none' };
const ENCODINGS: { encoding: Encoding; id: string; connector: Record<string, string> }[] = [
  { encoding: 'json-schema', id: 'fx_schema', connector: { ...COMMON } },
  { encoding: 'json-plain', id: 'fx_plain', connector: { ...COMMON, 'key.converter.schemas.enable': 'false', 'value.converter.schemas.enable': 'false' } },
];
const SEED = { seedCustomers: 3, seedOrders: 3 };

/** A scripted statement and the rows it touches (table, primary key). */
interface Step {
  label: string;
  sql: string;
  touches: [table: string, key: Row][];
  truncates?: string[];
}

const ORDER = 5_000_000_901;
const SENTINEL = 'fixtures-end';

/**
 * Fixed statements; every value is a literal (no now()) so that both databases
 * end up with identical rows.
 */
const STEPS: Step[] = [
  {
    label: 'insert customer: non-ASCII name, JSONB, NULL tier, uuid, date before 1970, timestamptz with offset',
    sql: `INSERT INTO public.customers (id, email, name, tier, preferences, marketing_opt_in, external_ref, birth_date, created_at, updated_at)
          VALUES (1001, 'zoe@example.com', 'Zoë Ødegård 李雷 🌸 "q" \\ back', NULL,
                  '{"lang":"de","tags":["früh","🎉"],"sizes":{"shoe":42.5},"nothing":null,"n":-1e-3}', true,
                  '6f1c2b1e-8d7a-4c3b-9e2f-0a1b2c3d4e5f', '1962-03-04',
                  '2024-02-29 23:59:59.123456+05:30', '1969-12-31 23:59:59.999999+00')`,
    touches: [['public.customers', { id: 1001 }]],
  },
  {
    label: 'update customer: tier, JSONB, boolean, timestamptz whole seconds',
    sql: `UPDATE public.customers SET tier = 'gold', preferences = '{"lang":"ja","tags":[]}', marketing_opt_in = false,
          updated_at = '2024-03-01 00:00:00+00' WHERE id = 1001`,
    touches: [['public.customers', { id: 1001 }]],
  },
  {
    label: 'update customer: tier and birth_date to NULL',
    sql: `UPDATE public.customers SET tier = NULL, birth_date = NULL, updated_at = '2024-03-01 00:00:00.5+00' WHERE id = 1001`,
    touches: [['public.customers', { id: 1001 }]],
  },
  {
    label: 'delete customer',
    sql: `DELETE FROM public.customers WHERE id = 1001`,
    touches: [['public.customers', { id: 1001 }]],
  },
  {
    label: 're-insert customer with the same id',
    sql: `INSERT INTO public.customers (id, email, name, tier, preferences, marketing_opt_in, external_ref, birth_date, created_at, updated_at)
          VALUES (1001, 'zoe2@example.com', 'Дмитрий Иванов', 'silver', '[1,"zwei",{"drei":3}]', true,
                  '00000000-0000-4000-8000-000000000001', '2000-02-29',
                  '2025-01-02 03:04:05.000001+00', '2025-01-02 03:04:05.000001-08:00')`,
    touches: [['public.customers', { id: 1001 }]],
  },
  {
    label: 'update a seeded customer (snapshot read, then update)',
    sql: `UPDATE public.customers SET name = 'محمد علي', updated_at = '2024-06-30 12:00:00.25+02' WHERE id = 2`,
    touches: [['public.customers', { id: 2 }]],
  },
  {
    label: 'insert address (composite key)',
    sql: `INSERT INTO public.addresses (customer_id, kind, line1, line2, city, postal_code, country, updated_at)
          VALUES (1001, 'billing', 'Königstraße 7', 'Etage 3', 'München', '80331', 'DE', '2024-05-05 05:05:05.050505+00')`,
    touches: [['public.addresses', { customer_id: 1001, kind: 'billing' }]],
  },
  {
    label: 'update address (composite key, REPLICA IDENTITY DEFAULT)',
    sql: `UPDATE public.addresses SET city = '東京', line2 = NULL, country = 'JP', updated_at = '2024-05-06 00:00:00+00'
          WHERE customer_id = 1001 AND kind = 'billing'`,
    touches: [['public.addresses', { customer_id: 1001, kind: 'billing' }]],
  },
  {
    label: 'insert second address of the same customer',
    sql: `INSERT INTO public.addresses (customer_id, kind, line1, line2, city, postal_code, country, updated_at)
          VALUES (1001, 'shipping', 'Rue de l''Église 1', NULL, 'Paris', NULL, 'FR', '2024-05-07 00:00:00+00')`,
    touches: [['public.addresses', { customer_id: 1001, kind: 'shipping' }]],
  },
  {
    label: 'product price 10.50 (trailing zero kept by the scale)',
    sql: `UPDATE public.products SET price = 10.5, updated_at = '2024-07-01 00:00:00+00' WHERE sku = 'SKU-0007'`,
    touches: [['public.products', { sku: 'SKU-0007' }]],
  },
  {
    label: 'product price 0.00',
    sql: `UPDATE public.products SET price = 0, updated_at = '2024-07-01 00:00:01+00' WHERE sku = 'SKU-0009'`,
    touches: [['public.products', { sku: 'SKU-0009' }]],
  },
  {
    label: 'product price negative -0.05 and JSONB NULL',
    sql: `UPDATE public.products SET price = -0.05, attributes = NULL, updated_at = '2024-07-01 00:00:02+00' WHERE sku = 'SKU-0010'`,
    touches: [['public.products', { sku: 'SKU-0010' }]],
  },
  {
    label: 'product price at the numeric(12,2) maximum',
    sql: `UPDATE public.products SET price = 9999999999.99, updated_at = '2024-07-01 00:00:03+00' WHERE sku = 'SKU-0011'`,
    touches: [['public.products', { sku: 'SKU-0011' }]],
  },
  {
    label: 'product price -1.28 (unscaled -128: one byte 0x80)',
    sql: `UPDATE public.products SET price = -1.28, updated_at = '2024-07-01 00:00:04+00' WHERE sku = 'SKU-0012'`,
    touches: [['public.products', { sku: 'SKU-0012' }]],
  },
  {
    label: 'rename product sku (primary-key update)',
    sql: `UPDATE public.products SET sku = 'SKU-0008-RENAMED', updated_at = '2024-07-02 00:00:00+00' WHERE sku = 'SKU-0008'`,
    touches: [['public.products', { sku: 'SKU-0008' }], ['public.products', { sku: 'SKU-0008-RENAMED' }]],
  },
  {
    label: 'insert order: bigint id, TIMESTAMP before 1970 with fraction, DATE, numeric',
    sql: `INSERT INTO public.orders (id, customer_id, status, total, currency, placed_at, placed_local, ship_by, note, updated_at)
          VALUES (${ORDER}, 1001, 'new', 31.49, 'EUR', '2024-12-31 23:30:00+00', '1965-07-01 08:30:00.5', '2025-01-01',
                  'Bitte klingeln 🔔', '2024-12-31 23:30:00+00')`,
    touches: [['public.orders', { id: ORDER }]],
  },
  {
    label: 'insert three order lines in one statement',
    sql: `INSERT INTO public.order_lines (order_id, line_no, sku, quantity, unit_price, discount) VALUES
            (${ORDER}, 1, 'SKU-0007', 2, 10.50, NULL),
            (${ORDER}, 2, 'SKU-0008-RENAMED', 1, 10.50, 0.01),
            (${ORDER}, 3, 'SKU-0009', 3, 0.00, 0.00)`,
    touches: [
      ['public.order_lines', { order_id: ORDER, line_no: 1 }],
      ['public.order_lines', { order_id: ORDER, line_no: 2 }],
      ['public.order_lines', { order_id: ORDER, line_no: 3 }],
    ],
  },
  {
    label: 'renumber an order line (composite primary-key update)',
    sql: `UPDATE public.order_lines SET line_no = 10 WHERE order_id = ${ORDER} AND line_no = 2`,
    touches: [['public.order_lines', { order_id: ORDER, line_no: 2 }], ['public.order_lines', { order_id: ORDER, line_no: 10 }]],
  },
  {
    label: 'update order (REPLICA IDENTITY FULL): status, note NULL, ship_by before 1970',
    sql: `UPDATE public.orders SET status = 'paid', note = NULL, ship_by = '1969-12-31', updated_at = '2025-01-01 00:00:00+00' WHERE id = ${ORDER}`,
    touches: [['public.orders', { id: ORDER }]],
  },
  {
    label: 'truncate the watermark table',
    sql: `TRUNCATE public.cdcv_watermark`,
    touches: [['public.cdcv_watermark', { id: 1 }]],
    truncates: ['public.cdcv_watermark'],
  },
  {
    label: 'insert the watermark again after the truncate (last statement: the capture waits for it)',
    sql: `INSERT INTO public.cdcv_watermark (id, token, written_at) VALUES (1, '${SENTINEL}', '2025-06-01 00:00:00+00')`,
    touches: [['public.cdcv_watermark', { id: 1 }]],
  },
];

/**
 * Snapshot reads kept in the fixtures: the snapshot markers (first, last,
 * first/last_in_data_collection), the rows the statements touch, and the
 * (three) seeded customers and orders. Everything else would only add size.
 */
const SNAPSHOT_KEEP = new Set([
  ...STEPS.flatMap((s) => s.touches.map(([t, k]) => `${t} ${canonicalKeyString(k)}`)),
  ...[1, 2, 3].map((id) => `public.customers {"id":${id}}`),
  ...[1, 2, 3].map((n) => `public.orders {"id":${5_000_000_000 + n}}`),
]);

function keepSnapshotKey(table: string, key: Row | null): boolean {
  return key !== null && SNAPSHOT_KEEP.has(`${table} ${canonicalKeyString(key)}`);
}

function setRow(rows: TableRows, table: string, key: string, row: Row | null): void {
  (rows[table] ??= {})[key] = row;
}

async function withPg<T>(p: SamplePipeline, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: p.connectionString });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Runs one statement in its own transaction; returns its 32-bit xid (Debezium's source.txId). */
async function runStep(c: pg.Client, step: Step): Promise<number> {
  await c.query('BEGIN');
  try {
    await c.query(step.sql);
    const r = await c.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    await c.query('COMMIT');
    return Number(BigInt(r.rows[0]!.xid) % (1n << 32n));
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  }
}

/** The touched rows after a statement, as PostgreSQL renders them. */
async function readTouched(c: pg.Client, touches: Step['touches']): Promise<TableRows> {
  const out: TableRows = {};
  const tables = new Map<string, Map<string, Row>>();
  for (const [table, key] of touches) {
    if (!tables.has(table)) tables.set(table, await readSourceTable(c, table));
    const k = canonicalKeyString(key);
    setRow(out, table, k, tables.get(table)!.get(k) ?? null);
  }
  return out;
}

/** The key payload of a raw record key (with or without the schema wrapper), for filtering only. */
function rawKey(key: string | null): Row | null {
  if (key === null) return null;
  const doc = JSON.parse(key) as { schema?: unknown; payload?: unknown } | null;
  const payload = doc !== null && 'payload' in doc && 'schema' in doc ? doc.payload : doc;
  return (payload ?? null) as Row | null;
}

function rawSnapshotMarker(value: string | null): string | null {
  if (value === null) return null;
  const doc = JSON.parse(value) as { payload?: { op?: string; source?: { snapshot?: string } }; op?: string; source?: { snapshot?: string } };
  const env = doc.payload ?? doc;
  return env.op === 'r' ? (env.source?.snapshot ?? 'true') : null;
}

/** Consumes every table topic of a pipeline from the beginning, until the sentinel and all end offsets are reached. */
async function consumeAll(p: SamplePipeline, brokers: string[]): Promise<FixtureRecord[]> {
  const kafka = new Kafka({ brokers, clientId: `cdcv-capture-${p.id}`, logLevel: logLevel.NOTHING });
  const topics = p.tables.map((t) => `${p.topicPrefix}.${t}`);
  const sentinelTopic = `${p.topicPrefix}.public.cdcv_watermark`;
  const records: FixtureRecord[] = [];
  const consumed = new Map<string, bigint>(); // topic:partition → next offset
  let sentinel = false;
  const consumer = kafka.consumer({ groupId: `cdcv-capture-${p.id}-${Date.now()}` });
  const admin = kafka.admin();
  await consumer.connect();
  await admin.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        const record = toFixtureRecord(topic, partition, message);
        records.push(record);
        consumed.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
        if (topic === sentinelTopic && record.value?.includes(SENTINEL)) sentinel = true;
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + 180_000;
    while (!sentinel) {
      if (Date.now() > deadline) throw new Error(`${p.id}: the sentinel record did not arrive within 180 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Debezium emits in commit order, but the producer sends per partition: give
    // the other partitions a moment, then read up to their end offsets.
    await new Promise((r) => setTimeout(r, 3000));
    const ends = new Map<string, bigint>();
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${o.partition}`, BigInt(o.high));
    }
    for (;;) {
      const behind = [...ends].filter(([tp, high]) => (consumed.get(tp) ?? 0n) < high);
      if (behind.length === 0) break;
      if (Date.now() > deadline) throw new Error(`${p.id}: not all records consumed: ${behind.map(([tp]) => tp).join(', ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await consumer.disconnect();
    await admin.disconnect();
  }
  // Stable order: topics in table order, then partition, then offset (the consumption order per partition).
  const topicRank = new Map(topics.map((t, i) => [t, i]));
  records.sort((a, b) => (topicRank.get(a.topic)! - topicRank.get(b.topic)!) || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return records;
}

function tableOf(topic: string): string {
  return topic.split('.').slice(-2).join('.');
}

async function main(): Promise<void> {
  const cfg = loadEnv();
  const brokers = cfg.CDCV_KAFKA_BROKERS.split(',');
  try {
    const pipelines = await Promise.all(ENCODINGS.map((e) => startSamplePipeline({ id: e.id, connector: e.connector, ...SEED })));
    // Rows before the statements (the snapshot reads' expected values; reduced
    // to the kept snapshot reads below). The watermark row was written with
    // now(), so it differs per database: not expected.
    const perDb = await Promise.all(pipelines.map((p) => withPg(p, async (c) => {
      const rows: TableRows = {};
      for (const table of p.tables) {
        if (table === 'public.cdcv_watermark') continue;
        for (const [k, row] of await readSourceTable(c, table)) setRow(rows, table, k, row);
      }
      return rows;
    })));
    if (!isDeepStrictEqual(perDb[0], perDb[1])) throw new Error('the two sample databases differ before the statements');
    const before = perDb[0]!;
    const snapshot: TableRows = {};

    const statements: ExpectedStatement[] = [];
    const final: TableRows = {};
    const clients = await Promise.all(pipelines.map(async (p) => {
      const c = new pg.Client({ connectionString: p.connectionString });
      await c.connect();
      return c;
    }));
    try {
      for (const step of STEPS) {
        const txId = {} as Record<Encoding, number>;
        const rows: TableRows[] = [];
        for (const [i, c] of clients.entries()) {
          txId[ENCODINGS[i]!.encoding] = await runStep(c, step);
          rows.push(await readTouched(c, step.touches));
        }
        if (!isDeepStrictEqual(rows[0], rows[1])) throw new Error(`statement "${step.label}" left different rows in the two databases`);
        statements.push({ label: step.label, sql: step.sql.replace(/\s+/g, ' ').trim(), txId, truncates: step.truncates ?? [], rows: rows[0]! });
        for (const [table, byKey] of Object.entries(rows[0]!)) for (const [k, row] of Object.entries(byKey)) setRow(final, table, k, row);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }

    await mkdir(OUT_DIR, { recursive: true });
    for (const [i, p] of pipelines.entries()) {
      const all = await consumeAll(p, brokers);
      const kept = all.filter((r) => {
        const marker = rawSnapshotMarker(r.value);
        return marker === null || marker !== 'true' || keepSnapshotKey(tableOf(r.topic), rawKey(r.key));
      });
      for (const r of kept) {
        const table = tableOf(r.topic);
        const key = rawKey(r.key);
        const k = key === null ? null : canonicalKeyString(key);
        if (rawSnapshotMarker(r.value) !== null && k !== null && before[table]?.[k] !== undefined) setRow(snapshot, table, k, before[table][k]);
      }
      const file = `${OUT_DIR}${ENCODINGS[i]!.encoding}.json`;
      // One record per line: small, and diffs of a re-capture stay readable.
      await writeFile(file, `[\n${kept.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
      console.log(`${ENCODINGS[i]!.encoding}: ${all.length} records consumed, ${kept.length} kept → ${file}`);
    }
    const expected: ExpectedFixtures = {
      connectors: Object.fromEntries(ENCODINGS.map((e) => [e.encoding, e.connector])) as Record<Encoding, Record<string, string>>,
      snapshot,
      statements,
      final,
    };
    await writeFile(`${OUT_DIR}expected.json`, `${JSON.stringify(expected, null, 1)}\n`);
    console.log(`expected.json: ${statements.length} statements`);
  } finally {
    for (const e of ENCODINGS) {
      await dropSamplePipeline(e.id);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
