/**
 * Redis fails over, through its Sentinels, to a replica that is behind: the
 * state Redis goes back in time. cdc-views runs as a `run` process against the
 * Sentinel set of the stack (scripts/stack/sentinel.sh) while a workload runs;
 * the replica's replication is cut (the primary refuses it PSYNC/SYNC), the
 * primary goes on taking writes for a few seconds, then `SENTINEL FAILOVER`
 * promotes the replica, and everything written since the cut is gone. The
 * runtime must notice the positions it holds are not the stored ones (a
 * rollback, counted by cdc_views_state_rollbacks_total), resume each partition
 * from what Redis holds, and converge: state, search index and cache equal
 * their SQL, nothing lost. The Sentinel set is restored afterwards (its
 * primary then is the other node: a failover is never undone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { redisOptions } from '../../../src/state/redis-client.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { StateStore } from '../../../src/state/store.ts';
import { freePort } from '../../support/connect-worker.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { kill, spawnRun } from '../faults/harness.ts';
import { cfg, pipeline, RevWatcher, sleep, stateTables, uniqueId } from '../helpers.ts';
import { assertConvergence, assertNoRegression, cachePrefixes, dropApp, laps, reportDuration, waitConverged } from './support.ts';

const SENTINELS = process.env.CDCV_REDIS_SENTINELS ?? '127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382';
const NAME = process.env.CDCV_REDIS_SENTINEL_NAME ?? 'cdcv-ha';
const sentinelPort = Number(SENTINELS.split(',')[0]!.split(':')[1]);

const sentinelSh = (cmd: 'start' | 'status'): { ok: boolean; out: string } => {
  const r = spawnSync('bash', ['scripts/stack/sentinel.sh', cmd], { encoding: 'utf8', timeout: 150_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
};

/** The Sentinels' view: the primary's and the replica's ports. */
async function topology(sentinel: Redis): Promise<{ primary: number; replica: number }> {
  const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', NAME)) as [string, string];
  const replicas = (await sentinel.call('SENTINEL', 'replicas', NAME)) as string[][];
  const fields = replicas.map((r) => Object.fromEntries(r.flatMap((v, i) => (i % 2 === 0 ? [[v, r[i + 1]]] : []))) as Record<string, string>);
  const replica = fields.find((f) => f.flags === 'slave');
  assert.ok(replica, `the Sentinels know a healthy replica of ${NAME}: ${JSON.stringify(fields)}`);
  return { primary: Number(port), replica: Number(replica.port) };
}

/** The positions hash of an application on one Redis node, summed: how far that node's state got. */
async function positionsSum(node: Redis, app: string): Promise<bigint> {
  return Object.values(await node.hgetall(new StateKeys(app).positions)).reduce((a, v) => a + BigInt(v), 0n);
}

test('Redis fails over to a replica that is behind: the rollback is detected and counted, state and views converge', async (t) => {
  const started = Date.now();
  const lap = laps(t, started);
  const up = sentinelSh('start');
  assert.ok(up.ok, `scripts/stack/sentinel.sh start: ${up.out}`);
  const sentinel = new Redis({ port: sentinelPort, host: '127.0.0.1' });
  const ha = new Redis(redisOptions({ url: cfg.CDCV_REDIS_URL, sentinels: SENTINELS, sentinelName: NAME }));
  ha.on('error', () => undefined); // reconnects through the failover; the watcher counts failed reads
  const app = uniqueId('vfailover');
  const port = await freePort();
  const p = await pipeline('vfailover');
  const store = new StateStore(ha, app);
  const watcher = new RevWatcher(ha, app, { tables: stateTables(p), cachePrefixes: cachePrefixes(app) });
  const nodes: Redis[] = [];
  let child: ChildProcess | undefined;
  try {
    const before = await topology(sentinel);
    const [primary, replica] = [before.primary, before.replica].map((n) => new Redis({ port: n, host: '127.0.0.1' })) as [Redis, Redis];
    nodes.push(primary, replica);
    child = spawnRun(app, p.topics, 'run', {
      args: ['--topology', 'test/integration/versions/shop-views.ts', '--http-port', String(port)],
      env: { CDCV_REDIS_SENTINELS: SENTINELS, CDCV_REDIS_SENTINEL_NAME: NAME },
    });
    await awaitWatermark(p, store, 60_000);
    lap(`cdc-views run caught up on ${NAME} (primary :${before.primary}, replica :${before.replica})`);
    watcher.start(100);
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 200, durationSeconds: 16, seed: 101 });
    await sleep(5000);

    // Cut the replica off: the primary refuses it PSYNC/SYNC, so it stays linked as a replica but gets nothing.
    await primary.call('ACL', 'SETUSER', 'default', '-psync', '-sync');
    let behind: { primary: bigint; replica: bigint; link: string };
    try {
      await primary.call('CLIENT', 'KILL', 'TYPE', 'replica');
      await sleep(3000);
      behind = { primary: await positionsSum(primary, app), replica: await positionsSum(replica, app), link: /master_link_status:(\w+)/.exec(await replica.info('replication'))?.[1] ?? '?' };
      lap(`replica behind: positions ${behind.replica} vs ${behind.primary} on the primary, link ${behind.link}; SENTINEL FAILOVER`);
      await sentinel.call('SENTINEL', 'FAILOVER', NAME);
      for (let i = 0; (await topology(sentinel).catch(() => before)).primary !== before.replica; i++) {
        assert.ok(i < 100, 'the Sentinels promoted the replica within 10 s');
        await sleep(100);
      }
    } finally {
      await primary.call('ACL', 'SETUSER', 'default', '+psync', '+sync');
    }
    lap(`failed over to :${before.replica}`);
    const stats = await workload;
    lap(`workload done: ${stats.changes} changes`);
    const converged = await waitConverged(p, store, ha, app, 90_000);
    lap(`converged: ${converged.total} mismatches`);
    await watcher.stop();

    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const rollbacks = [...metrics.matchAll(/^cdc_views_state_rollbacks_total(?:\{[^}]*\})? ([\d.e+]+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    t.diagnostic(`replica positions ${behind.replica} < primary ${behind.primary} before the failover; cdc_views_state_rollbacks_total ${rollbacks}; Redis epochs seen by the watcher ${watcher.redisRestarts}`);
    assert.ok(behind.replica < behind.primary && behind.link === 'down', 'the promoted replica was behind');
    assert.ok(rollbacks > 0, `the rollback was detected and counted (cdc_views_state_rollbacks_total ${rollbacks})`);
    assertConvergence(converged);
    assertNoRegression(t, watcher);
  } finally {
    await watcher.stop();
    if (child) {
      await kill(child, 'SIGTERM');
      await kill(child);
    }
    await dropApp(ha, app);
    await p.drop();
    // Back to a usable set: every node accepts replication, the Sentinels agree and a replica is linked.
    for (const n of nodes) await n.call('ACL', 'SETUSER', 'default', '+psync', '+sync').catch(() => undefined);
    let status = sentinelSh('status');
    for (let i = 0; i < 60 && !(status.ok && !/replica none/.test(status.out)); i++) {
      await sleep(500);
      status = sentinelSh('status');
    }
    t.diagnostic(`after: ${status.out}`);
    for (const r of [...nodes, sentinel, ha]) r.disconnect();
    reportDuration(t, started);
    assert.ok(status.ok && !/replica none/.test(status.out), `the Sentinel set is usable again: ${status.out}`);
  }
});
