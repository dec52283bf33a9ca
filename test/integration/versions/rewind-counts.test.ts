/**
 * `cdc-views rewind --to-earliest --execute` on a stopped application with a
 * roll-up (order-lines: lines per order) and a group-by (sku-lines: lines per
 * sku), then the application runs again and re-reads its whole log. The
 * re-read changes are older than the state; they must not move roll-up or
 * group membership again: while it catches up (polled the whole time) no
 * cached count is ever above the count the view's SQL gives, and at the end
 * every table and view equals its SQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import type { Row } from '../../../src/cdc/types.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { expectedDocs, readCacheDocs } from '../../support/verify/compare.ts';
import { sleep } from '../helpers.ts';
import { assertConvergence, assertNoRegression, scenario, shopViews, sinksOf, waitConverged } from './support.ts';

/** The count fields of each view that a double-counted member would raise. */
const COUNTS: Record<string, string[]> = { 'order-lines': ['lineCount', 'quantity'], 'sku-lines': ['orderLines', 'quantity'] };

test('rewind to earliest with a roll-up and a group-by: no cached count ever exceeds its SQL during the catch-up', (t) =>
  scenario(t, { name: 'vrewind' }, async ({ p, app, redis, store, watcher, lap, startApp, stopApp }) => {
    await runWorkload({ connectionString: p.connectionString, ratePerSecond: 400, durationSeconds: 5, seed: 91 });
    assertConvergence(await waitConverged(p, store, redis, app));
    await stopApp();
    lap('converged; stopped');

    // The topics the counted views read (rewinding all six only takes longer).
    const scope = ['public.orders', 'public.order_lines'].flatMap((table) => ['--topic', `${p.topicPrefix}.${table}`]);
    const rewind = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'rewind', '--app', app, '--to-earliest', '--execute', '--topology', 'test/integration/versions/shop-views.ts', ...scope], { encoding: 'utf8' });
    assert.equal(rewind.status, 0, `cdc-views rewind: ${rewind.stderr}`);
    const rewound = [...(await store.positions()).entries()].filter((e) => /\.public\.(orders|order_lines)$/.test(e.topic));
    assert.ok(rewound.length === 6 && rewound.every((e) => e.offset === 0n), `every position of the two topics is back at 0: ${rewound.map((e) => `${e.topic}:${e.partition}=${e.offset}`).join(' ')}`);
    lap('rewound to earliest');

    // The source is quiet: each view's SQL counts are fixed for the whole catch-up.
    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const expected = new Map<string, Map<string, Row>>();
    try {
      for (const view of shopViews.views) if (view.name in COUNTS) expected.set(view.name, await expectedDocs(source, view));
    } finally {
      await source.end();
    }
    const over: string[] = [];
    let polls = 0;
    let pollsBeforeCaughtUp = 0;
    let caughtUp = false;
    const poll = async (): Promise<void> => {
      for (const [view, docs] of expected) {
        for (const [key, doc] of await readCacheDocs(redis, sinksOf(app, view).cache)) {
          for (const field of COUNTS[view]!) {
            const want = (docs.get(key)?.[field] as number | undefined) ?? 0;
            if ((doc[field] as number) > want) over.push(`${view} ${key} ${field} ${String(doc[field])} > ${want}`);
          }
        }
      }
      polls += 1;
      if (!caughtUp) pollsBeforeCaughtUp += 1;
    };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await poll();
        await sleep(20);
      }
    })();
    // Small chunks: the catch-up takes many steps, each one visible to the poller.
    const proc = await startApp({ maxChunkRecords: 50 });
    await proc.waitUntilCaughtUp();
    caughtUp = true;
    lap(`caught up: ${proc.counts.consumed} records read again, ${proc.counts.stale} stale, ${proc.renderCounts.rendered} renders`);
    const converged = await waitConverged(p, proc.store, redis, app);
    polling = false;
    await poller;
    await watcher.stop();
    t.diagnostic(`${polls} polls (${pollsBeforeCaughtUp} before caught up), ${over.length} counts above their SQL: ${over.slice(0, 5).join('; ')}`);
    assert.ok(proc.counts.consumed > 1000, `the log was read again (${proc.counts.consumed} records)`);
    assert.ok(pollsBeforeCaughtUp >= 5, `the cache was polled during the catch-up (${pollsBeforeCaughtUp} polls)`);
    assert.deepEqual(over.slice(0, 10), [], 'no cached count above its SQL during the catch-up');
    assertConvergence(converged);
    assertNoRegression(t, watcher);
  }));
