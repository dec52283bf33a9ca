/**
 * The edges of Debezium's snapshot on the real stack, where snapshot reads
 * and streamed changes meet:
 * - changes committed after the replication slot was created but before the
 *   snapshot (the slot holds them, the snapshot already shows them);
 * - a transaction open across the snapshot start (BEGIN; UPDATE + INSERT;
 *   the connector registered; the snapshot finishes; COMMIT): its changes were
 *   written before the snapshot but committed after it;
 * - the first transaction after the snapshot (committed while that one is
 *   still open);
 * - primary-key updates;
 * - interleaved transactions (the one that began first commits last).
 * The slot is created before the open transaction, as creating one waits for
 * every running transaction. After each step, every table and view equals its
 * SQL, and a reader of row content (`rev`) never saw a row go back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Application } from '../../../src/runtime/application.ts';
import { connectSamplePipeline, dropSamplePipeline, prepareSamplePipeline } from '../../support/sample-pipeline.ts';
import { newRedis, MIN_WATCHER_READS, RevWatcher, sleep, stateTables, uniqueId } from '../helpers.ts';
import { cachePrefixes, dropApp, envelope, laps, readTopics, reportDuration, viewsApp, waitConverged } from './support.ts';

const customer = (id: number): string =>
  `INSERT INTO public.customers (id, email, name, external_ref) VALUES (${id}, 'c${id}@example.com', 'Customer ${id}', '00000000-0000-4000-8000-${String(id).padStart(12, '0')}')`;

test('snapshot edges: open transaction across the snapshot, first transaction after it, key updates, interleaved transactions', async (t) => {
  const started = Date.now();
  const lap = laps(t, started);
  const redis = newRedis();
  const app = uniqueId('vsnap');
  const p = await prepareSamplePipeline({ id: uniqueId('vsnap'), seedCustomers: 60, seedOrders: 80 });
  const clients = [0, 1, 2].map(() => new pg.Client({ connectionString: p.connectionString }));
  const [c0, c1, c2] = clients as [pg.Client, pg.Client, pg.Client];
  let proc: Application | undefined;
  let watcher: RevWatcher | undefined;
  const failures: string[] = [];
  const check = async (step: string): Promise<void> => {
    const c = await waitConverged(p, proc!.store, redis, app, 30_000);
    lap(`${step}: ${c.total} mismatches after ${c.seconds.toFixed(1)} s`);
    if (c.total !== 0) failures.push(`${step}: ${c.detail}`);
  };
  try {
    for (const c of clients) await c.connect();
    await c0.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [p.slotName]);
    // Committed before the snapshot, after the slot: the slot holds both, the snapshot shows the second.
    await c0.query("UPDATE public.customers SET name = 'before snapshot 1', rev = rev + 1 WHERE id = 3");
    await c0.query("UPDATE public.customers SET name = 'before snapshot 2', rev = rev + 1 WHERE id = 3");
    // Open across the snapshot start.
    await c1.query('BEGIN');
    await c1.query("UPDATE public.customers SET name = 'open across the snapshot', rev = rev + 1 WHERE id = 1");
    await c1.query(customer(9001));
    await connectSamplePipeline(p);
    for (let i = 0; ; i++) {
      const last = (await readTopics(p.topics)).some((r) => envelope(r.value)?.source?.snapshot === 'last');
      if (last) break;
      assert.ok(i < 60, 'the snapshot finished within 60 s');
      await sleep(500);
    }
    lap('snapshot finished, the transaction still open');
    proc = viewsApp(p, app, redis);
    await proc.start();
    watcher = new RevWatcher(redis, app, { tables: stateTables(p), cachePrefixes: cachePrefixes(app) });
    watcher.start(50);
    await check('after the snapshot');

    await c2.query(`BEGIN; UPDATE public.customers SET name = 'first after the snapshot', rev = rev + 1 WHERE id = 2; ${customer(9002)}; UPDATE public.orders SET status = 'paid', rev = rev + 1 WHERE id = 5000000001; COMMIT`);
    await check('the first transaction after the snapshot');
    await c1.query('COMMIT');
    await check('the transaction open across the snapshot committed');

    await c0.query('UPDATE public.customers SET id = 9003, rev = rev + 1 WHERE id = 4');
    await c0.query('BEGIN; UPDATE public.orders SET id = 9000000001, rev = rev + 1 WHERE id = 5000000080; UPDATE public.order_lines SET order_id = 9000000001, rev = rev + 1 WHERE order_id = 5000000080; COMMIT');
    await c0.query('UPDATE public.order_lines SET line_no = line_no + 10, rev = rev + 1 WHERE order_id = 5000000001 AND line_no = 1');
    await check('primary-key updates');

    // Interleaved: c1 begins first and commits last; c2 commits in between; both touch customer 6.
    await c1.query("BEGIN; UPDATE public.customers SET name = 'interleaved A', rev = rev + 1 WHERE id = 5");
    await c2.query(`BEGIN; UPDATE public.customers SET name = 'interleaved B', rev = rev + 1 WHERE id = 6; ${customer(9004)}; COMMIT`);
    await c1.query("UPDATE public.customers SET tier = 'gold', rev = rev + 1 WHERE id = 6; DELETE FROM public.customers WHERE id = 9004; UPDATE public.customers SET rev = rev + 1 WHERE id = 5; COMMIT");
    await check('interleaved transactions');
    await sleep(300);
    await watcher.stop();
    t.diagnostic(`watcher: ${watcher.reads} reads, ${watcher.increases} rev increases, ${watcher.regressions.length} regressions: ${watcher.regressions.slice(0, 5).join('; ')}`);
    assert.deepEqual(failures, [], 'every table and view equals its SQL after each step');
    assert.ok(watcher.reads >= MIN_WATCHER_READS && watcher.increases > 0, `the watcher saw the changes (${watcher.reads} reads, ${watcher.increases} increases)`);
    assert.deepEqual(watcher.regressions.slice(0, 10), [], "no row's or document's rev went back");
  } finally {
    await watcher?.stop();
    await proc?.stop();
    for (const c of clients) await c.end().catch(() => undefined);
    await dropApp(redis, app);
    await dropSamplePipeline(p.id);
    redis.disconnect();
    reportDuration(t, started);
  }
});
