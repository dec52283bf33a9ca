/**
 * registerRunningVersion (src/ops/register-run.ts): a live application run as
 * `<topology>-<version>` registers itself in the version registry — not at
 * all when its applicationId names no version or a sink writes a fixed name;
 * "known" when registered for it already (refused when registered for
 * another applicationId); as it is (from earliest, complete) when it has
 * state; set up like `replay --from earliest` when fresh; and "known" when a
 * replica registered it between the check and the write.
 *
 * Stand-ins: the file's private test Redis, and an Admin with only the
 * methods used (listTopics, describeGroups, fetchTopicOffsets, describeConfigs,
 * and the consumer setGroupOffsets joins with).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Kafka } from 'kafkajs';
import { CdcViewsError } from '../../../src/errors.ts';
import { registerRunningVersion, versionOfApplication } from '../../../src/ops/register-run.ts';
import { VersionRegistry, type VersionEntry } from '../../../src/ops/versions.ts';
import { StateStore } from '../../../src/state/store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { fileRedis, uniqueId, withOverrides } from '../state/helpers.ts';

const redis = await fileRedis();
const TOPIC = 'shop.public.items';

class FakeAdmin {
  calls: string[] = [];
  readonly setOffsetsCalls: unknown[] = [];
  topics = [TOPIC, 'shop.public.other', 'unrelated'];

  listTopics(): Promise<string[]> {
    this.calls.push('listTopics');
    return Promise.resolve(this.topics);
  }
  describeGroups(ids: string[]): Promise<unknown> {
    this.calls.push('describeGroups');
    return Promise.resolve({ groups: ids.map((groupId) => ({ groupId, state: 'Dead', members: [] })) });
  }
  fetchTopicOffsets(topic: string): Promise<unknown> {
    this.calls.push(`fetchTopicOffsets ${topic}`);
    return Promise.resolve([{ partition: 1, offset: '9', low: '0', high: '9' }, { partition: 0, offset: '5', low: '0', high: '5' }]);
  }
  describeConfigs(): Promise<unknown> {
    this.calls.push('describeConfigs');
    return Promise.resolve({ resources: [{ configEntries: [{ configName: 'cleanup.policy', configValue: 'compact' }] }] });
  }
  get admin(): Admin {
    return this as unknown as Admin;
  }
  connect(): Promise<void> {
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
  /**
   * A Kafka client whose admin is this one and whose consumer joins at once:
   * what setGroupOffsets (src/ops/kafka.ts) uses. Commits are recorded in
   * {@link setOffsetsCalls} as `{ groupId, offsets }`.
   */
  get kafka(): Kafka {
    const handlers = new Map<string, () => void>();
    const consumer = (groupId: string): unknown => ({
      events: { GROUP_JOIN: 'join', CRASH: 'crash' },
      on: (event: string, fn: () => void) => void handlers.set(event, fn),
      connect: () => Promise.resolve(),
      subscribe: () => Promise.resolve(),
      run: () => (handlers.get('join')?.(), Promise.resolve()),
      seek: () => undefined,
      commitOffsets: (offsets: unknown) => (this.setOffsetsCalls.push({ groupId, offsets }), Promise.resolve()),
      disconnect: () => Promise.resolve(),
    });
    return { admin: () => this.admin, consumer: (c: { groupId: string }) => consumer(c.groupId) } as unknown as Kafka;
  }
}

/** A topology reading public.items into a cache view, under a fresh name; its keys are removed after the test. */
function setUp(t: TestContext, cachePrefix = 'cache:{app}:item:'): { plan: TopologyPlan; registry: VersionRegistry; fake: FakeAdmin; ctx: { redis: typeof redis; admin: Admin; kafka: Kafka } } {
  const name = uniqueId('rr');
  const b = new StreamsBuilder(name);
  b.table('public.items').view('item').toCache({ prefix: cachePrefix });
  const plan = b.build();
  const registry = new VersionRegistry(redis, name);
  t.after(async () => {
    const keys = await redis.keys(`*${name}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  const fake = new FakeAdmin();
  return { plan, registry, fake, ctx: { redis, admin: fake.admin, kafka: fake.kafka } };
}

test('versionOfApplication: an applicationId not starting with <topology>- names no version, even when its tail would be a valid version', () => {
  assert.equal(versionOfApplication('shop', 'shoe-v2'), null);
  assert.equal(versionOfApplication('ab', 'xy-v1'), null);
});

test('an applicationId that is not <topology>-<version>: not a version, nothing registered', async (t) => {
  const { plan, registry, fake, ctx } = setUp(t);
  assert.deepEqual(await registerRunningVersion(ctx, plan, plan.name, /^shop\./), { kind: 'not-a-version', reason: `the applicationId is not ${plan.name}-<version>` });
  assert.deepEqual(await registry.list(), []);
  assert.deepEqual(fake.calls, []);
});

test('a sink writing a fixed name (no {app}): not a version, with the configuration error as the reason', async (t) => {
  const { plan, registry, ctx } = setUp(t, 'fixed:item:');
  const r = await registerRunningVersion(ctx, plan, `${plan.name}-v1`, /^shop\./);
  assert.equal(r.kind, 'not-a-version');
  assert.match((r as { reason: string }).reason, /^view item: its cache sink writes to the fixed name "fixed:item:"/);
  assert.deepEqual(await registry.list(), []);
});

const registered = (plan: TopologyPlan, version: string, over: Partial<VersionEntry> = {}): VersionEntry => ({
  version,
  applicationId: `${plan.name}-${version}`,
  createdAt: '2026-01-01T00:00:00.000Z',
  from: 'earliest',
  complete: true,
  state: 'built',
  topics: [TOPIC],
  sinks: [],
  ...over,
});

test('a version registered for this applicationId is known: nothing else is read or written', async (t) => {
  const { plan, registry, fake, ctx } = setUp(t);
  const entry = registered(plan, 'v1');
  await registry.add(entry);
  assert.deepEqual(await registerRunningVersion(ctx, plan, `${plan.name}-v1`, /^shop\./), { kind: 'known', version: 'v1' });
  assert.deepEqual(await registry.list(), [entry]);
  assert.deepEqual(fake.calls, []);
});

test('a version registered for another applicationId is refused', async (t) => {
  const { plan, registry, ctx } = setUp(t);
  await registry.add(registered(plan, 'v1', { applicationId: 'elsewhere' }));
  const err = await registerRunningVersion(ctx, plan, `${plan.name}-v1`, /^shop\./).then(() => assert.fail('registered'), (e: unknown) => e);
  assert.ok(err instanceof CdcViewsError);
  assert.equal(err.code, 'OPS_VERSION_EXISTS');
  assert.equal(err.message, `version v1 of ${plan.name} is registered for application elsewhere, not ${plan.name}-v1; run under another applicationId or drop that version`);
});

test('an application with state already is registered as it is: from earliest, complete, its matching topics, no offsets set', async (t) => {
  const { plan, registry, fake, ctx } = setUp(t);
  const app = `${plan.name}-v3`;
  await redis.set(`${new StateStore(redis, app).keys.prefix}stats`, 'x');
  t.after(() => new StateStore(redis, app).destroy());
  const before = Date.now();
  const r = await registerRunningVersion(ctx, plan, app, /^shop\.public\./, 'topologies/shop.ts');
  assert.deepEqual(r, { kind: 'registered', version: 'v3', description: `registered the running application ${app} (it has state already) as version v3` });
  const [entry] = await registry.list();
  const { createdAt, ...rest } = entry!;
  assert.deepEqual(rest, {
    version: 'v3',
    applicationId: app,
    from: 'earliest',
    complete: true,
    state: 'replaying',
    topologyFile: 'topologies/shop.ts',
    topics: ['shop.public.items', 'shop.public.other'],
    sinks: [{ view: 'item', kind: 'cache', target: `cache:${app}:item:`, reader: `cache:${plan.name}:item:__current` }],
  });
  assert.ok(Date.parse(createdAt) >= before && Date.parse(createdAt) <= Date.now());
  assert.deepEqual(fake.setOffsetsCalls, []);
});

test('registered with state but without a topology file: the entry has no topologyFile', async (t) => {
  const { plan, registry, ctx } = setUp(t);
  const app = `${plan.name}-v3`;
  await redis.set(`${new StateStore(redis, app).keys.prefix}stats`, 'x');
  t.after(() => new StateStore(redis, app).destroy());
  await registerRunningVersion(ctx, plan, app, /^shop\.public\.items$/);
  const [entry] = await registry.list();
  assert.equal('topologyFile' in entry!, false);
  assert.deepEqual(entry!.topics, [TOPIC]);
});

test('a fresh application is set up as replay --from earliest: registered, group offsets and positions at the log start', async (t) => {
  const { plan, registry, fake, ctx } = setUp(t);
  const app = `${plan.name}-v1`;
  t.after(() => new StateStore(redis, app).destroy());
  const r = await registerRunningVersion(ctx, plan, app, /^shop\.public\.items$/, 'topologies/shop.ts');
  assert.deepEqual(r, {
    kind: 'registered',
    version: 'v1',
    description: 'COMPLETE store: replay from earliest.\n  shop.public.items (cleanup.policy=compact): every partition starts at offset 0: a compacted topic keeps the latest record of every key',
  });
  const [entry] = await registry.list();
  assert.equal(entry!.applicationId, app);
  assert.equal(entry!.topologyFile, 'topologies/shop.ts');
  assert.deepEqual(fake.setOffsetsCalls, [{ groupId: app, offsets: [{ topic: TOPIC, partition: 0, offset: '0' }, { topic: TOPIC, partition: 1, offset: '0' }] }]);
  const positions = await new StateStore(redis, app).positions();
  assert.equal(positions.get(TOPIC, 0), 0n);
  assert.equal(positions.get(TOPIC, 1), 0n);
});

/** The registry as another replica leaves it: the first read of the version finds nothing, the entry is there by the write. */
function racing(entry: VersionEntry): typeof redis {
  let first = true;
  return withOverrides(redis, {
    hget: async (key: string, field: string) => {
      if (first) {
        first = false;
        await redis.hset(key, field, JSON.stringify(entry));
        return null;
      }
      return redis.hget(key, field);
    },
  });
}

test('a replica that registered the version between the check and the write: known', async (t) => {
  const { plan, ctx } = setUp(t);
  const app = `${plan.name}-v2`;
  await redis.set(`${new StateStore(redis, app).keys.prefix}stats`, 'x');
  t.after(() => new StateStore(redis, app).destroy());
  const other = registered(plan, 'v2');
  assert.deepEqual(await registerRunningVersion({ ...ctx, redis: racing(other) }, plan, app, /^shop\./), { kind: 'known', version: 'v2' });
  assert.deepEqual(await new VersionRegistry(redis, plan.name).get('v2'), other, 'the other replica\'s entry stays');
});

test('registered meanwhile for another applicationId, or any other failure: thrown', async (t) => {
  const { plan, fake, ctx } = setUp(t);
  const app = `${plan.name}-v2`;
  await redis.set(`${new StateStore(redis, app).keys.prefix}stats`, 'x');
  t.after(() => new StateStore(redis, app).destroy());
  const err = await registerRunningVersion({ ...ctx, redis: racing(registered(plan, 'v2', { applicationId: 'elsewhere' })) }, plan, app, /^shop\./).then(
    () => assert.fail('registered'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CdcViewsError);
  assert.equal(err.code, 'OPS_VERSION_EXISTS');
  assert.match(err.message, /registered for application elsewhere/);

  await redis.del(new VersionRegistry(redis, plan.name).key);
  fake.topics = ['unrelated'];
  const none = await registerRunningVersion(ctx, plan, app, /^shop\./).then(() => assert.fail('registered'), (e: unknown) => e);
  assert.ok(none instanceof CdcViewsError);
  assert.equal(none.code, 'OPS_NO_TOPICS');
});
