/**
 * order-search: one search document per order with its customer's name (a
 * foreign-key left join: orders → customers) and its line count and total
 * (a roll-up of order_lines), in the index `<applicationId>-order-search`.
 * The total is exact: a decimal string with 2 digits, as PostgreSQL computes it.
 */
import { Decimal } from 'decimal.js';
import { StreamsBuilder } from 'cdc-views';
import type { PublicCustomers, PublicOrderLines, PublicOrders } from './types/shop.ts';

const builder = new StreamsBuilder('order-search');
const orders = builder.table<PublicOrders>('public.orders');
const customers = builder.table<PublicCustomers>('public.customers');
const lines = builder.table<PublicOrderLines>('public.order_lines');

/** quantity × unit_price − discount of one order line. */
export const lineNet = (line: Pick<PublicOrderLines, 'unit_price' | 'quantity' | 'discount'>): Decimal =>
  new Decimal(line.unit_price).times(line.quantity).minus(line.discount ?? 0);

orders
  .view('order-search')
  .join(customers, {
    name: 'customer',
    key: (order) => ({ id: order.customer_id }),
    kind: 'left',
    joiner: (order, customer) => ({
      id: order.id,
      status: order.status,
      customerId: order.customer_id,
      customerName: customer?.name ?? null,
      placedAt: order.placed_at,
    }),
  })
  // Incremental: a line change subtracts the line as it was counted and adds it as it is now.
  .rollup(lines, {
    name: 'lines',
    parentKey: (line) => ({ id: line.order_id }),
    initializer: () => ({ lineCount: 0, total: '0.00' }),
    adder: (sum, l) => ({ lineCount: sum.lineCount + 1, total: new Decimal(sum.total).plus(lineNet(l)).toFixed(2) }),
    subtractor: (sum, l) => ({ lineCount: sum.lineCount - 1, total: new Decimal(sum.total).minus(lineNet(l)).toFixed(2) }),
    combine: (order, sum) => ({ ...order, ...sum }),
  })
  .as('order-search', {
    sql: `SELECT json_build_object('id', o.id) AS _key, o.id::int8 AS id, o.status, o.customer_id AS "customerId",
                 c.name AS "customerName",
                 to_char(o.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "placedAt",
                 (SELECT count(*)::int FROM public.order_lines l WHERE l.order_id = o.id) AS "lineCount",
                 (SELECT coalesce(sum(l.quantity * l.unit_price - coalesce(l.discount, 0)), 0)::numeric(14,2)::text
                    FROM public.order_lines l WHERE l.order_id = o.id) AS total
            FROM public.orders o
            LEFT JOIN public.customers c ON c.id = o.customer_id`,
  })
  .toSearchIndex({
    mappings: {
      properties: {
        id: { type: 'long' },
        status: { type: 'keyword' },
        customerId: { type: 'long' },
        customerName: { type: 'text', fields: { raw: { type: 'keyword' } } },
        placedAt: { type: 'date' },
        lineCount: { type: 'integer' },
        // _source keeps the exact decimal string; the index holds it as a double for range queries and sorting.
        total: { type: 'double' },
      },
    },
  });

export default builder.build('topologies/order-search.ts');
