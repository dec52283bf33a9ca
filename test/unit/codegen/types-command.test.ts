/**
 * `cdc-views types generate` from the schema registry, against a local HTTP
 * server answering the Confluent API with the Avro value schema captured from
 * Debezium (fixtures/all-types.json), and its errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loopbackHttp, type LoopbackHttp } from '../../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerTypesCommand, regenerateCommand, runTypesGenerate } from '../../../src/cli/types-command.ts';
import { CdcViewsError } from '../../../src/errors.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/all-types.json', import.meta.url), 'utf8')) as { avroSchema: unknown };
const SUBJECT = 'shop.public.all_types-value';
const requests: string[] = [];
let server: LoopbackHttp;
let registryUrl: string;

before(async () => {
  server = await loopbackHttp((req, res) => {
    requests.push(req.url ?? '');
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === `/apis/ccompat/v7/subjects/${SUBJECT}/versions/latest`) return answer(200, { subject: SUBJECT, version: 3, id: 41, schema: JSON.stringify(fixture.avroSchema) });
    if (req.url === '/apis/ccompat/v7/subjects/shop.public.plain-value/versions/latest') return answer(200, { subject: 'x', version: 1, id: 1, schema: '{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}' });
    if (req.url === '/apis/ccompat/v7/subjects/shop.public.proto-value/versions/latest') return answer(200, { subject: 'x', version: 1, id: 2, schemaType: 'PROTOBUF', schema: 'syntax = "proto3";' });
    if (req.url?.startsWith('/broken/')) return answer(503, { message: 'storage down' });
    return answer(404, { error_code: 40401, message: 'Subject not found' });
  });
  registryUrl = `${server.url}/apis/ccompat/v7`;
});
after(() => server.close());

const none = { schema: [], table: [], subject: [] };

void test('types generate --subject writes the row type of the latest value schema to --out, through commander', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdcv-types-')), 'sub', 'rows.ts');
  const program = new Command('cdc-views').exitOverride();
  registerTypesCommand(program);
  await program.parseAsync(['types', 'generate', '--subject', SUBJECT, '--schema-registry-url', `${registryUrl}/`, '--out', out], { from: 'user' });
  const text = readFileSync(out, 'utf8');
  assert.ok(requests.includes(`/apis/ccompat/v7/subjects/${SUBJECT}/versions/latest`));
  assert.match(text, new RegExp(`^// Regenerate: cdc-views types generate --schema-registry-url ${registryUrl}/ --subject ${SUBJECT} --out ${out}$`, 'm'));
  assert.match(text, /\/\*\* Row of schema registry subject `shop\.public\.all_types-value` version 3 \(id 41\)\. \*\/\nexport type PublicAllTypes = \{/);
  assert.match(text, / {2}\/\*\* Connect `org\.apache\.kafka\.connect\.data\.Decimal` \(bytes\), NOT NULL: exact decimal string keeping the scale, e\.g\. `"12\.50"` \(`NaN` arrives as null\)\. \*\/\n {2}c_numeric: string;/);
  assert.match(text, / {2}Mixed_Case: string \| null;/);
  assert.match(text, /'public\.all_types': PublicAllTypes;/);
});

void test('regenerate line: every option but the database URL, a registry password masked, odd words quoted', () => {
  assert.equal(
    regenerateCommand({ schema: ['public'], table: ["we'ird.t"], subject: ['a-value'], databaseUrl: 'postgres://u:secret@h/db', schemaRegistryUrl: 'http://u:pw@r:8081/apis/ccompat/v7', out: 'src/rows.ts' }),
    "cdc-views types generate --schema public --table 'we'\\''ird.t' --schema-registry-url 'http://u:*****@r:8081/apis/ccompat/v7' --subject a-value --out src/rows.ts",
  );
});

const fails = async (o: Parameters<typeof runTypesGenerate>[0], code: string, message: RegExp): Promise<void> => {
  await assert.rejects(runTypesGenerate(o, {}), (err: unknown) => {
    assert.ok(err instanceof CdcViewsError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
};

void test('errors: unknown subject, not an envelope, not Avro, a topic that names no table, registry 5xx or down', async () => {
  await fails({ ...none, subject: ['shop.public.nope-value'], schemaRegistryUrl: registryUrl }, 'CODEGEN_NOT_FOUND', /has no subject shop\.public\.nope-value/);
  await fails({ ...none, subject: ['shop.public.plain-value'], schemaRegistryUrl: registryUrl }, 'CODEGEN_NOT_ENVELOPE', /not a Debezium change-event envelope/);
  await fails({ ...none, subject: ['shop.public.proto-value'], schemaRegistryUrl: registryUrl }, 'CODEGEN_NOT_ENVELOPE', /PROTOBUF schema; only Avro/);
  await fails({ ...none, subject: ['orders-value'], schemaRegistryUrl: registryUrl }, 'CODEGEN_BAD_SUBJECT', /does not name a table/);
  await fails({ ...none, subject: [SUBJECT], schemaRegistryUrl: registryUrl.replace('/apis/', '/broken/') }, 'REGISTRY_UNAVAILABLE', /answered 503/);
  await fails({ ...none, subject: [SUBJECT], schemaRegistryUrl: 'http://127.0.0.1:1/apis/ccompat/v7' }, 'REGISTRY_UNAVAILABLE', /did not answer/);
});

void test('errors: PostgreSQL that does not answer names where it looked, without the password', async () => {
  await fails({ ...none, table: ['public.x'], databaseUrl: 'postgres://someone:hunter2@127.0.0.1:1/shop' }, 'PG_UNREACHABLE', /^PostgreSQL someone@127\.0\.0\.1:1\/shop cannot be reached \((?!.*hunter2)/);
});
