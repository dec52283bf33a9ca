/**
 * Kafka Connect REST basic auth (src/connect/client.ts) against a real
 * loopback HTTP server started by the test that answers like a Connect worker
 * with Kafka's BasicAuthSecurityRestExtension: 401 without the right
 * `Authorization`. (The stack's Connect worker runs without the extension,
 * which needs a JAAS file on the worker, so the header is checked here.)
 *
 * What is tested: the header from `connectUsername` + `connectPasswordFile`
 * (re-read after a rotation); a refusal is CONNECT_AUTH_FAILED naming the
 * settings, not a missing connector; credentials in the URL work and appear
 * in no message; the settings' refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { loopbackHttp, type LoopbackHttp } from '../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectClient, connectTarget } from '../../src/connect/client.ts';
import { CdcViewsError, ConfigError } from '../../src/errors.ts';

let expected = '';
const seen: (string | undefined)[] = [];
let server: LoopbackHttp;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'cdcv-connect-auth-'));
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

before(async () => {
  server = await loopbackHttp((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 401, message: 'User cannot access the resource.' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 404, message: 'No status found for connector x' }));
  });
  url = server.url;
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (over: Partial<Parameters<typeof connectTarget>[0]> = {}): Parameters<typeof connectTarget>[0] => ({
  connectUrl: url,
  connectUsername: undefined,
  connectPassword: undefined,
  connectPasswordFile: undefined,
  ...over,
});

test('basic auth from a password file: accepted (404 = no such connector), refused after the server rotates, accepted after the file does', async () => {
  const file = join(dir, 'connect-password');
  writeFileSync(file, 'connect-Pass-1\n');
  expected = basic('connect-admin', 'connect-Pass-1');
  const client = new ConnectClient(connectTarget(settings({ connectUsername: 'connect-admin', connectPasswordFile: file })));
  assert.equal(await client.status('x'), null);
  assert.equal(seen.at(-1), expected);

  expected = basic('connect-admin', 'connect-Pass-2');
  await assert.rejects(client.status('x'), (e: unknown) => {
    assert.ok(e instanceof CdcViewsError && e.code === 'CONNECT_AUTH_FAILED', String(e));
    assert.match(e.message, /^Kafka Connect at http:\/\/127\.0\.0\.1:\d+ refuses the credentials \(401\): set connectUsername and connectPassword/);
    assert.doesNotMatch(e.message, /Pass-/);
    return true;
  });
  writeFileSync(file, 'connect-Pass-2\n');
  utimesSync(file, new Date(), new Date(Date.now() + 2000));
  assert.equal(await client.status('x'), null);
});

test('credentials in the URL work as basic auth and appear in no message', async () => {
  expected = basic('u', 'url-Pass@1');
  const withUserInfo = url.replace('http://', `http://u:${encodeURIComponent('url-Pass@1')}@`);
  const client = new ConnectClient(withUserInfo);
  assert.equal(client.url, url);
  assert.equal(await client.status('x'), null);
  const unreachable = new ConnectClient('http://u:url-Pass-9@127.0.0.1:1', 500);
  await assert.rejects(unreachable.status('x'), (e: unknown) => e instanceof CdcViewsError && e.code === 'CONNECT_UNREACHABLE' && !/url-Pass|u:/.test(e.message) && e.message.includes('http://127.0.0.1:1 '));
});

test('settings refused: a password without its user, URL credentials with the settings', () => {
  assert.throws(() => connectTarget(settings({ connectPassword: 'p' })), (e: unknown) => e instanceof ConfigError && e.field === 'connectUsername');
  assert.throws(() => connectTarget(settings({ connectUrl: 'http://a:b@h:8083', connectUsername: 'u', connectPassword: 'p' })), (e: unknown) => e instanceof ConfigError && e.field === 'connectUrl');
});
