/**
 * Kafka security settings (src/kafka/security.ts): what each mechanism
 * needs, named in the error; credentials read at each authentication (a
 * rotated password file is used by the next connection); TLS options.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig, describeConfig } from '../../../src/config.ts';
import { ConfigError } from '../../../src/errors.ts';
import type { AuthenticationProviderArgs, Mechanism } from 'kafkajs';
import { kafkaSecurity } from '../../../src/kafka/security.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-kafka-sec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

/** The Kafka security of an environment (as the CLI loads it: env > defaults). */
const fromEnv = (env: Record<string, string>) => kafkaSecurity(loadConfig({ env }).config);

/** Asserts a ConfigError whose message matches. */
function refuses(env: Record<string, string>, message: RegExp): void {
  assert.throws(() => fromEnv(env), (e: unknown) => e instanceof ConfigError && message.test(e.message), `expected ${String(message)}`);
}

test('no settings: plaintext, no SASL', () => {
  const s = fromEnv({});
  assert.equal(s.ssl, undefined);
  assert.equal(s.sasl, undefined);
});

test('each mechanism names the settings it is missing', () => {
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'scram-sha-512' }, /^kafkaSaslUsername \(CDCV_KAFKA_SASL_USERNAME, --kafka-sasl-username\): missing: kafkaSaslMechanism=scram-sha-512 needs it/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'plain', CDCV_KAFKA_SASL_USERNAME: 'u' }, /^kafkaSaslPassword \(CDCV_KAFKA_SASL_PASSWORD\): missing: kafkaSaslMechanism=plain needs it/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer' }, /^kafkaSaslOauthTokenCommand .*missing: .*kafkaSaslOauthTokenEndpoint with kafkaSaslOauthClientId and kafkaSaslOauthClientSecret/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer', CDCV_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT: 'https://idp.example/token' }, /^kafkaSaslOauthClientId .*missing: kafkaSaslMechanism=oauthbearer with a token endpoint needs it/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer', CDCV_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT: 'https://idp.example/token', CDCV_KAFKA_SASL_OAUTH_CLIENT_ID: 'c' }, /^kafkaSaslOauthClientSecret .*missing/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'aws', CDCV_KAFKA_SSL: 'true' }, /^kafkaSaslAwsRegion .*missing: kafkaSaslMechanism=aws needs it; expected an AWS region/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'aws', CDCV_KAFKA_SASL_AWS_REGION: 'eu-west-1' }, /^kafkaSsl .*must be true with kafkaSaslMechanism=aws/);
});

test('settings the mechanism does not use, TLS files without TLS and half a client certificate are refused', () => {
  refuses({ CDCV_KAFKA_SASL_USERNAME: 'u' }, /^kafkaSaslUsername .*is set but kafkaSaslMechanism is not set/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'aws', CDCV_KAFKA_SSL: '1', CDCV_KAFKA_SASL_AWS_REGION: 'eu-west-1', CDCV_KAFKA_SASL_PASSWORD: 'x' }, /^kafkaSaslPassword .*kafkaSaslMechanism=aws does not use it/);
  refuses({ CDCV_KAFKA_SSL_CA_FILE: file('ca0.pem', 'x') }, /^kafkaSsl .*is false but kafkaSslCaFile is set: set CDCV_KAFKA_SSL=true/);
  refuses({ CDCV_KAFKA_SSL: 'true', CDCV_KAFKA_SSL_CERT_FILE: file('c.pem', 'x') }, /^kafkaSslKeyFile .*missing: mutual TLS needs both/);
  refuses({ CDCV_KAFKA_SSL: 'true', CDCV_KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') }, /^kafkaSslCaFile: cannot read .*nope\.pem \(ENOENT\)/);
  refuses({ CDCV_KAFKA_SASL_MECHANISM: 'plain', CDCV_KAFKA_SASL_USERNAME: 'u', CDCV_KAFKA_SASL_PASSWORD: 'a', CDCV_KAFKA_SASL_PASSWORD_FILE: '/f' }, /kafkaSaslPassword: give the value or kafkaSaslPasswordFile, not both/);
  assert.throws(() => loadConfig({ env: { CDCV_KAFKA_SASL_MECHANISM: 'gssapi' } }), /CDCV_KAFKA_SASL_MECHANISM: "gssapi" is invalid .*one of plain, scram-sha-256, scram-sha-512, oauthbearer, aws/);
  assert.throws(() => loadConfig({ env: { CDCV_KAFKA_SSL: 'maybe' } }), /CDCV_KAFKA_SSL: "maybe" is invalid/);
});

test('the SCRAM password is read from its file at each authentication: a rotated file is used by the next connection', () => {
  const pw = file('password', 'first-secret\n');
  const s = fromEnv({ CDCV_KAFKA_SASL_MECHANISM: 'scram-sha-512', CDCV_KAFKA_SASL_USERNAME: 'alice', CDCV_KAFKA_SASL_PASSWORD_FILE: pw });
  const sasl = s.sasl as { mechanism: string; username: string; password: string };
  assert.equal(sasl.mechanism, 'scram-sha-512');
  assert.equal(sasl.username, 'alice');
  assert.equal(sasl.password, 'first-secret');
  writeFileSync(pw, 'rotated-secret-2\n');
  utimesSync(pw, new Date(), new Date(Date.now() + 5000));
  assert.equal(sasl.password, 'rotated-secret-2');
  assert.equal(s.principal, 'User:alice');
  // Never in JSON (the password is not enumerable) nor in `config print`.
  assert.ok(!JSON.stringify(sasl).includes('secret'), JSON.stringify(sasl));
  const printed = describeConfig(loadConfig({ env: { CDCV_KAFKA_SASL_MECHANISM: 'plain', CDCV_KAFKA_SASL_USERNAME: 'u', CDCV_KAFKA_SASL_PASSWORD: 'canary-pw-123' } }));
  assert.equal(printed.find((r) => r.key === 'kafkaSaslPassword')?.value, '*****');
});

test('TLS: CA, client certificate and key are read from their files per connection; verifyHostname=false skips only the name check', () => {
  const ca = file('ca.pem', 'CA-1');
  const s = fromEnv({ CDCV_KAFKA_SSL: 'true', CDCV_KAFKA_SSL_CA_FILE: ca, CDCV_KAFKA_SSL_CERT_FILE: file('cert.pem', 'CERT'), CDCV_KAFKA_SSL_KEY_FILE: file('key.pem', 'KEY') });
  // KafkaJS copies `ssl` with Object.assign for each socket: the copy holds the files' contents.
  const copy = Object.assign({ host: 'h' }, s.ssl);
  assert.deepEqual([copy.ca, copy.cert, copy.key], ['CA-1', 'CERT', 'KEY']);
  assert.equal(copy.checkServerIdentity, undefined);
  assert.notEqual((copy as { rejectUnauthorized?: boolean }).rejectUnauthorized, false);
  writeFileSync(ca, 'CA-2-rotated');
  utimesSync(ca, new Date(), new Date(Date.now() + 5000));
  assert.equal(Object.assign({}, s.ssl).ca, 'CA-2-rotated');

  const loose = fromEnv({ CDCV_KAFKA_SSL: 'true', CDCV_KAFKA_SSL_VERIFY_HOSTNAME: 'false' });
  assert.equal(loose.ssl?.checkServerIdentity?.('other.example', {} as never), undefined);
  assert.notEqual(loose.ssl?.rejectUnauthorized, false, 'the chain is still verified');
  refuses({ CDCV_KAFKA_SSL_VERIFY_HOSTNAME: 'false' }, /^kafkaSslVerifyHostname .*only applies to TLS connections/);
});

test('oauthbearer and aws give KafkaJS a token provider and the MSK IAM mechanism', async () => {
  const oauth = fromEnv({ CDCV_KAFKA_SASL_MECHANISM: 'oauthbearer', CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND: 'echo tok-123' });
  const mechanism = oauth.sasl as Mechanism;
  assert.equal(mechanism.mechanism, 'oauthbearer');
  let sent = '';
  let answer = Buffer.from([0, 0, 0, 0]);
  const args = (): AuthenticationProviderArgs =>
    ({
      host: 'kafka',
      port: 9094,
      logger: {},
      saslAuthenticate: async ({ request }: { request: { encode: () => Buffer | Promise<Buffer> } }) => {
        sent = (await request.encode()).subarray(4).toString('utf8');
        return answer;
      },
    }) as unknown as AuthenticationProviderArgs;
  await mechanism.authenticationProvider(args()).authenticate();
  assert.equal(sent, 'n,,\u0001auth=Bearer tok-123\u0001\u0001', 'the RFC 7628 client first message with the token');
  // A broker refusing the token answers with an error challenge: the login fails with its words.
  const challenge = Buffer.from('{"status":"invalid_token"}');
  answer = Buffer.concat([Buffer.from([0, 0, 0, challenge.length]), challenge]);
  await assert.rejects(mechanism.authenticationProvider(args()).authenticate(), (e: Error) => e.name === 'KafkaJSSASLAuthenticationError' && /refused the token \(\{"status":"invalid_token"\}\)/.test(e.message));
  const aws = fromEnv({ CDCV_KAFKA_SASL_MECHANISM: 'aws', CDCV_KAFKA_SSL: 'true', CDCV_KAFKA_SASL_AWS_REGION: 'eu-west-1' });
  assert.equal((aws.sasl as { mechanism: string }).mechanism, 'AWS_MSK_IAM');
  assert.equal(typeof (aws.sasl as { authenticationProvider: unknown }).authenticationProvider, 'function');
});
