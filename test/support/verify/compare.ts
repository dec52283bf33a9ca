/** Value-by-value comparison of derived state with its source. */
import { isDeepStrictEqual } from 'node:util';
import type { Row } from '../../../src/cdc/types.ts';
import type { Client } from 'pg';
import type { Redis } from 'ioredis';
import { Client as SearchClient } from '@opensearch-project/opensearch';
import { canonicalKeyString } from '../../../src/cdc/keys.ts';
import type { StateStore } from '../../../src/state/store.ts';
import type { ViewPlan } from '../../../src/topology/plan.ts';
import { readSourceTable } from './source.ts';

/** Outcome of comparing one table or view, in rows. */
export interface Comparison {
  expected: number;
  actual: number;
  /** Keys present in the source but not in the derived store. */
  missing: string[];
  /** Keys present in the derived store but not in the source. */
  extra: string[];
  /** Keys present on both sides with different values. */
  different: string[];
  /** The first key in `different`, with both values (for a readable failure). */
  firstDifference?: { key: string; expected: unknown; actual: unknown };
}

/** Total number of mismatching keys. */
export const mismatches = (c: Comparison): number => c.missing.length + c.extra.length + c.different.length;

/**
 * Re-checks until `check` finds no mismatch or the deadline (ms since the
 * epoch) passes, and returns the last result. Convergence is eventual: after a
 * broker restart, Kafka Connect may deliver a change to one partition after a
 * later change to another (the watermark), so one comparison right after lag
 * 0 can be early.
 * @param pollMs pause between checks. @defaultValue 1000
 */
export async function untilConverged<T extends { total: number }>(check: () => Promise<T>, deadline: number, pollMs = 1000): Promise<T> {
  for (;;) {
    const result = await check();
    if (result.total === 0 || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Compares two key → row maps (object key order is ignored). */
export function compareRows(expected: ReadonlyMap<string, unknown>, actual: ReadonlyMap<string, unknown>): Comparison {
  const c: Comparison = { expected: expected.size, actual: actual.size, missing: [], extra: [], different: [] };
  for (const [k, v] of expected) {
    if (!actual.has(k)) c.missing.push(k);
    else if (!isDeepStrictEqual(v, actual.get(k))) {
      c.different.push(k);
      c.firstDifference ??= { key: k, expected: v, actual: actual.get(k) };
    }
  }
  for (const k of actual.keys()) if (!expected.has(k)) c.extra.push(k);
  return c;
}



/** Live rows of a table's state: key string → row. */
export async function readStateTable(store: StateStore, table: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  for await (const [key, stored] of store.scan(await store.resolveTable(table))) if (stored.row !== null) out.set(key, stored.row);
  return out;
}

/**
 * Compares a table's state with `SELECT *` of the source table, value by value.
 * @param stateTable the state's table id (its topic) @defaultValue the one topic that carries `table`
 */
export async function verifyTable(pg: Client, store: StateStore, table: string, stateTable = table): Promise<Comparison> {
  return compareRows(await readSourceTable(pg, table), await readStateTable(store, stateTable));
}

/**
 * Evaluates a view's SQL definition on the source database: document key
 * string → expected document. int8 columns become numbers when safe, as in
 * the canonical value mapping.
 */
export async function expectedDocs(pg: Client, view: ViewPlan): Promise<Map<string, Row>> {
  if (!view.sql) throw new Error(`view ${view.name} has no SQL definition to verify against`);
  const result = await pg.query<Row & { _key: Row }>(view.sql);
  const int8 = result.fields.filter((f) => f.dataTypeID === 20).map((f) => f.name);
  const expected = new Map<string, Row>();
  for (const { _key, ...doc } of result.rows) {
    for (const name of int8) if (typeof doc[name] === 'string' && Number.isSafeInteger(Number(doc[name]))) doc[name] = Number(doc[name]);
    expected.set(canonicalKeyString(_key), doc);
  }
  return expected;
}

/** Every document of a cache sink: key string → document. */
export async function readCacheDocs(redis: Redis, prefix: string): Promise<Map<string, Row>> {
  const actual = new Map<string, Row>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}{*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys);
    keys.forEach((k, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) actual.set(k.slice(prefix.length), JSON.parse(v) as Row);
    });
  } while (cursor !== '0');
  return actual;
}

/** Compares a view's cache documents (prefix resolved for the app) with its SQL definition. */
export async function verifyCacheView(pg: Client, redis: Redis, view: ViewPlan, prefix: string): Promise<Comparison> {
  return compareRows(await expectedDocs(pg, view), await readCacheDocs(redis, prefix));
}

/**
 * Every document of a search index: `_id` (the key string) → `_source`.
 * Refreshes the index first so that all acknowledged writes are visible.
 */
export async function readSearchDocs(node: string | SearchClient, index: string): Promise<Map<string, Row>> {
  // A client (e.g. of a secured engine) stays the caller's; a URL gets a client of its own.
  const client = typeof node === 'string' ? new SearchClient({ node }) : node;
  try {
    await client.indices.refresh({ index });
    const out = new Map<string, Row>();
    let after: (string | number)[] | undefined;
    for (;;) {
      const res = await client.search({
        index,
        body: { size: 1000, sort: [{ _id: 'asc' }], query: { match_all: {} }, ...(after ? { search_after: after } : {}) },
      });
      const hits = res.body.hits.hits as { _id: string; _source: Row; sort?: (string | number)[] }[];
      for (const h of hits) out.set(h._id, h._source);
      if (hits.length < 1000) return out;
      after = hits[hits.length - 1]!.sort;
    }
  } finally {
    if (typeof node === 'string') await client.close();
  }
}

/** Compares a view's search documents (index resolved for the app) with its SQL definition. */
export async function verifySearchView(pg: Client, node: string | SearchClient, view: ViewPlan, index: string): Promise<Comparison> {
  return compareRows(await expectedDocs(pg, view), await readSearchDocs(node, index));
}
