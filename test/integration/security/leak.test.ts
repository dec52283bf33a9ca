/**
 * No secret leaks (#15 item 5): every command of `cdc-views --help`, run with
 * a canary in EVERY credential setting at once (each secret setting of
 * src/config.ts `SETTINGS`, found by `secret: true`, plus the users they go
 * with), against the reachable stack (where the servers refuse or ignore the
 * canary credentials) and against unreachable endpoints (a closed port).
 *
 * Checked for each run: stdout and stderr (which carries every log line) hold
 * the canary in none of its forms (as is, URL-encoded, base64 with and without
 * its user — what a Basic header or a URL would carry); the run ends within
 * 60 s (a hang is killed and reported). The canary settings really reached
 * the clients: `config print` shows each of them as set (masked).
 *
 * Two rounds, because credentials exclude each other (a registry password or
 * a token; one Kafka SASL mechanism): round "password" sets every password
 * (Kafka SCRAM-SHA-512), round "token" the registry and /stores tokens and
 * the OAUTHBEARER client secret (its token endpoint unreachable). Every run
 * must get past the configuration check (no exit 2) so the clients really
 * hold the canary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { SETTINGS, isSecretSetting, type SettingKey } from '../../../src/config.ts';
import { cfg, sleep, uniqueId } from '../helpers.ts';
import { S3_ENDPOINT } from '../lake/support.ts';
import { cliArgv } from '../../support/cli-entry.ts';

const CANARY = `Leak${randomBytes(9).toString('hex')}Canary`;
const FORMS = [CANARY, encodeURIComponent(CANARY), Buffer.from(CANARY).toString('base64'), Buffer.from(`:${CANARY}`).toString('base64'), Buffer.from(`leak-user:${CANARY}`).toString('base64')];
/** Start-ups cost ~0.75 s of CPU each (the compiled CLI, test/support/cli-entry.ts) on a 2-core machine: 64 runs 1.2 s apart keep them from starving each other. */
const STAGGER_MS = Number(process.env.CDCV_TEST_OPS_STAGGER_MS ?? 1200);
const KILL_AFTER_MS = 60_000;
const CLOSED = '127.0.0.1:1';

const secrets = (Object.keys(SETTINGS) as SettingKey[]).filter((k) => isSecretSetting(k));
const TOKENS = new Set<string>(['schemaRegistryToken', 'storesToken', 'kafkaSaslOauthClientSecret']);

/** The env of a round: every secret of the round = the canary, with the user settings and switches they need. */
function roundEnv(round: 'password' | 'token'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of secrets) if (TOKENS.has(k) === (round === 'token')) env[SETTINGS[k].env] = k === 'storesToken' ? `${CANARY}${CANARY}` : CANARY;
  const set = (key: string, value: string): void => {
    if (key in SETTINGS) env[SETTINGS[key as SettingKey].env] = value;
  };
  if (round === 'password') {
    for (const user of ['redisUsername', 'opensearchUsername', 'schemaRegistryUsername', 'connectUsername', 'kafkaSaslUsername', 'lakeS3AccessKeyId']) set(user, 'leak-user');
    set('kafkaSaslMechanism', 'scram-sha-512');
    // Sentinel credentials need redisSentinels (a Sentinel set): test/integration/security/redis-sentinel-auth.test.ts covers them.
    delete env[SETTINGS.redisSentinelPassword.env];
  }
  if (round === 'token') {
    set('storesEnabled', 'true');
    set('kafkaSaslMechanism', 'oauthbearer');
    set('kafkaSaslOauthClientId', 'leak-user');
    set('kafkaSaslOauthTokenEndpoint', `http://${CLOSED}/oauth2/token`);
  }
  return env;
}

/** Every command with arguments that pass parsing (unknown app and topology names: nothing of the stack's is touched). */
function commands(app: string): string[][] {
  return [
    ['config', 'print'],
    ['config', 'print', '--json'],
    ['status', '--app', app, '--json'],
    ['versions', app, '--json'],
    ['rewind', '--app', app, '--to-earliest'],
    ['replay', 'topologies/customer-cache.ts', '--version', 'v1', '--from', 'earliest', '--topics', `^${app}\\.`, '--prepare-only'],
    ['promote', app, '--version', 'v1'],
    ['drop', app, '--version', 'v1', '--yes'],
    ['query', '--app', app, '--table', 'public.customers', '--key', '{"id":1}'],
    ['dump', '--app', app, '--table', 'public.customers'],
    ['connect', 'status', `cdcv-${app}`],
    ['backfill', 'start', '--connector', `cdcv-${app}`, '--table', 'public.customers', '--database-url', `postgres://leak-user:${CANARY}@127.0.0.1:5432/postgres`],
    ['types', 'generate', '--table', 'public.customers', '--database-url', `postgres://leak-user:${CANARY}@127.0.0.1:5432/postgres`],
    ['topology', 'describe', 'topologies/customer-cache.ts'],
    ['lake', 'status', '--table', 'public.orders'],
    ['lake', 'work', '--table', 'public.orders'],
    ['run', '--app', app, '--topics', `^${app}\\.`, '--topology', 'topologies/customer-cache.ts', '--http-port', '0', '--until-caught-up'],
  ];
}

/** The commands `cdc-views --help` lists. */
const listed = (help: string): string[] => [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');

interface Run { args: string[]; scenario: string; code: number | null; ms: number; out: string; killed: boolean }

function runCli(scenario: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const started = Date.now();
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CDCV_') || k === 'CDCV_STACK_DIR' || k.startsWith('CDCV_TEST_')));
    const child = spawn(process.execPath, cliArgv(args), { env: { ...base, CDCV_LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let killed = false;
    const killer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, KILL_AFTER_MS);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ args, scenario, code, ms: Date.now() - started, out, killed });
    });
  });
}

const children: Promise<Run>[] = [];
after(() => Promise.all(children));

test('every command with a canary in every credential setting, reachable and unreachable: the canary appears in no output', async (t) => {
  const help = await runCli('help', ['--help'], {});
  const app = uniqueId('leak');
  const covered = new Set(commands(app).map((c) => c[0]!));
  assert.deepEqual(listed(help.out).filter((c) => !covered.has(c)), [], 'every command of --help is run');

  const reachable = { CDCV_KAFKA_BROKERS: cfg.CDCV_KAFKA_BROKERS, CDCV_REDIS_URL: cfg.CDCV_REDIS_URL, CDCV_OPENSEARCH_URL: cfg.CDCV_OPENSEARCH_URL, CDCV_SCHEMA_REGISTRY_URL: cfg.CDCV_SCHEMA_REGISTRY_URL, CDCV_CONNECT_URL: cfg.CDCV_CONNECT_URL, CDCV_LAKE_S3_ENDPOINT: S3_ENDPOINT };
  const unreachable = { CDCV_KAFKA_BROKERS: CLOSED, CDCV_REDIS_URL: `redis://${CLOSED}`, CDCV_OPENSEARCH_URL: `http://${CLOSED}`, CDCV_SCHEMA_REGISTRY_URL: `http://${CLOSED}`, CDCV_CONNECT_URL: `http://${CLOSED}`, CDCV_LAKE_S3_ENDPOINT: `http://${CLOSED}` };
  const plan: { scenario: string; args: string[]; env: Record<string, string> }[] = [];
  for (const round of ['password', 'token'] as const) {
    for (const [where, endpoints] of [['reachable', reachable], ['unreachable', unreachable]] as const) {
      for (const args of commands(app)) plan.push({ scenario: `${round}/${where}`, args, env: { ...endpoints, ...roundEnv(round) } });
    }
  }
  // The canary reached the configuration: config print shows every secret of the round as set.
  for (const round of ['password', 'token'] as const) {
    const printed = await runCli(`${round}/print`, ['config', 'print', '--json'], roundEnv(round));
    assert.equal(printed.code, 0, printed.out);
    const json = JSON.parse(printed.out) as Record<string, { value: unknown }>;
    const expected = secrets.filter((k) => SETTINGS[k].env in roundEnv(round));
    assert.ok(expected.length > 0);
    for (const k of expected) assert.equal(json[k]?.value, '*****', `${round}: ${k} is set and masked`);
  }

  for (const p of plan) {
    children.push(runCli(p.scenario, p.args, p.env));
    await sleep(STAGGER_MS);
  }
  const runs = await Promise.all(children);
  const used = secrets.filter((k) => SETTINGS[k].env in roundEnv('password') || SETTINGS[k].env in roundEnv('token'));
  const problems: string[] = [];
  for (const r of runs) {
    const what = `${r.scenario}: cdc-views ${r.args.slice(0, 2).join(' ')}`;
    for (const f of FORMS) if (r.out.includes(f)) problems.push(`${what}: the output holds the canary (${f === CANARY ? 'as is' : 'encoded'})`);
    if (r.killed) problems.push(`${what}: still running after ${KILL_AFTER_MS} ms`);
    if (r.code === 2) problems.push(`${what}: refused by the configuration check (exit 2), so no client held the canary: ${r.out.slice(0, 300)}`);
  }
  assert.deepEqual(problems, []);
  const codes = new Map<string, number>();
  for (const r of runs) codes.set(String(r.code), (codes.get(String(r.code)) ?? 0) + 1);
  t.diagnostic(`${runs.length} runs (${commands(app).length} commands × 2 rounds × reachable/unreachable), ${used.length} secret settings set to the canary (${used.join(', ')}; redisSentinelPassword: the Sentinel test); exit codes ${[...codes].map(([c, n]) => `${c}×${n}`).join(' ')}; slowest ${Math.max(...runs.map((r) => r.ms))} ms; canary checked in ${FORMS.length} forms`);
});
