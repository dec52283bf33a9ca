/**
 * `cdc-views connect add-table` and `cdc-views backfill` on the real stack:
 * a table of ROWS rows that the connector does not capture yet is added to
 * it and backfilled (a Debezium incremental snapshot) while a workload
 * updates, deletes and inserts its rows at ~500 changes/s; then a re-read of
 * one tenant (`--where`), a pause and resume over the Kafka signal channel,
 * a stop and a new start, and the refusals (exit 2). Results are read
 * independently of cdc-views: tables and views against SQL, the `r` events
 * counted in the topic with a plain consumer, row content (`rev`, from a
 * sequence, only grows per key) watched for going back.
 * BACKFILL_ROWS sets the table size (default 50000). BACKFILL_MEASURE=1
 * is the measurement run (docs/backfill.md, 1,000,000 rows): the full backfill
 * and its checks only, without the content watcher (it would read every row
 * each second and weigh on the figures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { newRedis, pipeline, processor, RevWatcher, sleep, uniqueId } from '../helpers.ts';
import { cachePrefixes, dropApp, envelope, laps, readTopics, reportDuration, verifyTablesAndViews } from '../versions/support.ts';
import { cli, newAdmin } from './helpers.ts';

const ROWS = Number(process.env.BACKFILL_ROWS ?? 50_000);
const TENANTS = 10;
const TABLE = 'public.accounts';
const MEASURE = process.env.BACKFILL_MEASURE === '1';

const SETUP = `
CREATE SEQUENCE public.accounts_rev;
CREATE TABLE public.accounts (id int PRIMARY KEY, tenant int NOT NULL, balance bigint NOT NULL, rev bigint NOT NULL DEFAULT nextval('public.accounts_rev'));
ALTER TABLE public.accounts REPLICA IDENTITY FULL;
INSERT INTO public.accounts (id, tenant, balance) SELECT i, i % ${TENANTS}, i FROM generate_series(1, ${ROWS}) i;
GRANT SELECT ON public.accounts TO cdcv_replicator;
ANALYZE public.accounts;`;

const builder = new StreamsBuilder('backfill-views');
builder
  .table(TABLE)
  .view('account')
  .mapValues((a) => ({ id: a.id, tenant: a.tenant, balance: a.balance, rev: a.rev }))
  .as('account', { sql: `SELECT json_build_object('id', id) AS _key, id, tenant, balance::int8 AS balance, rev::int8 AS rev FROM public.accounts` })
  .toCache();
const topology = builder.build();

/**
 * Writes ~500 changes/s to public.accounts until stopped: per 100 ms one
 * transaction of updates (40, more to catch up with the rate), 5 deletes,
 * 5 inserts (new ids and re-inserts of deleted ones); rev from the sequence,
 * so a key's rev only grows.
 */
function workload(url: string): { stop: () => Promise<number> } {
  let stopped = false;
  let changes = 0;
  const deleted: number[] = [];
  let next = ROWS + 1;
  const client = new pg.Client({ connectionString: url });
  const pick = (n: number): number[] => Array.from({ length: n }, () => 1 + Math.floor(Math.random() * ROWS));
  const run = (async () => {
    await client.connect();
    const began = Date.now();
    while (!stopped) {
      const t0 = Date.now();
      // Catch up with 500 changes/s when a transaction took longer than its 100 ms.
      const due = Math.min(400, Math.max(40, Math.round(((t0 - began) / 1000 + 0.1) * 500) - changes - 10));
      const updates = pick(due);
      const deletes = pick(5).filter((id) => !updates.includes(id));
      const inserts = [next++, next++, next++, ...deleted.splice(0, 2)];
      await client.query('BEGIN');
      const u = await client.query("UPDATE public.accounts SET balance = balance + 1, rev = nextval('public.accounts_rev') WHERE id = ANY($1::int[])", [updates]);
      const d = await client.query('DELETE FROM public.accounts WHERE id = ANY($1::int[])', [deletes]);
      const i = await client.query(`INSERT INTO public.accounts (id, tenant, balance) SELECT i, i % ${TENANTS}, 0 FROM unnest($1::int[]) i ON CONFLICT (id) DO NOTHING`, [inserts]);
      await client.query('COMMIT');
      deleted.push(...deletes);
      changes += (u.rowCount ?? 0) + (d.rowCount ?? 0) + (i.rowCount ?? 0);
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await run;
      await client.end();
      return changes;
    },
  };
}

/** The incremental-snapshot `r` events of the table's topic, counted with a plain consumer. */
async function incrementalReads(topicPrefix: string): Promise<number> {
  const records = await readTopics(new RegExp(`^${topicPrefix}\\.public\\.accounts$`), 120_000 + ROWS);
  return records.filter((r) => {
    const e = envelope(r.value);
    return e?.op === 'r' && e.source?.snapshot === 'incremental';
  }).length;
}

/** Starts `cdc-views backfill start` (following, lines mode) in a child; resolves with its exit code and output. */
function startFollowing(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backfill', 'start', ...args], { env: { ...process.env, CDCV_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return { done: new Promise((r) => child.once('close', (code) => r({ code, stdout, stderr }))), stderr: () => stderr };
}

test(`backfill: add a ${ROWS}-row table to the connector and backfill it under a 500 changes/s workload; --where, pause/resume, stop/start, refusals`, { timeout: 900_000 }, async (t) => {
  const started = Date.now();
  const lap = laps(t, started);
  const redis = newRedis();
  const app = uniqueId('bfill');
  const p = await pipeline('bfill', { setupSql: SETUP, seedCustomers: 20, seedOrders: 20 });
  const connector = p.connectorName;
  const base = ['--connector', connector, '--table', TABLE];
  const proc = processor({ applicationId: app, redis, topics: new RegExp(`^${p.topicPrefix}\\.public\\.(accounts|cdcv_watermark)$`), topology });
  let watcher: RevWatcher | undefined;
  const admin = await newAdmin();
  try {
    lap('pipeline up');
    // Refusals: a table the connector does not capture, a connector that does not exist, one without signalling.
    const notCaptured = await cli(['backfill', 'start', ...base]);
    assert.equal(notCaptured.code, 2, notCaptured.stderr);
    assert.match(notCaptured.stderr, new RegExp(`cdc-views connect add-table ${connector} ${TABLE} --execute`));
    const noConnector = await cli(['backfill', 'start', '--connector', `${connector}-missing`, '--table', TABLE]);
    assert.equal(noConnector.code, 2, noConnector.stderr);
    assert.match(noConnector.stderr, /has no connector/);
    const badTable = await cli(['connect', 'add-table', connector, 'public.no_such_table']);
    assert.equal(badTable.code, 2, badTable.stderr);
    assert.match(badTable.stderr, /no table public\.no_such_table/);
    const plain = `${connector}-nosignal`;
    const config = (await (await fetch(`${p.connectUrl}/connectors/${connector}/config`)).json()) as Record<string, string>;
    const stripped = Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('signal.') && !k.startsWith('notification.') && k !== 'name'));
    const created = await fetch(`${p.connectUrl}/connectors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: plain, config: { ...stripped, 'slot.name': `${p.slotName}_ns` }, initial_state: 'STOPPED' }) });
    assert.equal(created.status, 201, await created.text());
    const noSignal = await cli(['backfill', 'start', '--connector', plain, '--table', 'public.customers']);
    await fetch(`${p.connectUrl}/connectors/${plain}`, { method: 'DELETE' });
    assert.equal(noSignal.code, 2, noSignal.stderr);
    assert.match(noSignal.stderr, /has no signal table \(signal\.data\.collection\)/);
    lap('refusals: exit 2 with the fix');

    // Add the table: a dry run first, then --execute.
    const dry = await cli(['connect', 'add-table', connector, TABLE]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`ALTER PUBLICATION cdcv_pub ADD TABLE ${TABLE}`));
    const added = await cli(['connect', 'add-table', connector, TABLE, '--execute']);
    assert.equal(added.code, 0, added.stderr);
    lap('table added to the publication and the connector');

    await proc.start();
    await awaitWatermark(p, proc.store);
    if (!MEASURE) {
      watcher = new RevWatcher(redis, app, { tables: [`${p.topicPrefix}.${TABLE}`], cachePrefixes: cachePrefixes(app, topology) });
      watcher.start(1000);
    }
    const fresh = async (): Promise<number> => {
      const t0 = Date.now();
      await awaitWatermark(p, proc.store);
      return Date.now() - t0;
    };
    const before = [await fresh(), await fresh(), await fresh()];

    // 1. The full backfill under the workload, followed to 100%.
    const load = workload(p.connectionString);
    const loadStarted = Date.now();
    await sleep(1000);
    const full = startFollowing([...base, '--app', app, '--chunk-size', process.env.BACKFILL_CHUNK ?? '2048', '--execute', '--json']);
    const during: number[] = [];
    let settled = false;
    void full.done.then(() => (settled = true));
    while (!settled) {
      during.push(await fresh());
      await sleep(500);
    }
    const changes = await load.stop();
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    const result = await full.done;
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { elapsedMs: number; chunkSize: number; totals: { rows: number; kind: string }[]; progress: { consumed: number; done: boolean; snapshot: { status: string; chunks: number; scanned: Record<string, { rows: number }> } } };
    assert.equal(report.progress.snapshot.status, 'completed');
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    lap(`full backfill: ${report.progress.consumed} r events consumed (${report.progress.snapshot.scanned[TABLE]?.rows} rows read, ${report.progress.snapshot.chunks} chunks of ${report.chunkSize}) in ${(report.elapsedMs / 1000).toFixed(1)} s = ${Math.round((report.progress.consumed * 1000) / report.elapsedMs)} rows/s; live workload ${changes} changes in ${loadSeconds.toFixed(1)} s = ${Math.round(changes / loadSeconds)} changes/s; freshness median ${median(before)} ms before, ${median(during)} ms during (max ${Math.max(...during)})`);
    assert.match(result.stderr, /\(100\.0%\)/, 'the progress reached 100%');
    assert.equal(report.totals[0]!.kind, 'estimate');
    const emitted = await incrementalReads(p.topicPrefix);
    await awaitWatermark(p, proc.store);
    const counter = Number(await redis.hget(`cdcv:${app}:stats`, `backfill:${p.topicPrefix}.${TABLE}`));
    t.diagnostic(`r events consumed ${report.progress.consumed}, in the topic ${emitted}, counter after ${counter}`);
    assert.equal(report.progress.consumed, emitted, 'every r event in the topic was consumed, and only those');
    const scanned = report.progress.snapshot.scanned[TABLE]!.rows;
    assert.ok(emitted <= scanned && emitted >= ROWS * 0.9, `r events ${emitted}, rows read ${scanned}`);
    await awaitWatermark(p, proc.store);
    const c1 = await verifyTablesAndViews({ ...p, tables: [TABLE] }, proc.store, redis, app, topology);
    assert.equal(c1.total, 0, c1.detail);
    lap(`${emitted} r events in the topic, all consumed; state and view equal SQL`);

    if (MEASURE) return;

    // 2. Re-read one tenant: only its rows are emitted, and equal rows render nothing.
    const renderedBefore = proc.renderCounts.written;
    const emittedBefore = emitted;
    const tenant = await cli(['backfill', 'start', ...base, '--where', 'tenant = 3', '--app', app, '--execute', '--json'], 300_000);
    assert.equal(tenant.code, 0, tenant.stderr);
    const tenantReport = JSON.parse(tenant.stdout) as { totals: { rows: number; kind: string }[]; progress: { consumed: number } };
    assert.equal(tenantReport.totals[0]!.kind, 'count');
    const after = await incrementalReads(p.topicPrefix);
    assert.equal(after - emittedBefore, tenantReport.totals[0]!.rows, 'exactly the tenant\'s rows were re-read');
    assert.equal(tenantReport.progress.consumed, tenantReport.totals[0]!.rows);
    const recent = (await readTopics(new RegExp(`^${p.topicPrefix}\\.public\\.accounts$`))).slice(-50).map((r) => envelope(r.value)).filter((e) => e?.op === 'r');
    assert.ok(recent.every((e) => e?.after?.tenant === 3), 'the re-read rows are the tenant\'s');
    assert.equal(proc.renderCounts.written - renderedBefore, 0, 'rows equal to the stored ones write no document');
    lap(`--where tenant = 3: ${after - emittedBefore} r events, no document written`);

    // 3. Pause and resume while a start follows.
    const topic = `${p.topicPrefix}.${TABLE}`;
    const end = async (): Promise<number> => (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
    const running = async (): Promise<void> => {
      const from = await end();
      const until = Date.now() + 120_000;
      while ((await end()) < from + 1000) {
        assert.ok(Date.now() < until, 'the snapshot started within 120 s');
        await sleep(100);
      }
    };
    // Chunks of 16 rows: the snapshot runs long enough (~3000 chunks) for the CLI to pause and stop it mid-way.
    const following = startFollowing([...base, '--app', app, '--chunk-size', '16', '--execute']);
    await running();
    const paused = await cli(['backfill', 'pause', '--connector', connector, '--execute']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /the snapshot is paused/);
    const atPause = await end();
    await sleep(3000);
    assert.equal(await end(), atPause, 'no chunk is read while paused');
    const resume = await cli(['backfill', 'resume', '--connector', connector, '--execute']);
    assert.equal(resume.code, 0, resume.stderr);
    assert.match(resume.stdout, /the snapshot is running/);
    await running();
    lap('paused (no chunk read for 3 s) and resumed');

    // 4. Stop mid-way (the follower exits 1: ABORTED), then start again over the Kafka signal channel.
    const stop = await cli(['backfill', 'stop', ...base, '--execute']);
    assert.equal(stop.code, 0, stop.stderr);
    const stoppedResult = await following.done;
    assert.equal(stoppedResult.code, 1, stoppedResult.stderr);
    assert.match(stoppedResult.stderr, /ABORTED/);
    const again = await cli(['backfill', 'start', ...base, '--app', app, '--chunk-size', '2048', '--channel', 'kafka', '--execute'], 300_000);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /\(100\.0%\)/);
    await awaitWatermark(p, proc.store);
    const c2 = await verifyTablesAndViews({ ...p, tables: [TABLE] }, proc.store, redis, app, topology);
    assert.equal(c2.total, 0, c2.detail);
    await watcher!.stop();
    assert.deepEqual(watcher!.regressions, [], 'no row went back');
    assert.ok(watcher!.increases > 0, 'the watcher saw the workload');
    lap(`stopped mid-way and started again: converged; ${watcher!.reads} content reads, no row went back`);
  } finally {
    await watcher?.stop();
    await proc.stop().catch(() => undefined);
    await dropApp(redis, app, topology);
    await p.drop();
    await admin.disconnect();
    redis.disconnect();
    reportDuration(t, started);
  }
});
