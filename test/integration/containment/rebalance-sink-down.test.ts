/**
 * Containment: a rebalance forced while the search sink is down.
 *
 * Injected: a topology version (order-search under a unique topology name,
 * registered with `cdc-views replay … --prepare-only`) runs as `cdc-views run`
 * processes of one consumer group, writing the index through a reverse proxy
 * (test/support/search-proxy.ts) in front of the real OpenSearch. Instances A
 * and B join while the engine answers (an instance starts only once its sink
 * does: its index must exist). During a workload the proxy answers every
 * request 503 (the shared engine itself is not stopped). While both
 * instances' partitions wait for the sink, A is stopped with SIGTERM: B takes
 * A's partitions over, still without a sink. A third instance C is started
 * while the sink is down (it must wait, out of the group); then the proxy
 * forwards again and C joins: a second rebalance, during recovery.
 *
 * Checked:
 * - the fault happened: the proxy answered 503 to bulk writes before and
 *   after the rebalance; A had paused partitions when it got SIGTERM; B held
 *   A's partitions and paused on them too; A+B and then B+C were members at once;
 * - A's graceful stop while waiting for the sink exits 0 (not 2, not 1);
 *   C stays out of the group while the sink is down;
 * - after recovery, `cdc-views versions <topology> --json` (the CLI) reports
 *   0 renders pending and lag 0, every document of the real index equals its
 *   SQL definition (all documents, none extra), and the DLQ holds nothing;
 * - B's and C's graceful stops exit 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { SearchProxy } from '../../support/search-proxy.ts';
import { freePort } from '../../support/net.ts';
import { mismatches, verifySearchView } from '../../support/verify/compare.ts';
import { dlqTopic } from '../../../src/runtime/dlq.ts';
import { loadTopology } from '../../../src/topology/load.ts';
import { tablesOf } from '../../../src/topology/plan.ts';
import orderSearch from '../../../topologies/order-search.ts';
import { brokers, cfg, newRedis, pipeline, processor, sleep, uniqueId } from '../helpers.ts';
import { cli } from '../ops/helpers.ts';

const redis = newRedis();
const began = Date.now();
/** Progress on stderr, so that a slow step is visible while the test runs. */
const step = (m: string): void => void process.stderr.write(`# rebalance-sink-down +${((Date.now() - began) / 1000).toFixed(1)} s: ${m}\n`);
let p: Awaited<ReturnType<typeof pipeline>>;
let proxy: SearchProxy;

before(async () => {
  p = await pipeline('rbsd');
  step(`pipeline ${p.id} ready`);
  proxy = await new SearchProxy(cfg.CDCV_OPENSEARCH_URL).start();
});
after(async () => {
  await proxy?.close();
  await p?.drop();
  redis.disconnect();
});

/** Resolves with the exit code (null when a signal ended the process) once the child has exited, even when it already had. */
const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

/** A `cdc-views run` instance with its metrics port; keeps the tail of its output. */
interface Instance {
  label: string;
  child: ChildProcess;
  port: number;
  output: () => string;
}

function startInstance(label: string, app: string, topics: string, topologyFile: string, port: number): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', app, '--topics', topics, '--topology', topologyFile, '--http-port', String(port)], {
    env: { ...process.env, CDCV_LOG_LEVEL: 'warn', CDCV_OPENSEARCH_URL: proxy.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (d: Buffer): void => void (tail = (tail + d.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { label, child, port, output: () => tail };
}

/** Sum of a metric's samples on an instance's /metrics (NaN when it does not answer). */
async function metric(i: Instance, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${i.port}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  } catch {
    return Number.NaN;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, instances: Instance[] = []): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    for (const i of instances) if (i.child.exitCode !== null) throw new Error(`${what}: instance ${i.label} exited ${i.child.exitCode}: ${i.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(500);
  }
}

test('a rebalance while the search sink is down: a waiting instance stops with exit 0, then 0 renders pending and every document equals its SQL', async (t) => {
  const name = uniqueId('rbsd');
  const app = `${name}-v1`;
  const topics = `^${p.topicPrefix}\\.public\\.(${tablesOf(orderSearch).map((x) => x.replace('public.', '')).join('|')})$`;
  const file = join(tmpdir(), `${name}.topology.ts`);
  writeFileSync(file, `import base from ${JSON.stringify(new URL('../../../topologies/order-search.ts', import.meta.url).pathname)};\nexport default { ...base, name: ${JSON.stringify(name)} };\n`);
  const plan = await loadTopology(file);
  const index = `${app}-order-search`;
  const mirror = processor({ applicationId: `${name}-mirror`, redis, topics: p.topics });
  const instances: Instance[] = [];
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  const stopWorkload = new AbortController();
  let workload: Promise<unknown> | undefined;
  try {
    const prepared = await cli(['replay', file, '--version', 'v1', '--from', 'earliest', '--topics', topics, '--prepare-only']);
    assert.equal(prepared.code, 0, `replay --prepare-only: ${prepared.stderr}`);
    await mirror.start();
    step('version v1 registered, mirror started');

    await admin.connect();
    const members = async (): Promise<number> => (await admin.describeGroups([app])).groups[0]?.members.length ?? 0;
    let maxMembers = 0;
    const a = startInstance('A', app, topics, file, await freePort());
    const b = startInstance('B', app, topics, file, await freePort());
    instances.push(a, b);
    // An instance starts only once its sink answers (its index must exist), so both join while the engine is up.
    await until('A and B in the group', async () => (maxMembers = Math.max(maxMembers, await members())) === 2, 120_000, [a, b]);
    await until('documents written', async () => (await metric(a, 'cdc_views_sink_documents_written_total')) + (await metric(b, 'cdc_views_sink_documents_written_total')) > 0, 120_000, [a, b]);

    step('A and B in the group; workload starts');
    const running = runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 25, seed: 503, signal: stopWorkload.signal });
    workload = running;
    await sleep(3000);
    proxy.mode = 'unavailable';
    const downAt = Date.now();
    const pausedA = await until('A pauses its partitions', async () => (await metric(a, 'cdc_views_partitions_paused')) > 0, 60_000, [a, b]);
    await until('B pauses its partitions', async () => (await metric(b, 'cdc_views_partitions_paused')) > 0, 60_000, [a, b]);
    const bulkRefusedBeforeStop = proxy.counts.refusedBulk;
    const rebalancesB = await metric(b, 'cdc_views_rebalances_total');
    step(`sink down; A paused after ${pausedA} ms, B too; stopping A`);

    // Rebalance: A stops gracefully while its partitions wait for the sink; B takes them over, still without a sink.
    // Read right before the signal, retried briefly: under load /metrics can miss its 3 s deadline (NaN), and a
    // partition whose wait a group heartbeat ended is paused again at its next attempt.
    let pausedAtStop = 0;
    await until('A is paused right before SIGTERM', async () => (pausedAtStop = await metric(a, 'cdc_views_partitions_paused')) > 0, 15_000, [a, b]).catch(() => undefined);
    const stopAt = Date.now();
    a.child.kill('SIGTERM');
    const codeA = await exited(a.child);
    const stopMs = Date.now() - stopAt;
    step(`A stopped in ${stopMs} ms, exit ${codeA}`);
    assert.equal(codeA, 0, `A stopped while waiting for the sink exits 0; its output: ${a.output()}`);
    await until('B took A\'s partitions', async () => (await metric(b, 'cdc_views_rebalances_total')) > rebalancesB && (await members()) === 1, 120_000, [b]);
    const assignedB = await metric(b, 'cdc_views_partitions_assigned');
    await until('B waits for the sink', async () => (await metric(b, 'cdc_views_partitions_paused')) > 0, 60_000, [b]);

    // A new instance C, started while the sink is down, waits for it before joining (its index must exist).
    const cInst = startInstance('C', app, topics, file, await freePort());
    instances.push(cInst);
    await sleep(5_000);
    const membersWhileDown = await members();
    const bulkRefusedAfterStop = proxy.counts.refusedBulk - bulkRefusedBeforeStop;
    step(`B took over ${assignedB} partition(s); C started, group members while down ${membersWhileDown}`);

    proxy.mode = 'forward';
    const downMs = Date.now() - downAt;
    step('sink back');
    // Rebalance at recovery: C joins once the sink answers.
    await until('C joined', async () => (maxMembers = Math.max(maxMembers, await members())) === 2, 120_000, [b, cInst]);
    const dlqAfterRecovery = (await admin.fetchTopicOffsets(dlqTopic(app))).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    const stats = await running;
    await awaitWatermark(p, mirror.store);

    step('watermark applied by the mirror');
    // Converged, as the operator's command sees it.
    let versions: { version: string; rendersPending: number; lag: string; running: boolean }[] = [];
    const convergedMs = await until(
      'versions reports caught up',
      async () => {
        const r = await cli(['versions', name, '--json']);
        assert.equal(r.code, 0, `versions: ${r.stderr}`);
        versions = JSON.parse(r.stdout) as typeof versions;
        return versions.length === 1 && versions[0]!.rendersPending === 0 && versions[0]!.lag === '0';
      },
      180_000,
      [b, cInst],
    );
    assert.equal(versions.length, 1);
    assert.equal(versions[0]!.version, 'v1');
    assert.equal(versions[0]!.rendersPending, 0, 'versions shows 0 pending renders');
    assert.equal(versions[0]!.lag, '0');
    assert.equal(versions[0]!.running, true, 'B and C run');

    // The fault happened and reached the writes of both instances.
    assert.ok(proxy.counts.unavailable > 0, 'the proxy answered 503');
    assert.ok(bulkRefusedBeforeStop > 0, 'bulk writes were refused before the rebalance');
    assert.ok(bulkRefusedAfterStop > 0, 'B\'s bulk writes were refused after it took A\'s partitions');
    assert.ok(pausedAtStop > 0, 'A had paused partitions when it was stopped');
    assert.ok(assignedB > 0, 'B holds partitions after the rebalance');
    assert.equal(membersWhileDown, 1, 'C did not join while its sink was down');
    assert.equal(maxMembers, 2, 'two instances were members of the group at once');
    assert.equal(dlqAfterRecovery, 0, 'nothing went to the DLQ');

    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const c = await verifySearchView(source, cfg.CDCV_OPENSEARCH_URL, plan.views[0]!, index);
    await source.end();
    assert.ok(c.expected > 0);
    assert.equal(mismatches(c), 0, `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);

    const dlqAdmin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await dlqAdmin.connect();
    const dlq = (await dlqAdmin.fetchTopicOffsets(dlqTopic(app))).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    await dlqAdmin.disconnect();
    assert.equal(dlq, 0, 'nothing in the DLQ');

    b.child.kill('SIGTERM');
    cInst.child.kill('SIGTERM');
    const codeB = await exited(b.child);
    const codeC = await exited(cInst.child);
    assert.equal(codeB, 0, `B's graceful stop exits 0; its output: ${b.output()}`);
    assert.equal(codeC, 0, `C's graceful stop exits 0; its output: ${cInst.output()}`);

    t.diagnostic(`sink down (503) ${downMs} ms: proxy refused ${proxy.counts.unavailable} request(s) (${proxy.counts.refusedBulk} bulk), forwarded ${proxy.counts.forwarded}; A paused after ${pausedA} ms, ${pausedAtStop} partition(s) paused at its SIGTERM; ${bulkRefusedAfterStop} bulk request(s) of B refused after the rebalance`);
    t.diagnostic(`group: A+B, then B alone with ${assignedB} partition(s), C held back while down (${membersWhileDown} member), B+C after recovery; A stopped gracefully in ${stopMs} ms with exit ${codeA}; B exit ${codeB}, C exit ${codeC}; workload ${stats.changes} changes`);
    t.diagnostic(`after recovery: versions caught up ${convergedMs} ms after the watermark, renders pending 0, lag 0; ${c.expected} documents compared with SQL, 0 mismatches; DLQ 0`);
  } finally {
    // Nothing left running after a failure: the workload, the admin client, the instances.
    stopWorkload.abort();
    await workload?.catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    // Gracefully (they leave the group, so drop below is not refused), killed when that takes too long.
    for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGTERM');
    for (const i of instances) {
      const timer = setTimeout(() => i.child.kill('SIGKILL'), 40_000);
      await exited(i.child);
      clearTimeout(timer);
    }
    await mirror.stop();
    await mirror.store.destroy();
    const dropped = await cli(['drop', name, '--version', 'v1', '--yes']).catch((e: unknown) => ({ code: -1, stderr: String(e) }));
    if (dropped.code !== 0) t.diagnostic(`clean-up: drop ${name} v1 exited ${dropped.code}: ${dropped.stderr}`);
    await redis.del(`cdcv:topology:${name}:versions`, `cdcv:topology:${name}:promoted`);
    const cleanup = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await cleanup.connect();
    await cleanup.deleteTopics({ topics: [dlqTopic(`${name}-mirror`)] }).catch(() => undefined);
    await cleanup.disconnect();
    rmSync(file, { force: true });
  }
});
