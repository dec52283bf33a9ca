/**
 * Reads table columns from the PostgreSQL catalog (`pg_attribute`, `pg_class`,
 * `pg_namespace`, `pg_type`) and maps each through ./pg-types.ts and
 * ./connect-types.ts to the TypeScript type of its canonical value.
 *
 * Tables: ordinary and partitioned tables (`relkind` r, p), not partitions
 * (Debezium names a partition's changes after the partition unless the
 * publication publishes via the root). Columns: in table order, without
 * dropped and system columns. Domains resolve to their base type (as Debezium
 * does); a NOT NULL domain makes the column non-null.
 */
import { CdcViewsError } from '../errors.ts';
import { connectToTs, nullable, valueNote } from './connect-types.ts';
import type { ColumnModel, TableModel } from './model.ts';
import { pgToConnect, type PgType } from './pg-types.ts';

/** The part of a `pg` client the catalog reader uses. */
export interface Queryable {
  query<R extends object>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** Which tables to read: every table of `schemas`, plus each `schema.table` of `tables`. */
export interface CatalogSelection {
  schemas: readonly string[];
  tables: readonly string[];
}

interface ColumnRow {
  schema: string;
  table: string;
  column: string;
  not_null: boolean;
  type_oid: number;
  typmod: number;
  declared: string;
}

interface TypeRow {
  oid: number;
  name: string;
  kind: string;
  base: number;
  typmod: number;
  elem: number;
  category: string;
  not_null: boolean;
}

const COLUMNS_SQL = `
  SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, a.attnotnull AS not_null,
         a.atttypid::int8::float8 AS type_oid, a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS declared
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND (n.nspname = ANY($1::text[]) OR n.nspname || '.' || c.relname = ANY($2::text[]))
   ORDER BY n.nspname, c.relname, a.attnum`;

const TYPES_SQL = `
  SELECT oid::int8::float8 AS oid, typname AS name, typtype AS kind, typbasetype::int8::float8 AS base, typtypmod AS typmod,
         typelem::int8::float8 AS elem, typcategory AS category, typnotnull AS not_null
    FROM pg_type`;

/** A column's type with domains and arrays resolved, and whether a domain forbids NULL. */
function resolve(types: ReadonlyMap<number, TypeRow>, oid: number, typmod: number): { type: PgType; notNull: boolean } {
  const t = types.get(oid);
  if (!t) return { type: { name: `oid ${oid}`, kind: '?', typmod }, notNull: false };
  if (t.kind === 'd') {
    const base = resolve(types, t.base, t.typmod);
    return { type: base.type, notNull: t.not_null || base.notNull };
  }
  if (t.category === 'A' && t.elem !== 0) {
    return { type: { name: t.name, kind: t.kind, typmod, element: resolve(types, t.elem, typmod).type }, notNull: false };
  }
  return { type: { name: t.name, kind: t.kind, typmod }, notNull: false };
}

/** One column's model: its TypeScript type and a TSDoc line naming the PostgreSQL type. */
export function columnModel(name: string, declared: string, type: PgType, notNull: boolean): ColumnModel {
  const mapped = pgToConnect(type);
  const nn = notNull ? ', NOT NULL' : '';
  if ('unsupported' in mapped) return { name, ts: 'unknown', optional: true, doc: `PostgreSQL \`${declared}\`${nn}. Not typed: ${mapped.unsupported}.` };
  const note = valueNote(mapped.schema);
  return { name, ts: nullable(connectToTs(mapped.schema), !notNull), doc: `PostgreSQL \`${declared}\`${nn}${note === undefined ? '' : `: ${note}`}.` };
}

/** One column as the catalog describes it, its type resolved (domains to their base, arrays to their element). */
export interface CatalogColumn {
  schema: string;
  table: string;
  /** Column name, case kept. */
  name: string;
  /** The type as PostgreSQL prints it (`format_type`), e.g. `numeric(12,2)`, `my_domain`. */
  declared: string;
  type: PgType;
  /** NOT NULL on the column, or a NOT NULL domain. */
  notNull: boolean;
}

/**
 * The columns of the tables a selection names, ordered by schema, table and
 * column position. A table or schema that is not there gives no columns (no error).
 */
export async function readCatalogColumns(db: Queryable, selection: CatalogSelection): Promise<CatalogColumn[]> {
  const columns = (await db.query<ColumnRow>(COLUMNS_SQL, [selection.schemas, selection.tables])).rows;
  const types = new Map((await db.query<TypeRow>(TYPES_SQL)).rows.map((t) => [t.oid, t]));
  return columns.map((c) => {
    const { type, notNull } = resolve(types, c.type_oid, c.typmod);
    return { schema: c.schema, table: c.table, name: c.column, declared: c.declared, type, notNull: c.not_null || notNull };
  });
}

/**
 * The tables a selection names, sorted by `schema.table`, columns in table order.
 * @throws {CdcViewsError} CODEGEN_NOT_FOUND when a named table or schema has no table.
 */
export async function readCatalog(db: Queryable, selection: CatalogSelection): Promise<TableModel[]> {
  const tables = new Map<string, TableModel>();
  for (const c of await readCatalogColumns(db, selection)) {
    const id = `${c.schema}.${c.table}`;
    let t = tables.get(id);
    if (!t) tables.set(id, (t = { schema: c.schema, table: c.table, origin: `PostgreSQL table \`${id}\``, columns: [] }));
    t.columns.push(columnModel(c.name, c.declared, c.type, c.notNull));
  }
  const missing = [
    ...selection.tables.filter((id) => !tables.has(id)).map((id) => `table ${id}`),
    ...selection.schemas.filter((s) => ![...tables.values()].some((t) => t.schema === s)).map((s) => `tables in schema ${s}`),
  ];
  if (missing.length > 0) {
    throw new CdcViewsError('CODEGEN_NOT_FOUND', `the database has no ${missing.join(', no ')}; check --table (schema.table, case-sensitive) and --schema, and the database in the connection`);
  }
  return [...tables.values()].sort((a, b) => compare(`${a.schema}.${a.table}`, `${b.schema}.${b.table}`));
}

/** Code-point order: the same in every locale. */
export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
