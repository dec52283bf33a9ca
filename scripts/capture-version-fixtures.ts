/**
 * Captures, FROM THE REAL DEBEZIUM POSTGRESQL CONNECTOR, the envelopes that
 * the source-position rule (src/cdc/source-position.ts) is derived from and
 * tested on: test/fixtures/debezium/versions/<scenario>.json.
 *
 *   node --import tsx scripts/capture-version-fixtures.ts
 *
 * Needs the local stack (npm run stack:up): Kafka, Kafka Connect with
 * Debezium 3.1 (CDCV_CONNECT_URL), PostgreSQL with wal_level=logical and the
 * pg_walinspect extension, and the stack's jars in CDCV_STACK_DIR (default
 * <repo>/.stack) for a second Connect worker this script starts and kills.
 * Takes about three minutes. Everything it creates is named cdcv_vx… / vx_…
 * and is dropped at the end, also when a step fails: database cdcv_vx,
 * publication cdcv_vx_pub, slots cdcv_vx_<id>, connectors cdcv_vx_<id> (with
 * their Connect offsets), topics vx_<id>.*, the worker's cdcv_vx_connect_*
 * topics and the capture's consumer groups.
 *
 * Connectors (JsonConverter; all on one database):
 *   cdcv_vx_plain    schemas.enable=false, transaction metadata, signal table
 *                    (incremental snapshots), slot created BEFORE the connector
 *   cdcv_vx_schema   schemas.enable=true, slot created before the connector
 *   cdcv_vx_fresh    schemas.enable=false, slot created by Debezium (the
 *                    project's usual set-up, schemas/connectors/shop.json)
 *   cdcv_vx_restart  on a second Connect worker (port 8093,
 *                    offset.flush.interval.ms=30000) that is killed with -9
 *
 * Scenarios (one fixture each):
 *   open-across-snapshot   a transaction open while the snapshot runs, committed after it
 *   first-after-snapshot   Debezium-created slot: the open transaction is waited for;
 *                          then the first transactions after the snapshot
 *   pk-update              primary-key update: d + tombstone + c
 *   interleaved            T1 writes A, T2 writes B and commits, T1 writes C and commits
 *   incremental-snapshot   signal-table incremental snapshot while rows are updated and deleted
 *   connect-restart        kill -9 of the Connect worker after an offset flush: re-sent events
 *   toast                  unchanged TOASTed text/bytea/jsonb columns in updates
 *
 * Every fixture is `{scenario, about, captured, connectors, notes, wal,
 * records}`: `records` have the format of test/fixtures/debezium/json-plain.json;
 * `wal` is the ground truth from PostgreSQL itself (pg_walinspect), per
 * transaction id of the kept records: the start and end LSN of its COMMIT
 * record and the LSNs of its heap records. Every write also sets `rev` from
 * one sequence, so a row image says which write it shows. LSNs are decimal
 * strings, as Debezium writes them in `source.sequence`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { loadEnv, pgConnectionString } from '../src/config.ts';
import { ConnectClient, loadConnector, type ConnectorDefinition } from '../src/connect/client.ts';
import { retry } from '../src/retry.ts';
import type { FixtureRecord } from '../test/unit/cdc/fixture-types.ts';
import { toFixtureRecord } from './fixture-record.ts';

const cfg = loadEnv();
const REPO = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(REPO, 'test/fixtures/debezium/versions');
const STACK_DIR = process.env.CDCV_STACK_DIR ?? join(REPO, '.stack');
const DB = 'cdcv_vx';
const PUBLICATION = 'cdcv_vx_pub';
const TABLES = ['vx_accounts', 'vx_items', 'vx_docs', 'vx_signal', 'vx_ledger'];
const WORKER_PORT = 8093;
const WORKER_GROUP = 'cdcv_vx_connect';
const WORKER_TOPICS = ['configs', 'offsets', 'status'].map((t) => `${WORKER_GROUP}_${t}`);
/** Rows of vx_items; the incremental snapshot reads them in chunks of ITEMS_CHUNK. */
const ITEMS = 120;
const ITEMS_CHUNK = 8;
/** The concurrent writer touches only these items, so the fixture keeps only their records (plus neighbours). */
const ITEMS_WRITTEN = 40;
const ITEMS_KEPT = 24;

const kafka = new Kafka({ brokers: cfg.CDCV_KAFKA_BROKERS.split(','), clientId: 'cdcv-vx-capture', logLevel: logLevel.NOTHING });
const sharedConnect = new ConnectClient(cfg.CDCV_CONNECT_URL);
const workerConnect = new ConnectClient(`http://localhost:${WORKER_PORT}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

// ------------------------------------------------------------------ connectors

interface Pipeline {
  id: string;
  connector: string;
  prefix: string;
  slot: string;
  tables: string[];
  /** Create the replication slot before the connector (Debezium then snapshots at pg_current_wal_lsn()). */
  precreateSlot: boolean;
  connect: ConnectClient;
  config: Record<string, string>;
}

function pipeline(id: string, tables: string[], opts: { precreateSlot: boolean; schemas: boolean; connect?: ConnectClient; config?: Record<string, string> }): Pipeline {
  const schemas = String(opts.schemas);
  return {
    id,
    connector: `cdcv_vx_${id}`,
    prefix: `vx_${id}`,
    slot: `cdcv_vx_${id}`,
    tables,
    precreateSlot: opts.precreateSlot,
    connect: opts.connect ?? sharedConnect,
    config: { 'key.converter.schemas.enable': schemas, 'value.converter.schemas.enable': schemas, ...opts.config },
  };
}

const PLAIN = pipeline('plain', ['vx_accounts', 'vx_items', 'vx_docs', 'vx_signal'], {
  precreateSlot: true,
  schemas: false,
  config: {
    'provide.transaction.metadata': 'true',
    'signal.data.collection': 'public.vx_signal',
    'incremental.snapshot.chunk.size': String(ITEMS_CHUNK),
    'notification.enabled.channels': 'sink',
    'notification.sink.topic.name': 'vx_plain.notifications',
  },
});
const SCHEMA = pipeline('schema', ['vx_accounts', 'vx_docs'], { precreateSlot: true, schemas: true });
const FRESH = pipeline('fresh', ['vx_accounts'], { precreateSlot: false, schemas: false });
const RESTART = pipeline('restart', ['vx_ledger'], { precreateSlot: false, schemas: false, connect: workerConnect });
const PIPELINES = [PLAIN, SCHEMA, FRESH, RESTART];

/** The project's connector definition (schemas/connectors/shop.json) pointed at this capture's database. */
async function definition(p: Pipeline, dbname = DB): Promise<ConnectorDefinition> {
  return loadConnector(join(REPO, 'schemas/connectors/shop.json'), {
    name: p.connector,
    'database.hostname': cfg.CDCV_PG_HOST,
    'database.port': String(cfg.CDCV_PG_PORT),
    'database.dbname': dbname,
    'topic.prefix': p.prefix,
    'slot.name': p.slot,
    'publication.name': PUBLICATION,
    'table.include.list': p.tables.map((t) => `public.${t}`).join(','),
    ...p.config,
  });
}

const topicOf = (p: Pipeline, table: string) => `${p.prefix}.public.${table}`;

// ------------------------------------------------------------------ PostgreSQL

class Session {
  private constructor(readonly c: pg.Client) {}

  static async open(database = DB): Promise<Session> {
    const c = new pg.Client({ connectionString: pgConnectionString(cfg, database) });
    await c.connect();
    return new Session(c);
  }

  async q<R extends pg.QueryResultRow = Record<string, string>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.c.query<R>(sql, params)).rows;
  }

  async one(sql: string, params: unknown[] = []): Promise<string> {
    const rows = await this.q(sql, params);
    return Object.values(rows[0] ?? {})[0] ?? '';
  }

  /** The 32-bit transaction id (Debezium's source.txId) of the open transaction; assigns one. */
  async xid(): Promise<number> {
    return Number(BigInt(await this.one('SELECT pg_current_xact_id()::text')) % (1n << 32n));
  }

  /** The WAL write position as a decimal string. */
  lsn(): Promise<string> {
    return this.one(`SELECT (pg_current_wal_lsn() - '0/0')::text`);
  }

  close(): Promise<void> {
    return this.c.end();
  }
}

async function withSession<T>(fn: (s: Session) => Promise<T>, database = DB): Promise<T> {
  const s = await Session.open(database);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** A scripted transaction: its label and xid, for the fixture's notes. */
interface Tx {
  label: string;
  xid: number;
}

/** Runs statements in one transaction on a fresh connection. */
async function tx(label: string, ...statements: string[]): Promise<Tx> {
  return withSession(async (s) => {
    await s.q('BEGIN');
    for (const sql of statements) await s.q(sql);
    const xid = await s.xid();
    await s.q('COMMIT');
    return { label, xid };
  });
}

async function createDatabase(): Promise<string> {
  await withSession(async (s) => {
    await s.q(`CREATE DATABASE ${DB}`);
  }, 'postgres');
  return withSession(async (s) => {
    await s.q(`CREATE EXTENSION pg_walinspect`);
    await s.q(`CREATE SEQUENCE vx_rev`);
    await s.q(`CREATE TABLE vx_accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL, rev bigint NOT NULL DEFAULT nextval('vx_rev'))`);
    await s.q(`INSERT INTO vx_accounts (id, owner, balance) SELECT i, 'owner-' || i, 100 * i FROM generate_series(1, 6) i`);
    await s.q(`CREATE TABLE vx_items (id int PRIMARY KEY, qty int NOT NULL, rev bigint NOT NULL DEFAULT nextval('vx_rev'))`);
    await s.q(`ALTER TABLE vx_items REPLICA IDENTITY FULL`); // deletes carry the rev they remove
    await s.q(`INSERT INTO vx_items (id, qty) SELECT i, 0 FROM generate_series(1, ${ITEMS}) i`);
    await s.q(`CREATE TABLE vx_docs (id int PRIMARY KEY, title text, body text, blob bytea, meta jsonb, rev bigint NOT NULL DEFAULT nextval('vx_rev'))`);
    await s.q(`INSERT INTO vx_docs (id, title, body, blob, meta) VALUES (1, 'seeded', ${bigText(1)}, ${bigBytes(1)}, ${bigJson(1)})`);
    // Debezium's signal table (columns id, type, data); the connector also inserts its watermarks into it.
    await s.q(`CREATE TABLE vx_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`);
    await s.q(`CREATE TABLE vx_ledger (id int PRIMARY KEY, amount int NOT NULL, rev bigint NOT NULL DEFAULT nextval('vx_rev'))`);
    await s.q(`CREATE TABLE vx_unpublished (id serial PRIMARY KEY)`);
    await s.q(`INSERT INTO vx_ledger (id, amount) SELECT i, 0 FROM generate_series(1, 3) i`);
    await s.q(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${TABLES.join(', ')}`);
    await s.q(`GRANT USAGE ON SCHEMA public TO cdcv_replicator`);
    await s.q(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO cdcv_replicator`);
    await s.q(`GRANT INSERT, DELETE ON vx_signal TO cdcv_replicator`);
    return s.one(`SELECT pg_current_wal_lsn()::text`);
  });
}

/**
 * Values that PostgreSQL stores out of line (TOAST): random, so compression
 * cannot bring them under the 2 kB tuple threshold. 20 kB of text (md5 hex
 * chain), 4 kB of bytea, a 4 kB JSON document.
 */
function bigText(seed: number): string {
  return `(SELECT string_agg(md5(random()::text || i || ${seed}), '') FROM generate_series(1, 640) i)`;
}
function bigBytes(seed: number): string {
  return `(SELECT decode(string_agg(md5(random()::text || i || ${seed}), ''), 'hex') FROM generate_series(1, 256) i)`;
}
function bigJson(seed: number): string {
  return `(SELECT jsonb_build_object('seed', ${seed}, 'noise', string_agg(md5(random()::text || i), '')) FROM generate_series(1, 128) i)`;
}

// ------------------------------------------------------------------ Kafka

/** Runs admin calls; other sessions restart the shared broker in their tests, so KafkaJS' retriable errors are retried. */
async function withAdmin<T>(fn: (a: Admin) => Promise<T>): Promise<T> {
  return retry(async () => {
    const a = kafka.admin();
    await a.connect();
    try {
      return await fn(a);
    } finally {
      await a.disconnect();
    }
  }, { attempts: 15, maxDelayMs: 5000, operation: 'a Kafka admin request', retriable: (err) => (err as { retriable?: unknown }).retriable === true });
}

/** Records written to a topic so far (sum of its partitions' end offsets); 0 when it does not exist yet. */
async function recordCount(topic: string): Promise<number> {
  return withAdmin(async (a) => {
    if (!(await a.listTopics()).includes(topic)) return 0;
    return (await a.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  });
}

async function waitForRecords(topic: string, atLeast: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(`${atLeast} records in ${topic}`, async () => (await recordCount(topic)) >= atLeast, timeoutMs);
}

const groups: string[] = [];

/** Follows topics from their beginning; `records` grows as records arrive. */
class Tail {
  readonly records: FixtureRecord[] = [];
  private readonly consumer;
  private readonly next = new Map<string, bigint>();

  constructor(private readonly topics: string[]) {
    const groupId = `vx_capture_${randomUUID()}`;
    groups.push(groupId);
    this.consumer = kafka.consumer({ groupId });
  }

  async start(): Promise<this> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await this.consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        this.records.push(toFixtureRecord(topic, partition, message));
        this.next.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
        return Promise.resolve();
      },
    });
    return this;
  }

  /** Waits until every partition is read up to the end offsets of now. */
  async catchUp(): Promise<void> {
    const ends = await withAdmin(async (a) => {
      const out: [string, bigint][] = [];
      for (const topic of this.topics) for (const o of await a.fetchTopicOffsets(topic)) out.push([`${topic}:${o.partition}`, BigInt(o.high)]);
      return out;
    });
    await waitFor(`the capture to read ${this.topics.join(', ')}`, () => Promise.resolve(ends.every(([tp, high]) => (this.next.get(tp) ?? 0n) >= high)));
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** Every record of the topics, in (topic, partition, offset) order. */
async function readTopics(topics: string[]): Promise<FixtureRecord[]> {
  const tail = await new Tail(topics).start();
  try {
    await tail.catchUp();
  } finally {
    await tail.stop();
  }
  const rank = new Map(topics.map((t, i) => [t, i]));
  return tail.records.sort((a, b) => rank.get(a.topic)! - rank.get(b.topic)! || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

// ------------------------------------------------------------------ envelopes

interface Envelope {
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { snapshot?: string; txId?: number | null; lsn?: number | null; sequence?: string | null };
}

/** The Debezium envelope of a record (with or without the schema wrapper); null for a tombstone or a non-envelope. */
function envelope(r: FixtureRecord): Envelope | null {
  if (r.value === null) return null;
  const doc = JSON.parse(r.value) as { schema?: unknown; payload?: unknown };
  const env = ('schema' in doc && 'payload' in doc ? doc.payload : doc) as Envelope;
  return typeof env.op === 'string' ? env : null;
}

function keyId(r: FixtureRecord): number | null {
  if (r.key === null) return null;
  const doc = JSON.parse(r.key) as { payload?: { id?: number }; id?: number };
  return (doc.payload ?? doc).id ?? null;
}

const txIdOf = (r: FixtureRecord): number | null => envelope(r)?.source.txId ?? null;

/** A tombstone is kept when the delete just before it in its partition is kept. */
function keepWithTombstones(records: FixtureRecord[], keep: (r: FixtureRecord) => boolean): FixtureRecord[] {
  const out: FixtureRecord[] = [];
  let previousKept = false;
  for (const r of records) {
    const k: boolean = r.value === null ? previousKept && out[out.length - 1]?.key === r.key : keep(r);
    if (k) out.push(r);
    previousKept = k;
  }
  return out;
}

// ------------------------------------------------------------------ ground truth (pg_walinspect)

interface WalTx {
  commit: { start: string; end: string } | null;
  changes: { lsn: string; end: string; type: string }[];
}

/** COMMIT and heap records of the given transactions between `from` and now, from PostgreSQL's WAL. */
async function walFacts(from: string, xids: number[]): Promise<Record<string, WalTx>> {
  if (xids.length === 0) return {};
  const rows = await withSession((s) =>
    s.q<{ start: string; end: string; xid: string; rm: string; type: string }>(
      `SELECT (start_lsn - '0/0')::text AS start, (end_lsn - '0/0')::text AS "end", xid::text AS xid,
              resource_manager AS rm, record_type AS type
         FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())
        WHERE xid::text = ANY($2::text[]) AND (resource_manager IN ('Heap', 'Heap2') OR record_type = 'COMMIT')
        ORDER BY start_lsn`,
      [from, xids.map(String)],
    ),
  );
  const out: Record<string, WalTx> = {};
  for (const xid of [...new Set(xids)].sort((a, b) => a - b)) out[xid] = { commit: null, changes: [] };
  for (const r of rows) {
    const t = out[r.xid]!;
    if (r.type === 'COMMIT') t.commit = { start: r.start, end: r.end };
    else t.changes.push({ lsn: r.start, end: r.end, type: r.type });
  }
  return out;
}

// ------------------------------------------------------------------ a second Connect worker (restart scenario)

/** A Connect worker of this script's own (port 8093, group cdcv_vx_connect), started like scripts/stack/up.sh starts Connect. */
class OwnWorker {
  private proc: ChildProcess | null = null;
  private dir = '';

  async start(): Promise<void> {
    this.dir ||= await mkdtemp(join(tmpdir(), 'cdcv_vx_connect-'));
    const props = join(this.dir, 'worker.properties');
    await writeFile(props, [
      `bootstrap.servers=${cfg.CDCV_KAFKA_BROKERS}`,
      `group.id=${WORKER_GROUP}`,
      'key.converter=org.apache.kafka.connect.json.JsonConverter',
      'value.converter=org.apache.kafka.connect.json.JsonConverter',
      `config.storage.topic=${WORKER_TOPICS[0]}`,
      `offset.storage.topic=${WORKER_TOPICS[1]}`,
      `status.storage.topic=${WORKER_TOPICS[2]}`,
      'config.storage.replication.factor=1',
      'offset.storage.replication.factor=1',
      'status.storage.replication.factor=1',
      // The production default is 60 s; 30 s leaves a window in which a kill -9 loses unflushed positions.
      'offset.flush.interval.ms=30000',
      // The restarted worker gets the task at once instead of after the 5-minute default delay.
      'scheduled.rebalance.max.delay.ms=0',
      `listeners=http://:${WORKER_PORT}`,
      'rest.advertised.host.name=localhost',
      `rest.advertised.port=${WORKER_PORT}`,
      `plugin.path=${join(STACK_DIR, 'plugins')}`,
      'plugin.discovery=service_load',
      'topic.creation.enable=true',
      '',
    ].join('\n'));
    const log = await open(join(this.dir, 'connect.log'), 'a');
    this.proc = spawn('java', [
      '-Xms128m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(REPO, 'scripts/stack/log4j.properties')}`,
      '-cp', `${join(STACK_DIR, 'lib')}/*`, 'org.apache.kafka.connect.cli.ConnectDistributed', props,
    ], { stdio: ['ignore', log.fd, log.fd] });
    this.proc.on('exit', () => void log.close());
    await waitFor(`the Connect worker on port ${WORKER_PORT} (log: ${join(this.dir, 'connect.log')})`, async () => {
      if (this.proc?.exitCode !== null) throw new Error(`the Connect worker exited; see ${join(this.dir, 'connect.log')}`);
      try {
        const res = await fetch(`http://localhost:${WORKER_PORT}/connector-plugins`);
        return (await res.text()).includes('PostgresConnector');
      } catch {
        return false;
      }
    });
  }

  /** Ends the worker with the given signal and waits for it to exit. */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    this.proc = null;
  }

  /** Where the worker logs; empty before the first start. */
  get logFile(): string {
    return this.dir && join(this.dir, 'connect.log');
  }

  /** Removes the worker's folder (properties, log). */
  async removeFiles(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ scenarios

interface Notes {
  [key: string]: unknown;
}

/** What the scenarios measured, per fixture. */
const notes: Record<string, Notes> = {};

async function registerAndWaitSnapshot(p: Pipeline, expected: Record<string, number>): Promise<void> {
  await p.connect.register(await definition(p));
  await p.connect.waitRunning(p.connector, 180_000);
  for (const [table, n] of Object.entries(expected)) await waitForRecords(topicOf(p, table), n);
}

/**
 * 1. A transaction open while both pre-created-slot connectors take their
 * snapshots: it updates row 1 and inserts row 101 before, updates row 3 after
 * the snapshots, then commits. Then one more transaction updates row 1.
 */
async function openAcrossSnapshot(): Promise<void> {
  for (const p of [PLAIN, SCHEMA]) {
    await withSession((s) => s.q(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [p.slot]));
  }
  const x = await Session.open();
  try {
    await x.q('BEGIN');
    await x.q(`UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = 1`);
    await x.q(`INSERT INTO vx_accounts (id, owner, balance) VALUES (101, 'owner-101', 0)`);
    const xid = await x.xid();
    // Debezium snapshots at pg_current_wal_lsn(), the WAL *write* position: until some commit flushes
    // the WAL, the open transaction's records lie above it and S can equal their LSN. A commit elsewhere
    // (a table outside the publication) writes them out, so S lies above them, as on a busy server.
    await tx('flush the WAL', `INSERT INTO vx_unpublished DEFAULT VALUES`);
    const lsnBeforeSnapshots = await x.lsn();
    await Promise.all([
      registerAndWaitSnapshot(PLAIN, { vx_accounts: 6, vx_items: ITEMS, vx_docs: 1 }),
      registerAndWaitSnapshot(SCHEMA, { vx_accounts: 6, vx_docs: 1 }),
    ]);
    const lsnAfterSnapshots = await x.lsn();
    await x.q(`UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = 3`);
    await x.q('COMMIT');
    const after = await tx('T_after: update row 1 again', `UPDATE vx_accounts SET balance = balance + 10, rev = nextval('vx_rev') WHERE id = 1`);
    notes['open-across-snapshot'] = {
      transactions: [{ label: 'T_open: update 1, insert 101 (before the snapshots), update 3 (after), commit after the snapshots', xid }, after],
      lsnBeforeSnapshots,
      lsnAfterSnapshots,
    };
  } finally {
    await x.close();
  }
  await waitForRecords(topicOf(PLAIN, 'vx_accounts'), 6 + 3 + 1);
  await waitForRecords(topicOf(SCHEMA, 'vx_accounts'), 6 + 3 + 1);
}

/**
 * 2. Debezium creates the slot while a transaction (update row 4) is open:
 * slot creation waits for it, so it lands in the snapshot. Then three
 * transactions, the first after the snapshot.
 */
async function firstAfterSnapshot(): Promise<void> {
  const y = await Session.open();
  let waited: Record<string, unknown>;
  let yTx: Tx;
  try {
    await y.q('BEGIN');
    await y.q(`UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = 4`);
    yTx = { label: 'T_y: update 4, open while Debezium creates the slot, committed 5 s later', xid: await y.xid() };
    await FRESH.connect.register(await definition(FRESH));
    await sleep(5000);
    const slot = await withSession((s) => s.q(`SELECT slot_name, active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, [FRESH.slot]));
    waited = { recordsBeforeCommit: await recordCount(topicOf(FRESH, 'vx_accounts')), slotBeforeCommit: slot[0] ?? null };
    await y.q('COMMIT');
  } finally {
    await y.close();
  }
  await FRESH.connect.waitRunning(FRESH.connector, 180_000);
  await waitForRecords(topicOf(FRESH, 'vx_accounts'), 7);
  const txs = [
    await tx('T_a: update 5 (first transaction after the snapshot)', `UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = 5`),
    await tx('T_b: update 5', `UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = 5`),
    await tx('T_c: update 2 and 5', `UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id IN (2, 5)`),
  ];
  await waitForRecords(topicOf(FRESH, 'vx_accounts'), 7 + 4);
  notes['first-after-snapshot'] = { transactions: [yTx, ...txs], ...waited };
}

/** 3. UPDATE of the primary key: Debezium emits d (old key) + tombstone + c (new key). */
async function pkUpdate(): Promise<void> {
  const t = await tx('T_pk: update id 6 → 201', `UPDATE vx_accounts SET id = 201, rev = nextval('vx_rev') WHERE id = 6`);
  notes['pk-update'] = { transactions: [t] };
}

/** 4. T1 writes A (2), T2 writes B (3) and commits, T1 writes C (5) and commits; then T3 writes A again. */
async function interleaved(): Promise<void> {
  const [s1, s2] = [await Session.open(), await Session.open()];
  try {
    const set = (id: number) => `UPDATE vx_accounts SET balance = balance + 1, rev = nextval('vx_rev') WHERE id = ${id}`;
    await s1.q('BEGIN');
    await s1.q(set(2));
    const t1 = await s1.xid();
    await s2.q('BEGIN');
    await s2.q(set(3));
    const t2 = await s2.xid();
    await s2.q('COMMIT');
    await s1.q(set(5));
    await s1.q('COMMIT');
    const t3 = await tx('T3: update A (2) again', set(2));
    notes.interleaved = {
      transactions: [{ label: 'T1: update A (2) … update C (5), commit second', xid: t1 }, { label: 'T2: update B (3), commit first', xid: t2 }, t3],
    };
  } finally {
    await Promise.all([s1.close(), s2.close()]);
  }
}

/** 7. Updates that leave TOASTed columns unchanged (REPLICA IDENTITY DEFAULT). */
async function toast(): Promise<void> {
  const txs = [
    await tx('update title of the seeded doc 1 (body, blob, meta TOASTed and unchanged)', `UPDATE vx_docs SET title = 'renamed', rev = nextval('vx_rev') WHERE id = 1`),
    await tx('insert doc 2 with TOASTed values', `INSERT INTO vx_docs (id, title, body, blob, meta) VALUES (2, 'new', ${bigText(2)}, ${bigBytes(2)}, ${bigJson(2)})`),
    await tx('update title of doc 2', `UPDATE vx_docs SET title = 'renamed', rev = nextval('vx_rev') WHERE id = 2`),
    await tx('update body of doc 2 (blob, meta unchanged)', `UPDATE vx_docs SET body = 'short now', rev = nextval('vx_rev') WHERE id = 2`),
  ];
  const stored = await withSession((s) =>
    s.q(`SELECT id, pg_column_size(body) AS body, pg_column_size(blob) AS blob, pg_column_size(meta) AS meta FROM vx_docs ORDER BY id`),
  );
  notes.toast = { transactions: txs, storedColumnBytes: stored };
  await waitForRecords(topicOf(PLAIN, 'vx_docs'), 1 + 4);
  await waitForRecords(topicOf(SCHEMA, 'vx_docs'), 1 + 4);
}

/**
 * 5. Incremental snapshot of vx_items through the signal table while another
 * session updates (rev from the sequence) and deletes rows 1..ITEMS_WRITTEN.
 */
async function incrementalSnapshot(): Promise<void> {
  let stop = false;
  let writes = 0;
  const writer = withSession(async (s) => {
    while (!stop) {
      const id = 1 + Math.floor(Math.random() * ITEMS_WRITTEN);
      if (Math.random() < 0.12) await s.q(`DELETE FROM vx_items WHERE id = $1`, [id]);
      else await s.q(`UPDATE vx_items SET qty = qty + 1, rev = nextval('vx_rev') WHERE id = $1`, [id]);
      writes++;
      await sleep(40);
    }
  });
  try {
    await sleep(500);
    const signal = await tx('signal: execute-snapshot public.vx_items (incremental)',
      `INSERT INTO vx_signal (id, type, data) VALUES ('vx-incremental-1', 'execute-snapshot', '{"data-collections": ["public.vx_items"], "type": "incremental"}')`);
    const topic = 'vx_plain.notifications';
    await waitFor(`topic ${topic}`, async () => (await recordCount(topic)) > 0);
    const tail = await new Tail([topic]).start();
    try {
      await waitFor('the incremental snapshot to complete', () =>
        Promise.resolve(tail.records.some((r) => /Incremental Snapshot/i.test(r.value ?? '') && /"type":"COMPLETED"/.test(r.value ?? ''))), 300_000);
    } finally {
      await tail.stop();
    }
    notes['incremental-snapshot'] = { transactions: [signal], chunkSize: ITEMS_CHUNK, rows: ITEMS, writtenRows: `1..${ITEMS_WRITTEN}` };
  } finally {
    stop = true;
    await writer;
  }
  (notes['incremental-snapshot'] ??= {}).concurrentWrites = writes;
}

/**
 * 6. The cdcv_vx_restart connector on this script's own worker: two
 * transactions, an offset flush, three more transactions, kill -9, restart:
 * Debezium re-sends from the last flushed offset.
 */
async function connectRestart(worker: OwnWorker): Promise<void> {
  const topic = topicOf(RESTART, 'vx_ledger');
  const offsetsTopic = WORKER_TOPICS[1]!;
  await worker.start();
  await registerAndWaitSnapshot(RESTART, { vx_ledger: 3 });
  const set = (id: number) => `UPDATE vx_ledger SET amount = amount + 1, rev = nextval('vx_rev') WHERE id = ${id}`;
  const flushed: Tx[] = [await tx('R1: update 1 (flushed before the kill)', set(1)), await tx('R2: update 2 and 3 (flushed before the kill)', set(2), set(3))];
  await waitForRecords(topic, 3 + 3);
  // A new record in the offsets topic is a flush; the next one is ~30 s later.
  const flushes = await recordCount(offsetsTopic);
  await waitFor('an offset flush covering R2', async () => (await recordCount(offsetsTopic)) > flushes, 60_000);
  const flushedAt = Date.now();
  const unflushed: Tx[] = [
    await tx('R3: update 1 (not flushed)', set(1)),
    await tx('R4: update 2, insert 4 (not flushed)', set(2), `INSERT INTO vx_ledger (id, amount) VALUES (4, 0)`),
    await tx('R5: update 1, delete 3 (not flushed)', set(1), `DELETE FROM vx_ledger WHERE id = 3`),
  ];
  await waitForRecords(topic, 6 + 6); // R5's delete adds a tombstone
  const killedAfterMs = Date.now() - flushedAt;
  if (killedAfterMs > 25_000) throw new Error(`the kill came ${killedAfterMs} ms after the flush: another flush may have happened; run again`);
  await worker.stop('SIGKILL');
  const before = await recordCount(topic);
  await worker.start();
  await RESTART.connect.waitRunning(RESTART.connector, 180_000);
  await waitFor('the re-sent records', async () => (await recordCount(topic)) > before, 120_000);
  await sleep(5000);
  const after = await tx('R6: update 2 (after the restart)', set(2));
  await waitFor('R6', async () => (await recordCount(topic)) > before + 1);
  await sleep(2000);
  notes['connect-restart'] = { transactions: [...flushed, ...unflushed, after], killedAfterFlushMs: killedAfterMs, recordsBeforeKill: before };
}

// ------------------------------------------------------------------ fixtures

interface Fixture {
  scenario: string;
  about: string;
  captured: Record<string, string>;
  connectors: Record<string, Record<string, string>>;
  notes: Notes;
  wal: Record<string, WalTx>;
  records: FixtureRecord[];
}

async function writeFixture(scenario: string, about: string, ps: Pipeline[], records: FixtureRecord[], captured: Record<string, string>, from: string): Promise<void> {
  const xids = new Set<number>();
  for (const r of records) {
    const t = txIdOf(r);
    const env = envelope(r);
    if (t !== null && env?.source.snapshot !== 'true' && env?.op !== 'r') xids.add(t);
  }
  for (const t of (notes[scenario]?.transactions as Tx[] | undefined) ?? []) xids.add(t.xid);
  const connectors: Record<string, Record<string, string>> = {};
  for (const p of ps) {
    const { config } = await definition(p);
    connectors[p.connector] = Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('database.') && k !== 'connector.class'));
  }
  const fixture: Fixture = { scenario, about, captured, connectors, notes: notes[scenario] ?? {}, wal: await walFacts(from, [...xids]), records };
  const { records: rs, wal, ...head } = fixture;
  // Metadata pretty-printed, then one transaction and one record per line: small diffs on a re-capture.
  const lines = (entries: string[]) => entries.join(',\n');
  const text = `${JSON.stringify(head, null, 1).replace(/\n}$/, '')},\n "wal": {\n${lines(Object.entries(wal).map(([xid, t]) => `  "${xid}": ${JSON.stringify(t)}`))}\n },\n "records": [\n${lines(rs.map((r) => JSON.stringify(r)))}\n ]\n}\n`;
  await writeFile(join(OUT_DIR, `${scenario}.json`), text);
  console.log(`${scenario}: ${rs.length} records`);
}

const txsOf = (scenario: string) => new Set(((notes[scenario]?.transactions as Tx[] | undefined) ?? []).map((t) => t.xid));

async function writeFixtures(from: string): Promise<void> {
  await mkdir(OUT_DIR, { recursive: true });
  const captured = await withSession(async (s) => ({
    debezium: '',
    postgres: await s.one('SHOW server_version'),
    kafkaConnect: ((await (await fetch(cfg.CDCV_CONNECT_URL)).json()) as { version: string }).version,
    at: new Date().toISOString(),
  }));
  const read = (p: Pipeline, table: string) => readTopics([topicOf(p, table)]);
  const [plainAcc, schemaAcc, freshAcc, plainTx, plainItems, plainSignal, plainDocs, schemaDocs, ledger, offsets] = await Promise.all([
    read(PLAIN, 'vx_accounts'), read(SCHEMA, 'vx_accounts'), read(FRESH, 'vx_accounts'), readTopics(['vx_plain.transaction']),
    read(PLAIN, 'vx_items'), read(PLAIN, 'vx_signal'), read(PLAIN, 'vx_docs'), read(SCHEMA, 'vx_docs'), read(RESTART, 'vx_ledger'),
    readTopics([WORKER_TOPICS[1]!]),
  ]);
  captured.debezium = (envelope(plainAcc[0]!)?.source as { version?: string }).version ?? '';

  const snapshotOr = (xids: Set<number>) => (r: FixtureRecord) => envelope(r)?.op === 'r' || xids.has(txIdOf(r) ?? -1);
  const open = txsOf('open-across-snapshot');
  await writeFixture('open-across-snapshot',
    'A transaction open while the snapshots of two connectors with pre-created slots ran (Debezium snapshots at pg_current_wal_lsn()); it committed after them. Records: both connectors\' vx_accounts topics (plain, then with schemas).',
    [PLAIN, SCHEMA], [...plainAcc, ...schemaAcc].filter(snapshotOr(open)), captured, from);

  await writeFixture('first-after-snapshot',
    'Debezium created the slot while a transaction was open: slot creation waited for its commit, so its row is in the snapshot and it is not streamed. Then the first transactions after the snapshot.',
    [FRESH], freshAcc.filter(snapshotOr(txsOf('first-after-snapshot'))), captured, from);

  const pk = txsOf('pk-update');
  await writeFixture('pk-update',
    'UPDATE of a primary key: d for the old key (header __debezium.newkey) + tombstone, c for the new key (header __debezium.oldkey), one LSN. Records: plain and schema connectors.',
    [PLAIN, SCHEMA], [...plainAcc, ...schemaAcc].filter((r) => (keyId(r) === 6 && envelope(r)?.op === 'r') || pk.has(txIdOf(r) ?? -1) || (r.value === null && keyId(r) === 6)), captured, from);

  const inter = txsOf('interleaved');
  const interKeys = new Set([2, 3, 5]);
  const interTxIds = new Set([...inter].map(String));
  await writeFixture('interleaved',
    'T1 updates A (2); T2 updates B (3) and commits; T1 updates C (5) and commits; T3 updates A. Records: the plain connector\'s vx_accounts (with transaction metadata) for rows 2, 3, 5 since the snapshot, and the BEGIN/END records of the transaction topic.',
    [PLAIN], [
      ...plainAcc.filter((r) => interKeys.has(keyId(r) ?? -1) && (envelope(r)?.op === 'r' || inter.has(txIdOf(r) ?? -1))),
      ...plainTx.filter((r) => interTxIds.has(String((JSON.parse(r.value ?? '{}') as { id?: string }).id ?? '').split(':')[0]!)),
    ], captured, from);

  const itemKept = (r: FixtureRecord) => (keyId(r) ?? Infinity) <= ITEMS_KEPT;
  await writeFixture('incremental-snapshot',
    `Incremental snapshot (signal table, chunks of ${ITEMS_CHUNK}) of vx_items (REPLICA IDENTITY FULL) while another session updated and deleted rows 1..${ITEMS_WRITTEN}. Records: rows 1..${ITEMS_KEPT} of vx_items (initial snapshot, streamed, incremental reads) and the signal table's topic (the watermarks).`,
    [PLAIN], [...keepWithTombstones(plainItems, itemKept), ...plainSignal], captured, from);

  await writeFixture('connect-restart',
    'kill -9 of the Connect worker (offset.flush.interval.ms=30000) after an offset flush and three more transactions; Debezium re-sends from the flushed offset. Records: the vx_ledger topic and the connector\'s records in the worker\'s offsets topic.',
    [RESTART], [...ledger, ...offsets.filter((r) => r.key?.includes(RESTART.connector))], captured, from);

  await writeFixture('toast',
    'REPLICA IDENTITY DEFAULT table with TOASTed text (20 kB), bytea (4 kB) and jsonb (4 kB) columns; updates that leave them unchanged. Records: plain connector (all), schema connector (updates only).',
    [PLAIN, SCHEMA], [...plainDocs, ...schemaDocs.filter((r) => envelope(r)?.op === 'u')], captured, from);
}

// ------------------------------------------------------------------ clean-up

/** Drops everything this script creates; safe when nothing exists. */
async function cleanUp(worker: OwnWorker): Promise<void> {
  const problems: unknown[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(err);
      console.error(`clean-up: ${what}: ${(err as Error).message}`);
    }
  };
  for (const p of PIPELINES.filter((p) => p.connect === sharedConnect)) {
    // The placeholder (only created to reach offsets left by a plain delete) must point at a reachable database.
    await attempt(`connector ${p.connector}`, async () => p.connect.deleteWithOffsets(await definition(p, 'postgres')));
  }
  await worker.stop('SIGTERM');
  await attempt('replication slots and database', () => withSession(async (s) => {
    for (let i = 0; ; i++) {
      const slots = await s.q<{ slot_name: string; active: boolean }>(`SELECT slot_name, active FROM pg_replication_slots WHERE slot_name LIKE 'cdcv\\_vx\\_%'`);
      for (const slot of slots.filter((x) => !x.active)) await s.q('SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
      if (slots.every((x) => !x.active)) break;
      if (i > 120) throw new Error(`slots still active: ${slots.map((x) => x.slot_name).join(', ')}`);
      await sleep(500);
    }
    await s.q(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  }, 'postgres'));
  await attempt('topics and consumer groups', () => withAdmin(async (a) => {
    const topics = (await a.listTopics()).filter((t) => PIPELINES.some((p) => t.startsWith(`${p.prefix}.`)) || WORKER_TOPICS.includes(t));
    if (topics.length > 0) await a.deleteTopics({ topics, timeout: 30_000 });
    const ours = (await a.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith('vx_capture_') || g === WORKER_GROUP);
    if (ours.length > 0) await a.deleteGroups(ours);
  }));
  if (problems.length > 0) throw new AggregateError(problems, 'clean-up left something behind (see above)');
}

const SCENARIOS: [string, (worker: OwnWorker) => Promise<void>][] = [
  ['open transaction across the snapshot', openAcrossSnapshot],
  ['first transactions after a snapshot (Debezium-created slot)', firstAfterSnapshot],
  ['primary-key update', pkUpdate],
  ['interleaved transactions', interleaved],
  ['TOAST', toast],
  ['incremental snapshot with concurrent writes', incrementalSnapshot],
  ['Connect worker kill -9 and restart', connectRestart],
];

async function main(): Promise<void> {
  if (!existsSync(join(STACK_DIR, 'lib')) || !existsSync(join(STACK_DIR, 'plugins'))) {
    throw new Error(`no Kafka Connect jars in ${STACK_DIR}/lib and plugins: run npm run stack:up, or set CDCV_STACK_DIR to the stack's folder`);
  }
  const worker = new OwnWorker();
  await cleanUp(worker); // leftovers of an interrupted run
  try {
    const from = await createDatabase();
    for (const [i, [what, run]] of SCENARIOS.entries()) {
      console.log(`${i + 1}/${SCENARIOS.length} ${what}`);
      await run(worker);
    }
    await writeFixtures(from);
    await cleanUp(worker);
    await worker.removeFiles();
  } catch (err) {
    if (worker.logFile) console.error(`the second Connect worker's log: ${worker.logFile}`);
    await cleanUp(worker);
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
