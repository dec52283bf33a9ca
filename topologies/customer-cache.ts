/**
 * customer-cache: one cache document per customer with its shipping address
 * (a foreign-key left join: customers → addresses at (id, 'shipping')), at
 * Redis key `cache:<applicationId>:customer-cache:{"id":<id>}`; removed when
 * the customer is deleted. The view's `sql` is its definition on PostgreSQL:
 * the demo and the tests compare the cache with it.
 */
import { StreamsBuilder } from 'cdc-views';
import type { PublicAddresses, PublicCustomers } from './types/shop.ts';

const builder = new StreamsBuilder('customer-cache');
const customers = builder.table<PublicCustomers>('public.customers');
const addresses = builder.table<PublicAddresses>('public.addresses');

customers
  .view('customer-cache')
  .join(addresses, {
    name: 'shipping-address',
    key: (customer) => ({ customer_id: customer.id, kind: 'shipping' }),
    kind: 'left',
    joiner: (customer, address) => {
      const prefs = customer.preferences as Record<string, unknown> | null;
      return {
        id: customer.id,
        email: customer.email,
        name: customer.name,
        tier: customer.tier,
        marketingOptIn: customer.marketing_opt_in,
        language: typeof prefs?.lang === 'string' ? prefs.lang : null,
        shippingCity: address?.city ?? null,
        shippingCountry: address?.country ?? null,
      };
    },
  })
  .as('customer-cache', {
    sql: `SELECT json_build_object('id', c.id) AS _key, c.id, c.email, c.name, c.tier,
                 c.marketing_opt_in AS "marketingOptIn",
                 CASE WHEN jsonb_typeof(c.preferences->'lang') = 'string' THEN c.preferences->>'lang' END AS language,
                 a.city AS "shippingCity", a.country AS "shippingCountry"
            FROM public.customers c
            LEFT JOIN public.addresses a ON a.customer_id = c.id AND a.kind = 'shipping'`,
  })
  .toCache();

export default builder.build('topologies/customer-cache.ts');
