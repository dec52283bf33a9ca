/**
 * The Delta log layer on the file:// store in a temp folder: create, commits
 * of add/remove/txn replayed to a hand-written snapshot, put-if-absent
 * conflicts (sequential and racing), checkpoint + later commits equal to the
 * plain replay, the checkpoint read by DuckDB, log cleanup, vacuum, and a gap
 * in the log.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { FileObjectStore } from '../../../src/lake/object-store-file.ts';
import type { LakeColumn } from '../../../src/lake/types.ts';
import {
  commitFileName,
  decodeDataPath,
  encodeDataPath,
  escapePartitionPathValue,
  parseCommit,
  partitionDirectory,
  serializeCommit,
  serializePartitionValue,
  type AddAction,
  type DeltaAction,
} from '../../../src/lake/delta/actions.ts';
import { DeltaConflictError, DeltaLogError } from '../../../src/lake/delta/errors.ts';
import { commitVersion, createTable } from '../../../src/lake/delta/log.ts';
import { readSnapshot, type DeltaSnapshot } from '../../../src/lake/delta/snapshot.ts';
import { cleanupLog, readCheckpoint, vacuum, writeCheckpoint } from '../../../src/lake/delta/checkpoint.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 0, 31);
const ROOT = 'lake/orders';
const columns: LakeColumn[] = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'day', type: 'date', nullable: true },
  { name: 'amount', type: 'decimal(10,2)', nullable: true },
];

const temps: string[] = [];
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

async function tempStore(): Promise<{ dir: string; store: FileObjectStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'cdc-views-delta-'));
  temps.push(dir);
  return { dir, store: new FileObjectStore(pathToFileURL(dir).href) };
}

const add = (path: string, day: string | null, size: number, t = NOW - DAY): AddAction => ({ path, partitionValues: { day }, size, modificationTime: t, dataChange: true, stats: `{"numRecords":${size}}` });
const info = (op: string): DeltaAction => ({ commitInfo: { timestamp: NOW, operation: op } });

/** Version 0 (create) and versions 1..4 of add/remove/txn. */
async function buildTable(store: FileObjectStore): Promise<void> {
  await createTable(store, ROOT, { columns, partitionColumns: ['day'], tableId: 'tbl-1', now: NOW - 10 * DAY });
  await commitVersion(store, ROOT, 1, [info('WRITE'), { add: add('day=2025-01-01/a.parquet', '2025-01-01', 100) }, { add: add('day=2025-01-02/b.parquet', '2025-01-02', 200) }, { txn: { appId: 'sink-1', version: 10, lastUpdated: NOW - 3 * DAY } }]);
  await commitVersion(store, ROOT, 2, [info('WRITE'), { add: add('day=__HIVE_DEFAULT_PARTITION__/c.parquet', null, 300) }, { txn: { appId: 'sink-1', version: 11 } }, { txn: { appId: 'sink-2', version: 1 } }]);
  await commitVersion(store, ROOT, 3, [info('DELETE'), { remove: { path: 'day=2025-01-01/a.parquet', deletionTimestamp: NOW - DAY, dataChange: true } }]);
  await commitVersion(store, ROOT, 4, [info('WRITE'), { add: { ...add('day=2025-01-02/b.parquet', '2025-01-02', 200), stats: '{"numRecords":199}' } }, { txn: { appId: 'sink-1', version: 12, lastUpdated: NOW } }]);
}

function expected(): Omit<DeltaSnapshot, 'metadata'> {
  return {
    version: 4,
    protocol: { minReaderVersion: 1, minWriterVersion: 2 },
    columns,
    partitionColumns: ['day'],
    files: new Map([
      ['day=2025-01-02/b.parquet', { ...add('day=2025-01-02/b.parquet', '2025-01-02', 200), stats: '{"numRecords":199}' }],
      ['day=__HIVE_DEFAULT_PARTITION__/c.parquet', add('day=__HIVE_DEFAULT_PARTITION__/c.parquet', null, 300)],
    ]),
    txns: new Map([
      ['sink-1', { version: 12, lastUpdated: NOW }],
      ['sink-2', { version: 1 }],
    ]),
    tombstones: new Map([['day=2025-01-01/a.parquet', { path: 'day=2025-01-01/a.parquet', deletionTimestamp: NOW - DAY, dataChange: true }]]),
  };
}

const withoutCheckpoint = (s: DeltaSnapshot | null): Omit<DeltaSnapshot, 'checkpointVersion'> => {
  assert.ok(s);
  const { checkpointVersion: _cp, ...rest } = s;
  return rest;
};

test('no _delta_log: readSnapshot gives null', async () => {
  const { store } = await tempStore();
  assert.equal(await readSnapshot(store, ROOT), null);
});

test('create + commits of add/remove/txn replay to the hand-written snapshot', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  const s = await readSnapshot(store, ROOT, { now: NOW });
  assert.ok(s);
  const { metadata, ...rest } = s;
  assert.deepEqual(rest, expected());
  assert.deepEqual(metadata, {
    id: 'tbl-1',
    format: { provider: 'parquet', options: {} },
    schemaString: '{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},{"name":"day","type":"date","nullable":true,"metadata":{}},{"name":"amount","type":"decimal(10,2)","nullable":true,"metadata":{}}]}',
    partitionColumns: ['day'],
    configuration: {},
    createdTime: NOW - 10 * DAY,
  });
  // Version 0 on disk: one action per line, protocol (1,2) without features.
  const v0 = await readFile(join(dir, ROOT, '_delta_log/00000000000000000000.json'), 'utf8');
  assert.deepEqual(
    v0.trim().split('\n').map((l) => Object.keys(JSON.parse(l) as object)[0]),
    ['commitInfo', 'protocol', 'metaData'],
  );
  assert.match(v0, /\{"protocol":\{"minReaderVersion":1,"minWriterVersion":2\}\}/);
  // Tombstones expire after the retention (one week by default).
  const later = await readSnapshot(store, ROOT, { now: NOW + 8 * DAY });
  assert.equal(later?.tombstones.size, 0);
  assert.equal((await readSnapshot(store, ROOT, { now: NOW, tombstoneRetentionMs: 1000 }))?.tombstones.size, 0);
});

test('put-if-absent conflict: DeltaConflictError naming the version, the first commit kept', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  const before = await readFile(join(dir, ROOT, commitFileName(4)), 'utf8');
  await assert.rejects(commitVersion(store, ROOT, 4, [info('LATE'), { txn: { appId: 'x', version: 1 } }]), (err: unknown) => {
    assert.ok(err instanceof DeltaConflictError);
    assert.equal(err.code, 'LAKE_COMMIT_CONFLICT');
    assert.equal(err.version, 4);
    assert.match(err.message, /version 4/);
    return true;
  });
  assert.equal(await readFile(join(dir, ROOT, commitFileName(4)), 'utf8'), before);
  await assert.rejects(createTable(store, ROOT, { columns }), DeltaConflictError);
});

test('two concurrent commits of the same version: exactly one succeeds', async () => {
  const { dir, store } = await tempStore();
  await createTable(store, ROOT, { columns });
  for (let v = 1; v <= 20; v++) {
    const results = await Promise.allSettled(['a', 'b'].map((w) => commitVersion(store, ROOT, v, [{ txn: { appId: w, version: v } }])));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `version ${v}`);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost?.status === 'rejected' && lost.reason instanceof DeltaConflictError);
    const winner = parseCommit(await readFile(join(dir, ROOT, commitFileName(v)), 'utf8'), 'test');
    assert.equal(winner.length, 1);
  }
  const s = await readSnapshot(store, ROOT);
  assert.equal(s?.version, 20);
  // Each version's single winner left its txn: the latest per appId is from the last version it won.
  assert.ok([...(s?.txns.values() ?? [])].some((t) => t.version === 20));
});

test('checkpoint then more commits: same snapshot as the plain replay; DuckDB reads the checkpoint', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  const at4 = await readSnapshot(store, ROOT, { now: NOW });
  assert.ok(at4);
  const last = await writeCheckpoint(store, ROOT, at4);
  assert.deepEqual(last, { version: 4, size: 1 + 1 + 2 + 2 + 1, sizeInBytes: last.sizeInBytes, numOfAddFiles: 2 });
  assert.deepEqual(JSON.parse(await readFile(join(dir, ROOT, '_delta_log/_last_checkpoint'), 'utf8')), last);
  assert.equal((await readCheckpoint(store, `${ROOT}/_delta_log/00000000000000000004.checkpoint.parquet`)).length, 7);
  await commitVersion(store, ROOT, 5, [info('WRITE'), { add: add('day=2025-01-01/a.parquet', '2025-01-01', 101) }, { remove: { path: 'day=__HIVE_DEFAULT_PARTITION__/c.parquet', deletionTimestamp: NOW, dataChange: true, extendedFileMetadata: true, partitionValues: { day: null }, size: 300 } }]);
  await commitVersion(store, ROOT, 6, [info('WRITE'), { txn: { appId: 'sink-3', version: 7 } }]);
  const viaCheckpoint = await readSnapshot(store, ROOT, { now: NOW });
  assert.equal(viaCheckpoint?.checkpointVersion, 4);
  assert.equal(viaCheckpoint?.version, 6);
  assert.ok(viaCheckpoint?.files.has('day=2025-01-01/a.parquet') && !viaCheckpoint.tombstones.has('day=2025-01-01/a.parquet'));

  // DuckDB, an independent Parquet reader, sees the spec's nested checkpoint columns.
  const file = join(dir, ROOT, '_delta_log/00000000000000000004.checkpoint.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const types = Object.fromEntries((await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJson().map((r) => [r.column_name as string, r.column_type as string]));
    assert.match(types.add ?? '', /^STRUCT\(path VARCHAR, partitionValues MAP\(VARCHAR, VARCHAR\), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP\(VARCHAR, VARCHAR\)\)$/);
    assert.match(types.metaData ?? '', /format STRUCT\(provider VARCHAR, "options" MAP\(VARCHAR, VARCHAR\)\), schemaString VARCHAR, partitionColumns VARCHAR\[\], "configuration" MAP\(VARCHAR, VARCHAR\)/);
    assert.equal(types.protocol, 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)');
    const rows = (
      await conn.runAndReadAll(
        `SELECT add.path AS path, add.partitionValues['day'] AS day, cardinality(add.partitionValues) AS n, add.size::INTEGER AS size, add.stats AS stats FROM read_parquet('${file}') WHERE add IS NOT NULL ORDER BY path`,
      )
    ).getRowObjectsJson();
    assert.deepEqual(rows, [
      { path: 'day=2025-01-02/b.parquet', day: '2025-01-02', n: '1', size: 200, stats: '{"numRecords":199}' },
      { path: 'day=__HIVE_DEFAULT_PARTITION__/c.parquet', day: null, n: '1', size: 300, stats: '{"numRecords":300}' },
    ]);
    const meta = (await conn.runAndReadAll(`SELECT metaData.id AS id, metaData.partitionColumns AS pc, metaData.format.provider AS provider, protocol FROM read_parquet('${file}') WHERE metaData IS NOT NULL OR protocol IS NOT NULL`)).getRowObjectsJson();
    assert.deepEqual(meta, [
      { id: null, pc: null, provider: null, protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { id: 'tbl-1', pc: ['day'], provider: 'parquet', protocol: null },
    ]);
    const txns = (await conn.runAndReadAll(`SELECT txn.appId AS app, txn.version::INTEGER AS v FROM read_parquet('${file}') WHERE txn IS NOT NULL ORDER BY app`)).getRowObjectsJson();
    assert.deepEqual(txns, [{ app: 'sink-1', v: 12 }, { app: 'sink-2', v: 1 }]);
  } finally {
    conn.closeSync();
    db.closeSync();
  }

  // The same log without the checkpoint replays to the same state.
  await rm(file);
  await rm(join(dir, ROOT, '_delta_log/_last_checkpoint'));
  const plain = await readSnapshot(store, ROOT, { now: NOW });
  assert.equal(plain?.checkpointVersion, undefined);
  assert.deepEqual(withoutCheckpoint(viaCheckpoint), withoutCheckpoint(plain));
});

async function age(dir: string, key: string, mtime: number): Promise<void> {
  await utimes(join(dir, key), mtime / 1000, mtime / 1000);
}

test('cleanupLog keeps the newest checkpoint before the cutoff, its commit and everything after', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  await writeCheckpoint(store, ROOT, (await readSnapshot(store, ROOT, { now: NOW }))!);
  await commitVersion(store, ROOT, 5, [info('WRITE'), { txn: { appId: 'sink-9', version: 1 } }]);
  await commitVersion(store, ROOT, 6, [info('WRITE'), { txn: { appId: 'sink-9', version: 2 } }]);
  const before = await readSnapshot(store, ROOT, { now: NOW });
  const log = `${ROOT}/_delta_log/`;
  // Nothing is old yet: nothing to delete.
  assert.deepEqual(await cleanupLog(store, ROOT, before!, 30 * DAY, NOW), []);
  for (let v = 0; v <= 5; v++) await age(dir, `${log}${String(v).padStart(20, '0')}.json`, NOW - 40 * DAY);
  await age(dir, `${log}00000000000000000004.checkpoint.parquet`, NOW - 40 * DAY);
  const deleted = await cleanupLog(store, ROOT, before!, 30 * DAY, NOW);
  assert.deepEqual(deleted, [0, 1, 2, 3].map((v) => `${log}${String(v).padStart(20, '0')}.json`));
  const left = (await store.list(log)).map((o) => o.key.slice(log.length));
  assert.deepEqual(left, ['00000000000000000004.checkpoint.parquet', '00000000000000000004.json', '00000000000000000005.json', '00000000000000000006.json', '_last_checkpoint']);
  assert.deepEqual(withoutCheckpoint(await readSnapshot(store, ROOT, { now: NOW })), withoutCheckpoint(before));
});

test('cleanupLog without a checkpoint before the cutoff deletes nothing', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  for (let v = 0; v <= 4; v++) await age(dir, `${ROOT}/_delta_log/${String(v).padStart(20, '0')}.json`, NOW - 40 * DAY);
  assert.deepEqual(await cleanupLog(store, ROOT, (await readSnapshot(store, ROOT, { now: NOW }))!, 30 * DAY, NOW), []);
});

test('vacuum deletes only unreferenced files older than the retention, never the log', async () => {
  const { dir, store } = await tempStore();
  await createTable(store, ROOT, { columns, partitionColumns: ['day'] });
  const files = ['day=2025-01-01/live.parquet', 'day=2025-01-01/old-removed.parquet', 'day=2025-01-01/new-removed.parquet', 'orphan-old.parquet', 'orphan-new.parquet', 'day=2025-01-01/.hidden', '_tmp/x.parquet', 'day=a%3Ab/live2.parquet'];
  for (const f of files) {
    await mkdir(dirname(join(dir, ROOT, f)), { recursive: true });
    await writeFile(join(dir, ROOT, f), 'x');
    await age(dir, `${ROOT}/${f}`, f.includes('-new') ? NOW - 1000 : NOW - 30 * DAY);
  }
  await commitVersion(store, ROOT, 1, ['day=2025-01-01/live.parquet', 'day=2025-01-01/old-removed.parquet', 'day=2025-01-01/new-removed.parquet', 'day=a%3Ab/live2.parquet'].map((f): DeltaAction => ({ add: add(encodeDataPath(f), '2025-01-01', 1) })));
  await commitVersion(store, ROOT, 2, [
    { remove: { path: 'day=2025-01-01/old-removed.parquet', deletionTimestamp: NOW - 20 * DAY, dataChange: true } },
    { remove: { path: 'day=2025-01-01/new-removed.parquet', deletionTimestamp: NOW - DAY, dataChange: true } },
  ]);
  for (const v of [0, 1, 2]) await age(dir, `${ROOT}/_delta_log/${String(v).padStart(20, '0')}.json`, NOW - 30 * DAY);
  const snap = await readSnapshot(store, ROOT, { now: NOW });
  assert.ok(snap?.files.has('day=a%253Ab/live2.parquet')); // the URI form of the escaped directory
  const result = await vacuum(store, ROOT, snap!, 7 * DAY, NOW);
  assert.deepEqual(result.deleted.sort(), [`${ROOT}/day=2025-01-01/old-removed.parquet`, `${ROOT}/orphan-old.parquet`]);
  assert.equal(result.keptRecent, 1);
  const left = (await store.list(`${ROOT}/`)).map((o) => o.key.slice(ROOT.length + 1));
  for (const f of ['day=2025-01-01/live.parquet', 'day=2025-01-01/new-removed.parquet', 'orphan-new.parquet', 'day=2025-01-01/.hidden', '_tmp/x.parquet', 'day=a%3Ab/live2.parquet', '_delta_log/00000000000000000000.json']) {
    assert.ok(left.includes(f), f);
  }
});

test('a commit missing in the middle of the log is a clear error', async () => {
  const { dir, store } = await tempStore();
  await buildTable(store);
  await rm(join(dir, ROOT, commitFileName(2)));
  await assert.rejects(readSnapshot(store, ROOT), (err: unknown) => {
    assert.ok(err instanceof DeltaLogError);
    assert.equal(err.code, 'LAKE_LOG_CORRUPT');
    assert.match(err.message, /commit version 2 \(_delta_log\/00000000000000000002\.json\) is missing and there is no checkpoint; commits present: 0\.\.4/);
    return true;
  });
  // After a checkpoint, a gap between it and the newest commit fails too.
  const { dir: dir2, store: store2 } = await tempStore();
  await buildTable(store2);
  await writeCheckpoint(store2, ROOT, (await readSnapshot(store2, ROOT))!);
  for (const v of [5, 6, 7]) await commitVersion(store2, ROOT, v, [info('WRITE')]);
  await rm(join(dir2, ROOT, commitFileName(6)));
  await assert.rejects(readSnapshot(store2, ROOT), /commit version 6 .* is missing after checkpoint 4/);
});

test('actions: file names, NDJSON round trip, partition values and paths', () => {
  assert.equal(commitFileName(0), '_delta_log/00000000000000000000.json');
  assert.equal(commitFileName(1234), '_delta_log/00000000000000001234.json');
  assert.throws(() => commitFileName(-1), RangeError);
  const actions: DeltaAction[] = [info('WRITE'), { add: add('a.parquet', null, 1) }, { txn: { appId: 'a', version: 1 } }];
  const text = serializeCommit(actions);
  assert.equal(text.split('\n').length, 4);
  assert.deepEqual(parseCommit(text + '{"cdc":{"path":"x"}}\n', 'mem'), actions);
  assert.throws(() => parseCommit('{"add":{}}', 'mem'), /mem line 1: add needs/);
  assert.throws(() => parseCommit('not json', 'mem'), DeltaLogError);

  assert.equal(serializePartitionValue('date', '2025-01-31'), '2025-01-31');
  assert.equal(serializePartitionValue('long', 12n), '12');
  assert.equal(serializePartitionValue('boolean', false), 'false');
  assert.equal(serializePartitionValue('timestamp', '2025-01-31T10:00:00.123456Z'), '2025-01-31T10:00:00.123456Z');
  assert.equal(serializePartitionValue('string', ''), null);
  assert.equal(serializePartitionValue('string', null), null);
  assert.equal(escapePartitionPathValue('a/b:c=d%e f#?'), 'a%2Fb%3Ac%3Dd%25e f%23%3F');
  assert.equal(partitionDirectory(['day', 'region'], { day: '2025-01-31', region: null }), 'day=2025-01-31/region=__HIVE_DEFAULT_PARTITION__/');
  assert.equal(partitionDirectory([], {}), '');
  const key = `${partitionDirectory(['region'], { region: 'eu west/1' })}part-0.parquet`;
  assert.equal(key, 'region=eu west%2F1/part-0.parquet');
  assert.equal(encodeDataPath(key), 'region=eu%20west%252F1/part-0.parquet');
  assert.equal(decodeDataPath(encodeDataPath(key)), key);
  assert.equal(decodeDataPath('s3://bucket/x.parquet'), undefined);
});

test('checkpoint round trip of an unpartitioned table: empty maps, tags, configuration, absent optionals', async () => {
  const { store } = await tempStore();
  await createTable(store, 't', { columns, tableId: 'tbl-2', now: NOW, configuration: { 'delta.deletedFileRetentionDuration': 'interval 2 days' } });
  await commitVersion(store, 't', 1, [
    { add: { path: 'p%20q.parquet', partitionValues: {}, size: 5, modificationTime: NOW, dataChange: true, tags: { k: 'v' } } },
    { remove: { path: 'gone.parquet', deletionTimestamp: NOW - DAY, dataChange: false, extendedFileMetadata: true, partitionValues: {}, size: 3 } },
    { remove: { path: 'expired.parquet', deletionTimestamp: NOW - 3 * DAY, dataChange: true } },
  ]);
  const plain = await readSnapshot(store, 't', { now: NOW });
  assert.deepEqual([...(plain?.tombstones.keys() ?? [])], ['gone.parquet']); // 2-day retention from the table property
  await writeCheckpoint(store, 't', plain!);
  assert.deepEqual(withoutCheckpoint(await readSnapshot(store, 't', { now: NOW })), withoutCheckpoint(plain));
});
