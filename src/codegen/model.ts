/** What the generator knows of a table, whichever source it was read from (catalog or registry). */

/** One column of a generated row type. */
export interface ColumnModel {
  /** Column name as in the row (case kept). */
  name: string;
  /** TypeScript type of its canonical value, `| null` included when nullable. */
  ts: string;
  /**
   * The column may be absent from the row: Debezium leaves out a column whose
   * type it does not support (`include.unknown.datatypes=false`). Only with `ts` `unknown`.
   */
  optional?: boolean;
  /** One TSDoc line: where the type comes from, e.g. "PostgreSQL `numeric(12,2)`, NOT NULL." */
  doc: string;
}

/** One table: `schema.table` as `builder.table()` names it, and its columns in table order. */
export interface TableModel {
  schema: string;
  table: string;
  /** Where the table was read from, for the type's TSDoc, e.g. "PostgreSQL table public.orders". */
  origin: string;
  columns: ColumnModel[];
}
