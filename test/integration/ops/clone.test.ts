/**
 * replay --from clone of a live version under a running workload (issue #4):
 * the live version's table state and positions are copied in one atomic step
 * while it applies changes, the clone continues from the copied positions,
 * and after quiescence v2 equals live equals PostgreSQL, and its cache view
 * equals the view's SQL definition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Admin } from 'kafkajs';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { promote } from '../../../src/ops/lifecycle.ts';
import { prepareReplay } from '../../../src/ops/replay.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { parseStored } from '../../../src/state/encoding.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { mismatches, verifyCacheView } from '../../support/verify/compare.ts';
import customerCache from '../../../topologies/customer-cache.ts';
import { cfg, describeMismatches, newRedis, pipeline, processor, sleep, verifyAll } from '../helpers.ts';
import { deleteKeys, kafka, newAdmin } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;
let admin: Admin;
const suffix = Math.random().toString(36).slice(2, 8);
const plan = { ...customerCache, name: `cc${suffix}` };

before(async () => {
  p = await pipeline('opsclone');
  admin = await newAdmin();
});
after(async () => {
  for (const v of ['v1', 'v2']) {
    await deleteKeys(redis, `cdcv:${plan.name}-${v}:*`);
    await deleteKeys(redis, `cache:${plan.name}-${v}:*`);
    await admin.deleteGroups([`${plan.name}-${v}`]).catch(() => undefined);
  }
  await deleteKeys(redis, `cdcv:topology:${plan.name}:*`);
  await deleteKeys(redis, `cache:${plan.name}:*`);
  await admin?.disconnect();
  await p?.drop();
  redis.disconnect();
});

test('replay --from clone of a live version under a workload: v2 = live = SQL after quiescence', async () => {
  const ctx = { redis, admin, kafka, searchUrl: cfg.CDCV_OPENSEARCH_URL };
  await prepareReplay(ctx, { plan, version: 'v1', from: { kind: 'earliest' }, topics: p.topics });
  const live = processor({ applicationId: `${plan.name}-v1`, topics: p.topics, redis, topology: plan });
  await live.start();
  let v2: ReturnType<typeof processor> | undefined;
  try {
    await live.waitUntilCaughtUp();
    const work = runWorkload({ connectionString: p.connectionString, ratePerSecond: 500, durationSeconds: 8, seed: 11 });
    await sleep(3000);
    const cloned = await prepareReplay(ctx, { plan, version: 'v2', from: { kind: 'clone', applicationId: `${plan.name}-v1` } });
    assert.equal(cloned.complete, true);
    assert.match(cloned.description, /COMPLETE store: clone of/);
    v2 = processor({ applicationId: `${plan.name}-v2`, topics: p.topics, redis, topology: plan });
    await v2.start();
    await work;
    await awaitWatermark(p, live.store);
    await awaitWatermark(p, v2.store);
    await live.waitUntilCaughtUp();
    await v2.waitUntilCaughtUp();

    // Versions, origins and rows; not the time each app applied a delete (its marker's retention clock).
    const entries = async (app: string, table: string): Promise<Record<string, unknown>> => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(await redis.hgetall(new StateKeys(app).table(table)))) {
        const { version, origin, row } = parseStored(v);
        out[k] = { version, origin, row };
      }
      return out;
    };
    for (const t of p.tables) {
      const id = `${p.topicPrefix}.${t}`;
      assert.deepEqual(await entries(`${plan.name}-v2`, id), await entries(`${plan.name}-v1`, id), `${t}: v2 equals live, versions included`);
    }
    const { total, detail } = describeMismatches(await verifyAll(p, v2.store));
    assert.equal(total, 0, detail);
    const client = new pg.Client({ connectionString: p.connectionString });
    await client.connect();
    try {
      for (const v of ['v1', 'v2']) {
        const c = await verifyCacheView(client, redis, plan.views[0]!, `cache:${plan.name}-${v}:customer-cache:`);
        assert.equal(mismatches(c), 0, `${v} cache view = SQL: ${JSON.stringify(c).slice(0, 300)}`);
      }
    } finally {
      await client.end();
    }
    await promote(ctx, plan.name, 'v2');
    assert.equal(await redis.get(`cache:${plan.name}:customer-cache:__current`), `cache:${plan.name}-v2:customer-cache:`);
  } finally {
    await v2?.stop();
    await live.stop();
  }
});
