/**
 * sales-by-product: an aggregate — one cache document per sku with the number
 * of order lines, the quantity sold and the revenue (exact), at Redis key
 * `cache:<applicationId>:sales-by-product:{"sku":"<sku>"}`. Incremental: each
 * change of a line subtracts the line as it was counted and adds it as it is
 * now, so a change costs the same however many lines the sku has. The
 * revenue is kept as a decimal string (the aggregate is stored as JSON).
 */
import { Decimal } from 'decimal.js';
import { StreamsBuilder } from 'cdc-views';
import { lineNet } from './order-search.ts';
import type { PublicOrderLines } from './types/shop.ts';

const builder = new StreamsBuilder('sales-by-product');

builder
  .table<PublicOrderLines>('public.order_lines')
  .groupBy((line) => ({ sku: line.sku }))
  .aggregate({
    initializer: () => ({ sku: '', orderLines: 0, quantity: 0, revenue: '0.00' }),
    adder: (sales, line) => ({
      sku: line.sku,
      orderLines: sales.orderLines + 1,
      quantity: sales.quantity + line.quantity,
      revenue: new Decimal(sales.revenue).plus(lineNet(line)).toFixed(2),
    }),
    subtractor: (sales, line) => ({
      ...sales,
      orderLines: sales.orderLines - 1,
      quantity: sales.quantity - line.quantity,
      revenue: new Decimal(sales.revenue).minus(lineNet(line)).toFixed(2),
    }),
  })
  .as('sales-by-product', {
    sql: `SELECT json_build_object('sku', sku) AS _key, sku, count(*)::int AS "orderLines",
                 sum(quantity)::int AS quantity,
                 sum(quantity * unit_price - coalesce(discount, 0))::numeric(14,2)::text AS revenue
            FROM public.order_lines GROUP BY sku`,
  })
  .toCache();

export default builder.build('topologies/sales-by-product.ts');
