/**
 * Operator commands on two days of history (issue #4): Debezium-shaped
 * records with explicit record timestamps spread over two days in a fresh
 * compacted topic; a live version v1 built from earliest and promoted.
 * - rewind --to-datetime <start of day 2>: the dry-run plan's targets are the
 *   first offsets of day 2; --execute moves state positions and group offsets
 *   and re-renders what changed since then;
 * - replay --from <start of day 2>: exactly the keys changed on day 2, each equal to live;
 * - replay --from earliest on the compacted topic: a complete store equal to live;
 * - promote under load: readers never see a missing document or a mix of versions;
 * - refusals: rewind with a running member, replay --version an existing version from another point
 *   (from the same point it resumes),
 *   promote a version that has not caught up;
 * - retention: rewind to a time older than the retained data reports the gap.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Producer } from 'kafkajs';
import { readCacheDocuments } from '../../../src/ops/cache-reader.ts';
import { committedOffsets, watermarks } from '../../../src/ops/kafka.ts';
import { promote } from '../../../src/ops/lifecycle.ts';
import { prepareReplay } from '../../../src/ops/replay.ts';
import { executeRewind, planRewind } from '../../../src/ops/rewind.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { StateStore } from '../../../src/state/store.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { cfg, newRedis, processor, sleep, uniqueId } from '../helpers.ts';
import { cli, DAY, deleteKeys, itemsTopology, itemsTopologyFile, kafka, newAdmin, newProducer, produceChanges, type ItemChange } from './helpers.ts';

const redis = newRedis();
const id = uniqueId('ops').replace('_', '');
const topic = `${id}.public.items`;
const goneTopic = `${id}.public.gone`;
const name = `items${id}`;
const day2 = Math.floor(Date.now() / DAY) * DAY - DAY; // start of yesterday (UTC): day 1 = the day before
const day2Iso = new Date(day2).toISOString();
let admin: Admin;
let producer: Producer;
let v1Plan: TopologyPlan;
let v2Plan: TopologyPlan;
const changedOnDay2 = new Set<string>();
const highAfterDay1 = new Map<number, bigint>();
const ctx = (): { redis: typeof redis; admin: Admin; kafka: typeof kafka; searchUrl: string } => ({ redis, admin, kafka, searchUrl: cfg.CDCV_OPENSEARCH_URL });

async function runUntilCaughtUp(app: string, plan: TopologyPlan): Promise<{ stale: number; rendered: number }> {
  const proc = processor({ applicationId: app, topics: new RegExp(`^${topic.replaceAll('.', '\\.')}$`), redis, topology: plan });
  await proc.start();
  try {
    await proc.waitUntilCaughtUp();
    return { stale: proc.counts.stale, rendered: proc.renderCounts.rendered };
  } finally {
    await proc.stop();
  }
}

/** Stored entries of public.items as `<version>\n<origin>\n<row JSON or ~ for a delete marker>`: not the time each app applied a delete. */
const rawTable = async (app: string): Promise<Record<string, string>> => {
  const all = await redis.hgetall(new StateKeys(app).table(await new StateStore(redis, app).resolveTable('public.items')));
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.replace(/\n~\d+$/, '\n~')]));
};

before(async () => {
  admin = await newAdmin();
  producer = await newProducer();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
  // Day 1: 300 items created, 200 updates. Day 2: 80 updates, 20 deletes. Timestamps ascending.
  const day1: ItemChange[] = [];
  for (let i = 1; i <= 300; i++) day1.push({ id: i, row: { id: i, name: `item ${i}`, qty: i }, ts: day2 - DAY + i * 60_000 });
  for (let i = 1; i <= 200; i++) day1.push({ id: (i * 7) % 300 + 1, row: { id: (i * 7) % 300 + 1, name: `item ${(i * 7) % 300 + 1} b`, qty: i }, ts: day2 - DAY / 2 + i * 60_000 });
  await produceChanges(producer, topic, day1);
  for (const w of await watermarks(admin, topic)) highAfterDay1.set(w.partition, w.high);
  const d2: ItemChange[] = [];
  for (let i = 1; i <= 80; i++) d2.push({ id: (i * 13) % 300 + 1, row: { id: (i * 13) % 300 + 1, name: `item ${(i * 13) % 300 + 1} day2`, qty: 1000 + i }, ts: day2 + i * 60_000 });
  for (let i = 1; i <= 20; i++) d2.push({ id: (i * 11) % 300 + 1, row: null, ts: day2 + DAY / 2 + i * 60_000 });
  await produceChanges(producer, topic, d2);
  for (const c of d2) changedOnDay2.add(JSON.stringify({ id: c.id }));

  v1Plan = itemsTopology(name, 'v1');
  v2Plan = itemsTopology(name, 'v2');
  const p = await prepareReplay(ctx(), { plan: v1Plan, version: 'v1', from: { kind: 'earliest' }, topics: new RegExp(`^${topic.replaceAll('.', '\\.')}$`) });
  assert.equal(p.complete, true, p.description);
  await runUntilCaughtUp(`${name}-v1`, v1Plan);
  await promote(ctx(), name, 'v1');
});

after(async () => {
  await producer?.disconnect();
  for (const v of ['v1', 'v2', 'v2full', 'v3']) {
    await deleteKeys(redis, `cdcv:${name}-${v}:*`);
    await deleteKeys(redis, `cache:${name}-${v}:*`);
    await admin.deleteGroups([`${name}-${v}`]).catch(() => undefined);
  }
  await deleteKeys(redis, `cdcv:topology:${name}:*`);
  await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${name}-*`, { method: 'DELETE' }).catch(() => undefined);
  await deleteKeys(redis, `cache:${name}:*`);
  const existing = await admin.listTopics();
  await admin.deleteTopics({ topics: [topic, goneTopic, ...existing.filter((t) => t.startsWith(`cdcv.${name}-`))].filter((t) => existing.includes(t)) }).catch(() => undefined);
  await admin?.disconnect();
  redis.disconnect();
});

test('rewind --to-datetime <start of day 2>: the dry run shows the first offsets of day 2; --execute moves both positions and re-renders', async () => {
  const r = await cli(['rewind', '--app', `${name}-v1`, '--to-datetime', day2Iso, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { rows: { partition: number; current: string; target: string; reprocess: string }[] };
  const marks = await watermarks(admin, topic);
  assert.equal(plan.rows.length, 3);
  for (const row of plan.rows) {
    assert.equal(row.target, String(highAfterDay1.get(row.partition)), `partition ${row.partition}: target = first offset of day 2`);
    assert.equal(row.current, String(marks.find((m) => m.partition === row.partition)!.high));
    assert.equal(BigInt(row.reprocess), BigInt(row.current) - BigInt(row.target));
  }
  const text = await cli(['rewind', '--app', `${name}-v1`, '--to-datetime', day2Iso]);
  assert.match(text.stdout, /records to reprocess: \d+/);
  assert.match(text.stderr, /dry run/);
  const before = await rawTable(`${name}-v1`);

  // Execute (in-process, with the topology): state and group both move; rows changed since then are re-rendered.
  const planned = await planRewind(ctx(), `${name}-v1`, { kind: 'to-datetime', timestampMs: day2 });
  const result = await executeRewind(ctx(), planned, v1Plan);
  const positions = await redis.hgetall(new StateKeys(`${name}-v1`).positions);
  const committed = await committedOffsets(admin, `${name}-v1`, topic);
  for (const row of planned.rows) {
    assert.equal(positions[`${topic}:${row.partition}`], String(row.target));
    assert.equal(committed.get(row.partition), row.target);
  }
  assert.ok((result.marked[topic] ?? 0) >= changedOnDay2.size, `marked ${JSON.stringify(result.marked)} ⊇ the ${changedOnDay2.size} keys changed on day 2`);
  const after = await runUntilCaughtUp(`${name}-v1`, v1Plan);
  const reprocessed = planned.rows.reduce((a, row) => a + Number(row.reprocess), 0);
  assert.ok(after.stale > 0 && after.stale <= reprocessed, `re-consumed events skipped as stale (${after.stale} of ${reprocessed} records)`);
  assert.ok(after.rendered >= changedOnDay2.size, `re-rendered ${after.rendered} roots`);
  assert.deepEqual(await rawTable(`${name}-v1`), before, 'state unchanged by the rewind');
});

test('replay --from <start of day 2> --version v2: exactly the keys changed on day 2, each equal to live', async () => {
  const r = await cli(['replay', itemsTopologyFile(name, 'v2'), '--version', 'v2', '--from', day2Iso, '--topics', `^${topic.replaceAll('.', '\\.')}$`, '--until-caught-up'], 180_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ONLY KEYS CHANGED since/);
  assert.match(r.stderr, /caught up/);
  const live = await rawTable(`${name}-v1`);
  const v2 = await rawTable(`${name}-v2`);
  assert.deepEqual(new Set(Object.keys(v2)), changedOnDay2);
  for (const [k, v] of Object.entries(v2)) assert.equal(v, live[k], `key ${k} equals live (version and row)`);
});

test('replay --from earliest on a compacted topic: a complete store equal to live; promote under load never mixes versions', async () => {
  const p = await prepareReplay(ctx(), { plan: v2Plan, version: 'v2full', from: { kind: 'earliest' }, topics: new RegExp(`^${topic.replaceAll('.', '\\.')}$`) });
  assert.equal(p.complete, true);
  assert.match(p.description, /COMPLETE store[\s\S]*cleanup\.policy=compact/);
  await runUntilCaughtUp(`${name}-v2full`, v2Plan);
  assert.deepEqual(await rawTable(`${name}-v2full`), await rawTable(`${name}-v1`));

  // Readers: 30 live keys per query, continuously, while promotion flips v1 ↔ v2full.
  const live = Object.entries(await rawTable(`${name}-v1`)).filter(([, v]) => !v.endsWith('\n~')).map(([k]) => k).slice(0, 30);
  let stop = false;
  let queries = 0;
  const problems: string[] = [];
  const seen = new Set<string>();
  const reader = (async (): Promise<void> => {
    while (!stop) {
      const { prefix, docs } = await readCacheDocuments(redis, name, 'item', live);
      queries += 1;
      if (prefix === null) problems.push('no pointer');
      const revs = new Set(docs.map((d) => (d === null ? 'missing' : String(d.rev))));
      if (revs.has('missing')) problems.push(`missing document under ${prefix}`);
      if (revs.size > 1) problems.push(`mixed versions in one query: ${[...revs].join(',')}`);
      seen.add([...revs].join(','));
    }
  })();
  // Search readers: the same 30 documents through the alias, continuously.
  const alias = `${name}-item`;
  let searches = 0;
  const searchSeen = new Set<string>();
  const searcher = (async (): Promise<void> => {
    while (!stop) {
      const res = await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${alias}/_search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ size: 30, query: { ids: { values: live } } }),
      });
      searches += 1;
      if (res.status !== 200) {
        problems.push(`search on the alias answered ${res.status}`);
        continue;
      }
      const body = (await res.json()) as { hits: { hits: { _source: { rev: string } }[] } };
      const revs = new Set(body.hits.hits.map((h) => h._source.rev));
      if (body.hits.hits.length !== live.length) problems.push(`search returned ${body.hits.hits.length} of ${live.length} documents`);
      if (revs.size > 1) problems.push(`mixed versions in one search: ${[...revs].join(',')}`);
      searchSeen.add([...revs].join(','));
    }
  })();
  for (let i = 0; i < 6; i++) {
    await promote(ctx(), name, i % 2 === 0 ? 'v2full' : 'v1');
    await sleep(150);
  }
  stop = true;
  await reader;
  await searcher;
  assert.deepEqual(problems.slice(0, 5), []);
  assert.ok(queries > 20, `${queries} queries`);
  assert.ok(searches > 10, `${searches} searches`);
  assert.deepEqual([...seen].sort(), ['v1', 'v2'], 'readers saw both versions, each whole');
  assert.deepEqual([...searchSeen].sort(), ['v1', 'v2'], 'searches saw both versions through the alias, each whole');
  assert.equal(await redis.get(`cdcv:topology:${name}:promoted`), 'v1');
});

test('refusals: rewind with a running member, replay --version an existing version, promote a version not caught up', async () => {
  const proc = processor({ applicationId: `${name}-v1`, topics: new RegExp(`^${topic.replaceAll('.', '\\.')}$`), redis, topology: v1Plan });
  await proc.start();
  try {
    await proc.waitUntilCaughtUp();
    for (let i = 0; i < 50 && (await admin.describeGroups([`${name}-v1`])).groups[0]?.members.length === 0; i++) await sleep(200);
    const r = await cli(['rewind', '--app', `${name}-v1`, '--to-earliest', '--execute']);
    assert.equal(r.code, 1, 'a refusal exits 1 (src/cli/exit-codes.ts)');
    assert.match(r.stderr, new RegExp(`running member\\(s\\).*cdc-views-${name}-v1 on `));
  } finally {
    await proc.stop();
  }
  const topics = `^${topic.replaceAll('.', '\\.')}$`;
  const other = await cli(['replay', itemsTopologyFile(name, 'v1'), '--version', 'v1', '--from', '2026-01-01T00:00:00Z', '--topics', topics]);
  assert.equal(other.code, 1, 'an existing version re-run from another point is refused');
  assert.match(other.stderr, /version v1 of .* exists, built from earliest, not 2026-01-01T00:00:00.000Z; re-run with --from as before/);
  // The deprecated spelling --as still works, with one deprecation line.
  const again = await cli(['replay', itemsTopologyFile(name, 'v1'), '--as', 'v1', '--from', 'earliest', '--topics', topics, '--until-caught-up']);
  assert.equal(again.code, 0, `re-running a replay with the same --version and --from resumes it: ${again.stderr}`);
  assert.equal(again.stderr.split('\n').filter((l) => l.includes('--as is deprecated; use --version')).length, 1, again.stderr);
  assert.match(again.stderr, /RESUMING version v1 \(built from earliest, COMPLETE store\)/);

  await prepareReplay(ctx(), { plan: v2Plan, version: 'v3', from: { kind: 'earliest' }, topics: new RegExp(`^${topic.replaceAll('.', '\\.')}$`) });
  const refused = await cli(['promote', name, '--version', 'v3']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /has not caught up: lag \d+ record/);
  assert.equal(await redis.get(`cdcv:topology:${name}:promoted`), 'v1');
  const versions = await cli(['versions', name, '--json']);
  const list = JSON.parse(versions.stdout) as { version: string; caughtUp: boolean; promoted: boolean }[];
  assert.deepEqual(list.map((v) => [v.version, v.caughtUp, v.promoted]).sort(), [['v1', true, true], ['v2', true, false], ['v2full', true, false], ['v3', false, false]]);
  const drop = await cli(['drop', name, '--version', 'v1', '--yes']);
  assert.equal(drop.code, 1, 'the promoted version cannot be dropped');
  const dropped = await cli(['drop', name, '--version', 'v3', '--yes']);
  assert.equal(dropped.code, 0, dropped.stderr);
  assert.equal((await redis.keys(`cdcv:${name}-v3:*`)).length, 0);
});

test('retention: rewind --to-datetime older than the retained data reports the gap in time and records', async () => {
  await admin.createTopics({
    topics: [{ topic: goneTopic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(DAY) }, { name: 'segment.ms', value: '60000' }] }],
    waitForLeaders: true,
  });
  const old = Date.now() - 2 * DAY;
  await produceChanges(producer, goneTopic, Array.from({ length: 40 }, (_, i) => ({ id: i, row: { id: i, name: 'old', qty: i }, ts: old + i })));
  await sleep(1500);
  const recent = Date.now();
  // A record 2 days younger than the segment's first rolls the segment; the broker deletes the expired one (checks every 10 s).
  await produceChanges(producer, goneTopic, [{ id: 1, row: { id: 1, name: 'new', qty: 1 }, ts: recent }]);
  for (let i = 0; i < 60 && (await watermarks(admin, goneTopic))[0]!.low === 0n; i++) await sleep(1000);
  assert.equal((await watermarks(admin, goneTopic))[0]!.low, 40n, 'the old segment was deleted');
  const asked = new Date(old - DAY).toISOString();
  const r = await cli(['rewind', '--app', `${name}-gone`, '--topic', goneTopic, '--to-datetime', asked, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { rows: { target: string; gap?: { gapMs: number; deletedOffsets: string; oldestRetainedMs: number } }[]; warnings: string[] };
  const gap = plan.rows[0]!.gap!;
  assert.ok(gap, 'gap reported');
  assert.equal(gap.oldestRetainedMs, recent);
  assert.equal(gap.gapMs, recent - (old - DAY));
  assert.equal(gap.deletedOffsets, '40');
  assert.match(plan.warnings.join('\n'), /history before .* is gone \(retention\).*older than the oldest retained record; offsets 0\.\.39 \(40 records\) were deleted/);
  const text = await cli(['rewind', '--app', `${name}-gone`, '--topic', goneTopic, '--to-datetime', asked]);
  assert.match(text.stdout, /GAP 3d/);
});
