/**
 * Source-position versions (src/cdc/source-position.ts) against envelopes
 * captured from the real Debezium PostgreSQL connector
 * (scripts/capture-version-fixtures.ts → test/fixtures/debezium/versions/)
 * and against the envelopes of Debezium's MySQL and SQL Server documentation.
 *
 * The expected order never comes from Debezium's positions: it is
 * PostgreSQL's own commit order, read from the WAL with pg_walinspect at
 * capture time (`wal`: the COMMIT record of every transaction id), and, for
 * snapshot reads, the write whose `rev` the row shows (every write set `rev`
 * from one sequence): a read sits right after that write.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DecodeError } from '../../../src/errors.ts';
import type { Op } from '../../../src/cdc/types.ts';
import type { Redis } from 'ioredis';
import { sourceVersion, type SourceVersion } from '../../../src/cdc/source-position.ts';
import { encodeOrigin } from '../../../src/state/encoding.ts';
import { StateStore } from '../../../src/state/store.ts';
import { connectTestRedis } from '../../../src/topology/test-redis.ts';
import type { FixtureRecord } from './fixture-types.ts';

/** A version and the Kafka position of its record (what the state store's compare step sees). */
interface VersionAt {
  version: string;
  topic: string;
  partition: number;
  /** Decimal string. */
  offset: string;
  /** The topic's incarnation. @defaultValue 0 */
  incarnation?: number;
}

let redis: Redis;
let store: StateStore;
let pairs = 0;
before(async () => {
  redis = await connectTestRedis();
  store = new StateStore(redis, `source-position-${process.pid}`);
});
after(async () => {
  await store.destroy();
  redis.disconnect();
});

/**
 * Whether `incoming` replaces `stored` for one key: asked of the production
 * compare step (apply-chunk.lua on a real Redis), not of a second
 * implementation — `stored` is written first, then `incoming` is applied.
 */
async function isNewer(incoming: VersionAt, stored: VersionAt): Promise<boolean> {
  const topic = `pair-${pairs++}`;
  const { epoch } = await store.acquire(topic, 0);
  const origin = (at: VersionAt) => encodeOrigin(at.incarnation ?? 0, at.partition, at.offset);
  await store.applyChunk(topic, 0, epoch, null, 1n, [{ table: topic, keyString: 'k', version: stored.version, origin: origin(stored), row: {} }]);
  const r = await store.applyChunk(topic, 0, epoch, 1n, 2n, [{ table: topic, keyString: 'k', version: incoming.version, origin: origin(incoming), row: {} }]);
  return r.flags !== '0'; // '1' written, '=' written without a change (equal rows)
}

const DIR = fileURLToPath(new URL('../../fixtures/debezium/versions/', import.meta.url));

interface WalTx {
  commit: { start: string; end: string } | null;
  changes: { lsn: string; end: string; type: string }[];
}

interface VersionsFixture {
  scenario: string;
  notes: { transactions?: { label: string; xid: number }[] } & Record<string, unknown>;
  wal: Record<string, WalTx>;
  records: FixtureRecord[];
}

type Source = Record<string, unknown> & { snapshot?: string; txId?: number; lsn?: number; sequence?: string };

interface Envelope {
  op: Op;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Source;
  transaction?: { id: string } | null;
}

/** One change event of a fixture, with its version. */
interface Ev {
  r: FixtureRecord;
  env: Envelope;
  /** topic + key payload: table state is per source and key. */
  group: string;
  v: SourceVersion;
  at: VersionAt;
}

function load(scenario: string): VersionsFixture {
  return JSON.parse(readFileSync(`${DIR}${scenario}.json`, 'utf8')) as VersionsFixture;
}

/** The payload of a JsonConverter document, with or without the schema wrapper. */
function payload(json: string): unknown {
  const doc = JSON.parse(json) as { schema?: unknown; payload?: unknown };
  return doc !== null && typeof doc === 'object' && 'schema' in doc && 'payload' in doc ? doc.payload : doc;
}

function events(f: VersionsFixture): Ev[] {
  const out: Ev[] = [];
  for (const r of f.records) {
    if (r.value === null) continue;
    const env = payload(r.value) as Envelope;
    if (typeof env.op !== 'string') continue; // transaction BEGIN/END, Connect offsets
    const v = sourceVersion({ connector: String(env.source.connector), op: env.op, source: env.source, offset: r.offset });
    out.push({ r, env, group: `${r.topic} ${JSON.stringify(payload(r.key ?? 'null'))}`, v, at: { version: v.version, topic: r.topic, partition: r.partition, offset: r.offset } });
  }
  return out;
}

const sequenceOf = (e: Ev): [string | null, string | null] => JSON.parse(e.env.source.sequence ?? 'null') as [string | null, string | null];
const isRead = (e: Ev) => e.env.op === 'r';
const rev = (e: Ev) => (e.env.after ?? e.env.before)?.rev;
const txOf = (f: VersionsFixture, label: RegExp): number => {
  const t = f.notes.transactions?.find((x) => label.test(x.label));
  assert.ok(t, `fixture ${f.scenario} has a transaction ${label}`);
  return t.xid;
};
const commitOf = (f: VersionsFixture, xid: number) => {
  const c = f.wal[xid]?.commit;
  assert.ok(c, `the WAL of ${f.scenario} has the COMMIT of transaction ${xid}`);
  return c;
};

/**
 * Ground-truth position of an event within its key: a streamed change at
 * (its transaction's COMMIT record start, its own LSN); a snapshot read right
 * after the streamed write whose rev it shows, or before every streamed write
 * when that write was not streamed by this connector (seed rows, a transaction
 * committed before the snapshot).
 */
function truth(f: VersionsFixture, group: Ev[]): Map<Ev, [bigint, bigint, number]> {
  const out = new Map<Ev, [bigint, bigint, number]>();
  for (const e of group.filter((x) => !isRead(x))) out.set(e, [BigInt(commitOf(f, e.env.source.txId!).start), BigInt(e.env.source.lsn!), 0]);
  for (const e of group.filter(isRead)) {
    const write = group.find((x) => !isRead(x) && x.env.after !== null && x.env.after.rev === rev(e));
    out.set(e, write ? [out.get(write)![0], out.get(write)![1], 1] : [-1n, 0n, 1]);
  }
  return out;
}

function compareTruth(a: [bigint, bigint, number], b: [bigint, bigint, number]): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : a[2] - b[2];
}

function groups(evs: Ev[]): Ev[][] {
  const by = new Map<string, Ev[]>();
  for (const e of evs) by.set(e.group, [...(by.get(e.group) ?? []), e]);
  return [...by.values()];
}

const label = (e: Ev) => `${e.r.topic}[${e.r.partition}]@${e.r.offset} ${e.env.op} ${e.v.version}`;

/**
 * Per key, every pair of events: the one the source committed later replaces
 * the earlier one and never the reverse; events at the same source position
 * (re-sent) have equal versions; two reads of the same write are not ordered.
 */
async function assertSourceOrderPerKey(f: VersionsFixture): Promise<number> {
  let pairs = 0;
  for (const group of groups(events(f))) {
    const gt = truth(f, group);
    for (const a of group) {
      for (const b of group) {
        if (a === b) continue;
        const c = compareTruth(gt.get(a)!, gt.get(b)!);
        if (c < 0) {
          pairs++;
          assert.ok(await isNewer(b.at, a.at), `${label(b)} must replace the older ${label(a)}`);
          assert.ok(!(await isNewer(a.at, b.at)), `${label(a)} must not replace the newer ${label(b)}`);
        } else if (c === 0 && !isRead(a)) {
          assert.equal(a.v.version, b.v.version, `re-sent ${label(b)} has the version of ${label(a)}`);
        }
      }
    }
  }
  return pairs;
}

// ---------------------------------------------------------------- what the capture shows

test('open across the snapshot: streamed with an LSN below the snapshot LSN and sequence[0] null', () => {
  const f = load('open-across-snapshot');
  const open = txOf(f, /^T_open/);
  for (const prefix of ['vx_plain', 'vx_schema']) {
    const evs = events(f).filter((e) => e.r.topic.startsWith(`${prefix}.`));
    const reads = evs.filter(isRead);
    const snapshotLsn = reads[0]!.env.source.lsn!;
    for (const r of reads) {
      assert.equal(r.env.source.lsn, snapshotLsn, 'every initial snapshot read carries the same LSN');
      assert.deepEqual(sequenceOf(r), [null, String(snapshotLsn)]);
    }
    const streamed = evs.filter((e) => e.env.source.txId === open);
    assert.deepEqual(streamed.map((e) => e.env.op).sort(), ['c', 'u', 'u']);
    for (const e of streamed) assert.equal(sequenceOf(e)[0], null, 'first transaction after the snapshot: sequence[0] null');
    // Written below the snapshot's LSN (update 1, insert 101), yet not in the snapshot: the read shows the seed row.
    for (const id of [1, 101]) {
      const e = streamed.find((x) => x.env.after?.id === id)!;
      assert.ok(e.env.source.lsn! < snapshotLsn, `${prefix}: ${label(e)} below ${snapshotLsn}`);
    }
    assert.equal(reads.find((r) => r.env.after?.id === 1)!.env.after!.rev, 1);
    assert.ok(!reads.some((r) => r.env.after?.id === 101), 'the inserted row is not in the snapshot');
  }
});

test('sequence[0] is the END LSN of the COMMIT record of the transaction streamed before', () => {
  const check = (scenario: string, tx: RegExp, previous: RegExp) => {
    const f = load(scenario);
    const evs = events(f).filter((e) => e.env.source.txId === txOf(f, tx));
    assert.ok(evs.length > 0, `${scenario}: events of ${tx}`);
    for (const e of evs) assert.equal(sequenceOf(e)[0], commitOf(f, txOf(f, previous)).end, `${scenario} ${label(e)}`);
  };
  check('open-across-snapshot', /^T_after/, /^T_open/);
  check('first-after-snapshot', /^T_b/, /^T_a/);
  check('first-after-snapshot', /^T_c/, /^T_b/);
  // T1 wrote first but committed after T2: its sequence[0] is T2's commit.
  check('interleaved', /^T1/, /^T2/);
  check('interleaved', /^T3/, /^T1/);
  check('connect-restart', /^R3/, /^R2/);
});

test('a streamed change carries the LSN of its own heap record; sequence[1] is that LSN', () => {
  for (const scenario of ['open-across-snapshot', 'first-after-snapshot', 'pk-update', 'interleaved', 'incremental-snapshot', 'connect-restart', 'toast']) {
    const f = load(scenario);
    for (const e of events(f).filter((x) => !isRead(x))) {
      const lsn = String(e.env.source.lsn);
      assert.equal(sequenceOf(e)[1], lsn);
      assert.ok(f.wal[e.env.source.txId!]?.changes.some((c) => c.lsn === lsn), `${scenario} ${label(e)}: a heap record of its transaction starts at ${lsn}`);
    }
  }
});

test('Debezium-created slot: slot creation waits for the open transaction, which lands in the snapshot; then sequence[0] null, then set', () => {
  const f = load('first-after-snapshot');
  assert.equal(f.notes.recordsBeforeCommit, 0, 'no snapshot while the transaction was open');
  const evs = events(f);
  const y = txOf(f, /^T_y/);
  assert.ok(!evs.some((e) => e.env.source.txId === y), 'the transaction open during slot creation is not streamed');
  const read4 = evs.find((e) => isRead(e) && e.env.after?.id === 4)!;
  assert.ok(BigInt(read4.env.source.lsn!) > BigInt(commitOf(f, y).end), 'the snapshot LSN (consistent point) is after its commit');
  const first = evs.filter((e) => e.env.source.txId === txOf(f, /^T_a/));
  assert.equal(first.length, 1);
  assert.equal(sequenceOf(first[0]!)[0], null);
  assert.ok(first[0]!.env.source.lsn! > read4.env.source.lsn!, 'written after the snapshot');
});

test('primary-key update: d (old key) + tombstone + c (new key) at one source position', () => {
  const f = load('pk-update');
  for (const prefix of ['vx_plain', 'vx_schema']) {
    const recs = f.records.filter((r) => r.topic.startsWith(`${prefix}.`));
    const evs = events(f).filter((e) => e.r.topic.startsWith(`${prefix}.`) && !isRead(e));
    const d = evs.find((e) => e.env.op === 'd')!;
    const c = evs.find((e) => e.env.op === 'c')!;
    assert.equal(d.env.source.sequence, c.env.source.sequence);
    assert.equal(d.v.version, c.v.version);
    assert.deepEqual(JSON.parse(d.r.headers['__debezium.newkey']!), { id: 201 });
    assert.deepEqual(JSON.parse(c.r.headers['__debezium.oldkey']!), { id: 6 });
    const tomb = recs.find((r) => r.value === null)!;
    assert.equal(tomb.partition, d.r.partition);
    assert.equal(BigInt(tomb.offset), BigInt(d.r.offset) + 1n);
  }
});

test('interleaved transactions arrive in commit order; transaction.id is "txId:<LSN of the record that carries it>"', () => {
  const f = load('interleaved');
  const [t1, t2] = [txOf(f, /^T1/), txOf(f, /^T2/)];
  assert.ok(BigInt(commitOf(f, t2).start) < BigInt(commitOf(f, t1).start), 'T2 committed first');
  const a = events(f).find((e) => e.env.source.txId === t1 && e.env.after?.id === 2)!;
  const b = events(f).find((e) => e.env.source.txId === t2)!;
  assert.ok(a.env.source.lsn! < b.env.source.lsn!, 'T1 wrote A before T2 wrote B');
  assert.ok(a.v.version > b.v.version, 'yet A ranks above B: sequence[0] follows the commit order');
  for (const e of events(f).filter((x) => !isRead(x))) assert.equal(e.env.transaction?.id, `${e.env.source.txId}:${e.env.source.lsn}`);
  const markers = f.records.filter((r) => r.topic.endsWith('.transaction')).map((r) => JSON.parse(r.value!) as { status: string; id: string });
  const idOf = (status: string, xid: number) => markers.find((m) => m.status === status && m.id.startsWith(`${xid}:`))!.id;
  assert.equal(idOf('BEGIN', t1), `${t1}:${f.wal[t1]!.changes[0]!.lsn}`, 'BEGIN: the first LSN of the transaction');
  assert.equal(idOf('END', t1), `${t1}:${commitOf(f, t1).end}`, 'END: the end of its COMMIT record');
});

test('incremental snapshot reads: no lsn or txId, sequence of the close-window watermark they were emitted at', () => {
  const f = load('incremental-snapshot');
  const evs = events(f);
  const incremental = evs.filter((e) => e.env.source.snapshot === 'incremental');
  assert.ok(incremental.length >= 10, `${incremental.length} incremental reads`);
  const closes = new Set(evs.filter((e) => e.r.topic.endsWith('.vx_signal') && e.env.after?.type === 'snapshot-window-close').map((e) => e.env.source.sequence));
  for (const e of incremental) {
    assert.equal(e.env.source.lsn, null);
    assert.equal(e.env.source.txId, null);
    assert.ok(closes.has(e.env.source.sequence), `${label(e)}: ${e.env.source.sequence} is a close watermark's sequence`);
  }
  const written = evs.filter((e) => e.r.topic.endsWith('.vx_items') && !isRead(e));
  assert.ok(written.some((w) => incremental.some((i) => i.group === w.group && i.r.offset > w.r.offset)), 'live changes before reads of the same key');
  assert.ok(written.some((w) => incremental.some((i) => i.group === w.group && BigInt(i.r.offset) < BigInt(w.r.offset))), 'and after them');
});

test('Connect restart: re-sent events carry the original source positions at higher offsets; sequence[0] is restored', () => {
  const f = load('connect-restart');
  const evs = events(f);
  const bySource = new Map<string, Ev[]>();
  for (const e of evs.filter((x) => !isRead(x))) {
    const k = `${e.group} ${e.env.source.txId} ${e.env.source.lsn}`;
    bySource.set(k, [...(bySource.get(k) ?? []), e]);
  }
  const resent = [...bySource.values()].filter((l) => l.length > 1);
  const unflushed = new Set([/^R3/, /^R4/, /^R5/].map((t) => txOf(f, t)));
  assert.deepEqual(new Set(resent.map((l) => l[0]!.env.source.txId)), unflushed, 'exactly the transactions after the flushed offset are re-sent');
  for (const [original, again] of resent) {
    assert.ok(BigInt(again!.r.offset) > BigInt(original!.r.offset), `${label(again!)} after ${label(original!)}`);
    assert.deepEqual(again!.env.source, { ...original!.env.source, ts_ms: again!.env.source.ts_ms, ts_us: again!.env.source.ts_us, ts_ns: again!.env.source.ts_ns });
    assert.equal(again!.v.version, original!.v.version);
  }
  const flushed = f.records.find((r) => r.topic.endsWith('_offsets'))!;
  const offset = JSON.parse(flushed.value!) as { lsn_commit: number; lsn_proc: number };
  assert.equal(String(offset.lsn_commit), commitOf(f, txOf(f, /^R1/)).end, 'the flushed offset sits inside R2: lsn_commit is R1\'s');
  const firstResent = evs.find((e) => e.env.source.txId === txOf(f, /^R3/) && e.r.offset !== resent.find((l) => l[0]!.env.source.txId === e.env.source.txId)![0]!.r.offset)!;
  assert.equal(sequenceOf(firstResent)[0], commitOf(f, txOf(f, /^R2/)).end, 'not null: R2\'s COMMIT was re-read while locating the resume position');
});

test('TOAST: unchanged out-of-line values are a placeholder string (text, jsonb) or its bytes in base64 (bytea)', () => {
  const f = load('toast');
  const updates = events(f).filter((e) => e.env.op === 'u' && e.env.after?.title === 'renamed');
  assert.ok(updates.length >= 3, `${updates.length} updates`);
  for (const e of updates.filter((x) => x.env.after!.id === 1 || x.r.offset === '1')) {
    assert.equal(e.env.after!.meta, '__debezium_unavailable_value');
    assert.equal(e.env.after!.blob, Buffer.from('__debezium_unavailable_value').toString('base64'));
  }
  assert.ok(updates.some((e) => e.env.after!.body === '__debezium_unavailable_value'), 'text placeholder');
});

// ---------------------------------------------------------------- the rule on the captured envelopes

for (const scenario of ['open-across-snapshot', 'first-after-snapshot', 'pk-update', 'interleaved', 'incremental-snapshot', 'connect-restart', 'toast']) {
  test(`${scenario}: per key, versions order as PostgreSQL committed`, async () => {
    const f = load(scenario);
    for (const e of events(f)) {
      assert.equal(e.v.kind, 'postgresql');
      assert.match(e.v.version, /^P\d{20}[0-2]\d{20}[01]$/);
    }
    assert.ok((await assertSourceOrderPerKey(f)) > 0, 'some ordered pairs were checked');
  });
}

test('open across the snapshot: string order alone is not decisive; the compare step decides by Kafka order', async () => {
  const f = load('open-across-snapshot');
  const plain = events(f).filter((e) => e.r.topic.startsWith('vx_plain.') && e.env.after?.id === 1);
  const read = plain.find(isRead)!;
  const change = plain.find((e) => e.env.source.txId === txOf(f, /^T_open/))!;
  assert.ok(change.v.version < read.v.version, 'P null and L below S: the string ranks the newer change lower');
  assert.ok(await isNewer(change.at, read.at), 'the change comes later in the partition');
  assert.ok(!(await isNewer(read.at, change.at)), 'a rewind re-delivering the read does not move the key back');
  // In another partition (partitions added) the later arrival wins.
  assert.ok(await isNewer({ ...change.at, partition: 9 }, read.at), 'another partition: the arrival wins');
});

test('snapshot read vs change: positions decide when P or L reaches S, Kafka order in one partition when both are below', async () => {
  const at = (v: SourceVersion, partition: number, offset: string): VersionAt => ({ version: v.version, topic: 't', partition, offset });
  const read = pg('r', { snapshot: 'true', sequence: '[null,"500"]', lsn: 500 });
  // Streamed after a blocking snapshot from a position before S: previous commit below S, own change above it.
  const after = pg('u', { sequence: '["400","510"]', lsn: 510 });
  assert.ok(await isNewer(at(after, 1, '0'), at(read, 0, '9')), 'newer, whatever the partitions');
  assert.ok(!(await isNewer(at(read, 0, '9'), at(after, 1, '0'))), 'a re-delivered read from another partition does not win');
  const below = pg('u', { sequence: '["300","350"]', lsn: 350 });
  assert.ok(await isNewer(at(below, 0, '10'), at(read, 0, '9')), 'after the read in its partition: committed after S');
  assert.ok(!(await isNewer(at(below, 0, '8'), at(read, 0, '9'))), 'before it: committed before S (or a rewind)');
  assert.ok(!(await isNewer(at(read, 0, '9'), at(below, 0, '10'))), 'the read does not replace the change after it');
  assert.ok(await isNewer(at(read, 0, '9'), at(below, 0, '8')), 'the read replaces the change before it');
  // A later incarnation of the topic (re-created) is newer in the undecidable case, whatever the offsets.
  assert.ok(await isNewer({ ...at(read, 0, '1'), incarnation: 1 }, at(below, 0, '8')), 'a read of a re-created topic replaces a change of the old one');
  assert.ok(!(await isNewer(at(below, 0, '8'), { ...at(read, 0, '1'), incarnation: 1 })), 'a change of the old topic does not replace a read of the re-created one');
});

test('an incremental read ranks just below the change at whose position Debezium emitted it, above everything before', () => {
  // EventDispatcher runs the incremental snapshot before emitting the record that closes the window
  // (read-only variant: possibly a change of a key in the chunk).
  const read = pg('r', { snapshot: 'incremental', sequence: '["100","120"]', lsn: undefined, txId: undefined });
  assert.ok(read.version < pg('u', { sequence: '["100","120"]' }).version, 'below the change at its position');
  assert.ok(read.version > pg('u', { sequence: '["100","110"]' }).version, 'above the change before it in that transaction');
  assert.ok(read.version > pg('u', { sequence: '["90","130"]' }).version, 'above the previous transaction');
  assert.ok(read.version < pg('u', { sequence: '["140","125"]' }).version, 'below the next transaction');
});

test('incremental snapshot: in each partition every record ranks above all before it and below all after it', () => {
  const f = load('incremental-snapshot');
  const byPartition = new Map<string, Ev[]>();
  for (const e of events(f)) byPartition.set(`${e.r.topic}[${e.r.partition}]`, [...(byPartition.get(`${e.r.topic}[${e.r.partition}]`) ?? []), e]);
  let reads = 0;
  for (const list of byPartition.values()) {
    list.sort((a, b) => Number(BigInt(a.r.offset) - BigInt(b.r.offset)));
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i - 1]!.v.version <= list[i]!.v.version, `${label(list[i - 1]!)} then ${label(list[i]!)}`);
      if (list[i]!.env.source.snapshot === 'incremental') reads++;
    }
  }
  assert.ok(reads >= 10, `${reads} incremental reads`);
});

test('a store applying the restart fixture in Kafka order skips every re-sent record and ends at the last commit', async () => {
  const f = load('connect-restart');
  const state = new Map<string, Ev>();
  let skipped = 0;
  const ordered = events(f).sort((a, b) => a.r.partition - b.r.partition || Number(BigInt(a.r.offset) - BigInt(b.r.offset)));
  for (const e of ordered) {
    const stored = state.get(e.group);
    if (stored === undefined || (await isNewer(e.at, stored.at))) state.set(e.group, e);
    else skipped++;
  }
  assert.equal(skipped, 5, 'the five re-sent change events');
  const final = Object.fromEntries([...state.values()].map((e) => [String((e.env.after ?? e.env.before)!.id), e.env.op === 'd' ? null : e.env.after!.amount]));
  assert.deepEqual(final, { 1: 3, 2: 3, 3: null, 4: 0 });
});

// ---------------------------------------------------------------- documented MySQL and SQL Server envelopes

const mysqlSource = (over: Record<string, unknown>) => ({
  version: '3.1.3.Final', connector: 'mysql', name: 'mysql-server-1', ts_ms: 0, snapshot: 'false', db: 'inventory', table: 'customers',
  server_id: 223344, gtid: null, file: 'mysql-bin.000003', pos: 154, row: 0, thread: 7, query: null, ...over,
});
const mysql = (op: Op, over: Record<string, unknown>, offset = '0') => sourceVersion({ connector: 'mysql', op, source: mysqlSource(over), offset });

test('MySQL: binlog (file index, pos, row) order; snapshot reads below the changes at their position', () => {
  // shared-mariadb-mysql.adoc: create at pos 154, update at 484, delete at 805 (mysql-bin.000003, row 0).
  const read = mysql('r', { snapshot: 'true', pos: 154, thread: null });
  const created = mysql('c', { pos: 154 });
  const updated = mysql('u', { pos: 484 });
  const deleted = mysql('d', { pos: 805 });
  assert.equal(created.kind, 'mysql');
  for (const [older, newer] of [[read, created], [created, updated], [updated, deleted]] as const) assert.ok(newer.version > older.version, `${newer.version} > ${older.version}`);
  // Rows of one rows event; the next file (the index, not the name, orders: .999999 < .1000000); positions beyond 4 GiB.
  assert.ok(mysql('u', { pos: 805, row: 1 }).version > deleted.version, 'next row of the rows event');
  assert.ok(mysql('u', { file: 'mysql-bin.1000000', pos: 4 }).version > mysql('u', { file: 'mysql-bin.999999', pos: 5_000_000_000 }).version, 'next binlog file');
  // An incremental read is emitted just before the record at its position.
  const incremental = mysql('r', { snapshot: 'incremental', pos: 900 });
  assert.ok(incremental.version < mysql('c', { pos: 900 }).version && incremental.version > mysql('u', { pos: 805, row: 1 }).version, 'between the record at its position and the one before');
  assert.equal(sourceVersion({ connector: 'mariadb', op: 'c', source: mysqlSource({}), offset: '0' }).version, created.version);
});

const sqlServerSource = (over: Record<string, unknown>) => ({
  version: '3.1.3.Final', connector: 'sqlserver', name: 'server1', ts_ms: 1559729471739, snapshot: 'false', db: 'testDB', schema: 'dbo', table: 'customers', ...over,
});
const sqlServer = (op: Op, over: Record<string, unknown>) => sourceVersion({ connector: 'sqlserver', op, source: sqlServerSource(over), offset: '0' });

test('SQL Server: (commit_lsn, change_lsn, event_serial_no) order; snapshot reads carry only commit_lsn', () => {
  // sqlserver.adoc: snapshot source, then create, update, delete events.
  const read = sqlServer('r', { snapshot: 'true', change_lsn: null, commit_lsn: '00000025:00000d98:00a2', event_serial_no: null });
  const created = sqlServer('c', { change_lsn: '00000027:00000758:0003', commit_lsn: '00000027:00000758:0005', event_serial_no: '1' });
  const updated = sqlServer('u', { change_lsn: '00000027:00000ac0:0002', commit_lsn: '00000027:00000ac0:0007', event_serial_no: '2' });
  const deleted = sqlServer('d', { change_lsn: '00000027:00000db0:0005', commit_lsn: '00000027:00000db0:0007', event_serial_no: '1' });
  assert.equal(created.kind, 'sqlserver');
  for (const [older, newer] of [[read, created], [created, updated], [updated, deleted]] as const) assert.ok(newer.version > older.version, `${newer.version} > ${older.version}`);
  // A commit later in the transaction log wins over a smaller change_lsn; hex digits order as numbers.
  const a = sqlServer('u', { change_lsn: '0000002a:000000ff:0001', commit_lsn: '0000002a:00000100:0001', event_serial_no: 1 });
  const b = sqlServer('u', { change_lsn: '00000027:00000001:0001', commit_lsn: '0000002a:00000101:0001', event_serial_no: 1 });
  assert.ok(b.version > a.version, `${b.version} > ${a.version}`);
  assert.ok(sqlServer('u', { change_lsn: '0000002A:00000100:0001', commit_lsn: '0000002A:00000100:0002' }).version > a.version, 'upper-case hex');
});

// ---------------------------------------------------------------- fallback and errors

const pgSource = (over: Record<string, unknown>) => ({ connector: 'postgresql', snapshot: 'false', sequence: '["100","120"]', lsn: 120, txId: 7, ...over });
const pg = (op: Op, over: Record<string, unknown>, offset = '0') => sourceVersion({ connector: 'postgresql', op, source: pgSource(over), offset });

test('positions above 2^53 are exact from sequence; without sequence the lsn (JSON number, or bigint from the Avro decoder) is used', () => {
  const big = '18446744073709551615';
  assert.equal(pg('u', { sequence: `["${big}","${big}"]`, lsn: 1 }).version, `P${big}2${big}1`);
  assert.equal(pg('u', { sequence: undefined, lsn: 2n ** 60n }).version, `P${String(2n ** 60n).padStart(20, '0')}1${String(2n ** 60n).padStart(20, '0')}1`, 'Avro int64 as bigint');
  assert.equal(pg('u', { sequence: undefined, lsn: 120 }).version, `P${'120'.padStart(20, '0')}1${'120'.padStart(20, '0')}1`);
  assert.equal(pg('r', { snapshot: 'incremental', sequence: '[null,"130"]', lsn: undefined }).version, `P${'130'.padStart(20, '0')}1${'130'.padStart(20, '0')}0`);
});

test('the Kafka offset only when the source gives no position', async () => {
  assert.deepEqual(pg('r', { snapshot: 'incremental', sequence: undefined, lsn: undefined }, '42'), { kind: 'kafka-offset', version: `K${'42'.padStart(20, '0')}` });
  assert.equal(sourceVersion({ connector: 'mongodb', op: 'c', source: { ord: 1 }, offset: '7' }).kind, 'kafka-offset');
  assert.equal(sourceVersion({ connector: 'sqlserver', op: 'c', source: sqlServerSource({}), offset: '7' }).kind, 'kafka-offset');
  // Kinds compare by their letter: a source position (P) replaces a Kafka offset (K) of the same key, never the reverse.
  const kafka = { version: `K${'9'.padStart(20, '0')}`, topic: 't', partition: 0, offset: '9' };
  const source = { version: pg('u', {}).version, topic: 't', partition: 0, offset: '1' };
  assert.ok(await isNewer(source, kafka));
  assert.ok(!(await isNewer(kafka, source)));
});

test('a malformed position is a DecodeError (the record goes to the DLQ), not a guess', () => {
  const bad: [string, () => unknown][] = [
    ['sequence not JSON', () => pg('u', { sequence: '[100,' })],
    ['sequence of three', () => pg('u', { sequence: '["1","2","3"]' })],
    ['negative lsn', () => pg('u', { sequence: undefined, lsn: -1 })],
    ['lsn above 2^53 as a JSON number', () => pg('u', { sequence: undefined, lsn: 2 ** 60 })],
    ['lsn above 2^64', () => pg('u', { sequence: '["1","18446744073709551616"]' })],
    ['binlog file without index', () => mysql('u', { file: 'mysql-bin' })],
    ['SQL Server LSN', () => sqlServer('u', { commit_lsn: '27:758:5' })],
  ];
  for (const [what, fn] of bad) assert.throws(fn, (err: unknown) => err instanceof DecodeError && err.code === 'DECODE_BAD_ENVELOPE', what);
});
