/**
 * Kafka authentication and TLS on the real broker's SASL_SSL listener
 * (issue #15): each SASL mechanism the broker can check here (SCRAM-SHA-512,
 * SCRAM-SHA-256, PLAIN, OAUTHBEARER from a token command and from a token
 * endpoint), mutual TLS, a wrong password (one line naming the setting, never
 * the password; the server's refusal is in it), a password file rotated while
 * the process runs, and hostname verification: a certificate whose SAN does
 * not name the host is refused unless kafkaSslVerifyHostname=false, which
 * still verifies the chain.
 *
 * AWS MSK IAM cannot be checked against AWS here: its signing is tested
 * against AWS's published SigV4 vectors (test/unit/kafka/msk-iam-sigv4.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { uniqueId } from '../helpers.ts';
import { cli } from '../ops/helpers.ts';
import { SASL_PORT, TLS_ENV, grant, passwordFile, passwordOf, revokeAll, scramEnv, securedAdmin, superAdmin } from './kafka-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-kafka-auth-'));
const id = uniqueId('auth').replace('_', '');
const topic = `${id}.visible`;
const OAUTH = 'User:cdcv-oauth';
let admin: Admin;

before(async () => {
  admin = await superAdmin();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await revokeAll(admin, OAUTH);
  // The token's principal may see this one topic: listing it proves who the broker took the client for.
  await grant(admin, OAUTH, [{ resource: 'Topic', name: topic, pattern: 'literal', operations: ['Describe'], why: 'test' }]);
});

after(async () => {
  await revokeAll(admin, OAUTH).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** Connects with the settings of `env`, lists the topics, disconnects; rejects with the connection's error. */
async function listAs(env: Record<string, string>): Promise<string[]> {
  const a = securedAdmin(env);
  try {
    await a.connect();
    return await a.listTopics();
  } finally {
    await a.disconnect().catch(() => undefined);
  }
}

/** An unsecured JWT (alg none), what Kafka's default OAUTHBEARER validator accepts; `expSeconds` from now. */
function unsecuredJwt(sub: string, expSeconds: number): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none' })}.${b64({ sub, iat: now - 60, exp: now + expSeconds, scope: 'kafka' })}.`;
}

test('SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN log in with mutual TLS; without a client certificate the listener refuses the connection', async () => {
  await listAs(scramEnv('cdcv-app'));
  await listAs(scramEnv('cdcv-app', 'scram-sha-256'));
  await listAs({ ...TLS_ENV, CDCV_KAFKA_SASL_MECHANISM: 'plain', CDCV_KAFKA_SASL_USERNAME: 'cdcv-plain', CDCV_KAFKA_SASL_PASSWORD_FILE: passwordFile('cdcv-plain') });
  const { CDCV_KAFKA_SSL_CERT_FILE: _c, CDCV_KAFKA_SSL_KEY_FILE: _k, ...noClientCert } = scramEnv('cdcv-app');
  await assert.rejects(listAs(noClientCert), (e: Error) => /KafkaJS|certificate|ECONNRESET|closed/i.test(`${e.name} ${e.message}`), 'ssl.client.auth=required refuses a client without a certificate');
});

test('OAUTHBEARER: a token from a command and from a client-credentials endpoint; the broker takes the client for the token subject, and refuses an expired token', async () => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${unsecuredJwt('cdcv-oauth', 3600)}\n`);
  const byCommand = { ...TLS_ENV, CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer', CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND: `cat '${tokenFile}'` };
  assert.deepEqual(await listAs(byCommand), [topic], 'the broker took the client for User:cdcv-oauth (it sees only the topic granted to it)');
  writeFileSync(tokenFile, `${unsecuredJwt('cdcv-oauth', -600)}\n`);
  await assert.rejects(listAs(byCommand), (e: Error & { code?: string }) => e.code === 'KAFKA_SASL_AUTH_FAILED' && /refused the SASL OAUTHBEARER login/.test(e.message), 'an expired token is refused by the broker');

  // The client-credentials grant against a token endpoint (a local stand-in for the identity provider).
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: unsecuredJwt('cdcv-oauth', 3600), token_type: 'bearer', expires_in: 3600 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    writeFileSync(join(dir, 'client-secret'), 'client-secret-1\n');
    const byEndpoint = {
      ...TLS_ENV,
      CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer',
      CDCV_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
      CDCV_KAFKA_SASL_OAUTH_CLIENT_ID: 'cdc-views',
      CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE: join(dir, 'client-secret'),
    };
    assert.deepEqual(await listAs(byEndpoint), [topic]);
    assert.deepEqual(requests, [`Basic ${Buffer.from('cdc-views:client-secret-1').toString('base64')}`]);
  } finally {
    server.close();
  }
});

test('a wrong password fails in one line naming the setting, without the password; a rotated password file is used by the next connection', async () => {
  const file = join(dir, 'password');
  const wrong = 'wrong-password-canary-5521';
  writeFileSync(file, `${wrong}\n`);
  const env = { ...scramEnv('cdcv-app'), CDCV_KAFKA_SASL_PASSWORD_FILE: file };
  const r = await cli(['status', '--app', `${id}-none`], 60_000, env);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // The broker's own words for a refused SCRAM login are in the line: the server really refused it.
  assert.match(r.stderr, /^cdc-views: Kafka at localhost:\d+ refused the SASL SCRAM-SHA-512 login as User:cdcv-app \(.*invalid credentials with SASL mechanism SCRAM-SHA-512\); check kafkaSaslUsername and kafkaSaslPassword \(CDCV_KAFKA_SASL_PASSWORD, or the file CDCV_KAFKA_SASL_PASSWORD_FILE names\)/);
  assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong), 'the password is not printed');

  // In one process: refused with the old content, accepted after the file is rotated to the right one.
  const a = securedAdmin(env);
  await assert.rejects(a.connect(), (e: Error & { code?: string }) => e.code === 'KAFKA_SASL_AUTH_FAILED');
  writeFileSync(file, `${passwordOf('cdcv-app')}\n`);
  utimesSync(file, new Date(), new Date(Date.now() + 2000));
  await a.connect();
  assert.ok(Array.isArray(await a.listTopics()));
  await a.disconnect();
});

test('hostname verification refuses a certificate whose SAN does not name the host; kafkaSslVerifyHostname=false skips only that check', async () => {
  // 127.0.0.2 reaches the same listener, but the certificate names only localhost and 127.0.0.1.
  const env: Record<string, string> = { ...scramEnv('cdcv-app'), CDCV_KAFKA_BROKERS: `127.0.0.2:${SASL_PORT}` };
  const r = await cli(['status', '--app', `${id}-none`], 60_000, env);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^cdc-views: Kafka at 127\.0\.0\.2:\d+: the broker's TLS certificate does not name the host connected to \(.*127\.0\.0\.2.*\); connect through a name the certificate lists, or set CDCV_KAFKA_SSL_VERIFY_HOSTNAME=false/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);

  await listAs({ ...env, CDCV_KAFKA_SSL_VERIFY_HOSTNAME: 'false' });
  const { CDCV_KAFKA_SSL_CA_FILE: _ca, ...withoutCa } = env;
  await assert.rejects(listAs({ ...withoutCa, CDCV_KAFKA_SSL_VERIFY_HOSTNAME: 'false' }), (e: Error & { code?: string }) => e.code === 'KAFKA_TLS_UNAVAILABLE' && /is not trusted/.test(e.message), 'the chain is still verified');
});
