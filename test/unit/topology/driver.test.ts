/**
 * The example topologies and the join/roll-up/aggregate semantics, through the
 * broker-free TopologyTestDriver. Expected documents are written out from the
 * inputs by hand (the arithmetic is in the comments), not taken from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { TopologyTestDriver } from '../../../src/topology/test-driver.ts';
import customerCache from '../../../topologies/customer-cache.ts';
import orderSearch from '../../../topologies/order-search.ts';
import salesByProduct from '../../../topologies/sales-by-product.ts';

const customer = (id: number, name: string) => ({ id, email: `c${id}@example.com`, name, tier: null, marketing_opt_in: true, preferences: { lang: 'de' } });
const order = (id: number, customerId: number) => ({ id, customer_id: customerId, status: 'new', placed_at: '2026-01-02T03:04:05.000006Z' });
const line = (orderId: number, no: number, sku: string, qty: number, price: string, discount: string | null = null) =>
  ({ order_id: orderId, line_no: no, sku, quantity: qty, unit_price: price, discount });

test('order-search: left join on the customer, roll-up of lines; a customer change re-renders its orders', async (t) => {
  const d = await TopologyTestDriver.create(orderSearch);
  t.after(() => d.close());
  await d.upsert('public.orders', { id: 10 }, order(10, 1));
  // left join: no customer yet → rendered with customerName null; no lines → total 0.00
  assert.deepEqual(d.document('order-search', { id: 10 }), { id: 10, status: 'new', customerId: 1, customerName: null, placedAt: '2026-01-02T03:04:05.000006Z', lineCount: 0, total: '0.00' });
  await d.upsert('public.customers', { id: 1 }, customer(1, 'Zoë'));
  await d.upsert('public.order_lines', { order_id: 10, line_no: 1 }, line(10, 1, 'A', 3, '1.10'));
  await d.upsert('public.order_lines', { order_id: 10, line_no: 2 }, line(10, 2, 'B', 1, '10.00', '0.50'));
  // 3 × 1.10 + 1 × 10.00 − 0.50 = 12.80
  assert.equal(d.document('order-search', { id: 10 })?.total, '12.80');
  assert.equal(d.document('order-search', { id: 10 })?.lineCount, 2);
  assert.equal(d.document('order-search', { id: 10 })?.customerName, 'Zoë');
  await d.upsert('public.customers', { id: 1 }, customer(1, 'Zoë Ødegård'));
  assert.equal(d.document('order-search', { id: 10 })?.customerName, 'Zoë Ødegård', 'the referenced side changed → dependent re-rendered');
  await d.delete('public.customers', { id: 1 });
  assert.equal(d.document('order-search', { id: 10 })?.customerName, null, 'left join: re-rendered without the missing side');
});

test('order-search: a line moving to another order (key change) leaves the old order and joins the new one', async (t) => {
  const d = await TopologyTestDriver.create(orderSearch);
  t.after(() => d.close());
  await d.upsert('public.orders', { id: 1 }, order(1, 7));
  await d.upsert('public.orders', { id: 2 }, order(2, 7));
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 2, '5.00'));
  // Debezium's primary-key update: delete of the old key, create of the new key.
  await d.delete('public.order_lines', { order_id: 1, line_no: 1 });
  await d.upsert('public.order_lines', { order_id: 2, line_no: 1 }, line(2, 1, 'A', 2, '5.00'));
  assert.equal(d.document('order-search', { id: 1 })?.total, '0.00');
  assert.equal(d.document('order-search', { id: 2 })?.total, '10.00');
  // An order's foreign key changing: the order now reads another customer.
  await d.upsert('public.customers', { id: 8 }, customer(8, 'Li Lei'));
  await d.upsert('public.orders', { id: 1 }, order(1, 8));
  assert.equal(d.document('order-search', { id: 1 })?.customerName, 'Li Lei');
  await d.upsert('public.customers', { id: 7 }, customer(7, 'Someone'));
  assert.equal(d.document('order-search', { id: 1 })?.customerName, 'Li Lei', 'the old customer no longer re-renders order 1');
  await d.delete('public.orders', { id: 2 });
  assert.equal(d.document('order-search', { id: 2 }), undefined, 'root deleted → document removed');
});

test('inner join: no document while the other side is missing', async (t) => {
  const b = new StreamsBuilder('inner');
  b.table('public.orders')
    .view('o')
    .join(b.table('public.customers'), { key: (o) => ({ id: o.customer_id }), kind: 'inner', joiner: (o, c) => ({ id: o.id, name: c?.name }) })
    .toCache();
  const d = await TopologyTestDriver.create(b.build());
  t.after(() => d.close());
  await d.upsert('public.orders', { id: 1 }, order(1, 5));
  assert.equal(d.document('o', { id: 1 }), undefined);
  await d.upsert('public.customers', { id: 5 }, customer(5, 'José'));
  assert.deepEqual(d.document('o', { id: 1 }), { id: 1, name: 'José' });
  await d.delete('public.customers', { id: 5 });
  assert.equal(d.document('o', { id: 1 }), undefined, 'inner join: the document is removed with the other side');
});

test('customer-cache: shipping address joined by a composite foreign key', async (t) => {
  const d = await TopologyTestDriver.create(customerCache);
  t.after(() => d.close());
  await d.upsert('public.customers', { id: 3 }, customer(3, '李雷'));
  await d.upsert('public.addresses', { customer_id: 3, kind: 'billing' }, { customer_id: 3, kind: 'billing', city: 'Oslo', country: 'NO' });
  assert.equal(d.document('customer-cache', { id: 3 })?.shippingCity, null, 'billing is not the shipping address');
  await d.upsert('public.addresses', { customer_id: 3, kind: 'shipping' }, { customer_id: 3, kind: 'shipping', city: 'München', country: 'DE' });
  assert.equal(d.document('customer-cache', { id: 3 })?.shippingCity, 'München');
  assert.equal(d.document('customer-cache', { id: 3 })?.language, 'de');
});

test('sales-by-product: the aggregate follows inserts, updates, moves between groups and deletes', async (t) => {
  const d = await TopologyTestDriver.create(salesByProduct);
  t.after(() => d.close());
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 2, '3.00'));
  await d.upsert('public.order_lines', { order_id: 2, line_no: 1 }, line(2, 1, 'A', 1, '3.00', '0.25'));
  // A: 2 × 3.00 + 1 × 3.00 − 0.25 = 8.75
  assert.deepEqual(d.document('sales-by-product', { sku: 'A' }), { sku: 'A', orderLines: 2, quantity: 3, revenue: '8.75' });
  await d.upsert('public.order_lines', { order_id: 2, line_no: 1 }, line(2, 1, 'B', 1, '3.00', '0.25'));
  assert.deepEqual(d.document('sales-by-product', { sku: 'A' }), { sku: 'A', orderLines: 1, quantity: 2, revenue: '6.00' });
  assert.deepEqual(d.document('sales-by-product', { sku: 'B' }), { sku: 'B', orderLines: 1, quantity: 1, revenue: '2.75' });
  await d.delete('public.order_lines', { order_id: 1, line_no: 1 });
  assert.equal(d.document('sales-by-product', { sku: 'A' }), undefined, 'empty group → document removed');
});

test('groupBy count and exact sum', async (t) => {
  const b = new StreamsBuilder('g');
  b.table('public.order_lines').groupBy((l) => ({ sku: l.sku })).sum((l) => l.unit_price as string).as('sums').toCache();
  const d = await TopologyTestDriver.create(b.build());
  t.after(() => d.close());
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 1, '0.10'));
  await d.upsert('public.order_lines', { order_id: 1, line_no: 2 }, line(1, 2, 'A', 1, '0.20'));
  // 0.10 + 0.20 = 0.30 exactly (a float sum would be 0.30000000000000004)
  assert.deepEqual(d.document('sums', { sku: 'A' }), { count: 2, sum: '0.30' });
});

test('filter and mapValues; a filtered-out row removes its document', async (t) => {
  const b = new StreamsBuilder('f');
  b.table('public.customers').filter((c) => c.tier !== null).mapValues((c) => ({ name: c.name, tier: c.tier })).as('vip').toCache();
  const d = await TopologyTestDriver.create(b.build());
  t.after(() => d.close());
  await d.upsert('public.customers', { id: 1 }, { ...customer(1, 'A'), tier: 'gold' });
  assert.deepEqual(d.document('vip', { id: 1 }), { name: 'A', tier: 'gold' });
  await d.upsert('public.customers', { id: 1 }, { ...customer(1, 'A'), tier: null });
  assert.equal(d.document('vip', { id: 1 }), undefined);
});

test('stream: every change event in order; a filter keeps the last event that passed, mapValues shapes it', async (t) => {
  const b = new StreamsBuilder('s');
  b.stream('public.orders')
    .filter((e) => e.op === 'd' || e.before?.status !== e.after?.status)
    .mapValues((e) => ({ id: e.key.id, op: e.op, from: e.before?.status ?? null, to: e.after?.status ?? null }))
    .as('status-changes')
    .toCache();
  const d = await TopologyTestDriver.create(b.build());
  t.after(() => d.close());
  await d.upsert('public.orders', { id: 1 }, { ...order(1, 7), status: 'new' });
  assert.deepEqual(d.document('status-changes', { id: 1 }), { id: 1, op: 'c', from: null, to: 'new' });
  await d.upsert('public.orders', { id: 1 }, { ...order(1, 7), status: 'paid' });
  assert.deepEqual(d.document('status-changes', { id: 1 }), { id: 1, op: 'u', from: 'new', to: 'paid' });
  // An update that keeps the status does not pass the filter: the document keeps the last status change.
  await d.upsert('public.orders', { id: 1 }, { ...order(1, 8), status: 'paid' });
  assert.deepEqual(d.document('status-changes', { id: 1 }), { id: 1, op: 'u', from: 'new', to: 'paid' });
  // A delete passes and is rendered like any event (a stream does not remove documents unless mapValues returns null).
  await d.delete('public.orders', { id: 1 });
  assert.deepEqual(d.document('status-changes', { id: 1 }), { id: 1, op: 'd', from: 'paid', to: null });
});

test('a join on a stream is refused: joins need table state', () => {
  const b = new StreamsBuilder('s');
  b.stream('public.orders')
    .view('x')
    .join(b.table('public.customers'), { key: (o) => ({ id: o.customer_id }), joiner: (o) => o })
    .toCache();
  assert.throws(() => b.build(), /join public\.customers: a join needs table state: start the view from builder\.table\('public\.orders'\)/);
});

test('incremental roll-up: children folded per root with adder and subtractor, equal to the recompute form through moves, deletes and re-inserts', async (t) => {
  const b = new StreamsBuilder('r');
  const lines = b.table('public.order_lines');
  b.table('public.orders')
    .rollup(lines, {
      name: 'lines',
      parentKey: (l) => ({ id: l.order_id }),
      initializer: () => ({ lines: 0, units: 0 }),
      adder: (a, l) => ({ lines: a.lines + 1, units: a.units + (l.quantity as number) }),
      subtractor: (a, l) => ({ lines: a.lines - 1, units: a.units - (l.quantity as number) }),
      combine: (o, a) => ({ id: o.id, ...a }),
    })
    .as('incremental')
    .toCache();
  b.table('public.orders')
    .rollup(lines, { name: 'lines', parentKey: (l) => ({ id: l.order_id }), aggregator: (o, ls) => ({ id: o.id, lines: ls.length, units: ls.reduce((n, l) => n + (l.quantity as number), 0) }) })
    .as('recompute')
    .toCache();
  const d = await TopologyTestDriver.create(b.build());
  t.after(() => d.close());
  const both = (id: number) => [d.document('incremental', { id }), d.document('recompute', { id })];
  await d.upsert('public.orders', { id: 1 }, order(1, 7));
  assert.deepEqual(both(1), [{ id: 1, lines: 0, units: 0 }, { id: 1, lines: 0, units: 0 }], 'no child: the initializer');
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 2, '1.00'));
  await d.upsert('public.order_lines', { order_id: 1, line_no: 2 }, line(1, 2, 'B', 5, '1.00'));
  // A child arriving before its parent is counted and shows once the parent exists.
  await d.upsert('public.order_lines', { order_id: 2, line_no: 1 }, line(2, 1, 'C', 3, '1.00'));
  assert.deepEqual(both(1), [{ id: 1, lines: 2, units: 7 }, { id: 1, lines: 2, units: 7 }]);
  assert.deepEqual(both(2), [undefined, undefined]);
  await d.upsert('public.orders', { id: 2 }, order(2, 7));
  assert.deepEqual(both(2), [{ id: 2, lines: 1, units: 3 }, { id: 2, lines: 1, units: 3 }]);
  // A line moved to order 2 (its parent key changed), one updated in place, then deleted and re-inserted.
  await d.upsert('public.order_lines', { order_id: 1, line_no: 2 }, { ...line(1, 2, 'B', 5, '1.00'), order_id: 2 });
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 4, '1.00'));
  assert.deepEqual(both(1), [{ id: 1, lines: 1, units: 4 }, { id: 1, lines: 1, units: 4 }]);
  assert.deepEqual(both(2), [{ id: 2, lines: 2, units: 8 }, { id: 2, lines: 2, units: 8 }]);
  await d.delete('public.order_lines', { order_id: 1, line_no: 1 });
  assert.deepEqual(both(1), [{ id: 1, lines: 0, units: 0 }, { id: 1, lines: 0, units: 0 }], 'last child gone: the initializer again');
  await d.upsert('public.order_lines', { order_id: 1, line_no: 1 }, line(1, 1, 'A', 9, '1.00'));
  assert.deepEqual(both(1), [{ id: 1, lines: 1, units: 9 }, { id: 1, lines: 1, units: 9 }]);
  await d.delete('public.orders', { id: 2 });
  assert.deepEqual(both(2), [undefined, undefined], 'no root: no document');
});
