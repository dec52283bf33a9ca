/**
 * Schema registry credentials (src/cdc/registry-auth.ts, src/cdc/avro.ts,
 * src/codegen/registry.ts) against a real loopback HTTP server started by the
 * test that answers the Confluent-compatible API only with the right
 * `Authorization` (basic or bearer) and 401 otherwise — as a registry behind
 * authentication does. (The stack's Apicurio runs without authentication:
 * requiring it needs an OAuth server, so the header is checked here.)
 *
 * What is tested: basic auth and a bearer token reach the registry and
 * decoding works; a token file rotated is used at once; a refusal (401/403)
 * is REGISTRY_AUTH_FAILED (retriable, needs an operator), never an unknown
 * schema id; an unknown id with credentials is still DECODE_UNKNOWN_SCHEMA_ID
 * (the /subjects probe authenticates); credentials in the URL work and appear
 * in no message; `types generate`'s subject reader sends them too; the
 * settings' refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { loopbackHttp, type LoopbackHttp } from '../../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avsc from 'avsc';
import { AvroDecoder, AvroErrorCode } from '../../../src/cdc/avro.ts';
import { REGISTRY_AUTH_FAILED, RegistryAuthError, registryConnection } from '../../../src/cdc/registry-auth.ts';
import { readSubject } from '../../../src/codegen/registry.ts';
import { CdcViewsError, ConfigError } from '../../../src/errors.ts';

const BASE = '/apis/ccompat/v7';
const KEY = { type: 'record', name: 'Key', namespace: 'shop.public.orders', fields: [{ name: 'id', type: 'long' }] } as const;
/** The Authorization the server accepts now. */
let expected = '';
/** 401 or 403 for a wrong Authorization. */
let refusal = 401;
const seen: (string | undefined)[] = [];
let server: LoopbackHttp;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'cdcv-registry-auth-'));

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req.headers.authorization);
  if (req.headers.authorization !== expected) return send(res, refusal, { error_code: refusal === 401 ? 40101 : 40301, message: refusal === 401 ? 'Unauthorized' : 'Forbidden' });
  const path = req.url ?? '';
  if (path === `${BASE}/subjects`) return send(res, 200, []);
  if (path === `${BASE}/schemas/ids/2`) return send(res, 200, { schema: JSON.stringify(KEY) });
  send(res, 404, { error_code: 40403, message: 'Schema not found' });
}

before(async () => {
  server = await loopbackHttp(handle);
  url = `${server.url}${BASE}`;
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const settings = (over: Partial<Parameters<typeof registryConnection>[0]> = {}): Parameters<typeof registryConnection>[0] => ({
  schemaRegistryUrl: url,
  schemaRegistryUsername: undefined,
  schemaRegistryPassword: undefined,
  schemaRegistryPasswordFile: undefined,
  schemaRegistryToken: undefined,
  schemaRegistryTokenFile: undefined,
  ...over,
});

const framedKey = (id: number): Buffer => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, avsc.Type.forSchema({ ...KEY, fields: [{ name: 'id', type: 'long' }] }).toBuffer({ id: 7 })]);
};
const tombstone = (id: number): Parameters<AvroDecoder['decode']>[0] => ({ topic: 'shop.public.orders', partition: 0, offset: '1', timestamp: '1', key: framedKey(id), value: null });

test('basic auth: the key decodes; a wrong password is REGISTRY_AUTH_FAILED (retriable, needs an operator), never an unknown schema id', async () => {
  expected = basic('sr-user', 'sr-Secret-1');
  refusal = 401;
  const ok = new AvroDecoder({ ...registryConnection(settings({ schemaRegistryUsername: 'sr-user', schemaRegistryPassword: 'sr-Secret-1' })), timeoutMs: 5000 });
  const event = await ok.decode(tombstone(2));
  assert.equal(event.kind, 'tombstone');
  assert.equal(seen.at(-1), expected);

  const wrong = new AvroDecoder({ ...registryConnection(settings({ schemaRegistryUsername: 'sr-user', schemaRegistryPassword: 'wrong-Secret' })), timeoutMs: 5000 });
  await assert.rejects(wrong.decode(tombstone(2)), (e: unknown) => {
    assert.ok(e instanceof RegistryAuthError, String(e));
    assert.equal(e.code, REGISTRY_AUTH_FAILED);
    assert.equal(e.retriable, true);
    assert.equal(e.needsOperator, true);
    assert.match(e.message, /^schema registry at http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7 refuses the credentials \(401\)/);
    assert.doesNotMatch(e.message, /Secret/);
    return true;
  });
  refusal = 403;
  await assert.rejects(wrong.decode(tombstone(2)), (e: unknown) => e instanceof RegistryAuthError && /denies the user \(403\)/.test(e.message));
  refusal = 401;
});

test('an unknown id with credentials is still an unknown schema id (the /subjects probe authenticates)', async () => {
  expected = basic('sr-user', 'sr-Secret-1');
  const d = new AvroDecoder({ ...registryConnection(settings({ schemaRegistryUsername: 'sr-user', schemaRegistryPassword: 'sr-Secret-1' })), timeoutMs: 5000 });
  await assert.rejects(d.decode(tombstone(99)), (e: unknown) => e instanceof CdcViewsError && e.code === AvroErrorCode.UnknownSchemaId);
});

test('credentials in the URL work as basic auth, and no message carries them', async () => {
  expected = basic('url-user', 'url-Secret/9');
  const withUserInfo = url.replace('http://', `http://url-user:${encodeURIComponent('url-Secret/9')}@`);
  const d = new AvroDecoder({ registryUrl: withUserInfo, timeoutMs: 5000 });
  assert.equal((await d.decode(tombstone(2))).kind, 'tombstone');
  await assert.rejects(d.decode(tombstone(99)), (e: unknown) => {
    assert.ok(e instanceof CdcViewsError && e.code === AvroErrorCode.UnknownSchemaId, String(e));
    assert.doesNotMatch(e.message, /url-Secret|url-user|%2F/);
    return true;
  });
  // Through the settings: the connection keeps the URL without user info.
  const conn = registryConnection(settings({ schemaRegistryUrl: withUserInfo }));
  assert.equal(conn.registryUrl, url);
});

test('a bearer token from a file: sent, and a rotated file is used at the next request', async () => {
  const file = join(dir, 'token');
  writeFileSync(file, 'token-one\n');
  expected = 'Bearer token-one';
  const d = new AvroDecoder({ ...registryConnection(settings({ schemaRegistryTokenFile: file })), timeoutMs: 5000 });
  assert.equal((await d.decode(tombstone(2))).kind, 'tombstone');
  expected = 'Bearer token-two';
  await assert.rejects(d.decode(tombstone(99)), (e: unknown) => e instanceof RegistryAuthError);
  writeFileSync(file, 'token-two\n');
  utimesSync(file, new Date(), new Date(Date.now() + 2000));
  await assert.rejects(d.decode(tombstone(99)), (e: unknown) => e instanceof CdcViewsError && e.code === AvroErrorCode.UnknownSchemaId);
  assert.equal(seen.at(-1), 'Bearer token-two');
});

test('types generate reads a subject with the credentials; a refusal is REGISTRY_AUTH_FAILED', async () => {
  expected = 'Bearer subject-token';
  const conn = registryConnection(settings({ schemaRegistryToken: 'subject-token' }));
  // 404 (no such subject) proves the request was authenticated: a wrong token gets 401.
  await assert.rejects(readSubject(conn.registryUrl, 'shop.public.orders-value', 5000, conn.credentials), (e: unknown) => e instanceof CdcViewsError && e.code === 'CODEGEN_NOT_FOUND');
  await assert.rejects(readSubject(conn.registryUrl, 'shop.public.orders-value', 5000), (e: unknown) => e instanceof RegistryAuthError && /refuses the credentials \(401\)/.test(e.message));
});

test('settings refused: basic auth and a token together, a password without its user', () => {
  assert.throws(() => registryConnection(settings({ schemaRegistryUsername: 'u', schemaRegistryPassword: 'p', schemaRegistryToken: 't' })), (e: unknown) => e instanceof ConfigError && e.field === 'schemaRegistryToken');
  assert.throws(() => registryConnection(settings({ schemaRegistryPasswordFile: '/x' })), (e: unknown) => e instanceof ConfigError && e.field === 'schemaRegistryUsername');
});

test('an unreadable token file waits (REGISTRY_AUTH_FAILED, retriable), never dead-letters the record', async () => {
  const d = new AvroDecoder({ ...registryConnection(settings({ schemaRegistryTokenFile: join(dir, 'not-mounted') })), timeoutMs: 5000 });
  await assert.rejects(d.decode(tombstone(2)), (e: unknown) => e instanceof RegistryAuthError && e.retriable && /schemaRegistryTokenFile: cannot read .*not-mounted \(ENOENT\)/.test(e.message));
});
