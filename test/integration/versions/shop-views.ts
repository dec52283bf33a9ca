/**
 * The topology of the version tests (test-local, so the example topologies
 * keep their documents): views whose documents carry the workload's per-key
 * `rev` (schemas/shop.sql), so a reader can see a document move back to an
 * older version by its content, and whose counts show double counting.
 *
 * - `customer-rev` (cache): a customer with its shipping city (left join).
 * - `order-lines` (cache and search index): an order with the count and the
 *   quantity of its lines (roll-up).
 * - `sku-lines` (cache): per sku, the count and quantity of the order lines
 *   naming it (group-by).
 *
 * Each view's `sql` is its definition on PostgreSQL; the tests compare with it.
 */
import { StreamsBuilder } from '../../../src/topology/dsl.ts';

const builder = new StreamsBuilder('shop-views');
const customers = builder.table('public.customers');
const addresses = builder.table('public.addresses');
const orders = builder.table('public.orders');
const lines = builder.table('public.order_lines');

customers
  .view('customer-rev')
  .join(addresses, {
    name: 'shipping',
    key: (c) => ({ customer_id: c.id, kind: 'shipping' }),
    kind: 'left',
    joiner: (c, a) => ({ id: c.id, name: c.name, tier: c.tier, rev: c.rev, shippingCity: a?.city ?? null }),
  })
  .as('customer-rev', {
    sql: `SELECT json_build_object('id', c.id) AS _key, c.id, c.name, c.tier, c.rev, a.city AS "shippingCity"
            FROM public.customers c
            LEFT JOIN public.addresses a ON a.customer_id = c.id AND a.kind = 'shipping'`,
  })
  .toCache();

orders
  .view('order-lines')
  .rollup(lines, {
    name: 'lines',
    parentKey: (l) => ({ id: l.order_id }),
    aggregator: (o, children) => ({
      id: o.id,
      status: o.status,
      rev: o.rev,
      lineCount: children.length,
      quantity: children.reduce((q, l) => q + (l.quantity as number), 0),
    }),
  })
  .as('order-lines', {
    sql: `SELECT json_build_object('id', o.id) AS _key, o.id::int8 AS id, o.status, o.rev,
                 (SELECT count(*)::int FROM public.order_lines l WHERE l.order_id = o.id) AS "lineCount",
                 (SELECT coalesce(sum(l.quantity), 0)::int FROM public.order_lines l WHERE l.order_id = o.id) AS quantity
            FROM public.orders o`,
  })
  .toCache()
  .toSearchIndex();

lines
  .groupBy((l) => ({ sku: l.sku }))
  .aggregate((members) => ({
    sku: members[0]?.sku,
    orderLines: members.length,
    quantity: members.reduce((q, l) => q + (l.quantity as number), 0),
  }))
  .as('sku-lines', {
    sql: `SELECT json_build_object('sku', sku) AS _key, sku, count(*)::int AS "orderLines", sum(quantity)::int AS quantity
            FROM public.order_lines GROUP BY sku`,
  })
  .toCache();

export default builder.build('test/integration/versions/shop-views.ts');
