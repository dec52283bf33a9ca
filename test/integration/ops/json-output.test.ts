/**
 * `--json` on the real stack (issue #14, item 5): with logs at info, every
 * command's stdout is exactly one JSON document — logs (pino) and progress
 * lines go to stderr only. Also: the operator commands all take the same
 * connection options and --config; progress lines (no TTY here) carry rate and ETA.
 *
 * A fresh topic of Debezium-shaped records, topology `items<id>` over it:
 * replay v1 (--until-caught-up), status, versions, rewind --execute,
 * promote, replay v2 --prepare-only, drop v2, config print, connect status
 * of a connector that does not exist (null, exit 1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Producer } from 'kafkajs';
import { newRedis, cfg, uniqueId } from '../helpers.ts';
import { cli, dropItemsTopology, itemsTopologyFile, newAdmin, newProducer, itemCreates, produceChanges } from './helpers.ts';

const redis = newRedis();
const id = uniqueId('json').replace('_', '');
const topic = `${id}.public.items`;
const name = `items${id}`;
const topics = `^${topic.replaceAll('.', '\\.')}$`;
const INFO = { CDCV_LOG_LEVEL: 'info' };
let admin: Admin;
let producer: Producer;

/** Runs a command with logs at info; asserts stdout is one JSON document and returns it with stderr. */
async function json(args: string[], expectCode = 0): Promise<{ doc: unknown; stderr: string }> {
  const r = await cli(args, 180_000, INFO);
  assert.equal(r.code, expectCode, `cdc-views ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  let doc: unknown;
  assert.doesNotThrow(() => (doc = JSON.parse(r.stdout)), `stdout of cdc-views ${args.join(' ')} is one JSON document: ${r.stdout.slice(0, 500)}`);
  return { doc, stderr: r.stderr };
}

/** The stderr lines that are pino log records. */
const logLines = (stderr: string): unknown[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown)
    .filter((o) => typeof o === 'object' && o !== null && 'level' in o);

before(async () => {
  admin = await newAdmin();
  producer = await newProducer();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await produceChanges(producer, topic, itemCreates(400));
});

after(async () => {
  await producer?.disconnect();
  await dropItemsTopology(redis, admin, name, ['v1', 'v2'], topic);
  await admin?.disconnect();
  redis.disconnect();
});

test('with logs at info, stdout of every --json command is exactly one JSON document; logs and progress are on stderr', async (t) => {
  const file = itemsTopologyFile(name, 'v1');
  const started = Date.now();

  const replay = await json(['replay', file, '--version', 'v1', '--from', 'earliest', '--topics', topics, '--until-caught-up', '--json']);
  assert.equal((replay.doc as { applicationId: string }).applicationId, `${name}-v1`);
  assert.ok(logLines(replay.stderr).length > 0, `the replay logged at info, on stderr: ${replay.stderr.slice(0, 800)}`);
  const progress = replay.stderr.split('\n').filter((l) => l.startsWith(`replay ${name}-v1: `));
  assert.ok(progress.length >= 1, `progress lines on stderr: ${replay.stderr.slice(-800)}`);
  assert.match(progress.at(-1)!, /^replay \S+: 400\/400 records \(100\.0%\), \d+ records\/s, ETA 0s, elapsed \d/);
  assert.match(replay.stderr, /caught up; promote with: cdc-views promote \S+ --version v1/);

  const status = await json(['status', '--app', `${name}-v1`, '--json']);
  assert.equal((status.doc as { totalLag: string }).totalLag, '0');

  const versions = await json(['versions', name, '--json']);
  assert.deepEqual((versions.doc as { version: string; caughtUp: boolean }[]).map((v) => [v.version, v.caughtUp]), [['v1', true]]);

  const rewind = await json(['rewind', '--app', `${name}-v1`, '--to-earliest', '--topology', file, '--execute', '--json']);
  assert.equal((rewind.doc as { rows: unknown[] }).rows.length, 2);
  assert.match(rewind.stderr, new RegExp(`^rewind ${name}-v1: marking views: 400/400 rows \\(100\\.0%\\), \\d+ rows/s, ETA 0s`, 'm'));
  assert.match(rewind.stderr, /marked \d+ row\(s\) of .* for re-rendering/);

  const promoted = await json(['promote', name, '--version', 'v1', '--force', '--json']);
  assert.equal((promoted.doc as { version: string }).version, 'v1');

  // The deprecated spelling: one line on stderr, stdout still one JSON document.
  const v2 = await json(['replay', file, '--as', 'v2', '--from', 'earliest', '--topics', topics, '--prepare-only', '--json']);
  assert.equal(v2.stderr.split('\n').filter((l) => l === 'cdc-views: --as is deprecated; use --version (the old spelling still works)').length, 1, v2.stderr);
  const dropped = await json(['drop', name, '--version', 'v2', '--yes', '--json']);
  assert.equal((dropped.doc as { applicationId: string }).applicationId, `${name}-v2`);
  assert.match(dropped.stderr, /^dropping /m);

  const config = await json(['config', 'print', '--json']);
  assert.equal((config.doc as { kafkaBrokers: { value: string } }).kafkaBrokers.value, cfg.CDCV_KAFKA_BROKERS);

  const missing = await json(['connect', 'status', `nope_${id}`, '--json'], 1);
  assert.equal(missing.doc, null);
  t.diagnostic(`9 commands with --json, logs at info, in ${Date.now() - started} ms`);
});

test('every command that talks to a dependency takes the same connection options and --config', async () => {
  const flags = ['--config <file>', '--kafka-brokers <list>', '--redis-url <url>', '--redis-sentinels <list>', '--redis-sentinel-name <name>', '--connect-url <url>', '--opensearch-url <url>', '--schema-registry-url <url>', '--log-level <level>'];
  const commands = [['run'], ['query'], ['dump'], ['connect', 'register'], ['connect', 'status'], ['connect', 'delete'], ['rewind'], ['replay'], ['promote'], ['versions'], ['drop'], ['status']];
  const missing: string[] = [];
  for (const c of commands) {
    const r = await cli([...c, '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const f of flags) if (!r.stdout.includes(f)) missing.push(`${c.join(' ')}: ${f}`);
    if (!/Exit codes \(every command; docs\/cli\.md\):/.test(r.stdout)) missing.push(`${c.join(' ')}: the exit codes`);
  }
  assert.deepEqual(missing, []);
});
