/**
 * /stores access (src/metrics/stores-auth.ts, src/metrics/server.ts): off by
 * default with a 404 naming the setting; on only with a bearer token (start-up
 * refused without one); 401 without or with a wrong token; a rotated token
 * file accepted without a restart; the HTTP settings read from the environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { describeConfig, loadConfig } from '../../../src/config.ts';
import { ConfigError } from '../../../src/errors.ts';
import { STORES_DISABLED, buildHttpServer, type RowReader } from '../../../src/metrics/server.ts';
import { bearerMatches, storesToken } from '../../../src/metrics/stores-auth.ts';
import { Secret } from '../../../src/secrets.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-stores-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'a-token-of-32-characters-0123456';
const rows: RowReader = {
  get: (table, key) => Promise.resolve(table === 't' && key === '{"id":1}' ? { version: '0001', origin: '0:0:1', row: { id: 1, email: 'a@example.com' }, deletedAtMs: null } : null),
  resolveTable: (name) => Promise.resolve(name),
};
const health = { live: () => true, readiness: () => Promise.resolve({ assigned: 1, lag: 0 }) };
const ROW_URL = `/stores/t/${encodeURIComponent('{"id":1}')}`;

test('bearerMatches: only "Bearer <token>" with exactly the token', () => {
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(`bearer ${TOKEN}`, TOKEN), true, 'scheme case-insensitive (RFC 6750)');
  for (const header of [undefined, '', TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, 'Bearer ', `Bearer ${TOKEN} extra`]) {
    assert.equal(bearerMatches(header, TOKEN), false, String(header));
  }
  assert.equal(bearerMatches('Bearer ', ''), false, 'an empty token never matches');
});

test('storesToken: off → undefined; on without a token → refused naming both settings; short → refused', () => {
  assert.equal(storesToken({ storesEnabled: false, storesToken: TOKEN, storesTokenFile: undefined }), undefined);
  assert.throws(
    () => storesToken({ storesEnabled: true, storesToken: undefined, storesTokenFile: undefined }),
    (e: unknown) => e instanceof ConfigError && /CDCV_STORES_TOKEN_FILE/.test(e.message) && /CDCV_STORES_TOKEN\b/.test(e.message) && /CDCV_STORES_ENABLED/.test(e.message),
  );
  const short = join(dir, 'short');
  writeFileSync(short, 'tooshort\n');
  assert.throws(() => storesToken({ storesEnabled: true, storesToken: undefined, storesTokenFile: short }), /storesTokenFile: the \/stores token is shorter than 16/);
  assert.throws(() => storesToken({ storesEnabled: true, storesToken: undefined, storesTokenFile: join(dir, 'missing') }), /storesTokenFile: cannot read .*ENOENT/);
  assert.throws(() => storesToken({ storesEnabled: true, storesToken: TOKEN, storesTokenFile: short }), /not both/);
});

test('the HTTP settings: defaults, environment, and the token masked', () => {
  const defaults = loadConfig({ env: {} }).config;
  assert.equal(defaults.httpHost, '0.0.0.0');
  assert.equal(defaults.storesEnabled, false);
  const c = loadConfig({ env: { CDCV_HTTP_HOST: '127.0.0.1', CDCV_STORES_ENABLED: 'true', CDCV_STORES_TOKEN_FILE: '/run/t' } }).config;
  assert.deepEqual([c.httpHost, c.storesEnabled, c.storesTokenFile], ['127.0.0.1', true, '/run/t']);
  assert.equal(loadConfig({ env: { CDCV_STORES_ENABLED: 'false' } }).config.storesEnabled, false);
  assert.throws(() => loadConfig({ env: { CDCV_STORES_ENABLED: 'yes' } }), /CDCV_STORES_ENABLED/);
  assert.throws(() => loadConfig({ env: { CDCV_HTTP_HOST: 'a b' } }), /CDCV_HTTP_HOST/);
  assert.throws(() => loadConfig({ env: { CDCV_STORES_TOKEN: 'short' } }), /CDCV_STORES_TOKEN: .*at least 16/);
  const printed = describeConfig(loadConfig({ env: { CDCV_STORES_TOKEN: TOKEN } })).find((r) => r.key === 'storesToken');
  assert.equal(printed?.value, '*****');
});

test('/stores disabled: 404 naming CDCV_STORES_ENABLED, with or without a token; other routes unchanged', async () => {
  const app = buildHttpServer({ registry: new Registry(), health });
  try {
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }]) {
      const res = await app.inject({ method: 'GET', url: ROW_URL, headers });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json<{ error: string }>().error, STORES_DISABLED);
      assert.doesNotMatch(res.body, /example\.com/);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/stores' })).json<{ error: string }>().error, STORES_DISABLED);
    assert.doesNotMatch((await app.inject({ method: 'GET', url: '/nope' })).json<{ error: string }>().error, /stores/, 'the route list does not offer /stores');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('/stores enabled: 401 without or with a wrong token, 200 with it; a rotated token file is picked up; an unreadable one is 503', async () => {
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\n`);
  const token = Secret.of('storesToken', undefined, file)!;
  const app = buildHttpServer({ registry: new Registry(), health, stores: { rows, token } });
  const status = async (auth?: string): Promise<number> => (await app.inject({ method: 'GET', url: ROW_URL, headers: auth ? { authorization: auth } : {} })).statusCode;
  try {
    const denied = await app.inject({ method: 'GET', url: ROW_URL });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['www-authenticate'], 'Bearer realm="cdc-views /stores"');
    assert.doesNotMatch(denied.body, /example\.com/);
    assert.equal(await status(`Bearer ${TOKEN}x`), 401);
    const ok = await app.inject({ method: 'GET', url: ROW_URL, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ row: { email: string } }>().row.email, 'a@example.com');

    const rotated = 'the-rotated-token-0123456789abcdef';
    writeFileSync(file, rotated); // another size: seen as changed even within the mtime granularity
    assert.equal(await status(`Bearer ${TOKEN}`), 401, 'the old token no longer opens /stores');
    assert.equal(await status(`Bearer ${rotated}`), 200);

    rmSync(file);
    const gone = await app.inject({ method: 'GET', url: ROW_URL, headers: { authorization: `Bearer ${rotated}` } });
    assert.equal(gone.statusCode, 503);
    assert.doesNotMatch(gone.body, new RegExp(dir), 'the file path is not told to the client');
  } finally {
    await app.close();
  }
});
