/** Topology validation: one test per error class, each naming the node (and the file when known). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTopologyTables, StreamsBuilder, TopologyError } from '../../../src/topology/dsl.ts';
import { describeTopology } from '../../../src/topology/describe.ts';
import type { KeyFn } from '../../../src/topology/plan.ts';
import { loadTopology } from '../../../src/topology/load.ts';
import orderSearch from '../../../topologies/order-search.ts';

const expectTopologyError = (fn: () => unknown, node: RegExp, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TopologyError, `expected a TopologyError, got ${String(err)}`);
    assert.match(err.node, node);
    assert.match(err.message, message);
    return true;
  });
};

test('a view with no sink', () => {
  const b = new StreamsBuilder('t');
  b.table('public.customers').view('customers');
  expectTopologyError(() => b.build('topologies/t.ts'), /view customers/, /has no sink.*toCache/);
});

test('the error names the topology file', () => {
  const b = new StreamsBuilder('t');
  b.table('public.customers').view('customers');
  assert.throws(() => b.build('topologies/t.ts'), /topology t \(topologies\/t\.ts\)/);
});

test('a view without a name', () => {
  const b = new StreamsBuilder('t');
  b.table('public.customers').mapValues((r) => r).toCache();
  expectTopologyError(() => b.build(), /view #1 \(from public\.customers\)/, /has no name/);
});

test('a name clash between views', () => {
  const b = new StreamsBuilder('t');
  b.table('public.customers').view('dup').toCache();
  b.table('public.orders').view('dup').toCache();
  expectTopologyError(() => b.build(), /view dup/, /name clash/);
});

test('a name clash between two joins of one view', () => {
  const b = new StreamsBuilder('t');
  const c = b.table('public.customers');
  b.table('public.orders')
    .view('o')
    .join(c, { name: 'x', key: (o) => ({ id: o.customer_id }), joiner: (o) => o })
    .join(c, { name: 'x', key: (o) => ({ id: o.billing_id }), joiner: (o) => o })
    .toCache();
  expectTopologyError(() => b.build(), /join x/, /name clash/);
});

test('a join without a key extractor', () => {
  const b = new StreamsBuilder('t');
  const c = b.table('public.customers');
  b.table('public.orders')
    .view('o')
    .join(c, { key: undefined as unknown as KeyFn, joiner: (o) => o })
    .toCache();
  expectTopologyError(() => b.build(), /view o join public\.customers/, /without a key extractor/);
});

test('a roll-up without a parent key extractor', () => {
  const b = new StreamsBuilder('t');
  b.table('public.orders')
    .view('o')
    .rollup(b.table('public.order_lines'), { parentKey: undefined as unknown as KeyFn, aggregator: (o) => o })
    .toCache();
  expectTopologyError(() => b.build(), /rollup public\.order_lines/, /parent key extractor/);
});

test('a table name that is not <schema>.<table>', () => {
  expectTopologyError(() => new StreamsBuilder('t').table('customers'), /table\("customers"\)/, /<schema>\.<table>/);
});

test('an unknown topic: a table no subscribed topic carries', () => {
  expectTopologyError(
    () => resolveTopologyTables(orderSearch, ['shop.public.orders', 'shop.public.customers'], '/^shop\\./'),
    /table public\.order_lines/,
    /unknown topic/,
  );
  assert.deepEqual(
    resolveTopologyTables(orderSearch, ['shop.public.orders', 'shop.public.customers', 'shop.public.order_lines', 'shop.public.products'], '/^shop\\./'),
    new Map([
      ['public.customers', 'shop.public.customers'],
      ['public.order_lines', 'shop.public.order_lines'],
      ['public.orders', 'shop.public.orders'],
    ]),
  );
});

test('two connectors carrying the same table: refused, naming both topics', () => {
  expectTopologyError(
    () => resolveTopologyTables(orderSearch, ['a.public.orders', 'b.public.orders', 'a.public.customers', 'a.public.order_lines'], '/\\.public\\./'),
    /table public\.orders/,
    /2 topics carry public\.orders \(a\.public\.orders, b\.public\.orders\)/,
  );
});

test('a topology file without a default export names the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cdcv-'));
  const file = join(dir, 'empty.ts');
  await writeFile(file, 'export const x = 1;\n');
  await assert.rejects(loadTopology(file), (err: Error) => err.message.includes(file) && /no default export/.test(err.message));
});

test('describe prints sources, views, operations and sinks', () => {
  const text = describeTopology(orderSearch);
  for (const part of ['public.orders', 'public.customers', 'public.order_lines', 'left join customer', 'roll-up lines', 'search index {app}-order-search']) {
    assert.ok(text.includes(part), `describe mentions ${part}:\n${text}`);
  }
});
