/**
 * TOAST: a table with REPLICA IDENTITY DEFAULT and a 20 kB column of random
 * base64 (incompressible, stored out of line uncompressed). An UPDATE that
 * leaves that column unchanged does not log its value, so Debezium writes the
 * placeholder `__debezium_unavailable_value` instead. The placeholder must
 * never reach table state, views or `cdc-views dump`: the unchanged value is
 * kept from the stored row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { StateKeys } from '../../../src/state/keys.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { readCacheDocs } from '../../support/verify/compare.ts';
import { newRedis, pipeline, processor, uniqueId } from '../helpers.ts';
import { assertConvergence, dropApp, laps, readTopics, reportDuration, sinksOf, waitConverged } from './support.ts';

const PLACEHOLDER = '__debezium_unavailable_value';
const ROWS = 20;

const builder = new StreamsBuilder('toast-docs');
builder
  .table('public.documents')
  .view('document')
  .mapValues((d) => ({ id: d.id, title: d.title, rev: d.rev, body: d.body }))
  .as('document', { sql: 'SELECT json_build_object(\'id\', id) AS _key, id, title, rev, body FROM public.documents' })
  .toCache();
const docs = builder.build('test/integration/versions/toast-placeholders.test.ts');

const setupSql = `
  CREATE TABLE public.documents (id integer PRIMARY KEY, title text NOT NULL, rev integer NOT NULL DEFAULT 0, body text NOT NULL);
  -- out of line, never compressed (random base64 would not compress anyway)
  ALTER TABLE public.documents ALTER COLUMN body SET STORAGE EXTERNAL;
  ALTER PUBLICATION cdcv_pub ADD TABLE public.documents;
  GRANT SELECT ON public.documents TO cdcv_replicator;
  INSERT INTO public.documents (id, title, body) VALUES
  ${Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 'document ${i + 1}', '${randomBytes(15_000).toString('base64')}')`).join(',\n  ')};`;

test('TOAST: unchanged 20 kB values arrive as placeholders, and none reaches state, views or dump', async (t) => {
  const started = Date.now();
  const lap = laps(t, started);
  const redis = newRedis();
  const app = uniqueId('vtoast');
  const p = await pipeline('vtoast', { setupSql, extraTables: ['public.documents'], seedCustomers: 20, seedOrders: 20 });
  const topic = `${p.topicPrefix}.public.documents`;
  const proc = processor({ applicationId: app, redis, topics: p.topics, topology: docs });
  try {
    await proc.start();
    const c = new pg.Client({ connectionString: p.connectionString });
    await c.connect();
    try {
      const toasted = await c.query<{ n: string }>("SELECT count(*) AS n FROM public.documents WHERE pg_column_size(body) >= 20000");
      assert.equal(Number(toasted.rows[0]!.n), ROWS, 'every body is stored uncompressed (≥ 20 kB)');
      // Updates that leave body unchanged (its TOAST pointer is not logged), and one that changes it.
      for (let round = 0; round < 3; round++) await c.query(`UPDATE public.documents SET title = title || ' ${round}', rev = rev + 1`);
      await c.query(`UPDATE public.documents SET body = '${randomBytes(15_000).toString('base64')}', rev = rev + 1 WHERE id = 1`);
      await c.query("UPDATE public.documents SET title = 'after the new body', rev = rev + 1 WHERE id = 1");
    } finally {
      await c.end();
    }
    const converged = await waitConverged(p, proc.store, redis, app, 60_000, docs);
    lap(`converged: ${converged.total} mismatches`);

    const inTopic = (await readTopics(new RegExp(`^${topic.replaceAll('.', '\\.')}$`))).filter((r) => r.value?.includes(PLACEHOLDER)).length;
    const inState = Object.values(await redis.hgetall(new StateKeys(app).table(topic))).filter((v) => v.includes(PLACEHOLDER)).length;
    const cached = await readCacheDocs(redis, sinksOf(app, 'document', docs).cache);
    const inView = [...cached.values()].filter((d) => JSON.stringify(d).includes(PLACEHOLDER)).length;
    const dump = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dump', '--app', app, '--table', topic], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const dumped = dump.stdout.split('\n').filter((l) => l !== '');
    const inDump = dumped.filter((l) => l.includes(PLACEHOLDER)).length;
    t.diagnostic(`${inTopic} records with the placeholder in the topic; in state ${inState}, in view documents ${inView}, in dump lines ${inDump} (of ${dumped.length})`);
    assert.ok(inTopic >= ROWS * 3, `Debezium wrote the placeholder for the unchanged values (${inTopic} records)`);
    assert.equal(dump.status, 0, `cdc-views dump: ${dump.stderr}`);
    assert.equal(dumped.length, ROWS, 'dump prints every row');
    assert.deepEqual({ inState, inView, inDump }, { inState: 0, inView: 0, inDump: 0 }, 'no placeholder in state, views or dump');
    assertConvergence(converged);
  } finally {
    await proc.stop();
    await dropApp(redis, app, docs);
    await p.drop();
    redis.disconnect();
    reportDuration(t, started);
  }
});
