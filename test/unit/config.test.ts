/**
 * The configuration schema: one declaration read from flags, environment and a
 * YAML/JSON file with that precedence; every error names the field (as the user
 * wrote it), the value and the fix; unknown keys are rejected; secrets masked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.ts';
import { ConfigErrors, SETTINGS, describeConfig, loadConfig, loadEnv, maskSecret } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-config-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const errorOf = (fn: () => unknown): ConfigErrors => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err;
  }
  assert.fail('expected a ConfigErrors');
};

test('defaults apply when nothing is set', () => {
  const { config, sources } = loadConfig({ env: {} });
  assert.equal(config.kafkaBrokers, 'localhost:9092');
  assert.equal(config.httpPort, 9464);
  assert.equal(config.readyMaxLag, 10_000);
  assert.equal(config.shutdownTimeoutMs, 30_000);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.applicationId, undefined);
  assert.deepEqual(sources.httpPort, { kind: 'default' });
});

test('flag > environment > file > default, each value typed by the same schema', () => {
  const f = file('layers.yaml', 'httpPort: 7000\nreadyMaxLag: 5\nlogLevel: debug\napplicationId: from-file\n');
  const { config, sources } = loadConfig({ env: { CDCV_HTTP_PORT: '8000', CDCV_READY_MAX_LAG: '6' }, file: f, flags: { httpPort: '9000' } });
  assert.equal(config.httpPort, 9000);
  assert.deepEqual(sources.httpPort, { kind: 'flag', name: '--http-port' });
  assert.equal(config.readyMaxLag, 6);
  assert.deepEqual(sources.readyMaxLag, { kind: 'env', name: 'CDCV_READY_MAX_LAG' });
  assert.equal(config.logLevel, 'debug');
  assert.deepEqual(sources.logLevel, { kind: 'file', file: f });
  assert.equal(config.applicationId, 'from-file');
});

test('a JSON file works too; CDCV_CONFIG names the file when --config is absent', () => {
  const f = file('c.json', JSON.stringify({ kafkaBrokers: 'k1:9092,k2:9092', maxChunkRecords: 500 }));
  const { config, file: used } = loadConfig({ env: { CDCV_CONFIG: f } });
  assert.equal(used, f);
  assert.equal(config.kafkaBrokers, 'k1:9092,k2:9092');
  assert.equal(config.maxChunkRecords, 500);
});

test('an invalid environment value: the error names the variable, the value and the fix', () => {
  const err = errorOf(() => loadConfig({ env: { CDCV_HTTP_PORT: 'ninety' } }));
  assert.equal(err.field, 'CDCV_HTTP_PORT');
  assert.match(err.message, /^CDCV_HTTP_PORT: "ninety" is invalid \(.+\); expected a TCP port 0–65535, or unset it to use the default$/);
});

test('every problem is reported at once, one line each', () => {
  const err = errorOf(() => loadConfig({ env: { CDCV_REDIS_URL: 'http://localhost:6379', CDCV_LOG_LEVEL: 'verbose', CDCV_KAFKA_BROKERS: 'localhost' } }));
  const lines = err.message.split('\n');
  assert.equal(lines.length, 3, err.message);
  assert.match(err.message, /CDCV_KAFKA_BROKERS: "localhost" is invalid \(must be host:port\[,host:port…\]\); expected a comma-separated host:port list/);
  assert.match(err.message, /CDCV_REDIS_URL: "http:\/\/localhost:6379" is invalid \(must start with redis:\/\/\); expected a redis:\/\/ or rediss:\/\/ URL/);
  assert.match(err.message, /CDCV_LOG_LEVEL: "verbose" is invalid .*expected one of fatal, error, warn, info, debug, trace, silent/);
  assert.deepEqual(err.issues.map((i) => i.field), ['CDCV_KAFKA_BROKERS', 'CDCV_REDIS_URL', 'CDCV_LOG_LEVEL']);
});

test('an unknown CDCV_ variable is rejected with a suggestion; stack-only variables are accepted', () => {
  const err = errorOf(() => loadConfig({ env: { CDCV_REDIS_ULR: 'redis://x:6379' } }));
  assert.equal(err.field, 'CDCV_REDIS_ULR');
  assert.match(err.message, /unknown setting; did you mean CDCV_REDIS_URL\? known ones are CDCV_KAFKA_BROKERS, /);
  assert.doesNotThrow(() => loadConfig({ env: { CDCV_STACK_DIR: '/tmp/x', CDCV_KAFKA_PORT: '9092', OTHER: 'x' } }));
  // The tests' knobs (CDCV_TEST_*), e.g. the stagger of the ops-unreachable test.
  assert.doesNotThrow(() => loadConfig({ env: { CDCV_TEST_OPS_STAGGER_MS: '1500' } }));
  assert.throws(() => loadConfig({ env: { CDCV_TESTX: '1' } }), { field: 'CDCV_TESTX' });
});

test('the connection settings have CLI flags (every command that connects takes them)', () => {
  const flags = Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, (v as { flag?: string }).flag]));
  assert.deepEqual(
    [flags.kafkaBrokers, flags.redisUrl, flags.redisSentinels, flags.redisSentinelName, flags.connectUrl, flags.opensearchUrl, flags.schemaRegistryUrl, flags.pgHost, flags.pgPort, flags.pgUser],
    ['--kafka-brokers <list>', '--redis-url <url>', '--redis-sentinels <list>', '--redis-sentinel-name <name>', '--connect-url <url>', '--opensearch-url <url>', '--schema-registry-url <url>', '--pg-host <host>', '--pg-port <port>', '--pg-user <user>'],
  );
  const flagged = loadConfig({ env: {}, flags: { opensearchUrl: 'http://flag:9200' } });
  assert.deepEqual(flagged.sources.opensearchUrl, { kind: 'flag', name: '--opensearch-url' });
});

test('a flag value is checked by the same schema and named as the flag', () => {
  const err = errorOf(() => loadConfig({ env: {}, flags: { topics: '^shop.(', applicationId: 'has space' } }));
  assert.deepEqual(err.issues.map((i) => i.field), ['--app', '--topics']);
  assert.match(err.message, /--app: "has space" is invalid \(letters, digits, \. _ - only\); expected letters, digits/);
  assert.match(err.message, /--topics: "\^shop\.\(" is invalid \(not a regular expression\)/);
});

test('a file value: the error names the key and the file, and how to fall back to the default', () => {
  const f = file('bad-value.yaml', 'shutdownTimeoutMs: 10\n');
  const err = errorOf(() => loadConfig({ env: {}, file: f }));
  assert.equal(err.field, `shutdownTimeoutMs (config file ${f})`);
  assert.match(err.message, /10 is invalid \(.+\); expected an integer ≥ 1000 \(ms\), or remove it to use the default$/);
});

test('unknown keys in a file are rejected, with a suggestion or the key to use instead of a variable name', () => {
  const f = file('unknown.yaml', 'kafkaBroker: localhost:9092\nCDCV_HTTP_PORT: 1\n');
  const err = errorOf(() => loadConfig({ env: {}, file: f }));
  assert.equal(err.issues.length, 2);
  assert.match(err.issues[0]!.problem, /^unknown setting; did you mean kafkaBrokers\? known settings: kafkaBrokers, /);
  assert.equal(err.issues[1]!.field, `CDCV_HTTP_PORT (config file ${f})`);
  assert.match(err.issues[1]!.problem, /in a config file write httpPort, not the environment variable name/);
});

test('a missing, unparsable or non-mapping file says what to fix', () => {
  assert.match(errorOf(() => loadConfig({ env: {}, file: join(dir, 'nope.yaml') })).message, /^--config: cannot read ".*nope\.yaml" \(ENOENT\); give the path of a YAML or JSON file$/);
  assert.match(errorOf(() => loadConfig({ env: {}, file: file('broken.yaml', 'a: [1, 2\n') })).message, /is not valid YAML or JSON: /);
  assert.match(errorOf(() => loadConfig({ env: {}, file: file('list.yaml', '- a\n- b\n') })).message, /must be a mapping of settings .* got a list/);
  assert.doesNotThrow(() => loadConfig({ env: {}, file: file('empty.yaml', '') }));
});

test('loadEnv keeps the environment variable names as keys', () => {
  const cfg = loadEnv({ CDCV_PG_PORT: '5433', CDCV_APPLICATION_ID: 'orders' });
  assert.equal(cfg.CDCV_PG_PORT, 5433);
  assert.equal(cfg.CDCV_APPLICATION_ID, 'orders');
  assert.equal(cfg.CDCV_REDIS_URL, 'redis://127.0.0.1:6379');
  assert.throws(() => loadEnv({ CDCV_PG_PORT: '0' }), /CDCV_PG_PORT: "0" is invalid/);
});

test('every setting has a distinct CDCV_ variable, a doc and a fix; the deployment variables are kept', () => {
  const envs = Object.values(SETTINGS).map((s) => s.env);
  assert.equal(new Set(envs).size, envs.length);
  for (const name of ['CDCV_KAFKA_BROKERS', 'CDCV_CONNECT_URL', 'CDCV_REDIS_URL', 'CDCV_PG_HOST', 'CDCV_PG_PORT', 'CDCV_PG_USER', 'CDCV_OPENSEARCH_URL', 'CDCV_SCHEMA_REGISTRY_URL', 'CDCV_APPLICATION_ID', 'CDCV_TOPICS', 'CDCV_TOPOLOGY', 'CDCV_HTTP_PORT', 'CDCV_READY_MAX_LAG', 'CDCV_SHUTDOWN_TIMEOUT_MS', 'CDCV_LOG_LEVEL']) {
    assert.ok(envs.includes(name as (typeof envs)[number]), name);
  }
  for (const s of Object.values(SETTINGS)) {
    assert.ok(s.doc.length > 10 && s.fix.length > 3, s.env);
  }
});

test('config print masks passwords in URLs and says where each value came from', () => {
  assert.equal(maskSecret('redis://user:s3cret@redis:6379/0'), 'redis://user:*****@redis:6379/0');
  assert.equal(maskSecret('redis://:s3cret@redis:6379'), 'redis://:*****@redis:6379');
  assert.equal(maskSecret('http://localhost:9200'), 'http://localhost:9200');
  assert.equal(maskSecret(42), 42);
  const rows = describeConfig(loadConfig({ env: { CDCV_OPENSEARCH_URL: 'https://admin:pw@search:9200' }, flags: { redisUrl: 'rediss://:pw@r:6380' } }));
  const row = (key: string) => rows.find((r) => r.key === key)!;
  assert.deepEqual(row('opensearchUrl'), { key: 'opensearchUrl', env: 'CDCV_OPENSEARCH_URL', value: 'https://admin:*****@search:9200/', source: 'env CDCV_OPENSEARCH_URL' });
  assert.deepEqual(row('redisUrl'), { key: 'redisUrl', env: 'CDCV_REDIS_URL', value: 'rediss://:*****@r:6380', source: 'flag --redis-url' });
  assert.equal(row('httpPort').source, 'default');
  assert.ok(!JSON.stringify(rows).includes(':pw@'));
});
