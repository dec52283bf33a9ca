/**
 * Creates, seeds and drops the sample commerce database (schemas/shop.sql)
 * that the example topologies, the demo and the integration tests run on.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Rng } from './random.ts';
import {
  ADDRESS_KINDS, FEATURED_NAMES, ORDER_ID_BASE, ORDER_STATUSES,
  addressRow, customerRow, insertSql, lineNet, lineRow, orderLines, orderRow, personName, priceCents, productRow, skuOf,
  type SqlRow,
} from './data.ts';

/** The tables of the sample database, as `public.<table>`; all are in the publication. */
export const SAMPLE_TABLES = [
  'public.customers',
  'public.addresses',
  'public.products',
  'public.orders',
  'public.order_lines',
  'public.cdcv_watermark',
] as const;

/**
 * Debezium's signal table (`signal.data.collection`): in the publication and
 * writable by {@link REPLICATOR_ROLE} (the connector inserts its incremental-
 * snapshot watermarks), but not in {@link SAMPLE_TABLES}: it has no topic
 * until the first signal.
 */
export const SIGNAL_TABLE = 'public.cdcv_signal';

/** Name of the publication {@link createSampleDatabase} creates. */
export const SAMPLE_PUBLICATION = 'cdcv_pub';
/** Role Debezium connects as; created (REPLICATION LOGIN, password `cdcv`) when missing. */
export const REPLICATOR_ROLE = 'cdcv_replicator';

const SCHEMA_FILE = fileURLToPath(new URL('../../../schemas/shop.sql', import.meta.url));

/**
 * Connection string for `database` on the local server:
 * `postgres://<user>@<host>:<port>/<database>`, with host, port and user from
 * env `CDCV_PG_HOST` (default `127.0.0.1`), `CDCV_PG_PORT` (default `5432`),
 * `CDCV_PG_USER` (default `postgres`). Trust/peer auth is assumed (no password).
 */
export function sampleConnectionString(database: string): string {
  const host = process.env.CDCV_PG_HOST ?? '127.0.0.1';
  const port = process.env.CDCV_PG_PORT ?? '5432';
  const user = process.env.CDCV_PG_USER ?? 'postgres';
  return `postgres://${encodeURIComponent(user)}@${host}:${port}/${encodeURIComponent(database)}`;
}

/** The same connection string pointing at another database. */
export function withDatabase(connectionString: string, database: string): string {
  const u = new URL(connectionString);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Options of {@link createSampleDatabase} and {@link dropSampleDatabase}. */
export interface SampleDatabaseOptions {
  /**
   * Any connection string to the server (its database part is ignored: the
   * admin work runs in `postgres`, the seeding in `database`). Default:
   * {@link sampleConnectionString}.
   */
  connectionString?: string;
  /** Database to (re)create. It is dropped first if it exists. */
  database: string;
  /** Customers to seed (ids 1..n, ~1.25 addresses each). Default 200. */
  seedCustomers?: number;
  /** Products to seed (skus `SKU-0001`..). Default 50. */
  seedProducts?: number;
  /** Orders to seed (1–4 lines each, ids from 5,000,000,001). Default 300. */
  seedOrders?: number;
  /** PRNG seed; the same seed gives the same rows. Default 42. */
  seed?: number;
}

function adminUrl(opts: { connectionString?: string }): string {
  return withDatabase(opts.connectionString ?? sampleConnectionString('postgres'), 'postgres');
}

function checkName(database: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(database)) {
    throw new Error(`invalid database name ${JSON.stringify(database)}: use letters, digits and _ (max 63)`);
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Drops `database` if it exists: terminates its connections (including
 * walsenders of replication slots), drops the replication slots that belong
 * to it once they are inactive (retrying for up to ~10 s), then
 * `DROP DATABASE ... WITH (FORCE)`. Does nothing when it does not exist.
 *
 * @throws Error when the name is not a plain identifier, when a slot stays
 *   active for 10 s, or on any PostgreSQL error.
 */
export async function dropSampleDatabase(opts: { connectionString?: string; database: string }): Promise<void> {
  checkName(opts.database);
  await withClient(adminUrl(opts), async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database]);
    for (let attempt = 0; ; attempt++) {
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [opts.database]);
      await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active', [opts.database]);
      const left = await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [opts.database]);
      if (left.rowCount === 0) break;
      if (attempt >= 50) {
        throw new Error(`cannot drop database ${opts.database}: replication slot(s) ${left.rows.map((r) => r.slot_name).join(', ')} still active; stop the connector first`);
      }
      await sleep(200);
    }
    if (exists.rowCount !== 0) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(opts.database)} WITH (FORCE)`);
  });
}

/** The seeded rows, generated (without a database) from the options. */
export function sampleRows(opts: Pick<SampleDatabaseOptions, 'seedCustomers' | 'seedProducts' | 'seedOrders' | 'seed'>): Record<string, SqlRow[]> {
  const rng = new Rng(opts.seed ?? 42);
  const nCustomers = opts.seedCustomers ?? 200;
  const nProducts = opts.seedProducts ?? 50;
  const nOrders = opts.seedOrders ?? 300;

  const customers: SqlRow[] = [];
  const addresses: SqlRow[] = [];
  for (let id = 1; id <= nCustomers; id++) {
    customers.push(customerRow(rng, id, FEATURED_NAMES[id - 1] ?? personName(rng)));
    const nAddr = rng.weighted([0.2, 0.35, 0.45]);
    const kinds = [...ADDRESS_KINDS];
    for (let i = 0; i < nAddr; i++) {
      const kind = kinds.splice(rng.int(0, kinds.length - 1), 1)[0] as string;
      addresses.push(addressRow(rng, id, kind));
    }
  }

  const products: SqlRow[] = [];
  const prices: [string, number][] = [];
  for (let n = 1; n <= nProducts; n++) {
    const sku = skuOf(n);
    const price = priceCents(rng);
    prices.push([sku, price]);
    products.push(productRow(rng, sku, price));
  }

  const orders: SqlRow[] = [];
  const lines: SqlRow[] = [];
  for (let i = 1; i <= nOrders && nCustomers > 0 && nProducts > 0; i++) {
    const id = ORDER_ID_BASE + i;
    const ls = orderLines(rng, () => rng.pick(prices));
    const total = ls.reduce((s, l) => s + lineNet(l), 0);
    orders.push(orderRow(rng, id, rng.int(1, nCustomers), rng.pick(ORDER_STATUSES), total));
    for (const l of ls) lines.push(lineRow(id, l));
  }
  return { customers, addresses, products, orders, order_lines: lines };
}

/**
 * (Re)creates the sample database: drops it ({@link dropSampleDatabase}),
 * creates it, applies `schemas/shop.sql`, inserts the deterministic seed rows
 * ({@link sampleRows}: by default 200 customers, ~250 addresses, 50 products,
 * 300 orders with 1–4 lines each), creates the publication `cdcv_pub` for all
 * {@link SAMPLE_TABLES} and the {@link SIGNAL_TABLE}, creates the role
 * `cdcv_replicator` if it is missing and grants it SELECT on every table of
 * schema public and INSERT, DELETE on the signal table.
 *
 * Needs a superuser (or a role with CREATEDB and CREATEROLE) connection.
 *
 * @throws Error on an invalid database name or any PostgreSQL error.
 */
export async function createSampleDatabase(opts: SampleDatabaseOptions): Promise<void> {
  checkName(opts.database);
  await dropSampleDatabase(opts);
  const admin = adminUrl(opts);
  await withClient(admin, async (c) => {
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(opts.database)} ENCODING 'UTF8' TEMPLATE template0`);
    const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [REPLICATOR_ROLE]);
    if (role.rowCount === 0) {
      try {
        await c.query(`CREATE ROLE ${REPLICATOR_ROLE} REPLICATION LOGIN PASSWORD 'cdcv'`);
      } catch (err) {
        // a concurrent creator won the race
        if ((err as { code?: string }).code !== '42710') throw err;
      }
    }
  });
  const ddl = await readFile(SCHEMA_FILE, 'utf8');
  const rows = sampleRows(opts);
  await withClient(withDatabase(admin, opts.database), async (c) => {
    await c.query('BEGIN');
    await c.query(ddl);
    for (const [table, tableRows] of Object.entries(rows)) {
      for (let i = 0; i < tableRows.length; i += 500) {
        await c.query(insertSql(`public.${table}`, tableRows.slice(i, i + 500)));
      }
    }
    await c.query(`CREATE PUBLICATION ${SAMPLE_PUBLICATION} FOR TABLE ${[...SAMPLE_TABLES, SIGNAL_TABLE].join(', ')}`);
    await c.query(`GRANT USAGE ON SCHEMA public TO ${REPLICATOR_ROLE}`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${REPLICATOR_ROLE}`);
    await c.query(`GRANT INSERT, DELETE ON ${SIGNAL_TABLE} TO ${REPLICATOR_ROLE}`);
    await c.query('COMMIT');
  });
}
