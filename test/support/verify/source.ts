/**
 * Reads a PostgreSQL table in cdc-views' canonical value form (src/cdc/types.ts),
 * independently of the decoders: the conversions here are done by PostgreSQL
 * itself (to_char, ::text), so comparing them with table state checks the
 * decoders rather than repeating them.
 */
import type { Client } from 'pg';
import { canonicalKeyString } from '../../../src/cdc/keys.ts';
import type { Row } from '../../../src/cdc/types.ts';

const TS_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

function selectExpression(column: string, type: string): string {
  const c = `"${column.replaceAll('"', '""')}"`;
  switch (type) {
    case 'int8':
    case 'numeric':
    case 'money':
      return `${c}::text`;
    case 'date':
      return `to_char(${c}, 'YYYY-MM-DD')`;
    case 'timestamp':
      return `to_char(${c}, ${TS_FORMAT})`;
    case 'timestamptz':
      return `to_char(${c} AT TIME ZONE 'UTC', ${TS_FORMAT})`;
    case 'time':
      return `to_char(date '2000-01-01' + ${c}, 'HH24:MI:SS.US')`;
    case 'bytea':
      return `translate(encode(${c}, 'base64'), E'\\n', '')`;
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
    case 'bool':
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'json':
    case 'jsonb':
    case 'uuid':
      return c;
    default:
      return `${c}::text`;
  }
}

/** Reads every row of `schema.table`: canonical key string → canonical row. */
export async function readSourceTable(pg: Client, table: string): Promise<Map<string, Row>> {
  const cols = await pg.query<{ name: string; type: string; pk: boolean }>(
    `SELECT a.attname AS name, t.typname AS type,
            coalesce(a.attnum = ANY(i.indkey), false) AS pk
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  const exprs = cols.rows.map((c) => `${selectExpression(c.name, c.type)} AS "${c.name.replaceAll('"', '""')}"`);
  const int8 = new Set(cols.rows.filter((c) => c.type === 'int8').map((c) => c.name));
  const pk = cols.rows.filter((c) => c.pk).map((c) => c.name);
  const result = await pg.query<Row>(`SELECT ${exprs.join(', ')} FROM ${table}`);
  const out = new Map<string, Row>();
  for (const row of result.rows) {
    for (const name of int8) {
      const v = row[name];
      if (typeof v === 'string' && Number.isSafeInteger(Number(v))) row[name] = Number(v);
    }
    const key: Row = {};
    for (const name of pk) key[name] = row[name];
    out.set(canonicalKeyString(key), row);
  }
  return out;
}
