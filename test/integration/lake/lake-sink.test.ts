/**
 * The lake sink on the real stack (Kafka, Connect with Debezium, PostgreSQL,
 * Redis, s3proxy): `lake init` → `lake slices` (5 s slices) → `lake work`, on
 * `public.orders` of a sample pipeline, while a workload inserts, updates,
 * deletes and re-inserts orders, some placed weeks ago.
 *
 * Checked with readers that share no code with the writer: Delta Kernel
 * (scripts/lake-check, Java) reads the table through its log, DuckDB reads the
 * Parquet files the Kernel lists; both equal `SELECT * FROM public.orders`
 * value by value. Every row sits in the folder of its `placed_at` day, rows
 * updated long after creation included. Then faults: a slice file of one
 * stream partition withheld (the other partitions proceed; the table converges
 * when it is back), two workers started at once (one works, one exits 1), a
 * worker SIGKILLed during its pass (the table stays at its last commit and the
 * next worker converges it), and two commits racing for one version through
 * the S3 API (exactly one wins, the other gets 412).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { cliArgv } from '../../support/cli-entry.ts';
import { readDeltaWithKernel, readParquetFilesWithDuckDb } from '../../support/lake-readers.ts';
import { dropSamplePipeline, startSamplePipeline, type SamplePipeline } from '../../support/sample-pipeline.ts';
import { brokers, sleep, uniqueId } from '../helpers.ts';
import { commitVersion } from '../../../src/lake/delta/log.ts';
import { DeltaConflictError } from '../../../src/lake/delta/errors.ts';
import { S3ObjectStore } from '../../../src/lake/object-store-s3.ts';
import { asText, differences, lakeDir, lakeEnv, ordersInPostgres, S3_BUCKET, S3_ENDPOINT } from './support.ts';

const COLUMNS = ['id', 'customer_id', 'status', 'total', 'currency', 'placed_at', 'placed_local', 'ship_by', 'note', 'updated_at', 'rev'];
const TABLE = 'public.orders';

let p: SamplePipeline;
let prefix: string;
let env: Record<string, string>;
let db: pg.Client;
let slices: ChildProcess | undefined;
const started = Date.now();
const lap = (what: string): string => `${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`;

function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), { env: { ...process.env, CDCV_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`cdc-views ${args.join(' ')} timed out: ${stderr}`))), timeoutMs);
    child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

/** End offsets of the orders topic per partition. */
async function endOffsets(): Promise<Record<string, string>> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(`${p.topicPrefix}.${TABLE}`)).map((o) => [String(o.partition), o.high]));
  } finally {
    await admin.disconnect();
  }
}

interface Status {
  version: number;
  pending: number;
  gaps: number[];
  progress: Record<string, string | null>;
  files: Record<string, number>;
}

async function status(): Promise<Status> {
  const r = await run(['lake', 'status', '--table', TABLE, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

/** Runs `lake work` until the table's progress reached the topic's end offsets (the slice writer running). */
async function workUntilCaughtUp(extra: string[] = [], timeoutMs = 90_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  const ends = await endOffsets();
  for (;;) {
    const w = await run(['lake', 'work', '--table', TABLE, ...extra]);
    assert.equal(w.code, 0, `lake work: ${w.stderr}`);
    const s = await status();
    if (Object.entries(ends).every(([part, end]) => s.progress[part] === end)) return s;
    if (Date.now() > deadline) assert.fail(`the lake did not reach the end offsets ${JSON.stringify(ends)} within ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(1000);
  }
}

/** The table as Delta Kernel reads it, compared with PostgreSQL; and DuckDB over the files the Kernel lists. */
async function checkTable(what: string): Promise<{ version: number; files: number; rows: number; paths: string[] }> {
  const expected = await ordersInPostgres(p.connectionString);
  const kernel = await readDeltaWithKernel(join(lakeDir(prefix), 'tables', TABLE));
  const viaKernel = new Map(kernel.rows.map((r) => [String(r.id), asText(r, COLUMNS)]));
  assert.deepEqual(differences(expected, viaKernel), [], `${what}: Delta Kernel's rows equal SELECT * FROM orders`);
  const files = kernel.meta.paths.map((f) => fileURLToPath(f.replace(/^file:(?!\/\/)/, 'file://')));
  const viaDuck = new Map((await readParquetFilesWithDuckDb(files, COLUMNS)).map((r) => [String(r.id), asText(r, COLUMNS)]));
  assert.deepEqual(differences(expected, viaDuck), [], `${what}: DuckDB's rows of the files the Kernel lists equal SELECT * FROM orders`);
  // Every row of a file is in the folder of its placed_at day.
  for (const file of files) {
    const day = /placed_at_day=([^/]+)\//.exec(file.split(sep).join('/'))?.[1];
    for (const r of await readParquetFilesWithDuckDb([file], ['placed_at'])) assert.equal(r.placed_at?.slice(0, 10), day, `${relative(lakeDir(prefix), file)} holds a row placed ${r.placed_at}`);
  }
  return { version: kernel.meta.version, files: files.length, rows: kernel.rows.length, paths: files };
}

let nextId = 7_000_000_000;
/** Inserts `n` orders placed `daysAgo` days ago (one per day back when an array). */
async function insertOrders(n: number, daysAgo: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = nextId++;
    ids.push(id);
    await db.query(
      `INSERT INTO public.orders (id, customer_id, status, total, currency, placed_at, placed_local, ship_by, note, rev)
       VALUES ($1, $2, 'new', $3, 'EUR', now() - make_interval(days => $4) - make_interval(secs => $5 / 1000.0), now()::timestamp, current_date + 3, $6, 0)`,
      [id, 1 + (i % 5), `${(i * 7.31 + 1).toFixed(2)}`, daysAgo, i * 37, i % 3 === 0 ? null : `note ${i} ✓`],
    );
  }
  return ids;
}

/** One round of the workload: inserts (today and 30 days back), updates of old orders, deletes, a re-insert. */
async function workloadRound(round: number): Promise<void> {
  const fresh = await insertOrders(15, 0);
  const old = await insertOrders(5, 30 + round);
  await db.query(`UPDATE public.orders SET status = 'paid', total = total + 1.05, note = 'round ${round}', rev = rev + 1, updated_at = now() WHERE id IN (SELECT id FROM public.orders ORDER BY md5(id::text || $1) LIMIT 25)`, [String(round)]);
  await db.query(`UPDATE public.orders SET status = 'shipped', rev = rev + 1, updated_at = now() WHERE id = ANY($1)`, [old.slice(0, 3)]);
  await db.query(`DELETE FROM public.orders WHERE id IN (SELECT id FROM public.orders ORDER BY md5(id::text || $1) LIMIT 8)`, [`d${round}`]);
  // A re-insert of a deleted id: the new row must win over its delete marker.
  await db.query(`DELETE FROM public.orders WHERE id = $1`, [fresh[0]]);
  await db.query(`INSERT INTO public.orders (id, customer_id, status, total, currency, placed_at, placed_local, rev) VALUES ($1, 2, 'new', 10.00, 'EUR', now(), now()::timestamp, 5)`, [fresh[0]]);
}

before(async () => {
  const id = uniqueId('lake').replace(/[^a-z0-9_]/g, '_');
  p = await startSamplePipeline({ id, seedOrders: 300 });
  prefix = `it-${id}`;
  env = lakeEnv(prefix);
  db = new pg.Client({ connectionString: p.connectionString });
  await db.connect();
});

after(async () => {
  slices?.kill('SIGKILL');
  await db?.end().catch(() => undefined);
  if (p) await dropSamplePipeline(p.id);
});

test('orders over several 5 s slices: Delta Kernel and DuckDB read SELECT * FROM orders; rows stay in their placed_at day', async (t) => {
  // Orders placed weeks ago exist before the cut-off, and the snapshot has reached the topic.
  await insertOrders(20, 45);
  const count = Number((await db.query<{ count: string }>('SELECT count(*) FROM public.orders')).rows[0]!.count);
  for (let i = 0; i < 60; i++) {
    const ends = await endOffsets();
    if (Object.values(ends).reduce((n, o) => n + Number(o), 0) >= count) break;
    await sleep(500);
  }
  const init = await run(['lake', 'init', '--table', TABLE, '--connector', p.connectorName, '--partition-by', 'placed_at', '--json', '--no-progress']);
  assert.equal(init.code, 0, `lake init: ${init.stderr}`);
  const report = JSON.parse(init.stdout) as { rows: number; records: number; version: number };
  assert.equal(report.version, 1);
  t.diagnostic(lap(`lake init: ${report.rows} rows from ${report.records} records`));
  const first = await checkTable('after lake init');
  assert.equal(first.rows, count);

  slices = startSlices();
  // The orchestrator's job, by hand: a worker run after each round, so slices of several intervals land in several commits.
  for (let round = 0; round < 3; round++) {
    await workloadRound(round);
    await sleep(7500); // the round's slices closed: interval 5 s + 2 s grace
    const w = await run(['lake', 'work', '--table', TABLE]);
    assert.equal(w.code, 0, `lake work: ${w.stderr}`);
  }
  t.diagnostic(lap('workload done: 3 rounds 7.5 s apart, a worker run after each'));
  const caughtUp = await workUntilCaughtUp();
  const second = await checkTable('after the workload');
  const perPartition = Object.values(caughtUp.files);
  t.diagnostic(lap(`caught up: table version ${caughtUp.version}, ${second.rows} rows in ${second.files} files over ${perPartition.length} day partitions (at most ${Math.max(...perPartition)} file per partition)`));
  assert.ok(perPartition.every((n) => n === 1), 'copy-on-write leaves one file per touched day partition');
  const intervals = new Set(readdirSync(join(lakeDir(prefix), 'slices', TABLE), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')).map((f) => /(\d{8}T\d{6}Z)-/.exec(f)?.[1]));
  assert.ok(intervals.size >= 3, `slices of several intervals: ${[...intervals].join(' ')}`);
  assert.ok(caughtUp.version >= 3, `several commits (version ${caughtUp.version})`);
  assert.equal(slices.exitCode, null, 'lake slices still runs');
});

test('a withheld slice of one stream partition: the other partitions proceed; the table converges when it is back', async (t) => {
  await workloadRound(10);
  await sleep(7000); // the round's slices are closed (interval 5 s + 2 s grace)
  const slicesDir = join(lakeDir(prefix), 'slices', TABLE);
  const before = await status();
  const pending = readdirSync(join(slicesDir, 'partition=0')).filter((f) => f.endsWith('.parquet')).sort().filter((f) => BigInt(f.slice(-28, -8)) >= BigInt(before.progress['0'] ?? '0'));
  assert.ok(pending.length > 0, 'partition 0 has a pending slice');
  const withheld = join(lakeDir(prefix), '..', `withheld-${randomUUID()}`, pending[0]!);
  mkdirSync(dirname(withheld), { recursive: true });
  renameSync(join(slicesDir, 'partition=0', pending[0]!), withheld);
  const w = await run(['lake', 'work', '--table', TABLE]);
  assert.equal(w.code, 0, w.stderr);
  const blocked = await status();
  assert.equal(blocked.progress['0'], before.progress['0'], 'partition 0 waits at its missing slice');
  assert.ok(['1', '2'].some((part) => blocked.progress[part] !== before.progress[part]), `the other partitions advanced: ${JSON.stringify(before.progress)} → ${JSON.stringify(blocked.progress)}`);
  t.diagnostic(lap(`slice ${pending[0]} withheld: progress ${JSON.stringify(blocked.progress)}, gaps ${JSON.stringify(blocked.gaps)}`));
  renameSync(withheld, join(slicesDir, 'partition=0', pending[0]!));
  await workUntilCaughtUp();
  await checkTable('after the withheld slice came back');
});

test('two workers at once: one works, the other exits 1; a worker SIGKILLed during its pass leaves the last commit, the next converges', async (t) => {
  await workloadRound(20);
  await workloadRound(21);
  await sleep(7000);
  const [a, b] = await Promise.all([run(['lake', 'work', '--table', TABLE]), run(['lake', 'work', '--table', TABLE])]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 1], `one worker works, one finds the lease taken: ${a.stderr} | ${b.stderr}`);
  assert.match([a, b].find((r) => r.code === 1)!.stderr, /another worker holds the lease/);

  await workloadRound(22);
  await sleep(7000);
  const beforeKill = await status();
  // A short lease: the killed worker holds the table 5 s instead of the default minute.
  const child = spawn(process.execPath, cliArgv(['lake', 'work', '--table', TABLE, '--lease', 'PT5S']), { env: { ...process.env, CDCV_LOG_LEVEL: 'warn', ...env }, stdio: 'ignore' });
  // Killed once it started writing: a data file of the pass appears (or after 3 s at the latest).
  const tableDir = join(lakeDir(prefix), 'tables', TABLE);
  const dataFiles = (): string[] => readdirSync(tableDir, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'));
  const filesBefore = new Set(dataFiles());
  const written = async (): Promise<string[]> => {
    for (let i = 0; i < 600; i++) {
      const fresh = dataFiles().filter((f) => !filesBefore.has(f));
      if (fresh.length > 0) return fresh;
      await sleep(20);
    }
    return [];
  };
  const fresh = await written();
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const afterKill = await status();
  // The fault happened: the worker died after writing data files of its pass and before its commit.
  assert.ok(fresh.length > 0, 'the worker wrote a data file before it was killed');
  assert.equal(afterKill.version, beforeKill.version, 'no commit of the killed pass');
  const referenced = new Set((await readDeltaWithKernel(tableDir)).meta.paths.map((f) => relative(tableDir, fileURLToPath(f.replace(/^file:(?!\/\/)/, 'file://')))));
  const orphans = dataFiles().filter((f) => !referenced.has(f));
  assert.ok(orphans.length > 0, 'the files of the killed pass are on disk, referenced by no version');
  t.diagnostic(lap(`worker SIGKILLed after writing ${fresh.length} file(s): version stays ${afterKill.version}; ${orphans.length} unreferenced file(s) left for VACUUM`));
  await checkTable('at the commit the killed worker left').catch((err: unknown) => {
    // The table may lag PostgreSQL (not all slices applied), but it must be readable: only content differences are allowed here.
    assert.match(String(err), /equal SELECT \*/);
  });
  // Its lease runs out; the next worker redoes the pass.
  await sleep(1000);
  const deadline = Date.now() + 90_000;
  while ((await run(['lake', 'work', '--table', TABLE])).code === 1 && Date.now() < deadline) await sleep(2000);
  await workUntilCaughtUp();
  await checkTable('after the next worker');
});

/** Starts `lake slices` for the table (stderr kept for messages). */
function startSlices(): ChildProcess {
  const child = spawn(process.execPath, cliArgv(['lake', 'slices', '--table', TABLE]), { env: { ...process.env, CDCV_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', () => undefined);
  return child;
}

test('the slice writer SIGKILLed and restarted: no record in two slices, none skipped; the table converges', async (t) => {
  await workloadRound(30);
  await sleep(2500); // some of the round in an open slice
  slices!.kill('SIGKILL');
  await new Promise((r) => slices!.once('exit', r));
  await workloadRound(31);
  slices = startSlices();
  await sleep(7000);
  // With a checkpoint after every pass: the next test finds checkpoints older than its retention.
  await workUntilCaughtUp(['--checkpoint-every', '1']);
  await checkTable('after the slice writer was killed and restarted');
  // Read independently of the writer: every slice file's _cdcv_offset column, per partition.
  const slicesDir = join(lakeDir(prefix), 'slices', TABLE);
  for (const part of readdirSync(slicesDir)) {
    const files = readdirSync(join(slicesDir, part)).filter((f) => f.endsWith('.parquet')).sort();
    const offsets = (await readParquetFilesWithDuckDb(files.map((f) => join(slicesDir, part, f)), ['_cdcv_offset'])).map((r) => BigInt(r._cdcv_offset!));
    assert.equal(new Set(offsets).size, offsets.length, `${part}: no record in two slices`);
    const firsts = files.map((f) => BigInt(f.slice(-28, -8)));
    assert.deepEqual([...firsts].sort((a, b) => (a < b ? -1 : 1)), firsts, `${part}: slice names in offset order`);
  }
  t.diagnostic(lap('slice writer killed and restarted: slices disjoint, table equal to SQL'));
});

test('SIGTERM: the slice writer stores its open slices before it exits, so nothing waits for a restart', async (t) => {
  assert.ok(slices && slices.exitCode === null, 'lake slices runs');
  const sum = (o: Record<string, string>): number => Object.values(o).reduce((n, x) => n + Number(x), 0);
  const before = sum(await endOffsets());
  await insertOrders(3, 0);
  // In Kafka, and so in an open slice (the interval is 5 s).
  for (let i = 0; i < 50 && sum(await endOffsets()) < before + 3; i++) await sleep(100);
  slices.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => slices!.once('exit', (c) => r(c)));
  assert.equal(code, 0, 'a graceful stop');
  slices = undefined;
  const ends = await endOffsets();
  assert.equal(sum(ends), before + 3);
  // The table's care on this pass: a checkpoint, then the log before it and every unreferenced file go (retention 1 s).
  const tableDir = join(lakeDir(prefix), 'tables', TABLE);
  const logBefore = readdirSync(join(tableDir, '_delta_log'));
  const dataFiles = (): string[] => readdirSync(tableDir, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'));
  const filesBefore = dataFiles().length;
  await sleep(1500); // the earlier checkpoints, removed files and orphans are older than the retention below
  const w = await run(['lake', 'work', '--table', TABLE, '--checkpoint-every', '1', '--retention', 'PT1S']);
  assert.equal(w.code, 0, w.stderr);
  const s = await status();
  assert.deepEqual(s.progress, ends, 'the table holds every record written before the stop');
  const log = readdirSync(join(tableDir, '_delta_log'));
  const checkpoint = `${String(s.version).padStart(20, '0')}.checkpoint.parquet`;
  assert.ok(log.includes(checkpoint), `a checkpoint of version ${s.version}: ${log.join(' ')}`);
  assert.ok(!log.includes('00000000000000000000.json') && logBefore.includes('00000000000000000000.json'), 'the commits before the last checkpoint older than the retention were removed');
  const { files } = await checkTable('after the slice writer stopped: Delta Kernel reads the checkpoint');
  // VACUUM: what is left is the current version's files and those this very pass removed (still within the retention).
  const lastCommit = readFileSync(join(tableDir, '_delta_log', `${String(s.version).padStart(20, '0')}.json`), 'utf8');
  const removedNow = lastCommit.split('\n').filter((l) => l.startsWith('{"remove"')).length;
  const onDisk = dataFiles();
  assert.ok(onDisk.length <= files + removedNow && onDisk.length < filesBefore, `VACUUM: ${filesBefore} data files before, ${onDisk.length} after; ${files} in the version, ${removedNow} removed by its commit`);
  t.diagnostic(lap(`stopped gracefully: progress ${JSON.stringify(s.progress)}; checkpoint ${checkpoint}, ${log.length} log files, ${onDisk.length} data files`));
});

test('two commits racing for one version through the S3 API: exactly one wins, the other gets 412', async () => {
  const store = new S3ObjectStore(`s3://${S3_BUCKET}/${prefix}-race`, { endpoint: S3_ENDPOINT, credentials: { accessKeyId: process.env.CDCV_S3_ACCESS_KEY ?? 'cdcv', secretAccessKey: process.env.CDCV_S3_SECRET_KEY ?? 'cdcv-secret' } });
  const attempts = await Promise.allSettled(
    ['a', 'b'].map((who) => commitVersion(store, 'table', 7, [{ commitInfo: { timestamp: Date.now(), operation: 'WRITE', who } }])),
  );
  assert.equal(attempts.filter((x) => x.status === 'fulfilled').length, 1);
  const lost = attempts.find((x) => x.status === 'rejected');
  assert.ok(lost && lost.reason instanceof DeltaConflictError, String(lost && lost.reason));
  await store.delete((await store.list('table/')).map((o) => o.key));
});
