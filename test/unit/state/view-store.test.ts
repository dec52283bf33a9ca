/**
 * The view bookkeeping store (src/state/view-store.ts) and its scripts
 * propagate.lua, render-view.lua and clear-dirty.lua, on a real Redis. Indexes
 * are seeded and read with the documented layout (src/state/keys.ts). Render
 * sequences are hybrid clocks (max(previous + 1, Redis' time in µs)): tests
 * that need exact sequences set the counter ahead of the clock.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { encodeStored } from '../../../src/state/encoding.ts';
import { MEMBER_SEPARATOR as SEP } from '../../../src/state/keys.ts';
import { scriptSource } from '../../../src/state/scripts.ts';
import { ViewStore, type RenderRead, type RenderShape } from '../../../src/state/view-store.ts';
import { fileRedis, K, key, newApp, partitionWriter, write, type TestApp } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.orders';
const ORDERS = 'public.orders';
const CUSTOMERS = 'public.customers';
const LINES = 'public.order_lines';
const V = 'order-search';
const ROOT = { kind: 'r', view: V, op: '' } as const;

/** An application whose partition 0 is acquired, with a helper applying writes (tables marked dirty). */
async function appWithState(t: TestContext): Promise<TestApp & { apply: (...writes: ReturnType<typeof write>[]) => Promise<void> }> {
  const app = newApp(t, redis);
  const p = await partitionWriter(app.state, TOPIC, 0);
  const apply = async (...writes: ReturnType<typeof write>[]): Promise<void> => {
    await p.apply((p.position ?? 0n) + 1n, writes, new Set([ORDERS, CUSTOMERS, LINES]));
  };
  return { ...app, apply };
}

const sorted = (m: Map<string, Set<string>>): Record<string, string[]> => Object.fromEntries([...m].map(([v, s]) => [v, [...s].sort()]));

test('propagate kind r: marks the root with a counter, clears the table mark that still holds the version', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 5n, { id: 1 }), write(ORDERS, 2, 6n, { id: 2 }));
  const marked = await views.propagate(ORDERS, [ROOT], [{ keyString: key(1), version: K(5), parents: [''] }]);
  assert.deepEqual(sorted(marked), { [V]: [key(1)] });
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(1)]: '1' });
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(2)]: K(6) }, 'only the propagated key is cleared');
  // A newer change marked key 2 again (version 9) before the propagation of version 6: its mark stays.
  await apply(write(ORDERS, 2, 9n, { id: 2, status: 'paid' }));
  await views.propagate(ORDERS, [ROOT], [{ keyString: key(2), version: K(6), parents: [''] }]);
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(2)]: K(9) });
  await views.propagate(ORDERS, [ROOT], [{ keyString: key(1), version: K(5), parents: [''] }, { keyString: key(2), version: K(9), parents: [''] }]);
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(1)]: '2', [key(2)]: '2' }, 'each propagation increments the counter');
  assert.equal(await redis.exists(keys.dirty(ORDERS)), 0);
});

test('propagate kind j: marks every root that read the joined key (reverse index), and only those', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const rev = keys.viewReverseIndex(V, '0');
  await redis.zadd(rev, 0, `${key(1)}${SEP}${key(100)}`, 0, `${key(1)}${SEP}${key(101)}`, 0, `${key(10)}${SEP}${key(102)}`, 0, `${key(2)}${SEP}${key(103)}`);
  await apply(write(CUSTOMERS, 1, 3n, { id: 1 }));
  const marked = await views.propagate(CUSTOMERS, [{ kind: 'j', view: V, op: '0' }], [{ keyString: key(1), version: K(3), parents: [''] }]);
  assert.deepEqual(sorted(marked), { [V]: [key(100), key(101)] });
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(100)]: '1', [key(101)]: '1' });
  assert.equal(await redis.exists(keys.dirty(CUSTOMERS)), 0);
  assert.equal(await redis.zcard(rev), 4, 'propagate reads the reverse index, render-view maintains it');
  const none = await views.propagate(CUSTOMERS, [{ kind: 'j', view: V, op: '0' }], [{ keyString: key(3), version: K(4), parents: [''] }]);
  assert.deepEqual(sorted(none), {});
});

test('propagate kind j: a key read by more roots than a page is marked page by page (one script call each); its table mark is cleared after the last page', async (t) => {
  const { keys, id, apply } = await appWithState(t);
  // A client of its own whose fan-out script counts its calls (Scripts keeps a command already defined on a client).
  const counting = redis.duplicate();
  t.after(() => counting.disconnect());
  const calls = `${keys.prefix}test-fan-out-calls`;
  counting.defineCommand('cdcvFanOut', { lua: `redis.call('INCR', '${calls}')\n${scriptSource('fan-out')}` });
  const views = new ViewStore(counting, id, { fanOutPage: 3 });
  const rev = keys.viewReverseIndex(V, '0');
  const readers = Array.from({ length: 8 }, (_, n) => key(100 + n));
  for (const r of readers) await redis.zadd(rev, 0, `${key(1)}${SEP}${r}`);
  await redis.zadd(rev, 0, `${key(2)}${SEP}${key(999)}`);
  await apply(write(CUSTOMERS, 1, 3n, { id: 1 }));
  const marked = await views.propagate(CUSTOMERS, [{ kind: 'j', view: V, op: '0' }], [{ keyString: key(1), version: K(3), parents: [''] }]);
  assert.deepEqual(sorted(marked), { [V]: [...readers].sort() }, 'every reader of key 1, none of key 2');
  assert.equal(await redis.get(calls), '2', 'propagate marked 3, then two fan-out calls: 3, then 2 (a short page ends it)');
  assert.equal(await redis.hlen(keys.viewDirty(V)), 8);
  assert.equal(await redis.exists(keys.dirty(CUSTOMERS)), 0, 'the table mark is cleared after the last page');
});

test('propagate kind j: a crash between pages leaves the table mark; propagating it again marks every reader', async (t) => {
  const { keys, id, views, apply } = await appWithState(t);
  const failing = redis.duplicate();
  t.after(() => failing.disconnect());
  failing.defineCommand('cdcvFanOut', { lua: "return redis.error_reply('killed')" });
  const rev = keys.viewReverseIndex(V, '0');
  const readers = Array.from({ length: 5 }, (_, n) => key(100 + n));
  for (const r of readers) await redis.zadd(rev, 0, `${key(1)}${SEP}${r}`);
  await apply(write(CUSTOMERS, 1, 3n, { id: 1 }));
  const change = [{ keyString: key(1), version: K(3), parents: [''] }];
  await assert.rejects(new ViewStore(failing, id, { fanOutPage: 2 }).propagate(CUSTOMERS, [{ kind: 'j', view: V, op: '0' }], change), /killed/);
  assert.equal(await redis.hlen(keys.viewDirty(V)), 2, 'the first page was marked');
  assert.deepEqual(await redis.hgetall(keys.dirty(CUSTOMERS)), { [key(1)]: K(3) }, 'the table mark stays');
  const marked = await views.propagate(CUSTOMERS, [{ kind: 'j', view: V, op: '0' }], change);
  assert.deepEqual(sorted(marked), { [V]: readers });
  assert.equal(await redis.exists(keys.dirty(CUSTOMERS)), 0);
});

test('propagate kind m: membership follows the parent; old and new parents are marked; "" leaves every group', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const dep = { kind: 'm', view: V, op: '1' } as const;
  const par = keys.viewParents(V, '1');
  const mem = keys.viewMembers(V, '1');
  const members = async (): Promise<string[]> => redis.zrange(mem, 0, -1);
  const line = key(7);
  // Each propagation follows the write it propagates: membership moves only while that version is the stored one.
  const change = async (offset: bigint, parent: string, row: Record<string, unknown> | null): Promise<Record<string, string[]>> => {
    await apply(write(LINES, 7, offset, row));
    return sorted(await views.propagate(LINES, [dep], [{ keyString: line, version: K(offset), parents: [parent] }]));
  };

  assert.deepEqual(await change(1n, key(1), { order_id: 1 }), { [V]: [key(1)] });
  assert.deepEqual(await redis.hgetall(par), { [line]: key(1) });
  assert.deepEqual(await members(), [`${key(1)}${SEP}${line}`]);

  // Same parent again: only that parent is marked, once.
  assert.deepEqual(await change(2n, key(1), { order_id: 1, q: 2 }), { [V]: [key(1)] });
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(1)]: '2' });

  // Moves to order 2: leaves order 1, both are marked.
  assert.deepEqual(await change(3n, key(2), { order_id: 2 }), { [V]: [key(1), key(2)] });
  assert.deepEqual(await redis.hgetall(par), { [line]: key(2) });
  assert.deepEqual(await members(), [`${key(2)}${SEP}${line}`]);
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(1)]: '3', [key(2)]: '1' });

  // No parent any more (deleted, or its parent key became null): leaves order 2, which is marked.
  assert.deepEqual(await change(4n, '', null), { [V]: [key(2)] });
  assert.equal(await redis.exists(par), 0);
  assert.deepEqual(await members(), []);
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(1)]: '3', [key(2)]: '2' });

  // Still none: nothing to mark.
  assert.deepEqual(await change(5n, '', { order_id: null }), {});
});

test('propagate kind m moves membership only while the stored version is the one propagated; its table mark stays', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const dep = { kind: 'm', view: V, op: '1' } as const;
  const line = key(7);
  await apply(write(LINES, 7, 1n, { order_id: 1 }));
  await views.propagate(LINES, [dep], [{ keyString: line, version: K(1), parents: [key(1)] }]);
  // A live write moved the line to order 3 (and marked it); a drain still holding version 1's parent (order 2) runs late.
  await apply(write(LINES, 7, 2n, { order_id: 3 }));
  const before = await redis.hgetall(keys.viewDirty(V));
  assert.deepEqual(sorted(await views.propagate(LINES, [dep], [{ keyString: line, version: K(1), parents: [key(2)] }])), {}, 'nothing marked');
  assert.deepEqual(await redis.hgetall(keys.viewParents(V, '1')), { [line]: key(1) }, 'not moved back to a stale parent');
  assert.deepEqual(await redis.zrange(keys.viewMembers(V, '1'), 0, -1), [`${key(1)}${SEP}${line}`]);
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), before);
  assert.deepEqual(await redis.hgetall(keys.dirty(LINES)), { [line]: K(2) }, 'the live write\'s mark is left for its own propagation');
  // A member that has no stored row at all (never applied) does not move either.
  assert.deepEqual(sorted(await views.propagate(LINES, [dep], [{ keyString: key(8), version: K(9), parents: [key(1)] }])), {});
  assert.equal(await redis.hget(keys.viewParents(V, '1'), key(8)), null);
  // Its own propagation then moves it.
  assert.deepEqual(sorted(await views.propagate(LINES, [dep], [{ keyString: line, version: K(2), parents: [key(3)] }])), { [V]: [key(1), key(3)] });
  assert.deepEqual(await redis.hgetall(keys.viewParents(V, '1')), { [line]: key(3) });
});

test('propagate: several dependencies of one table take their parents in order', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const deps = [ROOT, { kind: 'm', view: 'by-status', op: 'g' }, { kind: 'm', view: 'by-customer', op: 'g' }] as const;
  await apply(write(ORDERS, 1, 1n, { status: 'new', customer_id: 7 }), write(ORDERS, 2, 2n, { status: null, customer_id: 8 }));
  const marked = await views.propagate(ORDERS, deps, [
    { keyString: key(1), version: K(1), parents: ['', '{"status":"new"}', key(7)] },
    { keyString: key(2), version: K(2), parents: ['', '', key(8)] },
  ]);
  assert.deepEqual(sorted(marked), { [V]: [key(1), key(2)], 'by-status': ['{"status":"new"}'], 'by-customer': [key(7), key(8)] });
  assert.deepEqual(await redis.hgetall(keys.viewParents('by-status', 'g')), { [key(1)]: '{"status":"new"}' });
  assert.deepEqual(await redis.hgetall(keys.viewParents('by-customer', 'g')), { [key(1)]: key(7), [key(2)]: key(8) });
  assert.deepEqual(await redis.zrange(keys.viewMembers('by-customer', 'g'), 0, -1), [`${key(7)}${SEP}${key(1)}`, `${key(8)}${SEP}${key(2)}`]);
});

test('propagate without dependencies or changes touches nothing', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 1n, {}));
  assert.equal((await views.propagate(ORDERS, [], [{ keyString: key(1), version: K(1), parents: [] }])).size, 0);
  assert.equal((await views.propagate(ORDERS, [ROOT], [])).size, 0);
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: K(1) });
  assert.equal(await redis.exists(keys.viewDirty(V)), 0);
});

test('readRoots: stored version and live row; "" for an absent root, the version of a delete marker', async (t) => {
  const { views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 4n, { id: 1 }), write(ORDERS, 2, 12n, null));
  assert.deepEqual(await views.readRoots(ORDERS, [key(1), key(2), key(3)]), [
    { version: K(4), row: { id: 1 } },
    { version: K(12), row: null },
    { version: '', row: null },
  ]);
  assert.deepEqual(await views.readRoots(ORDERS, []), []);
});

const plain: RenderShape = { view: V, rootTable: ORDERS, hasRoot: true, joins: [], rollups: [] };

/** A read that is not a retry, with its sequence. */
function rendered(read: RenderRead | undefined): Extract<RenderRead, { retry: false }> {
  assert.ok(read && !read.retry, 'rendered, not retried');
  return read;
}

/** Redis' clock in µs, the floor of every new render sequence. */
async function clockMicros(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1e6 + Number(us);
}

test('render-view: retry when the root version differs (no sequence taken); "*" skips the check; "" expects no root', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 10n, { id: 1 }));
  assert.deepEqual(await views.readForRender(plain, [{ root: key(1), expectedVersion: K(9), joinKeys: [] }]), [{ retry: true }]);
  assert.deepEqual(await views.readForRender(plain, [{ root: key(1), expectedVersion: '', joinKeys: [] }]), [{ retry: true }]);
  assert.deepEqual(await views.readForRender(plain, [{ root: key(2), expectedVersion: K(10), joinKeys: [] }]), [{ retry: true }]);
  assert.equal(await redis.get(keys.seq(V)), null);
  const floor = await clockMicros();
  const [a] = await views.readForRender(plain, [{ root: key(1), expectedVersion: K(10), joinKeys: [] }]);
  const [b] = await views.readForRender(plain, [{ root: key(1), expectedVersion: '*', joinKeys: [] }]);
  const [c] = await views.readForRender(plain, [{ root: key(2), expectedVersion: '', joinKeys: [] }]);
  assert.deepEqual([a, b, c].map((r) => ({ ...rendered(r), seq: 0 })), [
    { retry: false, seq: 0, row: { id: 1 }, joined: [], members: [] },
    { retry: false, seq: 0, row: { id: 1 }, joined: [], members: [] },
    { retry: false, seq: 0, row: null, joined: [], members: [] },
  ]);
  const seqs = [a, b, c].map((r) => rendered(r).seq);
  assert.ok(seqs[0]! >= floor && seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `sequences from Redis' clock, strictly increasing: ${floor} ${seqs.join(' ')}`);
  assert.equal(await redis.get(keys.seq(V)), String(seqs[2]), 'the counter holds the last one');
  assert.deepEqual(await views.readForRender(plain, []), []);
});

test('render-view: one sequence per rendered root, in order, retries in between take none', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 1n, { id: 1 }), write(ORDERS, 2, 2n, { id: 2 }), write(ORDERS, 3, 3n, null));
  // A counter ahead of Redis' clock (by some 70 years; exact in a double): each root takes the previous + 1.
  const ahead = 4_000_000_000_000_041;
  await redis.set(keys.seq(V), String(ahead));
  const reads = await views.readForRender(plain, [
    { root: key(1), expectedVersion: K(1), joinKeys: [] },
    { root: key(2), expectedVersion: K(1), joinKeys: [] },
    { root: key(3), expectedVersion: K(3), joinKeys: [] },
  ]);
  assert.deepEqual(reads, [
    { retry: false, seq: ahead + 1, row: { id: 1 }, joined: [], members: [] },
    { retry: true },
    { retry: false, seq: ahead + 2, row: null, joined: [], members: [] },
  ]);
  assert.equal(await redis.get(keys.seq(V)), String(ahead + 2));
});

test('render-view: sequences keep increasing when the stored counter went back (Redis restored older data)', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(write(ORDERS, 1, 1n, { id: 1 }));
  const render = async (): Promise<number> => rendered((await views.readForRender(plain, [{ root: key(1), expectedVersion: '*', joinKeys: [] }]))[0]).seq;
  const issued = [await render(), await render(), await render()];
  // A failover to a lagging replica: the counter is what it was long ago.
  await redis.set(keys.seq(V), '5');
  issued.push(await render());
  await redis.del(keys.seq(V));
  issued.push(await render());
  for (let i = 1; i < issued.length; i++) assert.ok(issued[i]! > issued[i - 1]!, `sequence ${i} (${issued[i]}) above every earlier one (${issued[i - 1]})`);
  assert.ok(issued[3]! > 5, 'not the restored counter + 1');
});

test('render-view: joined rows, and the reverse index follows the join key (changed, then "")', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const shape: RenderShape = { view: V, rootTable: ORDERS, hasRoot: true, joins: [{ op: '0', table: CUSTOMERS }, { op: '2', table: 'public.shops' }], rollups: [] };
  const fk = keys.viewForeignKeys(V, '0');
  const rev = keys.viewReverseIndex(V, '0');
  await apply(write(ORDERS, 1, 1n, { id: 1 }), write(CUSTOMERS, 7, 2n, { id: 7, name: 'Zoë' }), write(CUSTOMERS, 8, 3n, null), write('public.shops', 7, 4n, { shop: 7 }));

  const first = rendered((await views.readForRender(shape, [{ root: key(1), expectedVersion: '*', joinKeys: [key(7), key(7)] }]))[0]);
  assert.deepEqual({ ...first, seq: 0 }, { retry: false, seq: 0, row: { id: 1 }, joined: [{ id: 7, name: 'Zoë' }, { shop: 7 }], members: [] });
  assert.deepEqual(await redis.hgetall(fk), { [key(1)]: key(7) });
  assert.deepEqual(await redis.zrange(rev, 0, -1), [`${key(7)}${SEP}${key(1)}`]);
  assert.deepEqual(await redis.zrange(keys.viewReverseIndex(V, '2'), 0, -1), [`${key(7)}${SEP}${key(1)}`], 'one index per join op');

  const moved = rendered((await views.readForRender(shape, [{ root: key(1), expectedVersion: '*', joinKeys: [key(8), ''] }]))[0]);
  assert.deepEqual({ ...moved, seq: 0 }, { retry: false, seq: 0, row: { id: 1 }, joined: [null, null], members: [] }, 'a deleted joined row and no join key both read as null');
  assert.ok(moved.seq > first.seq);
  assert.deepEqual(await redis.hgetall(fk), { [key(1)]: key(8) });
  assert.deepEqual(await redis.zrange(rev, 0, -1), [`${key(8)}${SEP}${key(1)}`]);
  assert.equal(await redis.exists(keys.viewReverseIndex(V, '2')), 0);

  await views.readForRender(shape, [{ root: key(1), expectedVersion: '*', joinKeys: ['', ''] }]);
  assert.equal(await redis.exists(fk), 0);
  assert.equal(await redis.exists(rev), 0);
  // A retried root does not touch the indexes.
  await views.readForRender(shape, [{ root: key(1), expectedVersion: K(99), joinKeys: [key(7), key(7)] }]);
  assert.equal(await redis.exists(fk), 0);
  assert.equal(await redis.exists(rev), 0);
});

test('render-view: roll-up members with their rows (deleted or absent ones null), only the root\'s own', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const shape: RenderShape = { view: V, rootTable: ORDERS, hasRoot: true, joins: [{ op: '0', table: CUSTOMERS }], rollups: [{ op: '1', table: LINES }] };
  const mem = keys.viewMembers(V, '1');
  await apply(write(ORDERS, 1, 1n, { id: 1 }), write(LINES, 11, 2n, { l: 11 }), write(LINES, 12, 3n, null), write(LINES, 21, 4n, { l: 21 }), write(CUSTOMERS, 5, 5n, { c: 5 }));
  await redis.zadd(mem, 0, `${key(1)}${SEP}${key(11)}`, 0, `${key(1)}${SEP}${key(12)}`, 0, `${key(1)}${SEP}${key(13)}`, 0, `${key(10)}${SEP}${key(21)}`);
  const read = rendered((await views.readForRender(shape, [{ root: key(1), expectedVersion: K(1), joinKeys: [key(5)] }]))[0]);
  assert.deepEqual(read.joined, [{ c: 5 }]);
  assert.deepEqual(read.members, [[[key(11), { l: 11 }], [key(12), null], [key(13), null]]]);
  const other = rendered((await views.readForRender(shape, [{ root: key(10), expectedVersion: '', joinKeys: [''] }]))[0]);
  assert.deepEqual({ ...other, seq: 0 }, { retry: false, seq: 0, row: null, joined: [null], members: [[[key(21), { l: 21 }]]] });
  assert.ok(other.seq > read.seq);
});

test('render-view: a group root reads no root row, its members first (op g), then its roll-ups', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  const shape: RenderShape = { view: 'by-sku', rootTable: LINES, hasRoot: false, joins: [], rollups: [{ op: 'g', table: LINES }, { op: '0', table: ORDERS }] };
  const group = '{"sku":"A"}';
  await apply(write(LINES, 1, 1n, { sku: 'A', q: 1 }), write(LINES, 2, 2n, { sku: 'A', q: 2 }), write(ORDERS, 9, 3n, { id: 9 }));
  await redis.zadd(keys.viewMembers('by-sku', 'g'), 0, `${group}${SEP}${key(1)}`, 0, `${group}${SEP}${key(2)}`);
  await redis.zadd(keys.viewMembers('by-sku', '0'), 0, `${group}${SEP}${key(9)}`);
  // The group key is not a row of the member table, and "*" is what the engine expects for a group.
  await redis.hset(keys.table(LINES), group, encodeStored(K(99), '0:0:99', { not: 'read' }));
  const read = rendered((await views.readForRender(shape, [{ root: group, expectedVersion: '*', joinKeys: [] }]))[0]);
  assert.deepEqual({ ...read, seq: 0 }, { retry: false, seq: 0, row: null, joined: [], members: [[[key(1), { sku: 'A', q: 1 }], [key(2), { sku: 'A', q: 2 }]], [[key(9), { id: 9 }]]] });
});

test('render-view: a root with 2,500 members reads them all (HMGET in chunks of 1,000)', async (t) => {
  const { keys, views } = await appWithState(t);
  const shape: RenderShape = { view: V, rootTable: ORDERS, hasRoot: false, joins: [], rollups: [{ op: 'g', table: LINES }] };
  const n = 2500;
  const group = '{"g":1}';
  const fields: string[] = [];
  const members: (string | number)[] = [];
  for (let i = 0; i < n; i++) {
    fields.push(key(i), encodeStored(K(i + 1), `0:0:${i + 1}`, { i }));
    members.push(0, `${group}${SEP}${key(i)}`);
  }
  await redis.hset(keys.table(LINES), ...fields);
  await redis.zadd(keys.viewMembers(V, 'g'), ...members);
  const read = rendered((await views.readForRender(shape, [{ root: group, expectedVersion: '*', joinKeys: [] }]))[0]);
  const pairs = read.members[0]!;
  assert.equal(pairs.length, n);
  const byKey = new Map(pairs);
  assert.equal(byKey.size, n);
  for (const i of [0, 999, 1000, 1001, 1999, 2000, 2499]) assert.deepEqual(byKey.get(key(i)), { i }, `member ${i}`);
  for (const [k, row] of pairs) assert.equal(k, key((row as { i: number }).i), 'each member with its own row');
});

test('clear-dirty removes only marks whose counter did not change; dirtyTokens reads them', async (t) => {
  const { keys, views } = await appWithState(t);
  await redis.hset(keys.viewDirty(V), key(1), '1', key(2), '3', key(3), '1');
  assert.deepEqual(await views.dirtyTokens(V, [key(1), key(2), key(9)]), ['1', '3', null]);
  assert.deepEqual(await views.dirtyTokens(V, []), []);
  assert.equal(await views.clearDirty(V, [[key(1), '1'], [key(2), '2'], [key(9), '1']]), 1);
  assert.deepEqual(await redis.hgetall(keys.viewDirty(V)), { [key(2)]: '3', [key(3)]: '1' });
  assert.equal(await views.clearDirty(V, []), 0);
  assert.equal(await views.clearDirty(V, [[key(2), '3'], [key(3), '1']]), 2);
  assert.equal(await redis.exists(keys.viewDirty(V)), 0);
});

test('tableMarks and viewMarks page through every mark; pendingMarks counts them over tables and views', async (t) => {
  const { keys, views, apply } = await appWithState(t);
  await apply(...Array.from({ length: 30 }, (_, i) => write(ORDERS, i, BigInt(i + 1), { i })), write(LINES, 1, 1n, {}));
  await redis.hset(keys.viewDirty(V), key(1), '1', key(2), '1');
  await redis.hset(keys.viewDirty('other'), key(1), '4');
  const all = async (pages: AsyncGenerator<[string, string][]>): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for await (const page of pages) {
      assert.ok(page.length > 0);
      for (const [k, v] of page) out.set(k, v);
    }
    return out;
  };
  const marks = await all(views.tableMarks(ORDERS, 4));
  assert.equal(marks.size, 30);
  assert.equal(marks.get(key(29)), K(30));
  assert.deepEqual([...(await all(views.viewMarks('other', 1)))], [[key(1), '4']]);
  assert.equal(await views.pendingMarks(), 30 + 1 + 2 + 1);
});
