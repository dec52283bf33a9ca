/**
 * The JSON decoder against records captured from the real Debezium PostgreSQL
 * connector (scripts/capture-fixtures.ts), with and without schemas.
 *
 * Expected values never come from the decoder: rows are PostgreSQL's own
 * rendering recorded after each statement (test/fixtures/debezium/expected.json,
 * via src/verify/source.ts), ops are derived from how those rows changed
 * (absent → present: c, present → present: u, present → absent: d, TRUNCATE: t).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDebeziumJson } from '../../../src/cdc/debezium-json.ts';
import type { ChangeEvent, DecodedRecord, Row } from '../../../src/cdc/types.ts';
import type { Encoding, ExpectedStatement, FixtureRecord } from './fixture-types.ts';
import { columnSchema, ENCODINGS, loadExpected, loadRecords, rawEnvelope, toRaw } from './load-fixtures.ts';

const expected = loadExpected();
const records: Record<Encoding, FixtureRecord[]> = { 'json-schema': loadRecords('json-schema'), 'json-plain': loadRecords('json-plain') };

interface Decoded {
  r: FixtureRecord;
  d: DecodedRecord;
}

const cache = new Map<Encoding, Decoded[]>();
function decoded(encoding: Encoding): Decoded[] {
  let out = cache.get(encoding);
  if (!out) {
    out = records[encoding].map((r) => ({ r, d: decodeDebeziumJson(toRaw(r)) }));
    cache.set(encoding, out);
  }
  return out;
}

function changes(encoding: Encoding): { r: FixtureRecord; d: ChangeEvent }[] {
  return decoded(encoding).flatMap((x) => (x.d.kind === 'change' ? [{ r: x.r, d: x.d }] : []));
}

const FULL_IDENTITY = new Set(['public.customers', 'public.orders']);

interface ExpectedEvent {
  table: string;
  keyString: string | null;
  op: string;
  /** The key's row before the statement (null: absent). */
  prev: Row | null;
  /** The key's row after the statement (null: absent). */
  row: Row | null;
}

/** Per statement, the change events PostgreSQL's row states imply. */
function expectedEvents(): Map<ExpectedStatement, ExpectedEvent[]> {
  const state = new Map<string, Row | null>();
  for (const [table, byKey] of Object.entries(expected.snapshot)) for (const [k, row] of Object.entries(byKey)) state.set(`${table} ${k}`, row);
  const out = new Map<ExpectedStatement, ExpectedEvent[]>();
  for (const s of expected.statements) {
    const events: ExpectedEvent[] = [];
    for (const table of s.truncates) {
      events.push({ table, keyString: null, op: 't', prev: null, row: null });
      for (const k of state.keys()) if (k.startsWith(`${table} `)) state.set(k, null);
    }
    for (const [table, byKey] of Object.entries(s.rows)) {
      for (const [k, row] of Object.entries(byKey)) {
        if (s.truncates.includes(table)) {
          state.set(`${table} ${k}`, null);
          continue;
        }
        const prev = state.get(`${table} ${k}`) ?? null;
        if (prev === null && row === null) continue;
        events.push({ table, keyString: k, op: prev === null ? 'c' : row === null ? 'd' : 'u', prev, row });
        state.set(`${table} ${k}`, row);
      }
    }
    out.set(s, events);
  }
  return out;
}

const sig = (table: string, keyString: string | null, op: string): string => `${table} ${keyString} ${op}`;

function txEvents(encoding: Encoding, s: ExpectedStatement): { r: FixtureRecord; d: ChangeEvent }[] {
  return changes(encoding).filter((x) => x.d.source.txId === s.txId[encoding]);
}

for (const encoding of ENCODINGS) {
  void test(`${encoding}: every captured record decodes; position and table are the record's`, () => {
    assert.ok(records[encoding].length > 40, 'fixtures present');
    for (const { r, d } of decoded(encoding)) {
      assert.deepEqual(d.position, { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp });
      // topic `<prefix>.public.<table>`
      assert.equal(d.table, `public.${r.topic.split('.').at(-1)}`);
      if (d.kind === 'change') assert.equal(d.table, `${d.source.schema}.${d.source.table}`);
      assert.equal(d.kind === 'tombstone', r.value === null, 'tombstone iff null value');
    }
  });

  void test(`${encoding}: keys are the record's primary-key struct; keyString has the fields sorted`, () => {
    for (const { r, d } of decoded(encoding)) {
      if (r.key === null) {
        assert.equal(d.key, null);
        assert.equal(d.keyString, null);
        continue;
      }
      const doc = JSON.parse(r.key) as { payload: Row } & Row;
      const rawKey = encoding === 'json-schema' ? doc.payload : doc;
      assert.deepEqual(d.key, rawKey);
      assert.ok(d.keyString !== null);
      const parsed = JSON.parse(d.keyString) as Row;
      assert.deepEqual(parsed, rawKey);
      assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort());
    }
    // Debezium writes key fields in primary-key column order (order_id, line_no);
    // the canonical string sorts them.
    const line = decoded(encoding).find((x) => x.d.table === 'public.order_lines' && x.r.key !== null);
    assert.ok(line);
    assert.ok(line.r.key?.includes('"order_id":5000000'));
    assert.match(line.d.keyString ?? '', /^\{"line_no":\d+,"order_id":\d+\}$/);
  });

  void test(`${encoding}: each statement gives the ops its row changes imply, in its own transaction`, () => {
    const all = expectedEvents();
    let matched = 0;
    for (const s of expected.statements) {
      const want = all.get(s)!.map((e) => sig(e.table, e.keyString, e.op)).sort();
      const got = txEvents(encoding, s).map((x) => sig(x.d.table, x.d.keyString, x.d.op)).sort();
      assert.deepEqual(got, want, s.label);
      matched += got.length;
    }
    // every streamed change belongs to one of the statements (plus the start watermark, if streamed)
    const streamed = changes(encoding).filter((x) => x.d.source.snapshot === false);
    assert.equal(streamed.length, matched);
  });

  void test(`${encoding}: deletes are followed by a tombstone for the same key`, () => {
    const list = decoded(encoding);
    let deletes = 0;
    for (const [i, { r, d }] of list.entries()) {
      if (d.kind === 'tombstone') {
        const prev = list[i - 1];
        assert.ok(prev && prev.d.kind === 'change' && prev.d.op === 'd', `tombstone at ${r.topic}/${r.partition}/${r.offset} follows a delete`);
        assert.equal(prev.r.topic, r.topic);
        assert.equal(prev.r.partition, r.partition);
        assert.equal(BigInt(prev.r.offset) + 1n, BigInt(r.offset));
        assert.equal(d.keyString, prev.d.keyString);
        assert.ok(d.keyString !== null);
      } else if (d.op === 'd') {
        deletes++;
        assert.equal(d.after, null);
        assert.equal(list[i + 1]?.d.kind, 'tombstone', 'tombstones.on.delete=true');
        // the before image carries at least the key
        for (const [col, v] of Object.entries(d.key ?? {})) assert.deepEqual(d.before?.[col], v);
      }
    }
    assert.equal(deletes, 3); // customer 1001, sku rename, line_no renumbering
  });

  void test(`${encoding}: primary-key updates are d (old key, newkey header) + tombstone + c (new key, oldkey header)`, () => {
    const cases = [
      { label: 'rename product sku', oldKey: { sku: 'SKU-0008' }, newKey: { sku: 'SKU-0008-RENAMED' } },
      { label: 'renumber an order line', oldKey: { order_id: 5_000_000_901, line_no: 2 }, newKey: { order_id: 5_000_000_901, line_no: 10 } },
    ];
    for (const c of cases) {
      const s = expected.statements.find((x) => x.label.startsWith(c.label));
      assert.ok(s);
      const evs = txEvents(encoding, s);
      assert.deepEqual(evs.map((x) => x.d.op).sort(), ['c', 'd']);
      const del = evs.find((x) => x.d.op === 'd')!;
      const cre = evs.find((x) => x.d.op === 'c')!;
      assert.deepEqual(del.d.key, c.oldKey);
      assert.deepEqual(cre.d.key, c.newKey);
      assert.deepEqual(JSON.parse(del.r.headers['__debezium.newkey'] ?? 'null'), c.newKey);
      assert.deepEqual(JSON.parse(cre.r.headers['__debezium.oldkey'] ?? 'null'), c.oldKey);
      const list = records[encoding];
      const tomb = list[list.indexOf(del.r) + 1];
      assert.equal(tomb?.value, null);
      assert.deepEqual(JSON.parse(tomb.headers['__debezium.newkey'] ?? 'null'), c.newKey);
    }
    // no other record carries headers
    const withHeaders = records[encoding].filter((r) => Object.keys(r.headers).length > 0);
    assert.equal(withHeaders.length, 6);
  });

  void test(`${encoding}: TRUNCATE is one 't' event with a null key and no images`, () => {
    const ts = changes(encoding).filter((x) => x.d.op === 't');
    assert.equal(ts.length, 1);
    const t = ts[0]!;
    assert.equal(t.d.table, 'public.cdcv_watermark');
    assert.equal(t.r.key, null);
    assert.equal(t.d.keyString, null);
    assert.equal(t.d.before, null);
    assert.equal(t.d.after, null);
    assert.equal(t.d.source.snapshot, false);
  });

  void test(`${encoding}: snapshot reads are marked; streamed changes are not`, () => {
    const snap = changes(encoding).filter((x) => x.d.op === 'r');
    assert.ok(snap.length >= 10);
    for (const x of snap) assert.ok(['true', 'first', 'first_in_data_collection', 'last_in_data_collection', 'last'].includes(x.d.source.snapshot as string));
    assert.equal(snap.filter((x) => x.d.source.snapshot === 'first').length, 1);
    assert.equal(snap.filter((x) => x.d.source.snapshot === 'last').length, 1);
    for (const x of changes(encoding).filter((c) => c.d.op !== 'r')) assert.equal(x.d.source.snapshot, false);
    for (const x of changes(encoding)) {
      assert.equal(x.d.source.connector, 'postgresql');
      assert.equal(x.d.source.name, encoding === 'json-schema' ? 'fx_schema' : 'fx_plain');
      assert.equal(typeof x.d.source.lsn, 'number');
      assert.ok(x.d.source.tsMs > 0);
    }
  });
}

// --- schemas.enable=true: typed values equal PostgreSQL's rendering ----------

void test('json-schema: every after image equals the row PostgreSQL had after the statement', () => {
  const all = expectedEvents();
  let compared = 0;
  for (const s of expected.statements) {
    const evs = txEvents('json-schema', s);
    for (const e of all.get(s)!) {
      if (e.op === 't') continue;
      const ev = evs.find((x) => x.d.table === e.table && x.d.keyString === e.keyString);
      assert.ok(ev, `${s.label}: ${e.table} ${e.keyString}`);
      assert.deepEqual(ev.d.after, e.row, `${s.label}: after of ${e.keyString}`);
      if (FULL_IDENTITY.has(e.table)) {
        // REPLICA IDENTITY FULL: the before image is the complete old row
        assert.deepEqual(ev.d.before, e.prev, `${s.label}: before of ${e.keyString}`);
      }
      compared++;
    }
  }
  assert.ok(compared >= 20);
});

void test('json-schema: snapshot reads equal the rows PostgreSQL had before the statements', () => {
  let compared = 0;
  for (const { d } of changes('json-schema').filter((x) => x.d.op === 'r')) {
    if (d.table === 'public.cdcv_watermark') continue; // written with now(): not recorded
    const row = expected.snapshot[d.table]?.[d.keyString ?? ''];
    assert.ok(row, `expected snapshot row for ${d.table} ${d.keyString}`);
    assert.deepEqual(d.after, row);
    assert.equal(d.before, null);
    compared++;
  }
  assert.ok(compared >= 10);
});

void test('json-schema: the last after image per key is the final PostgreSQL row; deleted keys end in a tombstone', () => {
  const last = new Map<string, DecodedRecord>();
  for (const { d } of decoded('json-schema')) if (d.keyString !== null) last.set(`${d.table} ${d.keyString}`, d);
  let n = 0;
  for (const [table, byKey] of Object.entries(expected.final)) {
    for (const [k, row] of Object.entries(byKey)) {
      const d = last.get(`${table} ${k}`);
      assert.ok(d, `${table} ${k}`);
      if (row === null) assert.equal(d.kind, 'tombstone', `${table} ${k}`);
      else {
        assert.equal(d.kind, 'change');
        assert.deepEqual(d.after, row, `${table} ${k}`);
      }
      n++;
    }
  }
  assert.ok(n >= 15);
});

void test('json-schema: representative values, spelled out', () => {
  // Spot checks that the deepEqual comparisons above really cover the hard cases.
  const fin = expected.final;
  const c = changes('json-schema');
  const after = (table: string, key: string): Row => c.filter((x) => x.d.table === table && x.d.keyString === key && x.d.after).at(-1)!.d.after!;
  const products = (sku: string) => after('public.products', `{"sku":"${sku}"}`).price;
  assert.equal(products('SKU-0007'), '10.50');
  assert.equal(products('SKU-0009'), '0.00');
  assert.equal(products('SKU-0010'), '-0.05');
  assert.equal(products('SKU-0011'), '9999999999.99');
  assert.equal(products('SKU-0012'), '-1.28');
  assert.equal(fin['public.products']?.['{"sku":"SKU-0007"}']?.price, '10.50');
  const order = after('public.orders', '{"id":5000000901}');
  assert.equal(order.placed_local, '1965-07-01T08:30:00.500000Z'); // TIMESTAMP (no tz), before 1970
  assert.equal(order.ship_by, '1969-12-31');
  assert.equal(order.id, 5_000_000_901);
  const first = c.find((x) => x.d.table === 'public.customers' && x.d.keyString === '{"id":1001}' && x.d.op === 'c')!.d.after!;
  assert.equal(first.name, 'Zoë Ødegård 李雷 🌸 "q" \\ back');
  assert.equal(first.tier, null);
  assert.equal(first.birth_date, '1962-03-04');
  assert.equal(first.created_at, '2024-02-29T18:29:59.123456Z'); // 23:59:59.123456+05:30
  assert.equal(first.updated_at, '1969-12-31T23:59:59.999999Z');
  assert.equal(first.external_ref, '6f1c2b1e-8d7a-4c3b-9e2f-0a1b2c3d4e5f');
  assert.equal(first.marketing_opt_in, true);
  assert.deepEqual(first.preferences, { lang: 'de', tags: ['früh', '🎉'], sizes: { shoe: 42.5 }, nothing: null, n: -0.001 });
  const again = after('public.customers', '{"id":1001}');
  assert.deepEqual(again.preferences, [1, 'zwei', { drei: 3 }]);
  assert.equal(again.updated_at, '2025-01-02T11:04:05.000001Z'); // 03:04:05.000001-08:00
});

void test('json-schema: NUMERIC(12,2) bytes are the big-endian two\'s complement of the unscaled value', () => {
  // Worked by hand: 10.50 → 1050 = 0x041A; 0.00 → 0 → [0x00] (Java BigInteger.toByteArray);
  // -0.05 → -5 → [0xFB]; -1.28 → -128 → [0x80]; 9999999999.99 → 999999999999 = 0xE8D4A50FFF,
  // whose top bit is set, so a 0x00 sign byte is prepended.
  const want: Record<string, string> = {
    'SKU-0007': Buffer.from([0x04, 0x1a]).toString('base64'),
    'SKU-0009': Buffer.from([0x00]).toString('base64'),
    'SKU-0010': Buffer.from([0xfb]).toString('base64'),
    'SKU-0012': Buffer.from([0x80]).toString('base64'),
    'SKU-0011': Buffer.from([0x00, 0xe8, 0xd4, 0xa5, 0x0f, 0xff]).toString('base64'),
  };
  for (const encoding of ENCODINGS) {
    for (const [sku, b64] of Object.entries(want)) {
      const r = records[encoding].filter((x) => x.key?.includes(`"${sku}"`) && rawEnvelope(x, encoding)?.op === 'u').at(-1);
      assert.ok(r, sku);
      assert.equal(rawEnvelope(r, encoding)?.after?.price, b64, `${encoding} ${sku}`);
      if (encoding === 'json-schema') {
        const schema = columnSchema(r, 'price');
        assert.equal(schema?.name, 'org.apache.kafka.connect.data.Decimal');
        assert.equal(schema?.parameters?.scale, '2');
      }
    }
  }
});

void test('json-schema: REPLICA IDENTITY DEFAULT images: update before is null, delete before is key + placeholders', () => {
  const all = expectedEvents();
  let deletes = 0;
  for (const s of expected.statements) {
    for (const e of all.get(s)!) {
      if (e.op === 't' || FULL_IDENTITY.has(e.table)) continue;
      const ev = txEvents('json-schema', s).find((x) => x.d.table === e.table && x.d.keyString === e.keyString)!;
      if (e.op === 'u') assert.equal(ev.d.before, null, `${s.label}: DEFAULT identity sends no before image on update`);
      if (e.op === 'd') {
        // The old row is NOT in the before image: only the key columns are real;
        // Debezium fills the other NOT NULL columns with type defaults ('' / 0 / epoch).
        const before = ev.d.before!;
        for (const [col, v] of Object.entries(ev.d.key ?? {})) assert.deepEqual(before[col], v);
        assert.notDeepEqual(before, e.prev);
        deletes++;
      }
    }
  }
  assert.equal(deletes, 2);
  const sku = changes('json-schema').find((x) => x.d.op === 'd' && x.d.table === 'public.products')!.d.before!;
  assert.deepEqual(
    { name: sku.name, price: sku.price, updated_at: sku.updated_at, description: sku.description },
    { name: '', price: '0.00', updated_at: '1970-01-01T00:00:00.000000Z', description: null },
  );
});

// --- schemas.enable=false: same events, Debezium's raw values ----------------

void test('json-plain: same keys and ops as json-schema, per key in order and per statement', () => {
  const seq = (encoding: Encoding): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    for (const { d } of decoded(encoding)) (out[`${d.table} ${d.keyString}`] ??= []).push(d.kind === 'tombstone' ? 'tombstone' : d.op);
    return out;
  };
  assert.deepEqual(seq('json-plain'), seq('json-schema'));
  assert.equal(records['json-plain'].length, records['json-schema'].length);
  for (const s of expected.statements) {
    const one = (encoding: Encoding) => txEvents(encoding, s).map((x) => sig(x.d.table, x.d.keyString, x.d.op)).sort();
    assert.deepEqual(one('json-plain'), one('json-schema'), s.label);
  }
});

void test('json-plain: images are Debezium\'s raw values; untyped columns equal PostgreSQL\'s', () => {
  const schemaChanges = changes('json-schema');
  let typedChecked = 0;
  let plainChecked = 0;
  const pair = (s: ExpectedStatement | null, d: ChangeEvent) =>
    schemaChanges.find((x) => x.d.table === d.table && x.d.keyString === d.keyString && x.d.op === d.op && (s === null ? x.d.op === 'r' : x.d.source.txId === s.txId['json-schema']));
  for (const { r, d } of changes('json-plain')) {
    if (d.op === 't') continue;
    const s = d.op === 'r' ? null : (expected.statements.find((x) => x.txId['json-plain'] === d.source.txId) ?? null);
    const twin = pair(s, d);
    assert.ok(twin, `${d.table} ${d.keyString} ${d.op}`);
    // Without a schema the decoder passes the envelope's images through unchanged,
    // and Debezium wrote the same raw values as in the schema encoding.
    const raw = rawEnvelope(r, 'json-plain')!;
    assert.deepEqual(d.after, raw.after);
    assert.deepEqual(d.before, raw.before);
    const twinAfter = rawEnvelope(twin.r, 'json-schema')!.after;
    if (d.table === 'public.cdcv_watermark' && d.op === 'r') {
      // the start watermark was written with now() in each database
      assert.deepEqual({ ...d.after, written_at: null }, { ...twinAfter, written_at: null });
    } else {
      assert.deepEqual(d.after, twinAfter);
    }
    const row = d.op === 'r' ? expected.snapshot[d.table]?.[d.keyString ?? ''] : s?.rows[d.table]?.[d.keyString ?? ''];
    if (!row || !d.after) continue;
    for (const [col, v] of Object.entries(row)) {
      const schema = columnSchema(twin.r, col);
      assert.ok(schema, `${d.table}.${col} has a schema in the twin record`);
      if (schema.name === undefined) {
        // text, int, bigint, boolean: JSON values as PostgreSQL has them
        assert.deepEqual(d.after[col], v, `${d.table}.${col}`);
        plainChecked++;
      } else if (schema.name === 'io.debezium.data.Json' && d.after[col] !== null) {
        assert.equal(typeof d.after[col], 'string');
        assert.deepEqual(JSON.parse(d.after[col] as string), v);
        typedChecked++;
      } else if (schema.name === 'io.debezium.data.Uuid') {
        assert.equal(d.after[col], v);
        typedChecked++;
      }
    }
  }
  assert.ok(plainChecked > 100);
  assert.ok(typedChecked > 10);
  // a NUMERIC stays base64 bytes, a DATE days since the epoch, a TIMESTAMP µs since the epoch
  const order = changes('json-plain').find((x) => x.d.table === 'public.orders' && x.d.op === 'c')!.d.after!;
  assert.equal(order.total, Buffer.from([0x0c, 0x4d]).toString('base64')); // 31.49 → 3149 = 0x0C4D
  assert.equal(order.ship_by, (Date.UTC(2025, 0, 1) / 86_400_000)); // 2025-01-01
  assert.equal(order.placed_local, Date.UTC(1965, 6, 1, 8, 30, 0, 500) * 1000); // 1965-07-01 08:30:00.5
});
