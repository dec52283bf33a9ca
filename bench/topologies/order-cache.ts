/**
 * The join benchmark's cache variant of topologies/order-search.ts: the same
 * view (orders ⨝ customers, with the line count and total of order_lines)
 * written to the cache instead of the search index.
 */
import { Decimal } from 'decimal.js';
import { StreamsBuilder } from 'cdc-views';
import { lineNet } from '../../topologies/order-search.ts';
import type { PublicCustomers, PublicOrderLines, PublicOrders } from '../../topologies/types/shop.ts';

const builder = new StreamsBuilder('bench-order-cache');
const orders = builder.table<PublicOrders>('public.orders');
const customers = builder.table<PublicCustomers>('public.customers');
const lines = builder.table<PublicOrderLines>('public.order_lines');

orders
  .view('order')
  .join(customers, {
    name: 'customer',
    key: (order) => ({ id: order.customer_id }),
    kind: 'left',
    joiner: (order, customer) => ({ id: order.id, status: order.status, customerId: order.customer_id, customerName: customer?.name ?? null, placedAt: order.placed_at }),
  })
  .rollup(lines, {
    name: 'lines',
    parentKey: (line) => ({ id: line.order_id }),
    aggregator: (order, children) => ({ ...order, lineCount: children.length, total: children.reduce((sum, l) => sum.plus(lineNet(l)), new Decimal(0)).toFixed(2) }),
  })
  .as('order')
  .toCache();

export default builder.build('bench/topologies/order-cache.ts');
