/**
 * OAUTHBEARER token providers (src/kafka/oauth.ts): a command run at each
 * authentication; the client-credentials grant against a token endpoint (a
 * local HTTP server here), cached until shortly before expiry, the secret
 * re-read from its file and never in an error.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Secret } from '../../../src/secrets.ts';
import { clientCredentialsTokenProvider, commandTokenProvider } from '../../../src/kafka/oauth.ts';

test('a token command runs at each call; a failing or empty one names the setting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdcv-oauth-'));
  try {
    const f = join(dir, 'token');
    writeFileSync(f, 'token-1\n');
    const p = commandTokenProvider(`cat ${f}`);
    assert.equal(await p.token(), 'token-1');
    writeFileSync(f, 'token-2\n');
    assert.equal(await p.token(), 'token-2');
    await assert.rejects(commandTokenProvider('echo nope >&2; exit 3').token(), /^CdcViewsError: kafkaSaslOauthTokenCommand exited 3: nope; fix the command \(CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND\)/);
    await assert.rejects(commandTokenProvider('true').token(), /kafkaSaslOauthTokenCommand printed nothing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('client credentials: Basic auth and a form body, the token cached until a tenth of its lifetime is left, the secret re-read and never shown', async () => {
  const requests: { auth: string | undefined; body: string }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { access_token: 'at-1', token_type: 'bearer', expires_in: 600 } };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ auth: req.headers.authorization, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'cdcv-oauth-'));
  try {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 's3cr3t value\n');
    let now = 1_000_000;
    const p = clientCredentialsTokenProvider({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, clientId: 'cdc views', clientSecret: Secret.of('kafkaSaslOauthClientSecret', undefined, secretFile)!, scope: 'kafka read', now: () => now });
    assert.deepEqual(await Promise.all([p.token(), p.token()]), ['at-1', 'at-1']);
    assert.equal(requests.length, 1, 'concurrent callers share one request');
    assert.equal(requests[0]!.auth, `Basic ${Buffer.from('cdc+views:s3cr3t+value').toString('base64')}`);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(requests[0]!.body)), { grant_type: 'client_credentials', scope: 'kafka read' });
    now += 539_000; // 600 s lifetime, refreshed 60 s before the end
    assert.equal(await p.token(), 'at-1');
    assert.equal(requests.length, 1);
    answer = { status: 200, body: { access_token: 'at-2', expires_in: 600 } };
    writeFileSync(secretFile, 'rotated\n');
    utimesSync(secretFile, new Date(), new Date(Date.now() + 5000));
    now += 2_000;
    assert.equal(await p.token(), 'at-2');
    assert.equal(requests[1]!.auth, `Basic ${Buffer.from('cdc+views:rotated').toString('base64')}`);

    answer = { status: 401, body: { error: 'invalid_client', error_description: 'bad secret rotated' } };
    now += 600_000;
    await assert.rejects(p.token(), (e: Error) => {
      assert.match(e.message, /^the OAuth token endpoint http:\/\/127\.0\.0\.1:\d+\/token answered 401 \(invalid_client: bad secret \*\*\*\*\*\); check kafkaSaslOauthClientId/);
      return true;
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
