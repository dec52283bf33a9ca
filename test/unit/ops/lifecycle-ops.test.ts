/**
 * The Redis/Kafka/search parts of the version lifecycle (src/ops/lifecycle.ts):
 * listVersions (status lines from the registry, the group, the lag and the
 * marks), promote (the caught-up and complete-store refusals, --force, the
 * one `_aliases` request moving every alias, the cache pointers and the
 * registry's `promoted` in Redis, search failures reported without the
 * credentials), planDrop and executeDrop (refusals, what is deleted).
 *
 * Stand-ins: the file's private test Redis (test/unit/state/helpers.ts); an
 * Admin with only the methods these functions call (describeGroups,
 * fetchTopicOffsets, deleteGroups, listTopics, deleteTopics); a small HTTP
 * server answering the four OpenSearch requests used (HEAD /<index>,
 * GET /_alias/<name>, POST /_aliases, DELETE /<index>) from an in-memory
 * set of indexes and aliases.
 */
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admin } from 'kafkajs';
import { CdcViewsError } from '../../../src/errors.ts';
import { executeDrop, listVersions, planDrop, promote } from '../../../src/ops/lifecycle.ts';
import type { GroupMember } from '../../../src/ops/kafka.ts';
import { VersionRegistry, type VersionEntry, type VersionSink } from '../../../src/ops/versions.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { StateStore } from '../../../src/state/store.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { fileRedis, uniqueId } from '../state/helpers.ts';

const redis = await fileRedis();
const TOPIC = 'shop.public.items';

/** An Admin with only what lifecycle.ts calls; records deletions. */
class FakeAdmin {
  readonly members = new Map<string, GroupMember[]>();
  /** Per topic: [partition, low, high]. */
  readonly offsets = new Map<string, [number, number, number][]>();
  topics: string[] = [];
  readonly offsetCalls: string[] = [];
  readonly deletedGroups: string[][] = [];
  readonly deletedTopics: string[][] = [];

  describeGroups(ids: string[]): Promise<unknown> {
    return Promise.resolve({
      groups: ids.map((groupId) => {
        const members = this.members.get(groupId) ?? [];
        return { groupId, state: members.length > 0 ? 'Stable' : 'Empty', members: members.map((m) => ({ ...m, memberMetadata: Buffer.alloc(0), memberAssignment: Buffer.alloc(0) })) };
      }),
    });
  }

  fetchTopicOffsets(topic: string): Promise<unknown> {
    this.offsetCalls.push(topic);
    return Promise.resolve((this.offsets.get(topic) ?? []).map(([partition, low, high]) => ({ partition, offset: String(high), high: String(high), low: String(low) })));
  }

  deleteGroups(ids: string[]): Promise<unknown> {
    this.deletedGroups.push(ids);
    return Promise.reject(new Error('group not found'));
  }

  listTopics(): Promise<string[]> {
    return Promise.resolve(this.topics);
  }

  deleteTopics({ topics }: { topics: string[] }): Promise<void> {
    this.deletedTopics.push(topics);
    return Promise.resolve();
  }

  get admin(): Admin {
    return this as unknown as Admin;
  }
}

/** An OpenSearch stand-in: indexes, aliases (alias → indexes), the requests it got; `failing` answers 500 to requests whose path starts with it. */
interface FakeSearch {
  url: string;
  indexes: Set<string>;
  aliases: Map<string, Set<string>>;
  requests: { method: string; path: string; body: unknown }[];
  failing?: string;
}

const search: FakeSearch = { url: '', indexes: new Set(), aliases: new Map(), requests: [] };
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    search.requests.push({ method: req.method ?? '', path, body });
    const reply = (status: number, json: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(json));
    };
    if (search.failing !== undefined && path.startsWith(search.failing)) return reply(500, { error: 'boom', status: 500 });
    const name = path.slice(1);
    if (req.method === 'HEAD') return reply(search.indexes.has(name) || search.aliases.has(name) ? 200 : 404, {});
    if (req.method === 'GET' && path.startsWith('/_alias/')) {
      const alias = path.slice('/_alias/'.length);
      const holders = [...(search.aliases.get(alias) ?? [])];
      if (holders.length === 0) return reply(404, { error: `alias [${alias}] missing`, status: 404 });
      return reply(200, Object.fromEntries(holders.map((i) => [i, { aliases: { [alias]: {} } }])));
    }
    if (req.method === 'POST' && path === '/_aliases') {
      for (const action of (body as { actions: Record<string, { index: string; alias?: string }>[] }).actions) {
        const [[kind, { index, alias }]] = Object.entries(action) as [[string, { index: string; alias?: string }]];
        if (kind === 'remove_index') search.indexes.delete(index);
        else if (kind === 'remove') search.aliases.get(alias!)?.delete(index);
        else if (kind === 'add') search.aliases.set(alias!, new Set([...(search.aliases.get(alias!) ?? []), index]));
      }
      return reply(200, { acknowledged: true });
    }
    if (req.method === 'DELETE') {
      if (!search.indexes.delete(name)) return reply(404, { error: `no such index [${name}]`, status: 404 });
      return reply(200, { acknowledged: true });
    }
    return reply(400, { error: `unexpected ${req.method} ${path}`, status: 400 });
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
after(() => server.close());
/** With credentials, which no error message may show. */
search.url = `http://admin:s3cret@127.0.0.1:${(server.address() as AddressInfo).port}`;

function resetSearch(indexes: string[] = [], aliases: Record<string, string[]> = {}): void {
  search.indexes = new Set(indexes);
  search.aliases = new Map(Object.entries(aliases).map(([a, i]) => [a, new Set(i)]));
  search.requests = [];
  search.failing = undefined;
}

/** A fresh topology whose registry and version keys are removed after the test. */
function topology(t: TestContext): { name: string; registry: VersionRegistry; admin: FakeAdmin; entry: (version: string, over?: Partial<VersionEntry>) => VersionEntry } {
  const name = uniqueId('shop');
  const registry = new VersionRegistry(redis, name);
  const created: string[] = [];
  t.after(async () => {
    for (const app of created) await new StateStore(redis, app).destroy();
    await redis.del(registry.key, registry.promotedKey);
    const stray = await redis.keys(`*${name}*`);
    if (stray.length > 0) await redis.del(...stray);
  });
  const entry = (version: string, over: Partial<VersionEntry> = {}): VersionEntry => {
    const applicationId = `${name}-${version}`;
    created.push(applicationId);
    const sinks: VersionSink[] = [{ view: 'item', kind: 'cache', target: `cache:${applicationId}:item:`, reader: `cache:${name}:item:__current` }];
    return { version, applicationId, createdAt: `2026-05-0${created.length}T00:00:00.000Z`, from: 'earliest', complete: true, state: 'built', topics: [TOPIC], sinks, ...over };
  };
  return { name, registry, admin: new FakeAdmin(), entry };
}

const member: GroupMember = { memberId: 'm-1', clientId: 'cdc-views-a', clientHost: '/10.0.0.7' };

/** Stores positions (next offset per partition) of an application. */
const positions = (applicationId: string, ...offsets: [partition: number, offset: number][]): Promise<void> =>
  new StateStore(redis, applicationId).setPositions(Positions.of(offsets.map(([partition, offset]) => ({ topic: TOPIC, partition, offset: BigInt(offset) }))));

/** Leaves `n` table marks not yet rendered. */
const pendingMarks = async (applicationId: string, n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await redis.hset(new StateKeys(applicationId).dirty('public.items'), `{"id":${i}}`, '1');
};

const rejectsWith = async (p: Promise<unknown>, code: string): Promise<CdcViewsError> => {
  const err = await p.then(() => assert.fail(`expected ${code}`), (e: unknown) => e);
  assert.ok(err instanceof CdcViewsError, String(err));
  assert.equal(err.code, code, err.message);
  return err;
};

// ---------------------------------------------------------------- versions

test('listVersions: one line per registered version, in creation order, with group, lag, pending renders and promotion', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1');
  const v2 = entry('v2', { complete: false, from: '2026-04-01T00:00:00.000Z' });
  await registry.add(v2);
  await registry.add(v1);
  await redis.set(registry.promotedKey, 'v1');
  admin.members.set(v1.applicationId, [member]);
  admin.offsets.set(TOPIC, [[0, 0, 10], [1, 5, 20]]);
  // v1 is at the end of both partitions: lag 0. v2 stored partition 0 at 4 and nothing on 1: lag (10 − 4) + (20 − 5) = 21.
  await positions(v1.applicationId, [0, 10], [1, 20]);
  await positions(v2.applicationId, [0, 4]);
  await pendingMarks(v2.applicationId, 2);
  assert.deepEqual(await listVersions({ redis, admin: admin.admin }, name), [
    { ...v1, running: true, members: [{ memberId: 'm-1', clientId: 'cdc-views-a', clientHost: '/10.0.0.7' }], lag: '0', rendersPending: 0, caughtUp: true, promoted: true },
    { ...v2, running: false, members: [], lag: '21', rendersPending: 2, caughtUp: false, promoted: false },
  ]);
});

test('listVersions: a version at lag 0 with nothing pending but no stored position is not caught up; no versions, no lines', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  assert.deepEqual(await listVersions({ redis, admin: admin.admin }, name), []);
  const v1 = entry('v1');
  await registry.add(v1);
  admin.offsets.set(TOPIC, [[0, 0, 0]]);
  const [line] = await listVersions({ redis, admin: admin.admin }, name);
  assert.equal(line!.lag, '0');
  assert.equal(line!.caughtUp, false);
  assert.equal(line!.promoted, false);
});

// ---------------------------------------------------------------- promote: refusals

test('promote: an unknown version is refused', async (t) => {
  const { name, admin } = topology(t);
  await rejectsWith(promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v9'), 'OPS_VERSION_UNKNOWN');
});

test('promote: refuses lag, pending renders, no stored position, an incomplete store, lost history; nothing is switched', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const ctx = { redis, admin: admin.admin, searchUrl: search.url };
  const v1 = entry('v1');
  await registry.add(v1);
  admin.offsets.set(TOPIC, [[0, 0, 10]]);

  const never = await rejectsWith(promote(ctx, name, 'v1'), 'OPS_NOT_CAUGHT_UP');
  assert.match(never.message, /lag 10 record\(s\), 0 render\(s\) pending, no position stored yet/);
  await positions(v1.applicationId, [0, 7]);
  assert.match((await rejectsWith(promote(ctx, name, 'v1'), 'OPS_NOT_CAUGHT_UP')).message, /lag 3 record\(s\), 0 render\(s\) pending;/);
  await positions(v1.applicationId, [0, 10]);
  await pendingMarks(v1.applicationId, 1);
  assert.match((await rejectsWith(promote(ctx, name, 'v1'), 'OPS_NOT_CAUGHT_UP')).message, /lag 0 record\(s\), 1 render\(s\) pending;/);
  await redis.del(new StateKeys(v1.applicationId).dirty('public.items'));
  await new StateStore(redis, v1.applicationId).recordHistoryLost(TOPIC, 0, 3n);
  assert.match((await rejectsWith(promote(ctx, name, 'v1'), 'OPS_INCOMPLETE_STORE')).message, /built on 1 partition\(s\) after retention/);

  const v2 = entry('v2', { complete: false, from: '2026-04-01T00:00:00.000Z' });
  await registry.add(v2);
  await positions(v2.applicationId, [0, 10]);
  assert.match((await rejectsWith(promote(ctx, name, 'v2'), 'OPS_INCOMPLETE_STORE')).message, /holds only the keys changed since 2026-04-01/);

  assert.equal(await registry.promoted(), null);
  assert.equal(await redis.get(v1.sinks[0]!.reader), null);
  assert.equal((await registry.get('v1'))!.promotedAt, undefined);
});

// ---------------------------------------------------------------- promote: cache

test('promote: a caught-up version sets every cache pointer and the registry\'s promoted, and stamps promotedAt', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1');
  const v2 = entry('v2');
  v2.sinks.push({ view: 'order', kind: 'cache', target: `cache:${v2.applicationId}:order:`, reader: `cache:${name}:order:__current` });
  await registry.add(v1);
  await registry.add(v2);
  await redis.set(registry.promotedKey, 'v1');
  admin.offsets.set(TOPIC, [[0, 0, 10], [1, 0, 0]]);
  await positions(v2.applicationId, [0, 10]);
  const before = Date.now();
  const result = await promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v2');
  assert.deepEqual(result, {
    version: 'v2',
    previous: 'v1',
    aliases: [],
    pointers: [
      { key: `cache:${name}:item:__current`, to: `cache:${v2.applicationId}:item:` },
      { key: `cache:${name}:order:__current`, to: `cache:${v2.applicationId}:order:` },
    ],
  });
  assert.equal(await redis.get(`cache:${name}:item:__current`), `cache:${v2.applicationId}:item:`);
  assert.equal(await redis.get(`cache:${name}:order:__current`), `cache:${v2.applicationId}:order:`);
  assert.equal(await registry.promoted(), 'v2');
  const { promotedAt, ...rest } = (await registry.get('v2'))!;
  assert.deepEqual(rest, v2, 'the entry is otherwise unchanged');
  const at = Date.parse(promotedAt!);
  assert.ok(at >= before && at <= Date.now(), `promotedAt ${promotedAt}`);
  assert.equal(search.requests.length, 0, 'no search sink: no search request');
});

test('promote --force: no caught-up or completeness check, not even a look at the offsets', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1', { complete: false });
  await registry.add(v1);
  await pendingMarks(v1.applicationId, 3);
  const result = await promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v1', { force: true });
  assert.equal(result.previous, null);
  assert.equal(await registry.promoted(), 'v1');
  assert.deepEqual(admin.offsetCalls, []);
});

// ---------------------------------------------------------------- promote: search

/** A caught-up version with one search sink (reader alias `<topology>-item`) and one cache sink. */
async function searchVersion(t: TestContext): Promise<{ name: string; registry: VersionRegistry; admin: FakeAdmin; v2: VersionEntry; alias: string; index: string }> {
  const top = topology(t);
  const v2 = top.entry('v2');
  const alias = `${top.name}-item`;
  const index = `${v2.applicationId}-item`;
  v2.sinks.push({ view: 'item', kind: 'search', target: index, reader: alias });
  await top.registry.add(v2);
  top.admin.offsets.set(TOPIC, [[0, 0, 4]]);
  await positions(v2.applicationId, [0, 4]);
  return { ...top, v2, alias, index };
}

test('promote: moves the alias from the indexes holding it to the version\'s index in one _aliases request', async (t) => {
  const { name, admin, alias, index } = await searchVersion(t);
  resetSearch([index, 'old-1', 'old-2'], { [alias]: ['old-1', 'old-2'] });
  const result = await promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v2');
  assert.deepEqual(result.aliases, [{ alias, from: ['old-1', 'old-2'], to: index }]);
  const posts = search.requests.filter((r) => r.method === 'POST');
  assert.deepEqual(posts, [
    { method: 'POST', path: '/_aliases', body: { actions: [{ remove: { index: 'old-1', alias } }, { remove: { index: 'old-2', alias } }, { add: { index, alias } }] } },
  ]);
  assert.deepEqual([...search.aliases.get(alias)!], [index]);
  assert.equal(result.pointers.length, 1, 'the cache pointer is switched too');
});

test('promote: the first promotion creates the alias (no alias and no index of its name yet)', async (t) => {
  const { name, admin, alias, index } = await searchVersion(t);
  resetSearch([index]);
  const result = await promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v2');
  assert.deepEqual(result.aliases, [{ alias, from: [], to: index }]);
  assert.deepEqual([...search.aliases.get(alias)!], [index]);
});

test('promote: refuses a version whose index does not exist, before any switch', async (t) => {
  const { name, registry, admin, index } = await searchVersion(t);
  resetSearch([]);
  const err = await rejectsWith(promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v2'), 'OPS_INDEX_MISSING');
  assert.equal(err.message, `index ${index} of version v2 does not exist; run the version first`);
  assert.equal(search.requests.filter((r) => r.method === 'POST').length, 0);
  assert.equal(await registry.promoted(), null);
});

test('promote: an index named like the alias is refused (OPS_ALIAS_TAKEN) unless replaceIndex, which deletes it in the same request', async (t) => {
  const { name, registry, admin, alias, index } = await searchVersion(t);
  resetSearch([index, alias]);
  const ctx = { redis, admin: admin.admin, searchUrl: search.url };
  const err = await rejectsWith(promote(ctx, name, 'v2'), 'OPS_ALIAS_TAKEN');
  assert.match(err.message, new RegExp(`^an index named ${alias} exists, so the readers' alias cannot be created: .*\\(applicationId ${name}-<version>, `));
  assert.equal(search.requests.filter((r) => r.method === 'POST').length, 0);
  assert.equal(await registry.promoted(), null);

  const result = await promote(ctx, name, 'v2', { replaceIndex: true });
  assert.deepEqual(result.aliases, [{ alias, from: [alias], to: index, replacedIndex: true }]);
  assert.deepEqual(search.requests.filter((r) => r.method === 'POST').map((r) => r.body), [{ actions: [{ remove_index: { index: alias } }, { add: { index, alias } }] }]);
  assert.equal(search.indexes.has(alias), false);
});

test('promote: a search engine failing (not a 404) is SEARCH_UNREACHABLE with the HTTP status and without the credentials; Redis is not switched', async (t) => {
  const { name, registry, admin, v2, index } = await searchVersion(t);
  resetSearch([index]);
  search.failing = '/_alias/';
  const err = await rejectsWith(promote({ redis, admin: admin.admin, searchUrl: search.url }, name, 'v2'), 'SEARCH_UNREACHABLE');
  const host = new URL(search.url).host;
  assert.equal(err.message, `the search engine at http://${host} failed (HTTP 500); check it runs and CDCV_OPENSEARCH_URL`);
  assert.doesNotMatch(err.message, /s3cret/);
  assert.equal(await registry.promoted(), null);
  assert.equal(await redis.get(v2.sinks[0]!.reader), null);
});

test('promote: an unreachable search engine is SEARCH_UNREACHABLE without an HTTP status', async (t) => {
  const { name, admin } = await searchVersion(t);
  // A port nothing listens on: the server's own, closed for this test is not possible (shared), so port 1.
  const err = await rejectsWith(promote({ redis, admin: admin.admin, searchUrl: 'http://u:p@127.0.0.1:1' }, name, 'v2'), 'SEARCH_UNREACHABLE');
  assert.equal(err.message, 'the search engine at http://127.0.0.1:1 failed; check it runs and CDCV_OPENSEARCH_URL');
});

// ---------------------------------------------------------------- drop

test('planDrop: refuses the promoted version and a running one; otherwise says what a drop deletes', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const ctx = { redis, admin: admin.admin };
  const v1 = entry('v1');
  const v2 = entry('v2');
  await registry.add(v1);
  await registry.add(v2);
  await redis.set(registry.promotedKey, 'v1');
  await rejectsWith(planDrop(ctx, name, 'v9'), 'OPS_VERSION_UNKNOWN');
  await rejectsWith(planDrop(ctx, name, 'v1'), 'OPS_VERSION_PROMOTED');
  admin.members.set(v2.applicationId, [member]);
  const running = await rejectsWith(planDrop(ctx, name, 'v2'), 'OPS_APP_RUNNING');
  assert.match(running.message, /has 1 running member\(s\): cdc-views-a on \/10\.0\.0\.7/);
  admin.members.clear();
  assert.deepEqual(await planDrop(ctx, name, 'v2'), {
    entry: v2,
    redisPrefixes: [`cdcv:${v2.applicationId}:`, `cache:${v2.applicationId}:item:`],
    indexes: [],
    consumerGroup: v2.applicationId,
    dlqTopic: `cdcv.${v2.applicationId}.dlq`,
  });
});

test('executeDrop: deletes the state, the cache documents, the indexes (a missing one is no error), the group, the DLQ topic and the registry entry', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1');
  v1.sinks.push({ view: 'item', kind: 'search', target: `${v1.applicationId}-item`, reader: `${name}-item` }, { view: 'order', kind: 'search', target: `${v1.applicationId}-order`, reader: `${name}-order` });
  await registry.add(v1);
  const keep = entry('v0');
  await registry.add(keep);
  await positions(v1.applicationId, [0, 3], [1, 4]);
  const cache = v1.sinks[0]!.target;
  await redis.set(`${cache}{"id":1}`, '{}');
  await redis.set(`${cache}{"id":2}`, '{}');
  await redis.set('unrelated-key-' + name, 'x');
  resetSearch([`${v1.applicationId}-item`]);
  admin.topics = [`cdcv.${v1.applicationId}.dlq`, 'other'];
  const plan = await planDrop({ redis, admin: admin.admin }, name, 'v1');
  const result = await executeDrop({ redis, admin: admin.admin, searchUrl: search.url }, name, plan);
  // State: the positions hash and the epochs hash fenceAll creates = 2 keys; cache: 2 documents.
  assert.deepEqual(result, { redisKeys: 4, indexes: 1 });
  assert.deepEqual(await redis.keys(`cdcv:${v1.applicationId}:*`), []);
  assert.deepEqual(await redis.keys(`${cache}*`), []);
  assert.equal(await redis.get('unrelated-key-' + name), 'x');
  assert.deepEqual(search.requests.map((r) => `${r.method} ${r.path}`), [`DELETE /${v1.applicationId}-item`, `DELETE /${v1.applicationId}-order`]);
  assert.deepEqual(admin.deletedGroups, [[v1.applicationId]], 'a failed group deletion is ignored');
  assert.deepEqual(admin.deletedTopics, [[`cdcv.${v1.applicationId}.dlq`]]);
  assert.deepEqual((await registry.list()).map((e) => e.version), ['v0']);
});

test('executeDrop: without a DLQ topic none is deleted; a search failure other than 404 stops the drop before the registry', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1');
  await registry.add(v1);
  const plan = await planDrop({ redis, admin: admin.admin }, name, 'v1');
  admin.topics = ['other'];
  assert.deepEqual(await executeDrop({ redis, admin: admin.admin, searchUrl: search.url }, name, plan), { redisKeys: 0, indexes: 0 });
  assert.deepEqual(admin.deletedTopics, []);

  const v2 = entry('v2');
  v2.sinks.push({ view: 'item', kind: 'search', target: `${v2.applicationId}-item`, reader: `${name}-item` });
  await registry.add(v2);
  resetSearch([`${v2.applicationId}-item`]);
  search.failing = '/';
  const plan2 = await planDrop({ redis, admin: admin.admin }, name, 'v2');
  await rejectsWith(executeDrop({ redis, admin: admin.admin, searchUrl: search.url }, name, plan2), 'SEARCH_UNREACHABLE');
  assert.ok(await registry.get('v2'), 'still registered');
});

test('executeDrop: a member that joined after the plan stops the drop before anything is deleted', async (t) => {
  const { name, registry, admin, entry } = topology(t);
  const v1 = entry('v1');
  await registry.add(v1);
  await positions(v1.applicationId, [0, 3]);
  const plan = await planDrop({ redis, admin: admin.admin }, name, 'v1');
  admin.members.set(v1.applicationId, [member]);
  await rejectsWith(executeDrop({ redis, admin: admin.admin, searchUrl: search.url }, name, plan), 'OPS_APP_RUNNING');
  assert.equal(await new StateStore(redis, v1.applicationId).currentEpoch(TOPIC, 0), null, 'not even fenced');
  assert.equal((await new StateStore(redis, v1.applicationId).positions()).size, 1);
  assert.ok(await registry.get('v1'));
});
