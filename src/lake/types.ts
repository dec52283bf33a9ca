/**
 * Shared shapes of the lake sink: the columns of a lake table and the values
 * its rows carry. One table of the source database maps to one lake table.
 */

/**
 * A column type of a lake table, in Delta Lake's schema names (PROTOCOL.md,
 * "Primitive Types"): `short` int16, `integer` int32, `long` int64, `float`,
 * `double`, `boolean`, `string` (UTF-8), `date` (days), `timestamp` (µs,
 * UTC-adjusted), `decimal(p,s)`.
 */
export type LakeType = 'boolean' | 'short' | 'integer' | 'long' | 'float' | 'double' | 'string' | 'date' | 'timestamp' | `decimal(${number},${number})`;

/** One column of a lake table. */
export interface LakeColumn {
  name: string;
  type: LakeType;
  nullable: boolean;
}

/**
 * A value in a lake row, by column type: `boolean`; `number` for short,
 * integer, float and double; `bigint` for long; `string` for string, for
 * decimal (exact, e.g. `"12.50"`), for date (`YYYY-MM-DD`) and for timestamp
 * (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, cdc-views' canonical form); `null`.
 */
export type LakeValue = boolean | number | bigint | string | null;

/** A row of a lake table or slice: column name → value. */
export type LakeRow = Record<string, LakeValue>;
