/**
 * Shared pieces of the lake sink's integration tests: the lake's settings for
 * a test of its own (a unique prefix in the stack's s3proxy bucket), the
 * table folder on disk (s3proxy's filesystem backend stores each object as a
 * file, so Delta Kernel and DuckDB read the table where s3proxy keeps it),
 * and `public.orders` as PostgreSQL holds it in the canonical text forms the
 * independent readers print.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const STACK_DIR = process.env.CDCV_STACK_DIR ?? join(ROOT, '.stack');
export const S3_ENDPOINT = process.env.CDCV_S3_ENDPOINT ?? `http://127.0.0.1:${process.env.CDCV_S3_PORT ?? '9000'}`;
export const S3_BUCKET = process.env.CDCV_S3_BUCKET ?? 'cdcv-lake';
const S3_ACCESS_KEY = process.env.CDCV_S3_ACCESS_KEY ?? 'cdcv';
const S3_SECRET_KEY = process.env.CDCV_S3_SECRET_KEY ?? 'cdcv-secret';

/** The cdc-views settings of a lake under `prefix` in the stack's bucket, slices every `intervalMs`. */
export function lakeEnv(prefix: string, intervalMs = 5000): Record<string, string> {
  return {
    CDCV_LAKE_URL: `s3://${S3_BUCKET}/${prefix}`,
    CDCV_LAKE_S3_ENDPOINT: S3_ENDPOINT,
    CDCV_LAKE_S3_ACCESS_KEY_ID: S3_ACCESS_KEY,
    CDCV_LAKE_S3_SECRET_ACCESS_KEY: S3_SECRET_KEY,
    CDCV_LAKE_SLICE_INTERVAL_MS: String(intervalMs),
  };
}

/** Where s3proxy keeps the objects of a lake prefix on disk. */
export const lakeDir = (prefix: string): string => join(STACK_DIR, 's3proxy', 'data', S3_BUCKET, prefix);

/** The columns of public.orders as text, in the forms lake-check and DuckDB print (timestamps µs UTC with Z). */
export const ORDERS_AS_TEXT = `SELECT id::text AS id, customer_id::text AS customer_id, status, total::text AS total, currency,
  to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS placed_at,
  to_char(placed_local, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS placed_local, ship_by::text AS ship_by, note,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at, rev::text AS rev
  FROM public.orders ORDER BY id`;

/** Every row of public.orders as text, by id. */
export async function ordersInPostgres(connectionString: string): Promise<Map<string, Record<string, string | null>>> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string | null>>(ORDERS_AS_TEXT);
    return new Map(rows.map((r) => [r.id!, r]));
  } finally {
    await client.end();
  }
}

/** A row as text (numbers and bigints by their decimal form), without the cdc-views columns. */
export function asText(row: Record<string, unknown>, columns: readonly string[]): Record<string, string | null> {
  const text = (v: unknown): string | null => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v.toString();
    return JSON.stringify(v);
  };
  return Object.fromEntries(columns.map((c) => [c, text(row[c])]));
}

/** The differences between two maps of rows by id (at most 10 lines). */
export function differences(expected: Map<string, Record<string, string | null>>, actual: Map<string, Record<string, string | null>>): string[] {
  const out: string[] = [];
  for (const [id, e] of expected) {
    const a = actual.get(id);
    if (!a) out.push(`${id}: missing`);
    else if (JSON.stringify(a) !== JSON.stringify(e)) out.push(`${id}: ${JSON.stringify(a)} ≠ ${JSON.stringify(e)}`);
  }
  for (const id of actual.keys()) if (!expected.has(id)) out.push(`${id}: not in PostgreSQL`);
  return out.slice(0, 10);
}
