/**
 * Pre-fills the benchmark topics with Debezium-shaped JSON change events, as
 * Kafka Connect's JsonConverter writes them (key = primary key, one key → one
 * partition with the default partitioner, like Debezium).
 *
 * The item rows are scripts/measure-rss.ts's (≈300–500 bytes with the
 * envelope), with a c/u/d mix: the first write of a key is a create, every
 * 10th later write a delete followed by its tombstone, the next write of a
 * deleted key a create again (a re-insert), everything else an update.
 */
import { CompressionTypes, Partitioners, type Kafka } from 'kafkajs';

/** What was written to one topic. */
export interface Produced {
  topic: string;
  records: number;
  meanBytes: number;
  /** Records per op, tombstones under `tombstone`. */
  ops: Record<string, number>;
  seconds: number;
}

interface Msg {
  key: string;
  value: string | null;
  op: string;
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];

const msg = (key: string, value: string | null, op: string): Msg => ({ key, value, op });

const field = (type: string, name: string, optional = false, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type, optional, field: name, ...extra });

/** The JsonConverter schema of the items envelope (schemas.enable=true); decimals as strings (decimal.handling.mode=string). */
function itemsSchema(prefix: string): string {
  const row = (name: string): Record<string, unknown> => ({
    type: 'struct',
    optional: true,
    name: `${prefix}.public.items.Value`,
    field: name,
    fields: [
      field('int32', 'id'),
      field('string', 'sku'),
      field('string', 'name'),
      field('string', 'price'),
      field('int32', 'stock'),
      field('boolean', 'active'),
      field('string', 'note', true),
      field('string', 'updated_at', false, { name: 'io.debezium.time.ZonedTimestamp', version: 1 }),
    ],
  });
  return JSON.stringify({
    type: 'struct',
    optional: false,
    name: `${prefix}.public.items.Envelope`,
    version: 2,
    fields: [
      row('before'),
      row('after'),
      {
        type: 'struct',
        optional: false,
        name: 'io.debezium.connector.postgresql.Source',
        field: 'source',
        fields: [
          field('string', 'version'), field('string', 'connector'), field('string', 'name'), field('int64', 'ts_ms'),
          field('string', 'snapshot', true, { name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' }, default: 'false' }),
          field('string', 'db'), field('string', 'sequence', true), field('int64', 'ts_us', true), field('int64', 'ts_ns', true),
          field('string', 'schema'), field('string', 'table'), field('int64', 'txId', true), field('int64', 'lsn', true), field('int64', 'xmin', true),
        ],
      },
      { type: 'struct', optional: true, name: 'event.block', version: 1, field: 'transaction', fields: [field('string', 'id'), field('int64', 'total_order'), field('int64', 'data_collection_order')] },
      field('string', 'op'),
      field('int64', 'ts_ms', true),
    ],
  });
}

async function sendAll(kafka: Kafka, topic: string, gen: () => Iterable<Msg>, total: number, say: (s: string) => void): Promise<Produced> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const started = Date.now();
  let batch: { key: string; value: string | null }[] = [];
  const pending: Promise<unknown>[] = [];
  let bytes = 0;
  let records = 0;
  const ops: Record<string, number> = {};
  let batchBytes = 0;
  let reported = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const messages = batch;
    batch = [];
    batchBytes = 0;
    const sent = producer.send({ topic, acks: 1, compression: CompressionTypes.None, messages });
    sent.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile (it would skip the clean-up)
    pending.push(sent);
    // Two batches in flight: enough to keep the broker busy without buffering the whole topic.
    if (pending.length >= 2) await pending.shift();
  };
  for (const m of gen()) {
    batch.push({ key: m.key, value: m.value });
    bytes += m.key.length + (m.value?.length ?? 0);
    batchBytes += m.key.length + (m.value?.length ?? 0);
    records += 1;
    ops[m.op] = (ops[m.op] ?? 0) + 1;
    // ≤ 1.5 MB a request keeps each partition's record batch under the broker's message.max.bytes (1 MiB).
    if (batch.length >= 5000 || batchBytes >= 1_500_000) {
      await flush();
      if (records - reported >= 100_000) {
        reported = records;
        say(`\r  ${topic}: produced ${records} / ${total}`);
      }
    }
  }
  await flush();
  await Promise.all(pending);
  await producer.disconnect();
  const seconds = (Date.now() - started) / 1000;
  say(`\r  ${topic}: produced ${records} records in ${seconds.toFixed(1)} s, mean ${(bytes / records).toFixed(0)} bytes\n`);
  return { topic, records, meanBytes: bytes / records, ops, seconds };
}

/**
 * Writes `records` change events of `public.items` over `keys` keys to `topic`
 * (which must exist): JSON without schemas, or with the JsonConverter schema
 * wrapper when `schemas` is set.
 */
export async function produceItems(kafka: Kafka, opts: { topic: string; prefix: string; records: number; keys: number; schemas: boolean }, say: (s: string) => void): Promise<Produced> {
  const schema = opts.schemas ? itemsSchema(opts.prefix) : '';
  const keySchema = JSON.stringify({ type: 'struct', optional: false, name: `${opts.prefix}.public.items.Key`, fields: [field('int32', 'id')] });
  const started = Date.now();
  const live = new Uint8Array(opts.keys); // 0 never written, 1 live, 2 deleted
  const rowOf = (key: number, n: number): Record<string, unknown> => ({
    id: key,
    sku: `SKU-${key.toString(36).toUpperCase()}`,
    name: `${WORDS[key % 10]} ${WORDS[(key >> 3) % 10]} item ${key}`,
    price: ((n % 100_000) / 100).toFixed(2),
    stock: n % 997,
    active: n % 7 !== 0,
    note: WORDS.slice(0, 1 + (n % 6)).join(' '),
    updated_at: new Date(started + n).toISOString(),
  });
  const nullRow = { id: 0, sku: null, name: null, price: null, stock: null, active: null, note: null, updated_at: null };
  return sendAll(kafka, opts.topic, function* () {
    let n = 0;
    while (n < opts.records) {
      const key = n % opts.keys;
      const ts = started + n;
      let op: string;
      if (live[key] !== 1) op = 'c';
      else op = n % 10 === 0 ? 'd' : 'u';
      const after = op === 'd' ? null : rowOf(key, n);
      const payload = {
        // REPLICA IDENTITY DEFAULT: no before image of an update, only the key columns of a deleted row.
        before: op === 'd' ? { ...nullRow, id: key } : null,
        after,
        source: { version: '3.1.3.Final', connector: 'postgresql', name: opts.prefix, ts_ms: ts, snapshot: 'false', db: 'bench', sequence: `[null,"${n}"]`, schema: 'public', table: 'items', txId: 1000 + n, lsn: 10_000_000 + n * 100, xmin: null },
        transaction: null,
        op,
        ts_ms: ts,
      };
      live[key] = op === 'd' ? 2 : 1;
      const k = opts.schemas ? `{"schema":${keySchema},"payload":{"id":${key}}}` : `{"id":${key}}`;
      yield msg(k, opts.schemas ? `{"schema":${schema},"payload":${JSON.stringify(payload)}}` : JSON.stringify(payload), op);
      n += 1;
      if (op === 'd' && n < opts.records) {
        yield msg(k, null, 'tombstone');
        n += 1;
      }
    }
  }, opts.records, say);
}

/** Sizes of the join scenario's topics. */
export interface ShopSizes {
  customers: number;
  orders: number;
  /** Lines per order (1..linesPerOrder, 2.5 on average for 4). */
  linesPerOrder: number;
}

/**
 * Writes customers, orders and order_lines creates (Debezium `op: c`, JSON
 * without schemas, NUMERIC as strings as with `decimal.handling.mode=string`)
 * to `<prefix>.public.<table>` (which must exist). Orders reference customers
 * (1 in 50 a customer that does not exist: the left join's null side).
 */
export async function produceShop(kafka: Kafka, prefix: string, sizes: ShopSizes, say: (s: string) => void): Promise<Produced[]> {
  const started = Date.now();
  const envelope = (table: string, n: number, after: Record<string, unknown>): string =>
    JSON.stringify({
      before: null,
      after,
      source: { version: '3.1.3.Final', connector: 'postgresql', name: prefix, ts_ms: started + n, snapshot: 'false', db: 'bench', sequence: `[null,"${n}"]`, schema: 'public', table, txId: 1000 + n, lsn: 10_000_000 + n * 100, xmin: null },
      transaction: null,
      op: 'c',
      ts_ms: started + n,
    });
  const out: Produced[] = [];
  out.push(await sendAll(kafka, `${prefix}.public.customers`, function* () {
    for (let id = 1; id <= sizes.customers; id++) {
      yield msg(`{"id":${id}}`, envelope('customers', id, {
        id, email: `customer${id}@example.com`, name: `${WORDS[id % 10]} ${WORDS[(id >> 2) % 10]} ${id}`, tier: id % 3 === 0 ? 'gold' : null,
        preferences: { lang: 'en' }, marketing_opt_in: id % 2 === 0, external_ref: `00000000-0000-4000-8000-${id.toString().padStart(12, '0')}`, birth_date: null, created_at: new Date(started).toISOString(),
      }), 'c');
    }
  }, sizes.customers, say));
  let lines = 0;
  const lineCount = (o: number): number => 1 + (o % sizes.linesPerOrder);
  for (let o = 1; o <= sizes.orders; o++) lines += lineCount(o);
  out.push(await sendAll(kafka, `${prefix}.public.orders`, function* () {
    for (let id = 1; id <= sizes.orders; id++) {
      const customer = id % 50 === 0 ? sizes.customers + id : 1 + (id * 7919) % sizes.customers;
      yield msg(`{"id":${id}}`, envelope('orders', id, {
        id, customer_id: customer, status: ['new', 'paid', 'shipped'][id % 3], total: '0.00', currency: 'EUR',
        placed_at: new Date(started - id * 1000).toISOString(), placed_local: null, note: null,
      }), 'c');
    }
  }, sizes.orders, say));
  out.push(await sendAll(kafka, `${prefix}.public.order_lines`, function* () {
    let n = 0;
    for (let o = 1; o <= sizes.orders; o++) {
      for (let l = 1; l <= lineCount(o); l++) {
        n += 1;
        yield msg(`{"line_no":${l},"order_id":${o}}`, envelope('order_lines', n, {
          order_id: o, line_no: l, sku: `SKU-${(n % 500).toString(36).toUpperCase()}`, quantity: 1 + (n % 5), unit_price: ((100 + (n % 9900)) / 100).toFixed(2), discount: n % 4 === 0 ? '0.50' : null,
        }), 'c');
      }
    }
  }, lines, say));
  return out;
}
