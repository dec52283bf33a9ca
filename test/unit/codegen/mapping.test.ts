/**
 * The type mapping of `types generate` against the real thing: records of the
 * all-types table captured from Debezium 3.1.3 (fixtures/all-types.json, JSON
 * with schemas and Avro with its registry schema), decoded by cdc-views' own
 * decoders. Expected types are written by hand (./all-types.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { avroToConnectSchema, parseAvroSchema, toConnectPayload, type AvroSchema } from '../../../src/cdc/avro.ts';
import { decodeDebeziumJson, decodeEnvelope } from '../../../src/cdc/debezium-json.ts';
import type { Row } from '../../../src/cdc/types.ts';
import type { ConnectSchema } from '../../../src/cdc/values.ts';
import { columnModel } from '../../../src/codegen/catalog.ts';
import { connectToTs, nullable } from '../../../src/codegen/connect-types.ts';
import { renderModule } from '../../../src/codegen/emit.ts';
import type { TableModel } from '../../../src/codegen/model.ts';
import { pgToConnect } from '../../../src/codegen/pg-types.ts';
import { envelopeToTable } from '../../../src/codegen/registry.ts';
import { ALL_TYPES, UNTYPED, avroName } from './all-types.ts';
import { typecheck } from './typecheck.ts';

interface Fixture {
  json: string[];
  avroSchema: AvroSchema;
  avro: string[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/all-types.json', import.meta.url), 'utf8')) as Fixture;

/** The `after` fields of the captured JSON records' Connect schema. */
const jsonAfter = (JSON.parse(fixture.json[0]!) as { schema: ConnectSchema }).schema.fields!.find((f) => f.field === 'after')!.fields!;

const position = { topic: 't.public.all_types', partition: 0, offset: '0', timestamp: 0 };
const jsonRows = fixture.json.map((value, i) => {
  const e = decodeDebeziumJson({ ...position, offset: String(i), timestamp: '0', key: null, value: Buffer.from(value) });
  assert.equal(e.kind, 'change');
  return (e as { after: Row }).after;
});
const avroConnect = avroToConnectSchema(fixture.avroSchema);
const avroType = parseAvroSchema(fixture.avroSchema);
const avroRows = fixture.avro.map((b64) => decodeEnvelope(toConnectPayload(avroType.fromBuffer(Buffer.from(b64, 'base64').subarray(5))), avroConnect, null, position).after!);

/** A catalog-path table model of the all-types table, built from the hand-written PostgreSQL types. */
function catalogModel(): TableModel {
  const columns = Object.entries(ALL_TYPES).map(([name, [type, notNull]]) => columnModel(name, type.name, type, notNull));
  for (const [name, type] of Object.entries(UNTYPED)) columns.push(columnModel(name, type.name, type, false));
  return { schema: 'public', table: 'all_types', origin: 'test', columns };
}

/** The Connect schema's type, logical name and structure, without version, parameters, doc or default. */
function shape(s: ConnectSchema): unknown {
  return { type: s.type, name: s.name, fields: s.fields?.map((f) => ({ field: f.field, optional: f.optional ?? false, ...(shape(f) as object) })), items: s.items && { optional: s.items.optional ?? false, ...(shape(s.items) as object) } };
}

void test('the fixture holds both rows in both encodings, with the columns Debezium supports', () => {
  assert.equal(jsonRows.length, 2);
  assert.equal(avroRows.length, 2);
  assert.deepEqual(jsonAfter.map((f) => f.field), Object.keys(ALL_TYPES), 'every typed column, in table order; c_pair and c_tsvector left out');
});

void test('PostgreSQL → Connect: the catalog path predicts the schema Debezium really wrote, column by column', () => {
  for (const f of jsonAfter) {
    const [type] = ALL_TYPES[f.field!]!;
    const mapped = pgToConnect(type);
    assert.ok('schema' in mapped, `${f.field} is mapped`);
    assert.deepEqual(shape(mapped.schema), shape(f), `${f.field} (${type.name})`);
  }
});

void test('PostgreSQL → TypeScript: every column gets the hand-written type; unsupported types are optional unknown', () => {
  for (const [name, [type, notNull, expected]] of Object.entries(ALL_TYPES)) {
    const c = columnModel(name, type.name, type, notNull);
    assert.equal(c.ts, expected, name);
    assert.equal(c.optional, undefined, name);
  }
  for (const [name, type] of Object.entries(UNTYPED)) {
    const c = columnModel(name, type.name, type, true);
    assert.deepEqual([c.ts, c.optional], ['unknown', true], name);
    assert.match(c.doc, /Not typed: .*not in the canonical mapping/);
  }
});

void test('Connect → TypeScript on the real JSON schema gives the hand-written types', () => {
  for (const f of jsonAfter) assert.equal(nullable(connectToTs(f), f.optional), ALL_TYPES[f.field!]![2], f.field);
});

void test('registry path: the real Avro value schema gives the hand-written types, under Avro-adjusted names', () => {
  const model = envelopeToTable(fixture.avroSchema, 'public.all_types', 'fixture');
  const expected = Object.fromEntries(Object.entries(ALL_TYPES).map(([name, [, , ts]]) => [avroName(name), ts]));
  assert.deepEqual(Object.fromEntries(model.columns.map((c) => [c.name, c.ts])), expected);
  assert.match(model.columns.find((c) => c.name === 'c_ts')!.doc, /io\.debezium\.time\.MicroTimestamp.*NOT NULL/);
});

void test('decoded rows of both encodings type-check against the generated module, which fails on a wrong value', () => {
  const catalog = renderModule([catalogModel()], 'test');
  const avro = renderModule([envelopeToTable(fixture.avroSchema, 'public.all_types', 'fixture')], 'test');
  // State keeps rows as JSON: what a topology gets is the JSON round trip of the decoded row.
  const literal = (rows: Row[]): string => JSON.stringify(JSON.parse(JSON.stringify(rows)) as unknown, null, 1);
  const uses = `
    import type { PublicAllTypes, Tables } from './rows.ts';
    type Row = Record<string, unknown>;
    const asRow = (r: PublicAllTypes): Row => r;
    const byName = (t: Tables['public.all_types']): PublicAllTypes => t;
    export const checks = [asRow, byName];`;
  assert.deepEqual(typecheck({ '/v/rows.ts': catalog, '/v/json.ts': `import type { PublicAllTypes } from './rows.ts';\nexport const rows: PublicAllTypes[] = ${literal(jsonRows)};\n`, '/v/uses.ts': uses }), []);
  assert.deepEqual(typecheck({ '/v/rows.ts': avro, '/v/avro.ts': `import type { PublicAllTypes } from './rows.ts';\nexport const rows: PublicAllTypes[] = ${literal(avroRows)};\n`, '/v/uses.ts': uses }), []);

  const wrong = { ...jsonRows[0]!, c_numeric: 12.5 };
  const misspelled = `import type { PublicAllTypes } from './rows.ts';\nexport const f = (r: PublicAllTypes): unknown => r.c_numerc;\n`;
  const errors = typecheck({ '/v/rows.ts': catalog, '/v/wrong.ts': `import type { PublicAllTypes } from './rows.ts';\nexport const rows: PublicAllTypes[] = ${literal([wrong])};\n`, '/v/misspelled.ts': misspelled });
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors.join('\n'), /wrong\.ts.*Type 'number' is not assignable to type 'string'/s);
  assert.match(errors.join('\n'), /misspelled\.ts.*c_numerc/);
});
