/**
 * Typed rows through the DSL. The `@ts-expect-error` lines are the test's
 * type-level assertions: `npm run typecheck` fails if one of them stops being
 * an error (a row type degraded to `Row` or `any`). The runtime assertions
 * check that the typed chain builds the plan it says.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamsBuilder, type StreamEvent } from 'cdc-views';

type Order = { id: number; customer_id: number; status: string; total: string };
type Customer = { id: number; name: string };
type Line = { order_id: number; line_no: number; sku: string; quantity: number };

test('row types flow through joins, roll-ups, mapValues, groupBy aggregates and streams', () => {
  const b = new StreamsBuilder('typed');
  const orders = b.table<Order>('public.orders');
  const customers = b.table<Customer>('public.customers');
  const lines = b.table<Line>('public.order_lines');

  orders
    .join(customers, {
      // @ts-expect-error customer_idd: the key extractor receives the typed root row
      key: (order) => ({ id: order.customer_idd }),
      joiner: (order, customer) => ({ id: order.id, name: customer?.name ?? null }),
    })
    .as('bad-key')
    .toCache();

  orders
    .join(customers, {
      key: (order) => ({ id: order.customer_id }),
      kind: 'left',
      // @ts-expect-error nmae: the joined row is a Customer
      joiner: (order, customer) => ({ id: order.id, named: customer?.nmae !== undefined }),
    })
    .as('bad-joiner')
    .toCache();

  orders
    .join(customers, { key: (order) => ({ id: order.customer_id }), joiner: (order, customer) => ({ id: order.id, name: customer?.name ?? null }) })
    .rollup(lines, {
      // @ts-expect-error orderid: the child row is a Line
      parentKey: (line) => ({ id: line.orderid }),
      aggregator: (value, children) => ({ ...value, quantity: children.reduce((n, l) => n + l.quantity, 0) }),
    })
    // @ts-expect-error quantityy: after the roll-up the value has quantity
    .mapValues((v) => ({ id: v.id, q: v.quantityy as number }))
    .as('bad-rollup')
    .toCache();

  // @ts-expect-error skuu: members of the group are Lines
  lines.groupBy((line) => ({ sku: line.skuu })).count().as('bad-group').toCache();
  lines
    .groupBy((line) => ({ sku: line.sku }))
    .aggregate((members) => ({ units: members.reduce((n, l) => n + l.quantity, 0) }))
    // @ts-expect-error unit: the aggregate's value has units
    .filter((v) => v.unit > 0)
    .as('bad-aggregate')
    .toCache();

  const shipped = b
    .stream<Order>('public.orders')
    // @ts-expect-error statuss: an event's after is an Order
    .filter((e: StreamEvent<Order>) => e.after?.statuss === 'shipped');
  shipped.as('bad-stream').toCache();

  const plan = b.build();
  assert.deepEqual(plan.views.map((v) => v.name), ['bad-key', 'bad-joiner', 'bad-rollup', 'bad-group', 'bad-aggregate', 'bad-stream']);
  assert.deepEqual(plan.views[2]!.ops.map((o) => `${o.op}:${o.name}`), ['join:public.customers', 'rollup:public.order_lines', 'mapValues:mapValues']);
  assert.equal(plan.views[3]!.root.kind, 'group');
  assert.equal(plan.views[5]!.root.kind, 'stream');
});
