/**
 * The search sink through a secured OpenSearch: HTTPS with the node's CA and
 * basic auth (scripts/stack/opensearch-secure.sh: OpenSearch 2.19.4 with the
 * security plugin, started on demand by this file and stopped after it when
 * it started it; its start time is reported).
 *
 * 1. A topology (topologies/order-search.ts) on a sample pipeline writes
 *    through HTTPS as an internal user with a role limited to its indexes,
 *    password from a file: every document equals its SQL definition. The node
 *    really requires both: anonymous and wrong-password requests get 401.
 * 2. The user's password is changed on the node (security REST API) during a
 *    workload and written to the secret file only once partitions were seen
 *    paused (the sink first retries for its 10 s budget): the old one is
 *    really refused (401), the partitions pause (nothing written meanwhile),
 *    then converge once the file holds the new one: 0 documents missing or
 *    different, 0 dead letters, no failure.
 * 3. A wrong CA (a fresh self-signed one, and the system CAs) is refused with
 *    one line naming opensearchCaFile.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type { Client } from '@opensearch-project/opensearch';
import { dlqTopic } from '../../../src/runtime/dlq.ts';
import { SearchIndexSink } from '../../../src/sinks/search.ts';
import { SinkUnavailableError } from '../../../src/sinks/sink.ts';
import { resolveSinkPlan } from '../../../src/sinks/index.ts';
import { tablesOf, topicsFor } from '../../../src/topology/plan.ts';
import orderSearch from '../../../topologies/order-search.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { adminClient, createWriter, deleteWriter, setPassword, startSecureSearch, statusAs, stopSecureSearch, userConnection, type SecureSearch } from '../../support/secure-search.ts';
import { mismatches, verifySearchView } from '../../support/verify/compare.ts';
import { brokers, newRedis, pipeline, processor, sleep, uniqueId } from '../helpers.ts';

const redis = newRedis();
const dir = mkdtempSync(join(tmpdir(), 'cdcv-search-secure-'));
const passwordFile = join(dir, 'opensearch-password');
const applicationId = uniqueId('ssec');
const user = `cdcv_${applicationId}`;
/** Strong enough for the security plugin's password rules. */
const newPassword = (): string => `Cdcv-${randomBytes(12).toString('base64url')}-7!`;
let password = newPassword();
let node: SecureSearch;
let admin: Client;
let p: Awaited<ReturnType<typeof pipeline>>;
let proc: ReturnType<typeof processor> | undefined;
let mirror: ReturnType<typeof processor> | undefined;
const index = resolveSinkPlan(orderSearch.views[0]!.sinks[0]!, applicationId);
const indexName = index.kind === 'search' ? index.index : '';

before(async () => {
  [node, p] = await Promise.all([startSecureSearch(), pipeline('ssec')]);
  admin = adminClient(node);
  await createWriter(admin, user, password, `${applicationId}*`);
  writeFileSync(passwordFile, `${password}\n`);
});

after(async () => {
  await proc?.stop();
  await mirror?.stop();
  await proc?.store.destroy();
  await mirror?.store.destroy();
  if (admin) {
    await admin.indices.delete({ index: `${applicationId}*` }).catch(() => undefined);
    await deleteWriter(admin, user);
    await admin.close();
  }
  await p?.drop();
  redis.disconnect();
  // Started for this file only: its JVM (512 MB heap) does not stay up for the tests after it.
  if (node?.started) await stopSecureSearch();
  rmSync(dir, { recursive: true, force: true });
});

/** Compares the index on the secured node with the view's SQL definition. */
async function compareWithSql(): Promise<{ expected: number; mismatched: number; detail: string }> {
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  try {
    const c = await verifySearchView(source, admin, orderSearch.views[0]!, indexName);
    return { expected: c.expected, mismatched: mismatches(c), detail: `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}` };
  } finally {
    await source.end();
  }
}

/** Records in a topic (-1 when it does not exist). */
async function dlqRecords(app: string): Promise<number> {
  const kafkaAdmin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await kafkaAdmin.connect();
  try {
    if (!(await kafkaAdmin.listTopics()).includes(dlqTopic(app))) return -1;
    return (await kafkaAdmin.fetchTopicOffsets(dlqTopic(app))).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await kafkaAdmin.disconnect();
  }
}

test('a topology writes through HTTPS + basic auth with the CA; the index equals SQL', async (t) => {
  assert.equal(await statusAs(node, user, 'not-the-Password-1'), 401, 'the node refuses a wrong password');
  assert.equal(await statusAs(node, user, password), 200, 'and accepts the user');
  const conn = userConnection(node, user, { file: passwordFile });
  proc = processor({ applicationId, redis, topics: topicsFor(p.topicPrefix, tablesOf(orderSearch)), topology: orderSearch, searchUrl: conn });
  mirror = processor({ applicationId: `${applicationId}-mirror`, redis, topics: p.topics });
  await proc.start();
  await mirror.start();
  await awaitWatermark(p, mirror.store);
  await proc.waitUntilCaughtUp();
  const c = await compareWithSql();
  assert.ok(c.expected > 0);
  assert.equal(c.mismatched, 0, c.detail);
  t.diagnostic(`secured node ${node.started ? 'started' : 'already running'}: opensearch-secure.sh start took ${node.startMs} ms; ${c.expected} documents written through HTTPS as ${user}, equal to SQL`);
});

test('a password rotated on the node pauses the partitions until the secret file holds it; nothing dropped, nothing dead-lettered', async (t) => {
  assert.ok(proc && mirror, 'the first test started the application');
  const paused = async (): Promise<number> => ((await proc!.metrics.registry.getSingleMetric('cdc_views_partitions_paused')?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);
  let pausedSeen = 0;
  const sampler = setInterval(() => void paused().then((n) => (pausedSeen = Math.max(pausedSeen, n))), 200);
  try {
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 200, durationSeconds: 10, seed: 15 });
    await sleep(1000);
    const old = password;
    password = newPassword();
    await setPassword(user, password);
    const rotatedAt = Date.now();
    assert.equal(await statusAs(node, user, old), 401, 'the node refuses the old password now');
    // A bulk request sent just before the change may still be acknowledged: count from 2 s in.
    await sleep(2000);
    const writtenAt2s = proc.renderCounts.written;
    // The sink retries a refused bulk request for its time budget (10 s), then the partition pauses.
    const deadline = Date.now() + 30_000;
    while (pausedSeen === 0 && Date.now() < deadline) await sleep(250);
    await sleep(1000);
    const writtenWhileStale = proc.renderCounts.written - writtenAt2s;
    const pausedWhileStale = pausedSeen;
    writeFileSync(passwordFile, `${password}\n`);
    utimesSync(passwordFile, new Date(), new Date(Date.now() + 1000));
    const staleMs = Date.now() - rotatedAt;
    const stats = await workload;
    const watermarkAt = Date.now();
    await awaitWatermark(p, mirror.store);
    const watermarkMs = Date.now() - watermarkAt;
    const resumed = Date.now();
    await proc.waitUntilCaughtUp();
    const caughtUpMs = Date.now() - resumed;

    assert.equal(writtenWhileStale, 0, 'no document was acknowledged while the file held the old password');
    assert.ok(pausedWhileStale > 0, 'partitions were paused while the file held the old password');
    assert.equal(await paused(), 0, 'no partition is paused any more');
    assert.equal(proc.counts.dlq, 0, 'no dead letter');
    assert.equal(await dlqRecords(applicationId), 0, 'the DLQ topic exists and holds no record');
    assert.equal(proc.failure, undefined, 'no error escaped the application');
    const c = await compareWithSql();
    assert.equal(c.mismatched, 0, c.detail);
    t.diagnostic(`workload ${stats.changes} changes; password stale in the file for ${staleMs} ms: 0 written, up to ${pausedWhileStale} partition(s) paused; watermark through the mirror in ${watermarkMs} ms, caught up ${caughtUpMs} ms after it; ${c.expected} documents equal to SQL; DLQ 0`);
  } finally {
    clearInterval(sampler);
  }
});

test('a wrong CA is refused with one line naming opensearchCaFile', async (t) => {
  const messages: string[] = [];
  const wrongCa = join(dir, 'wrong-ca.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'wrong-ca.key'), '-out', wrongCa, '-days', '1', '-subj', '/CN=not-the-search-ca'], { stdio: 'ignore' });
  for (const caFile of [wrongCa, undefined]) {
    const conn = { ...userConnection(node, user, { file: passwordFile }), caFile };
    const sink = new SearchIndexSink({ node: conn, index: `${applicationId}-tls`, maxAttempts: 2, initialBackoffMs: 50, maxRetryTimeMs: 2000 });
    try {
      const err = await sink.init().then(
        () => assert.fail('the node was trusted without its CA'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SinkUnavailableError, String(err));
      assert.equal(err.needsOperator, true);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, /^sink search:\S+ unavailable: init failed after 2 attempt\(s\): TLS to the search engine at https:\/\/127\.0\.0\.1:\d+ failed: .*(self[- ]signed|unable to verify|certificate).*; set opensearchCaFile/);
      messages.push(err.message);
    } finally {
      await sink.close();
    }
  }
  t.diagnostic(`refused: ${messages.join(' | ')}`);
});
