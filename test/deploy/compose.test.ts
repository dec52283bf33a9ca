/**
 * docker-compose.yml, as Docker Compose itself reads it: `docker-compose
 * config` (Debian's docker-compose, which parses and validates the file
 * without a Docker engine) must accept it, and the normalized result must
 * start in order and configure cdc-views only with settings it knows.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'yaml';
import { SETTINGS, loadEnv } from '../../src/config.ts';
import { ROOT } from './helm.ts';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  stop_grace_period?: string;
  /** docker-compose 1.x normalizes to `host_ip:published:target/proto`; 2.x to the long form. */
  ports?: (string | { host_ip?: string; published?: string | number; target: number })[];
  network_mode?: string;
}

const ENV_KEYS: string[] = Object.values(SETTINGS).map((s) => s.env);
let services: Record<string, Service>;

before(() => {
  let out: string;
  try {
    out = execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('docker-compose is not installed: apt-get install docker-compose (.ci/run does)', { cause: err });
    throw new Error(`docker-compose config rejects docker-compose.yml:\n${e.stderr ?? e.message}`, { cause: err });
  }
  services = (parse(out) as { services: Record<string, Service> }).services;
});

const oneShot = (s: Service): boolean => s.restart === 'no';
const isCdcViews = (s: Service): boolean => s.image === 'cdc-views:local';
const seconds = (d: string | undefined): number => {
  const m = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(d ?? '');
  return m ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : 10;
};

test('the stack: Kafka 3.9.0 (official image), Debezium Connect 3.1, schema registry, PostgreSQL with wal_level=logical, Redis, OpenSearch without security, cdc-views', () => {
  const images = Object.values(services).map((s) => s.image);
  assert.ok(images.includes('apache/kafka:3.9.0'));
  assert.ok(images.includes('quay.io/debezium/connect:3.1'));
  assert.ok(images.some((i) => i?.startsWith('postgres:15')));
  assert.ok(images.some((i) => i?.startsWith('redis:')));
  assert.ok(images.some((i) => i?.startsWith('confluentinc/cp-schema-registry:')));
  const pg = Object.values(services).find((s) => s.image?.startsWith('postgres:'));
  assert.ok(pg?.command?.includes('wal_level=logical'));
  const os = Object.values(services).find((s) => s.image?.startsWith('opensearchproject/opensearch:2.'));
  assert.equal(os?.environment?.DISABLE_SECURITY_PLUGIN, 'true');
  assert.ok(Object.values(services).some((s) => isCdcViews(s) && s.command?.[0] === 'run'), 'a cdc-views service runs a topology');
});

test('every long-running service has a health check; every dependency waits on a condition', () => {
  for (const [name, s] of Object.entries(services)) {
    if (!oneShot(s)) assert.ok(s.healthcheck && !s.healthcheck.disable, `${name} has no healthcheck`);
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      const target = services[dep];
      assert.ok(target, `${name} depends on unknown service ${dep}`);
      const want = oneShot(target) ? 'service_completed_successfully' : 'service_healthy';
      assert.equal(condition, want, `${name} → ${dep}`);
    }
  }
});

test('start-up order: cdc-views starts after the connector is registered, which waits for Connect and the sample database', () => {
  const runner = Object.entries(services).find(([, s]) => isCdcViews(s) && s.command?.[0] === 'run');
  assert.ok(runner);
  const [, s] = runner;
  for (const dep of ['kafka', 'redis', 'opensearch', 'register-connector']) assert.ok(s.depends_on?.[dep], `cdc-views waits for ${dep}`);
  const register = services['register-connector'];
  assert.deepEqual(register?.command, ['connect', 'register', '/app/dist/schemas/connectors/shop.json', '--set', 'database.hostname=postgres', '--set', 'signal.kafka.bootstrap.servers=kafka:9092']);
  assert.ok(existsSync(join(ROOT, 'schemas/connectors/shop.json')));
  assert.ok(register.depends_on?.connect && register.depends_on['sample-db']);
  assert.ok(services['sample-db']?.depends_on?.postgres);
});

test('every CDCV_* variable given to a cdc-views container is a setting of src/config.ts, with a valid value', () => {
  const cdcv = Object.entries(services).filter(([, s]) => isCdcViews(s));
  assert.ok(cdcv.length >= 3);
  for (const [name, s] of cdcv) {
    const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? '']));
    for (const k of Object.keys(env)) {
      if (k.startsWith('CDCV_')) assert.ok(ENV_KEYS.includes(k), `${name} sets ${k}, which is not a setting of src/config.ts`);
    }
    assert.doesNotThrow(() => loadEnv(env), `${name}: cdc-views rejects its environment`);
  }
});

test('the topology each runner names is a compiled example topology; the stop grace period outlasts the shutdown timeout', () => {
  for (const [name, s] of Object.entries(services).filter(([, x]) => isCdcViews(x) && x.command?.[0] === 'run')) {
    const env = loadEnv(Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? ''])));
    const file = env.CDCV_TOPOLOGY;
    assert.match(file ?? '', /^dist\/topologies\/[\w-]+\.js$/, `${name}: CDCV_TOPOLOGY`);
    assert.ok(existsSync(join(ROOT, (file ?? '').replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${name}: ${file} is not built from topologies/`);
    assert.ok(env.CDCV_APPLICATION_ID && env.CDCV_TOPICS, `${name}: CDCV_APPLICATION_ID and CDCV_TOPICS are set`);
    assert.ok(seconds(s.stop_grace_period) * 1000 > env.CDCV_SHUTDOWN_TIMEOUT_MS, `${name}: stop_grace_period ${s.stop_grace_period} ≤ CDCV_SHUTDOWN_TIMEOUT_MS`);
  }
});

test('every published port is on 127.0.0.1 only: Redis, PostgreSQL, OpenSearch and Connect REST (no authentication here) are not reachable from the network', () => {
  const published = new Map<string, string>();
  for (const [name, s] of Object.entries(services)) {
    assert.notEqual(s.network_mode, 'host', `${name} shares the host's network`);
    for (const p of s.ports ?? []) {
      const [hostIp, hostPort] = typeof p === 'string' ? (/^(?:([\d.]+|\[[\da-f:]+\]):)?(\d+):\d+(?:\/\w+)?$/.exec(p)?.slice(1) ?? [undefined, p]) : [p.host_ip, String(p.published)];
      assert.equal(hostIp, '127.0.0.1', `${name} publishes ${JSON.stringify(p)} on ${hostIp ?? 'every interface'}`);
      published.set(`${name}:${hostPort}`, hostIp ?? '');
    }
  }
  for (const needed of ['redis:6379', 'postgres:5432', 'opensearch:9200', 'connect:8083', 'kafka:29092']) {
    assert.equal(published.get(needed), '127.0.0.1', `${needed} is published for the laptop user, on 127.0.0.1`);
  }
});
