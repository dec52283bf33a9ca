/**
 * `cdc-views types generate` against the real thing: a table with one column
 * per mapped PostgreSQL type (./all-types.sql.ts) in the real PostgreSQL,
 * captured by the real Debezium twice (JsonConverter; Avro through the real
 * Apicurio registry), materialized by cdc-views into Redis table state. The
 * types generated from the catalog and from the registry subject must be the
 * hand-written ones (test/unit/codegen/all-types.ts), and the rows as they
 * really are in state (snapshot reads and streamed changes) must type-check
 * against them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type { Redis } from 'ioredis';
import { registerTypesCommand } from '../../../src/cli/types-command.ts';
import type { Row } from '../../../src/cdc/types.ts';
import type { Application } from '../../../src/runtime/application.ts';
import { StateStore } from '../../../src/state/store.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { ALL_TYPES, UNTYPED, avroName } from '../../unit/codegen/all-types.ts';
import { typecheck } from '../../unit/codegen/typecheck.ts';
import { brokers, cfg, newRedis, pipeline, processor, sleep, uniqueId } from '../helpers.ts';
import { ALL_TYPES_SETUP } from './all-types.sql.ts';

type Pipeline = Awaited<ReturnType<typeof pipeline>>;

/** Changes streamed after the snapshot: a copy of row 1 as row 3, and an update of row 2. */
const STREAMED = `
  CREATE TEMP TABLE copy AS SELECT * FROM public.all_types WHERE id = 1;
  UPDATE copy SET id = 3;
  INSERT INTO public.all_types SELECT * FROM copy;
  UPDATE public.all_types SET c_text = 'streamed', c_int4 = -1, c_jsonb = '[1, "two"]', c_interval = '-1 day', c_point = '(0,0)', c_hstore = '' WHERE id = 2;`;

const dir = mkdtempSync(join(tmpdir(), 'cdcv-types-it-'));
let redis: Redis;
const run: { p: Pipeline; app: string; proc: Application }[] = [];

before(async () => {
  redis = newRedis();
  const opts = { setupSql: ALL_TYPES_SETUP, extraTables: ['public.all_types'], seedCustomers: 2, seedOrders: 2, seedProducts: 2 };
  const [json, avro] = await Promise.all([pipeline('tgjson', opts), pipeline('tgavro', { ...opts, format: 'avro' })]);
  for (const p of [json, avro]) {
    const app = uniqueId('tgapp');
    const proc = processor({ applicationId: app, redis, topics: new RegExp(`^${p.topicPrefix}\\.public\\.all_types$`), registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL });
    run.push({ p, app, proc });
    await proc.start();
    const c = new pg.Client({ connectionString: p.connectionString });
    await c.connect();
    await c.query(STREAMED).finally(() => c.end());
  }
});

after(async () => {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  for (const { p, app, proc } of run) {
    await proc.stop().catch(() => undefined);
    await new StateStore(redis, app).destroy().catch(() => undefined);
    await admin.deleteGroups([app]).catch(() => undefined);
    await p.drop();
  }
  await admin.disconnect();
  redis?.disconnect();
});

/** The rows of the all-types table in an application's state, once row 3 and the update of row 2 have arrived. */
async function stateRows(p: Pipeline, app: string): Promise<Row[]> {
  const store = new StateStore(redis, app);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const rows: Row[] = [];
    for await (const [, stored] of store.scan(`${p.topicPrefix}.public.all_types`)) if (stored.row) rows.push(stored.row);
    if (rows.length === 3 && rows.some((r) => r.c_text === 'streamed')) return rows.sort((a, b) => Number(a.id) - Number(b.id));
    if (Date.now() > deadline) throw new Error(`state of ${app} has ${rows.length} rows, not the 3 expected with the streamed update: ${JSON.stringify(rows).slice(0, 500)}`);
    await sleep(250);
  }
}

/** Runs `types generate` through commander, as `cdc-views types generate …` does, and returns the file. */
async function generate(name: string, args: string[]): Promise<string> {
  const out = join(dir, name);
  const program = new Command('cdc-views').exitOverride();
  registerTypesCommand(program);
  await program.parseAsync(['types', 'generate', ...args, '--out', out], { from: 'user' });
  return readFileSync(out, 'utf8');
}

/** Column → type expression of one generated type (`name?: unknown` kept with its `?`). */
function columnsOf(text: string, typeName: string): Record<string, string> {
  const body = new RegExp(`export type ${typeName} = \\{\\n([^]*?)\\n\\};`).exec(text)?.[1];
  assert.ok(body, `${typeName} in\n${text}`);
  const out: Record<string, string> = {};
  for (const m of body.matchAll(/^ {2}("[^"]+"|[A-Za-z_$][\w$]*)(\??): (.*);$/gm)) out[m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1]!] = `${m[2]}${m[3]}`;
  return out;
}

const literal = (rows: Row[]): string => JSON.stringify(rows, null, 1);

void test('from the catalog: the hand-written type of every column, and the JSON pipeline\'s rows in state type-check', async () => {
  const { p, app } = run[0]!;
  const text = await generate('catalog.ts', ['--table', 'public.all_types', '--database-url', p.connectionString]);
  const expected = Object.fromEntries(Object.entries(ALL_TYPES).map(([name, [, , ts]]) => [name, ts]));
  for (const name of Object.keys(UNTYPED)) expected[name] = '?unknown';
  assert.deepEqual(columnsOf(text, 'PublicAllTypes'), expected);
  assert.match(text, /\/\*\* PostgreSQL `numeric\(12,2\)`, NOT NULL: exact decimal string keeping the scale, e\.g\. `"12\.50"` \(`NaN` arrives as null\)\. \*\/\n {2}c_numeric: string;/);
  assert.match(text, /\/\*\* PostgreSQL `price`, NOT NULL: exact decimal string/);
  assert.doesNotMatch(text, new RegExp(p.connectionString.replaceAll('.', '\\.')), 'the connection string is not in the header');

  const rows = await stateRows(p, app);
  assert.deepEqual(typecheck({ '/v/rows.ts': text, '/v/state.ts': `import type { Tables } from './rows.ts';\nexport const rows: Tables['public.all_types'][] = ${literal(rows)};\n` }), []);
  const wrong = rows.map((r) => ({ ...r, c_date: 20_000 }));
  assert.notDeepEqual(typecheck({ '/v/rows.ts': text, '/v/state.ts': `import type { Tables } from './rows.ts';\nexport const rows: Tables['public.all_types'][] = ${literal(wrong)};\n` }), [], 'a wrong value fails');
});

void test('from the registry: the Avro pipeline\'s latest value schema gives the same types (Avro names), and its rows in state type-check', async () => {
  const { p, app } = run[1]!;
  const rows = await stateRows(p, app); // the streamed changes have been written, under the schema's latest version
  const text = await generate('avro.ts', ['--subject', `${p.topicPrefix}.public.all_types-value`, '--schema-registry-url', cfg.CDCV_SCHEMA_REGISTRY_URL]);
  const expected = Object.fromEntries(Object.entries(ALL_TYPES).map(([name, [, , ts]]) => [avroName(name), ts]));
  assert.deepEqual(columnsOf(text, 'PublicAllTypes'), expected);
  assert.deepEqual(typecheck({ '/v/rows.ts': text, '/v/state.ts': `import type { PublicAllTypes } from './rows.ts';\nexport const rows: PublicAllTypes[] = ${literal(rows)};\n` }), []);
});

void test('--schema public: every table of the sample database, sorted, compiling; a missing table is an error', async () => {
  const { p } = run[0]!;
  const text = await generate('public.ts', ['--schema', 'public', '--database-url', p.connectionString]);
  const tables = /export type Tables = \{\n([^]*?)\n\};/.exec(text)?.[1];
  assert.equal(
    tables,
    [
      "  'public.addresses': PublicAddresses;",
      "  'public.all_types': PublicAllTypes;",
      "  'public.cdcv_signal': PublicCdcvSignal;",
      "  'public.cdcv_watermark': PublicCdcvWatermark;",
      "  'public.customers': PublicCustomers;",
      "  'public.order_lines': PublicOrderLines;",
      "  'public.orders': PublicOrders;",
      "  'public.products': PublicProducts;",
    ].join('\n'),
  );
  assert.deepEqual(columnsOf(text, 'PublicProducts'), {
    sku: 'string',
    name: 'string',
    description: 'string | null',
    price: 'string',
    active: 'boolean',
    attributes: 'JsonValue | null',
    updated_at: 'string',
    rev: 'number',
  });
  assert.deepEqual(typecheck({ '/v/rows.ts': text }), []);
  await assert.rejects(generate('nope.ts', ['--table', 'public.nope', '--table', 'public.orders', '--database-url', p.connectionString]), (err: unknown) => err instanceof CdcViewsError && err.code === 'CODEGEN_NOT_FOUND' && /no table public\.nope;/.test(err.message));
  assert.equal(await generate('public-again.ts', ['--schema', 'public', '--database-url', p.connectionString]), text.replace('public.ts', 'public-again.ts'), 'deterministic');
});
