/**
 * The topology of the Redis security tests: the sample pipeline's customers
 * with their shipping city (a join) and orders with their lines (a roll-up),
 * both to the cache sink only, so the run touches no dependency but Kafka and
 * the TLS Redis. Each view's `sql` is its definition on PostgreSQL.
 */
import { StreamsBuilder } from '../../../src/topology/dsl.ts';

const builder = new StreamsBuilder('redis-sec-views');
const customers = builder.table('public.customers');
const addresses = builder.table('public.addresses');
const orders = builder.table('public.orders');
const lines = builder.table('public.order_lines');

customers
  .view('customer-city')
  .join(addresses, {
    name: 'shipping',
    key: (c) => ({ customer_id: c.id, kind: 'shipping' }),
    kind: 'left',
    joiner: (c, a) => ({ id: c.id, name: c.name, shippingCity: a?.city ?? null }),
  })
  .as('customer-city', {
    sql: `SELECT json_build_object('id', c.id) AS _key, c.id, c.name, a.city AS "shippingCity"
            FROM public.customers c
            LEFT JOIN public.addresses a ON a.customer_id = c.id AND a.kind = 'shipping'`,
  })
  .toCache();

orders
  .view('order-lines')
  .rollup(lines, {
    name: 'lines',
    parentKey: (l) => ({ id: l.order_id }),
    aggregator: (o, children) => ({ id: o.id, status: o.status, lineCount: children.length }),
  })
  .as('order-lines', {
    sql: `SELECT json_build_object('id', o.id) AS _key, o.id::int8 AS id, o.status,
                 (SELECT count(*)::int FROM public.order_lines l WHERE l.order_id = o.id) AS "lineCount"
            FROM public.orders o`,
  })
  .toCache();

export default builder.build('test/integration/security/redis-views.ts');
