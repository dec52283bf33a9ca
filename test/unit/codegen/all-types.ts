/**
 * The table of test/integration/codegen/all-types.sql.ts, written by hand: each
 * column's PostgreSQL type (as the catalog reader resolves it) and the
 * TypeScript type of the value that really arrives for it (observed on
 * Debezium 3.1.3 with the JsonConverter and the Avro converter, README
 * "Values in state, query and dump"). Shared by the unit and integration tests.
 */
import type { PgType } from '../../../src/codegen/pg-types.ts';

/** numeric(p,s) → atttypmod, as PostgreSQL stores it. */
const numericMod = (p: number, s: number): number => ((p << 16) | s) + 4;
const t = (name: string, typmod = -1, kind = 'b'): PgType => ({ name, kind, typmod });
const arr = (element: PgType): PgType => ({ name: `_${element.name}`, kind: 'b', typmod: element.typmod, element });

/** Column → [its type resolved from the catalog, NOT NULL, expected TypeScript type]. */
export const ALL_TYPES: Record<string, [PgType, boolean, string]> = {
  id: [t('int4'), true, 'number'],
  c_int2: [t('int2'), true, 'number'],
  c_int4: [t('int4'), false, 'number | null'],
  c_int8: [t('int8'), true, 'number | string'],
  c_int8_null: [t('int8'), false, 'number | string | null'],
  c_serial: [t('int4'), true, 'number'],
  c_oid: [t('oid'), false, 'number | string | null'],
  c_float4: [t('float4'), false, 'number | null'],
  c_float8: [t('float8'), true, 'number'],
  c_numeric: [t('numeric', numericMod(12, 2)), true, 'string'],
  c_numeric_any: [t('numeric'), false, 'string | null'],
  c_money: [t('money'), false, 'string | null'],
  c_bool: [t('bool'), true, 'boolean'],
  c_bit1: [t('bit', 1), false, 'boolean | null'],
  c_bit8: [t('bit', 8), false, 'string | null'],
  c_varbit: [t('varbit', 16), false, 'string | null'],
  c_text: [t('text'), true, 'string'],
  c_varchar: [t('varchar', 24), false, 'string | null'],
  c_char: [t('bpchar', 7), false, 'string | null'],
  c_name: [t('name'), false, 'string | null'],
  c_citext: [t('citext'), false, 'string | null'],
  c_date: [t('date'), true, 'string'],
  c_time: [t('time'), false, 'string | null'],
  c_time3: [t('time', 3), false, 'string | null'],
  c_timetz: [t('timetz'), false, 'string | null'],
  c_ts: [t('timestamp'), true, 'string'],
  c_ts3: [t('timestamp', 3), false, 'string | null'],
  c_tstz: [t('timestamptz'), true, 'string'],
  c_interval: [t('interval'), false, 'number | string | null'],
  c_json: [t('json'), false, 'JsonValue | null'],
  c_jsonb: [t('jsonb'), true, 'JsonValue'],
  c_uuid: [t('uuid'), false, 'string | null'],
  c_bytea: [t('bytea'), false, 'string | null'],
  c_xml: [t('xml'), false, 'string | null'],
  c_inet: [t('inet'), false, 'string | null'],
  c_cidr: [t('cidr'), false, 'string | null'],
  c_macaddr: [t('macaddr'), false, 'string | null'],
  c_macaddr8: [t('macaddr8'), false, 'string | null'],
  c_int4range: [t('int4range', -1, 'r'), false, 'string | null'],
  c_tstzrange: [t('tstzrange', -1, 'r'), false, 'string | null'],
  c_point: [t('point'), false, '{ x: number; y: number; wkb: string | null; srid: number | null } | null'],
  c_mood: [t('mood', -1, 'e'), false, 'string | null'],
  c_mood_nn: [t('mood', -1, 'e'), true, 'string'],
  c_domain: [t('int4'), false, 'number | null'],
  c_domain_nn: [t('numeric', numericMod(8, 3)), true, 'string'],
  c_hstore: [t('hstore'), false, 'JsonValue | null'],
  c_ltree: [t('ltree'), false, 'string | null'],
  c_int4_arr: [arr(t('int4')), false, '(number | null)[] | null'],
  c_text_arr: [arr(t('text')), true, '(string | null)[]'],
  c_numeric_arr: [arr(t('numeric', numericMod(6, 2))), false, '(string | null)[] | null'],
  c_date_arr: [arr(t('date')), false, '(string | null)[] | null'],
  c_uuid_arr: [arr(t('uuid')), false, '(string | null)[] | null'],
  c_tstz_arr: [arr(t('timestamptz')), false, '(string | null)[] | null'],
  'Mixed Case': [t('text'), false, 'string | null'],
};

/** Columns of types outside the canonical mapping: Debezium leaves them out of the row; typed `?: unknown`. */
export const UNTYPED: Record<string, PgType> = {
  c_pair: t('pair', -1, 'c'),
  c_tsvector: t('tsvector'),
};

/** Avro adjusts field names (schema.name.adjustment.mode=avro): the column "Mixed Case" arrives as Mixed_Case. */
export const avroName = (column: string): string => column.replace(/[^A-Za-z0-9_]/g, '_');
