/**
 * customer-cache: each customer rendered as a JSON document into the Redis
 * cache at `cache:<applicationId>:customer:<key>`, removed when the customer
 * is deleted.
 *
 * Its SQL definition (what the cache holds, evaluated on PostgreSQL) is the
 * view's `sql` below; the demo and the tests compare the cache with it.
 */
import type { Topology } from '../src/topology/topology.ts';

export function renderCustomer(row: Record<string, unknown>): Record<string, unknown> {
  const prefs = row.preferences as Record<string, unknown> | null;
  const language = prefs?.language;
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    tier: row.tier,
    marketingOptIn: row.marketing_opt_in,
    language: language === undefined || language === null ? null : typeof language === 'string' ? language : JSON.stringify(language), // as ->> renders it,
  };
}

const topology: Topology = {
  name: 'customer-cache',
  views: [
    {
      name: 'customer',
      table: 'public.customers',
      render: renderCustomer,
      sink: { kind: 'cache', prefix: 'cache:{app}:customer:' },
      sql: `SELECT json_build_object('id', id) AS _key, id, email, name, tier,
                   marketing_opt_in AS "marketingOptIn", preferences->>'language' AS language
              FROM public.customers`,
    },
  ],
};

export default topology;
