/**
 * Redis security on the real stack (#15, item 2): cdc-views against a Redis
 * that speaks TLS only, requires client certificates and has an ACL user with
 * the minimal permissions (scripts/stack/redis-tls.sh, started on demand).
 *
 * - a topology (the version tests' shop-views: three cache views, one search
 *   view) runs `--until-caught-up` on a sample pipeline through it as that
 *   user: table state and views equal their SQL, and the server's
 *   ACL LOG shows no command or key it refused (the documented ACL suffices);
 * - the operator commands that write (replay, rewind, promote, drop; the
 *   readers use a subset of `run`'s commands) work as that user too, again
 *   with nothing refused;
 * - a wrong password fails in one line naming the setting (not the password),
 *   exit 3, and the server's ACL LOG shows it refused the AUTH;
 * - TLS: a host the certificate does not name, and a missing CA, fail the
 *   handshake (exit 3) though the server answers there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { StateStore } from '../../../src/state/store.ts';
import { writeWatermark } from '../../support/sample/workload.ts';
import { readCacheDocs } from '../../support/verify/compare.ts';
import { pipeline, sleep, uniqueId } from '../helpers.ts';
import { cli, dropItemsTopology, itemsTopologyFile, newAdmin, newProducer, produceChanges } from '../ops/helpers.ts';
import { assertConvergence, dropApp, shopViews, verifyTablesAndViews } from '../versions/support.ts';
import { aclLog, adminClient, startRedisTls, tlsEnv, tlsFile, tlsOptions, TLS_PORT } from './redis-tls-stack.ts';

const TOPOLOGY = 'test/integration/versions/shop-views.ts';
const dir = mkdtempSync(join(tmpdir(), 'cdcv-redis-tls-'));
let admin: Redis;

before(() => {
  startRedisTls();
  admin = adminClient();
});

after(() => {
  admin?.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until a topic holds at least `n` records. */
async function waitForRecords(topic: string, n: number, timeoutMs = 60_000): Promise<void> {
  const kadmin = await newAdmin();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const offsets = await kadmin.fetchTopicOffsets(topic).catch(() => []);
      if (offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0) >= n) return;
      assert.ok(Date.now() < deadline, `${topic} has fewer than ${n} records after ${timeoutMs} ms`);
      await sleep(250);
    }
  } finally {
    await kadmin.disconnect();
  }
}

test('a topology runs --until-caught-up through TLS as the ACL user: state and cache equal their SQL, nothing refused', async (t) => {
  const started = Date.now();
  const p = await pipeline('rsectls');
  const app = uniqueId('rsectls');
  try {
    // The snapshot is all in Kafka once a change made after it is: a second watermark record.
    await writeWatermark(p.connectionString, 'after-snapshot');
    await waitForRecords(`${p.topicPrefix}.public.cdcv_watermark`, 2);
    await admin.call('ACL', 'LOG', 'RESET');
    const r = await cli(['run', '--app', app, '--topics', p.topics.source, '--topology', TOPOLOGY, '--until-caught-up', '--http-port', '0'], 180_000, tlsEnv('cdcv', tlsFile('cdcv.password')));
    assert.equal(r.code, 0, `cdc-views run --until-caught-up through rediss:// as cdcv: ${r.stderr}`);
    const c = await verifyTablesAndViews(p, new StateStore(admin, app), admin, app, shopViews);
    assertConvergence({ ...c, seconds: (Date.now() - started) / 1000 });
    assert.ok([...c.results.keys()].some((k) => k.endsWith('(cache)')), 'cache views were compared');
    assert.deepEqual(await aclLog(admin, 'cdcv'), [], 'the server refused cdcv no command, key or channel: the documented ACL suffices');
    const clients = String(await admin.call('CLIENT', 'LIST')).split('\n').filter((l) => / user=default /.test(l));
    assert.ok(clients.length > 0, 'the admin itself is connected over TLS (the server has no plaintext port)');
    t.diagnostic(`compared ${[...c.results.values()].reduce((n, x) => n + x.expected, 0)} rows and documents in ${Date.now() - started} ms`);
  } finally {
    await dropApp(admin, app);
    await p.drop();
  }
});

test('the operator commands that write work as the ACL user through TLS: replay, rewind, promote, drop; nothing refused', async (t) => {
  const started = Date.now();
  const id = uniqueId('rsecops').replace('_', '');
  const name = `items${id}`;
  const topic = `${id}.public.items`;
  const topics = `^${topic.replaceAll('.', '\\.')}$`;
  const kadmin = await newAdmin();
  const producer = await newProducer();
  const env = tlsEnv('cdcv', tlsFile('cdcv.password'));
  try {
    await kadmin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await produceChanges(producer, topic, Array.from({ length: 100 }, (_, i) => ({ id: i + 1, row: { id: i + 1, name: `item ${i + 1}`, qty: i }, ts: Date.now() })));
    await admin.call('ACL', 'LOG', 'RESET');
    const file = itemsTopologyFile(name, 'v1');
    for (const args of [
      ['replay', file, '--version', 'v1', '--from', 'earliest', '--topics', topics, '--until-caught-up', '--no-progress'],
      ['rewind', '--app', `${name}-v1`, '--to-earliest', '--topology', file, '--execute', '--no-progress'],
      ['promote', name, '--version', 'v1', '--force'],
      ['replay', file, '--version', 'v2', '--from', 'earliest', '--topics', topics, '--prepare-only'],
      ['drop', name, '--version', 'v2', '--yes'],
    ]) {
      const r = await cli(args, 120_000, env);
      assert.equal(r.code, 0, `cdc-views ${args.slice(0, 2).join(' ')} as cdcv through rediss://: ${r.stderr}`);
    }
    assert.equal((await readCacheDocs(admin, `cache:${name}-v1:item:`)).size, 100, 'the replay wrote the cache through TLS');
    assert.deepEqual(await aclLog(admin, 'cdcv'), [], 'the server refused cdcv nothing: the documented ACL covers the operator commands');
    t.diagnostic(`5 operator commands as cdcv in ${Date.now() - started} ms`);
  } finally {
    await producer.disconnect();
    await dropItemsTopology(admin, kadmin, name, ['v1', 'v2'], topic);
    await kadmin.disconnect();
  }
});

test('a wrong password fails in one line naming the setting, not the password; exit 3; the server refused the AUTH', async () => {
  const wrong = join(dir, 'wrong-password');
  const canary = `wrong-canary-${uniqueId('pw')}`;
  writeFileSync(wrong, `${canary}\n`);
  await admin.call('ACL', 'LOG', 'RESET');
  for (const args of [
    ['run', '--app', uniqueId('rsecpw'), '--topics', '^rsec_none$', '--http-port', '0'],
    ['query', '--app', uniqueId('rsecpw'), '--table', 'public.customers', '--key', '{"id":1}'],
  ]) {
    const r = await cli(args, 60_000, tlsEnv('cdcv', wrong));
    const lines = r.stderr.trim().split('\n');
    assert.equal(r.code, 3, `${args[0]}: exit 3 (unavailable: credentials refused): ${r.stderr}`);
    assert.equal(lines.length, 1, `${args[0]}: one line: ${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^cdc-views: Redis at rediss://localhost:${TLS_PORT} refuses the credentials \\(WRONGPASS\\) of user cdcv \\(redisUsername\\); check the user and password in redisPasswordFile \\(CDCV_REDIS_PASSWORD_FILE=${wrong}\\) \\(rotated\\?\\)$`));
    assert.ok(!`${r.stdout}${r.stderr}`.includes(canary), 'the password is not printed');
  }
  const refused = (await aclLog(admin, 'cdcv')).filter((e) => e.reason === 'auth');
  assert.ok(refused.length > 0 && refused.reduce((n, e) => n + e.count, 0) >= 2, `the server logged the refused AUTHs: ${JSON.stringify(refused)}`);
});

test('TLS: a host the certificate does not name, or no CA to trust, fails the handshake (exit 3) though the server answers there', async () => {
  // The server does answer on 127.0.0.2 (its certificate names localhost and 127.0.0.1 only).
  const password = tlsFile('cdcv.password');
  const unverified = new Redis({
    host: '127.0.0.2',
    port: TLS_PORT,
    tls: { ...tlsOptions(), checkServerIdentity: () => undefined },
    username: 'cdcv',
    password: readFileSync(password, 'utf8').trim(),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  unverified.on('error', () => undefined);
  try {
    await unverified.connect();
    assert.equal(await unverified.ping(), 'PONG');
  } finally {
    unverified.disconnect();
  }
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a host the certificate does not name', tlsEnv('cdcv', password, '127.0.0.2'), /TLS failed \(ERR_TLS_CERT_ALTNAME_INVALID: /],
    ['no CA to trust', { ...tlsEnv('cdcv', password), CDCV_REDIS_TLS_CA_FILE: '' }, /TLS failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): /],
  ];
  for (const [what, env, reason] of cases) {
    const r = await cli(['query', '--app', 'rsec_tls', '--table', 'public.customers', '--key', '{"id":1}'], 60_000, env);
    assert.equal(r.code, 3, `${what}: exit 3: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(r.stderr, reason, what);
    assert.match(r.stderr, /check redisTlsCaFile/, what);
  }
});
