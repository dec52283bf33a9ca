/**
 * The fold step of incremental aggregates (src/runtime/aggregate-step.ts) and
 * its script fold-aggregate.lua: the decisions as pure functions, then
 * exactly-once on a real Redis — folds redone, re-sent older changes, races
 * between two folds of one member or one group, a crash before the commit.
 * Aggregates are read back from the documented layout (src/state/keys.ts,
 * src/state/encoding.ts), not through the fold's own reads.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Row } from '../../../src/cdc/types.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { computeFold, decideFold, foldMembers, MAX_FOLD_ATTEMPTS, type FoldTarget } from '../../../src/runtime/aggregate-step.ts';
import { encodeContribution, encodeStored } from '../../../src/state/encoding.ts';
import type { FoldRead, ViewStateStore } from '../../../src/state/view-store.ts';
import type { Aggregator } from '../../../src/topology/plan.ts';
import { fileRedis, K, key, newApp, partitionWriter, snapshot, write, type PartitionWriter, type TestApp } from '../state/helpers.ts';

const redis = await fileRedis();
const LINES = 'public.order_lines';
const TOPIC = 'demo.public.order_lines';
const VIEW = 'per-sku';
const AGG_TABLE = `view:${VIEW}`;
const sku = (s: string): string => `{"sku":"${s}"}`;
const line = (id: number, s: string | null, qty: number): Row => ({ id, sku: s, quantity: qty });

/** `{ count, quantity }` per sku, and a log of the calls (to check their order). */
function target(calls: string[] = []): FoldTarget {
  const aggregator: Aggregator = {
    initializer: () => ({ count: 0, quantity: 0 }),
    adder: (agg, row) => {
      calls.push(`+${String(row.id)}`);
      const a = agg as { count: number; quantity: number };
      return { count: a.count + 1, quantity: a.quantity + (row.quantity as number) };
    },
    subtractor: (agg, row) => {
      calls.push(`-${String(row.id)}`);
      const a = agg as { count: number; quantity: number };
      return { count: a.count - 1, quantity: a.quantity - (row.quantity as number) };
    },
  };
  return { view: VIEW, op: 'g', key: (row) => (row.sku === null ? null : { sku: row.sku }), aggregator, memberTable: LINES, aggregateTable: AGG_TABLE };
}

const read = (member: number, version: string, row: Row | null, counted: { version: string; group: string; row: Row } | null, token: string | null = '1'): FoldRead => ({
  member: key(member),
  token,
  version,
  row,
  counted: counted === null ? null : encodeContribution(counted),
});

test('decideFold: nothing to do when counted at the stored version, or neither stored nor counted', () => {
  const t = target();
  assert.equal(decideFold(read(1, K(5), line(1, 'A', 2), { version: K(5), group: sku('A'), row: line(1, 'A', 2) }), t.key), null);
  assert.equal(decideFold(read(1, '', null, null), t.key), null, 'absent and not counted');
  assert.equal(decideFold(read(1, K(5), null, null), t.key), null, 'a delete marker never counted');
  assert.equal(decideFold(read(1, K(5), line(1, null, 2), null), t.key), null, 'in no group and not counted');
});

test('decideFold: a new member is added, a moved one subtracted from its old group and added to the new one, a deleted one subtracted', () => {
  const t = target();
  const fresh = decideFold(read(1, K(5), line(1, 'A', 2), null), t.key);
  assert.deepEqual([fresh?.counted, fresh?.next], [null, { version: K(5), group: sku('A'), row: line(1, 'A', 2) }]);
  const moved = decideFold(read(1, K(7), line(1, 'B', 3), { version: K(5), group: sku('A'), row: line(1, 'A', 2) }), t.key);
  assert.deepEqual([moved?.counted?.group, moved?.counted?.row, moved?.next?.group, moved?.next?.version], [sku('A'), line(1, 'A', 2), sku('B'), K(7)]);
  const deleted = decideFold(read(1, K(9), null, { version: K(7), group: sku('B'), row: line(1, 'B', 3) }), t.key);
  assert.deepEqual([deleted?.counted?.group, deleted?.next], [sku('B'), null]);
  const leaves = decideFold(read(1, K(9), line(1, null, 3), { version: K(7), group: sku('B'), row: line(1, 'B', 3) }), t.key);
  assert.deepEqual([leaves?.counted?.group, leaves?.next], [sku('B'), null], 'a null group key leaves every group');
});

test('computeFold: an update in the same group subtracts the counted row, then adds the new one; the last member leaving removes the group', () => {
  const calls: string[] = [];
  const t = target(calls);
  const storedA = encodeStored('00000000000000000003', '2', { count: 2, quantity: 5 });
  const { commit, failed } = computeFold(
    t,
    [read(1, K(8), line(1, 'A', 4), { version: K(5), group: sku('A'), row: line(1, 'A', 2) }), read(2, K(9), null, { version: K(6), group: sku('B'), row: line(2, 'B', 1) })],
    [sku('A'), sku('B')],
    [storedA, encodeStored('00000000000000000004', '1', { count: 1, quantity: 1 })],
  );
  assert.deepEqual(failed, []);
  assert.deepEqual(calls, ['-1', '+1', '-2']);
  assert.deepEqual(commit.groups, [
    { group: sku('A'), read: storedA, members: 2, aggregate: { count: 2, quantity: 7 } },
    { group: sku('B'), read: encodeStored('00000000000000000004', '1', { count: 1, quantity: 1 }), members: 0, aggregate: null },
  ]);
  assert.deepEqual(
    commit.members.map((m) => [m.member, m.next]),
    [
      [key(1), encodeContribution({ version: K(8), group: sku('A'), row: line(1, 'A', 4) })],
      [key(2), null],
    ],
  );
});

test('computeFold: a group with no member starts from the initializer; members already counted keep their contribution', () => {
  const t = target();
  const counted = { version: K(3), group: sku('A'), row: line(3, 'A', 1) };
  const { commit } = computeFold(t, [read(1, K(5), line(1, 'C', 2), null), read(2, K(6), line(2, 'C', 3), null), read(3, K(3), line(3, 'A', 1), counted)], [sku('C')], [null]);
  assert.deepEqual(commit.groups, [{ group: sku('C'), read: null, members: 2, aggregate: { count: 2, quantity: 5 } }]);
  assert.equal(commit.members[2]!.next, commit.members[2]!.read, 'already counted: unchanged');
  assert.equal(commit.members[2]!.token, '1', 'its fold mark is cleared');
});

test('computeFold: a member whose adder throws changes no group and keeps its contribution; the others are folded', () => {
  const t = target();
  const adder = t.aggregator.adder;
  t.aggregator.adder = (agg, row) => {
    if (row.id === 2) throw new Error('bad line');
    return adder(agg, row);
  };
  const counted = { version: K(1), group: sku('A'), row: line(2, 'A', 1) };
  const { commit, failed } = computeFold(t, [read(1, K(5), line(1, 'A', 2), null), read(2, K(6), line(2, 'B', 9), counted)], [sku('A'), sku('B')], [encodeStored('00000000000000000001', '1', { count: 1, quantity: 1 }), null]);
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.keyString, key(2));
  assert.equal(failed[0]!.error.code, 'RENDER_FAILED');
  assert.equal((failed[0]!.error.cause as Error).message, 'bad line');
  assert.deepEqual(failed[0]!.inputs, { member: { table: LINES, key: key(2), version: K(6) }, counted: K(1) });
  assert.match(failed[0]!.error.message, /view per-sku, member \{"id":2\}: the topology's code threw while folding it into its group: bad line/);
  assert.deepEqual(commit.members[1], { member: key(2), read: encodeContribution(counted), next: encodeContribution(counted), token: '1' });
  assert.deepEqual(
    commit.groups.map((g) => [g.group, g.members, g.aggregate]),
    [
      [sku('A'), 2, { count: 2, quantity: 3 }],
      [sku('B'), 0, null],
    ],
  );
});

test('computeFold: members counted already render their group once; an absent, uncounted member changes nothing', () => {
  const t = target();
  const a1 = { version: K(1), group: sku('A'), row: line(1, 'A', 1) };
  const a2 = { version: K(2), group: sku('A'), row: line(2, 'A', 1) };
  const { commit } = computeFold(t, [read(1, K(1), line(1, 'A', 1), a1), read(2, K(2), line(2, 'A', 1), a2), read(3, '', null, null)], [], []);
  assert.deepEqual(commit.render, [sku('A')]);
  assert.deepEqual(commit.groups, []);
  assert.deepEqual(commit.members[2], { member: key(3), read: null, next: null, token: '1' });
});

test('computeFold: a contribution whose group has no stored aggregate is not subtracted from it (nothing to subtract from)', () => {
  const calls: string[] = [];
  const { commit } = computeFold(target(calls), [read(1, K(5), line(1, 'B', 2), { version: K(1), group: sku('A'), row: line(1, 'A', 2) })], [sku('A'), sku('B')], [null, null]);
  assert.deepEqual(calls, ['+1']);
  assert.deepEqual(
    commit.groups.map((g) => [g.group, g.members, g.aggregate]),
    [
      [sku('A'), 0, null],
      [sku('B'), 1, { count: 1, quantity: 2 }],
    ],
  );
});

// ---- On a real Redis -------------------------------------------------------

interface Rig {
  app: TestApp;
  writer: PartitionWriter;
  /** Applies line changes (offset = version) and marks the changed members in the fold inbox, as propagate does. */
  change(...changes: [id: number, offset: number, row: Row | null][]): Promise<void>;
  /** The aggregate of a sku as stored: members and JSON, read from the documented layout. */
  aggregate(s: string): Promise<{ members: number; value: unknown } | null>;
}

async function rig(t: TestContext): Promise<Rig> {
  const app = newApp(t, redis);
  const writer = await partitionWriter(app.state, TOPIC, 0);
  return {
    app,
    writer,
    change: async (...changes) => {
      const writes = changes.map(([id, offset, row]) => write(LINES, id, offset, row));
      const { flags } = await writer.apply(BigInt(Math.max(...changes.map((c) => c[1]))) + 1n, writes, new Set([LINES]));
      const applied = writes.filter((_, i) => flags[i] === '1');
      await app.views.propagate(LINES, [{ kind: 'a', view: VIEW, op: 'g' }], applied.map((w) => ({ keyString: w.keyString, version: w.version, parents: [''] })));
    },
    aggregate: async (s) => {
      const raw = await redis.hget(app.keys.table(AGG_TABLE), sku(s));
      if (raw === null) return null;
      const [, members, json] = raw.split('\n');
      return { members: Number(members), value: JSON.parse(json!) as unknown };
    },
  };
}

const inbox = (r: Rig): Promise<Record<string, string>> => redis.hgetall(r.app.keys.viewFoldInbox(VIEW, 'g'));

test('foldMembers: each change is counted once; a fold redone, or a re-sent older change marked again, changes nothing', async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)], [2, 2, line(2, 'A', 3)], [3, 3, line(3, 'B', 1)]);
  const out = await foldMembers(r.app.views, target(), [key(1), key(2), key(3)]);
  assert.deepEqual(out.groups.sort(), [sku('A'), sku('B')]);
  assert.deepEqual(await r.aggregate('A'), { members: 2, value: { count: 2, quantity: 5 } });
  assert.deepEqual(await inbox(r), {}, 'fold marks cleared');
  assert.deepEqual(await redis.hgetall(r.app.keys.viewDirty(VIEW)), { [sku('A')]: '1', [sku('B')]: '1' }, 'groups marked for render');

  const unchanged = async (): Promise<Record<string, unknown>> => {
    const all = await snapshot(redis, r.app.keys);
    for (const k of [r.app.keys.positions, r.app.keys.stats, r.app.keys.viewDirty(VIEW)]) delete all[k];
    return all;
  };
  const before = await unchanged();
  const redone = await foldMembers(r.app.views, target(), [key(1), key(2)]);
  assert.deepEqual(redone.groups, [sku('A')], 'redone: nothing folded; the group is rendered again');
  // An older change of line 1 re-sent (skipped by the version guard), and a drain marking it again.
  await r.change([1, 0, line(1, 'A', 100)]);
  await redis.hincrby(r.app.keys.viewFoldInbox(VIEW, 'g'), key(1), 1);
  await foldMembers(r.app.views, target(), [key(1)]);
  assert.deepEqual(await unchanged(), before, 'the aggregates, contributions, revisions and fold marks are unchanged');
  assert.deepEqual(await redis.hgetall(r.app.keys.viewDirty(VIEW)), { [sku('A')]: '3', [sku('B')]: '1' }, 'A marked for render again (twice)');

  // Move, update in place, delete.
  await r.change([1, 10, line(1, 'B', 2)], [2, 11, line(2, 'A', 7)], [3, 12, null]);
  await foldMembers(r.app.views, target(), [key(1), key(2), key(3)]);
  assert.deepEqual(await r.aggregate('A'), { members: 1, value: { count: 1, quantity: 7 } });
  assert.deepEqual(await r.aggregate('B'), { members: 1, value: { count: 1, quantity: 2 } });
  await r.change([2, 13, null]);
  await foldMembers(r.app.views, target(), [key(2)]);
  assert.equal(await r.aggregate('A'), null, 'no member left: the aggregate is removed');
  assert.equal(await redis.hget(r.app.keys.viewContributions(VIEW, 'g'), key(2)), null);
  // Revisions: A and B twice each; a removal takes none.
  assert.equal(await redis.get(r.app.keys.viewAggregateRev(VIEW, 'g')), '4');
  assert.equal((await redis.hget(r.app.keys.table(AGG_TABLE), sku('B')))!.split('\n').slice(0, 2).join(' '), '00000000000000000004 1', 'a 20-digit revision and the member count');
});

/** A store that runs `between` after the fold's reads and before its commit (a racing instance), for the first `times` commits. */
function racing(inner: ViewStateStore, between: () => Promise<void>, times = 1): ViewStateStore & { commits: number } {
  let left = times;
  const store = {
    commits: 0,
    propagate: inner.propagate.bind(inner),
    readRoots: inner.readRoots.bind(inner),
    readForRender: inner.readForRender.bind(inner),
    dirtyTokens: inner.dirtyTokens.bind(inner),
    clearDirty: inner.clearDirty.bind(inner),
    readFold: inner.readFold.bind(inner),
    readAggregates: inner.readAggregates.bind(inner),
    commitFold: async (...a: Parameters<ViewStateStore['commitFold']>) => {
      store.commits++;
      if (left-- > 0) await between();
      return inner.commitFold(...a);
    },
  };
  return store;
}

test('foldMembers: no member, no Redis call; a member whose group key throws goes to failed, the others are folded', async (t) => {
  const none = new Proxy({} as ViewStateStore, { get: () => () => assert.fail('no store call expected') });
  assert.deepEqual(await foldMembers(none, target(), []), { groups: [], failed: [] });
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)], [2, 2, line(2, 'A', 3)]);
  const fragile = target();
  const key0 = fragile.key;
  fragile.key = (row) => {
    if (row.id === 2) throw new Error('no sku');
    return key0(row);
  };
  const out = await foldMembers(r.app.views, fragile, [key(1), key(2)]);
  assert.deepEqual(out.failed.map((f) => [f.keyString, f.error.code]), [[key(2), 'RENDER_FAILED']]);
  assert.deepEqual(await r.aggregate('A'), { members: 1, value: { count: 1, quantity: 2 } });
  assert.deepEqual(await inbox(r), {}, 'both fold marks cleared: the failed member is folded by its next change');
});

test('two folds of the same member race: one commits, the other reads again and finds it counted', async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)]);
  const store = racing(r.app.views, async () => void (await foldMembers(r.app.views, target(), [key(1)])));
  await foldMembers(store, target(), [key(1)]);
  assert.equal(store.commits, 2, 'the first commit lost and was redone');
  assert.deepEqual(await r.aggregate('A'), { members: 1, value: { count: 1, quantity: 2 } });
});

test('two folds into the same group race: both members are counted, neither update is lost', async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)], [2, 2, line(2, 'A', 3)]);
  const store = racing(r.app.views, async () => void (await foldMembers(r.app.views, target(), [key(2)])));
  await foldMembers(store, target(), [key(1)]);
  assert.deepEqual(await r.aggregate('A'), { members: 2, value: { count: 2, quantity: 5 } });
});

test('a crash before the commit writes nothing; the fold marks stay and the next fold counts each change once', async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)], [2, 2, line(2, 'B', 3)]);
  const crashing = racing(r.app.views, () => Promise.reject(new Error('killed')));
  const before = await snapshot(redis, r.app.keys);
  await assert.rejects(foldMembers(crashing, target(), [key(1), key(2)]), /killed/);
  assert.deepEqual(await snapshot(redis, r.app.keys), before, 'nothing written');
  assert.deepEqual(Object.keys(await inbox(r)).sort(), [key(1), key(2)]);
  await foldMembers(r.app.views, target(), [key(1), key(2)]);
  assert.deepEqual([await r.aggregate('A'), await r.aggregate('B')], [
    { members: 1, value: { count: 1, quantity: 2 } },
    { members: 1, value: { count: 1, quantity: 3 } },
  ]);
});

test('a member changed again while it was folded keeps its fold mark (the newer change is folded next)', async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)]);
  const store = racing(r.app.views, () => r.change([1, 5, line(1, 'A', 9)]));
  await foldMembers(store, target(), [key(1)]);
  assert.deepEqual(await r.aggregate('A'), { members: 1, value: { count: 1, quantity: 2 } }, 'the version read was folded');
  assert.deepEqual(Object.keys(await inbox(r)), [key(1)], 'marked again by the newer change');
  await foldMembers(r.app.views, target(), [key(1)]);
  assert.deepEqual(await r.aggregate('A'), { members: 1, value: { count: 1, quantity: 9 } });
  assert.deepEqual(await inbox(r), {});
});

test(`inputs that keep changing give up after ${MAX_FOLD_ATTEMPTS} attempts with RENDER_CONTENDED (retriable); nothing is lost`, async (t) => {
  const r = await rig(t);
  await r.change([1, 1, line(1, 'A', 2)]);
  let n = 0;
  const store = racing(
    r.app.views,
    async () => {
      n++;
      await r.change([2 + n, 1 + n, line(2 + n, 'A', 1)]);
      await foldMembers(r.app.views, target(), [key(2 + n)]);
    },
    Number.POSITIVE_INFINITY,
  );
  await assert.rejects(foldMembers(store, target(), [key(1)]), (err: unknown) => err instanceof CdcViewsError && err.code === 'RENDER_CONTENDED' && err.retriable && /members kept changing/.test(err.message));
  assert.equal(store.commits, MAX_FOLD_ATTEMPTS);
  assert.ok(Object.keys(await inbox(r)).includes(key(1)), 'line 1 stays marked');
  await foldMembers(r.app.views, target(), [key(1)]);
  assert.deepEqual(await r.aggregate('A'), { members: 1 + MAX_FOLD_ATTEMPTS, value: { count: 1 + MAX_FOLD_ATTEMPTS, quantity: 2 + MAX_FOLD_ATTEMPTS } });
});
