/**
 * sales-by-product: an aggregate — one cache document per sku with the number
 * of order lines, the quantity sold and the revenue (exact), at Redis key
 * `cache:<applicationId>:sales-by-product:{"sku":"<sku>"}`. Recomputed from
 * the sku's lines on every change of one of them.
 */
import { Decimal } from 'decimal.js';
import { StreamsBuilder } from 'cdc-views';
import { lineNet } from './order-search.ts';
import type { PublicOrderLines } from './types/shop.ts';

const builder = new StreamsBuilder('sales-by-product');

builder
  .table<PublicOrderLines>('public.order_lines')
  .groupBy((line) => ({ sku: line.sku }))
  .aggregate((members) => ({
    sku: members[0]?.sku,
    orderLines: members.length,
    quantity: members.reduce((q, l) => q + l.quantity, 0),
    revenue: members.reduce((sum, l) => sum.plus(lineNet(l)), new Decimal(0)).toFixed(2),
  }))
  .as('sales-by-product', {
    sql: `SELECT json_build_object('sku', sku) AS _key, sku, count(*)::int AS "orderLines",
                 sum(quantity)::int AS quantity,
                 sum(quantity * unit_price - coalesce(discount, 0))::numeric(14,2)::text AS revenue
            FROM public.order_lines GROUP BY sku`,
  })
  .toCache();

export default builder.build('topologies/sales-by-product.ts');
