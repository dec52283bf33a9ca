/**
 * Containment: operator commands with Redis stopped or Kafka stopped.
 *
 * Injected (every command a child process of the compiled CLI, see
 * test/support/cli-entry.ts, side by side (started 2 s apart), with a canary
 * password in every credential it is given):
 * - Redis stopped: a real redis-server the test starts on a free port with
 *   `requirepass <canary>` (checked: the canary authenticates), then shuts
 *   down (checked: the port refuses connections); CDCV_REDIS_URL =
 *   `redis://:<canary>@127.0.0.1:<port>`;
 * - Redis hung: CDCV_REDIS_URL (with the canary) at a listener the test opens
 *   that accepts TCP and never answers;
 * - Redis refusing the password (rotated): the test's redis-server running,
 *   CDCV_REDIS_URL with another password (the canary plus a letter);
 * - Kafka stopped: CDCV_KAFKA_BROKERS at a port where nothing listens
 *   (checked), Redis up (the test's redis-server, authenticated with the canary);
 * - Kafka hung: CDCV_KAFKA_BROKERS at the accept-and-never-answer listener;
 * and in every case CDCV_OPENSEARCH_URL = `http://admin:<canary>@<hung listener>`;
 * - search engine hung / refusing: Redis (the test's, with the canary) and
 *   Kafka (the stack's) up, a topology version registered (`replay
 *   --prepare-only` over empty topics of the test's own), and the engine URL
 *   (with the canary) at the hung listener, or at a proxy in front of the real
 *   engine answering 401 (test/support/search-proxy.ts): `promote` and `drop`,
 *   the commands that call the engine.
 *
 * The commands are every operator command `cdc-views --help` lists (the test
 * fails when a new one is not covered): status, versions, rewind, replay,
 * promote, drop, backfill, lake (work), and query/dump where Redis is the dependency down.
 *
 * Checked for each: exit code 3 (a dependency unavailable, src/cli/exit-codes.ts) within LIMIT_MS (25 s) of the spawn; stderr is exactly
 * one line (for drop: after the plan it prints first), naming the dependency
 * and the fix, without a stack trace; stdout
 * is empty; no output contains the canary (raw, URL-encoded or base64 with
 * its user). The hung listener really saw the commands connect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { accepts, freePort, hungListener } from '../../support/net.ts';
import { SearchProxy } from '../../support/search-proxy.ts';
import { brokers, cfg, sleep, uniqueId } from '../helpers.ts';
import { cliArgv } from '../../support/cli-entry.ts';

/**
 * The bound from spawn to exit: the commands' own timeout (COMMAND_TIMEOUT_MS,
 * 10 s) plus the start-up of the CLI while 45 of them share a 2-core machine
 * with the stack. Alone, a hung-dependency command exits after ~11 s. Through
 * tsx (~1.7 s of CPU per start-up, twice the compiled CLI's) a CI run saw the
 * hung commands at 28–31 s; the compiled CLI halves that load.
 */
const LIMIT_MS = 25_000;
/**
 * Children are started one every this many ms, each running to its end: the
 * commands wait for their dependency side by side, while their start-ups
 * (loading the CLI, CPU-bound on a 2-core machine) barely overlap
 * and so do not eat into the bound. At 700 ms, two CI runs on a freshly
 * started stack (load average 3.6) saw the hung commands take 15–18 s; at
 * 1.2 s the slowest took 11.9 s on the same stack. With `backfill` added (45
 * runs, each start-up ~5 s of CPU through tsx), 1.2 s saturated the two cores
 * and hung commands did not even start within 45 s: 2 s keeps the start-ups
 * apart.
 */
const STAGGER_MS = Number(process.env.CDCV_TEST_OPS_STAGGER_MS ?? 2000);

const CANARY = `Canary${randomBytes(9).toString('hex')}`;
const LEAK_FORMS = [CANARY, encodeURIComponent(CANARY), Buffer.from(`:${CANARY}`).toString('base64'), Buffer.from(`admin:${CANARY}`).toString('base64'), Buffer.from(CANARY).toString('base64')];

/** Commands of `cdc-views --help` that are not operator commands on applications and stores. */
const NOT_OPERATOR = new Set(['run', 'config', 'topology', 'connect', 'types', 'help']);

interface Result {
  scenario: string;
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
}

/** A real redis-server on `port` that requires the canary password. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', CANARY, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await accepts(port)) return child;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on ${port}`);
}

function runCli(scenario: string, args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, cliArgv(args), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Far beyond the bound: a hung command is reported as such instead of stalling the file.
    const killer = setTimeout(() => child.kill('SIGKILL'), 3 * LIMIT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ scenario, args, code, signal, ms: Date.now() - started, stdout, stderr });
    });
  });
}

/** Starts the jobs one every `intervalMs` (all may run at once); resolves with their results in order. */
async function staggered<T>(jobs: (() => Promise<T>)[], intervalMs: number): Promise<T[]> {
  const running: Promise<T>[] = [];
  for (const job of jobs) {
    if (running.length > 0) await sleep(intervalMs);
    running.push(job());
  }
  return Promise.all(running);
}

/** The commands `cdc-views --help` lists. */
async function helpCommands(): Promise<string[]> {
  const r = await runCli('help', ['--help'], {});
  assert.equal(r.code, 0, r.stderr);
  const section = r.stdout.slice(r.stdout.indexOf('Commands:'));
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
}

/** Every operator command with arguments that pass parsing; `redisOnly` ones need no Kafka. */
const COMMANDS: { name: string; args: string[]; redisOnly?: boolean }[] = [
  { name: 'status', args: ['status', '--app', 'cdcv_ops_unreachable', '--json'] },
  { name: 'versions', args: ['versions', 'cdcv_ops_unreachable', '--json'] },
  { name: 'rewind', args: ['rewind', '--app', 'cdcv_ops_unreachable', '--to-earliest'] },
  { name: 'replay', args: ['replay', 'topologies/customer-cache.ts', '--version', 'v1', '--from', 'earliest', '--topics', '^cdcv_ops_unreachable\\.', '--until-caught-up'] },
  { name: 'promote', args: ['promote', 'cdcv_ops_unreachable', '--version', 'v1', '--force'] },
  { name: 'drop', args: ['drop', 'cdcv_ops_unreachable', '--version', 'v1', '--yes'] },
  { name: 'backfill', args: ['backfill', 'start', '--connector', 'cdcv_ops_unreachable', '--table', 'public.customers'] },
  { name: 'lake', args: ['lake', 'work', '--table', 'public.orders'] },
  { name: 'query', args: ['query', '--app', 'cdcv_ops_unreachable', '--table', 'public.customers', '--key', '{"id":1}'], redisOnly: true },
  { name: 'dump', args: ['dump', '--app', 'cdcv_ops_unreachable', '--table', 'public.customers'], redisOnly: true },
];

test('operator commands with Redis, Kafka or the search engine stopped, hung or refusing the password: exit 3 within 25 s, one line naming the fix, never the password', async (t) => {
  const listed = (await helpCommands()).filter((c) => !NOT_OPERATOR.has(c)).sort();
  assert.deepEqual(listed, COMMANDS.map((c) => c.name).sort(), 'every operator command of --help is covered');

  const hung = await hungListener();
  const proxy = await new SearchProxy(cfg.CDCV_OPENSEARCH_URL, { username: 'admin', password: CANARY }).start();
  proxy.mode = 'unauthorized';
  const topologyName = uniqueId('opsu');
  const topologyFile = join(tmpdir(), `${topologyName}.topology.ts`);
  writeFileSync(topologyFile, `import base from ${JSON.stringify(new URL('../../../topologies/order-search.ts', import.meta.url).pathname)};\nexport default { ...base, name: ${JSON.stringify(topologyName)} };\n`);
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const ownTopics = ['orders', 'customers', 'order_lines'].map((x) => `${topologyName}.public.${x}`);
  await admin.createTopics({ topics: ownTopics.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
  const redisPort = await freePort();
  const refusedPort = await freePort();
  let redis: ChildProcess | undefined = await startRedis(redisPort);
  const started = Date.now();
  try {
    // The canary really is the password of the running server.
    const probe = new Redis({ port: redisPort, host: '127.0.0.1', password: CANARY, lazyConnect: true, maxRetriesPerRequest: 0 });
    await probe.connect();
    assert.equal(await probe.ping(), 'PONG');
    probe.disconnect();
    assert.equal(await accepts(refusedPort), false, 'nothing listens on the "Kafka stopped" port');

    const search = `http://admin:${CANARY}@127.0.0.1:${hung.port}`;
    const redisUrl = `redis://:${CANARY}@127.0.0.1:${redisPort}`;
    const kafkaScenarios = [
      { scenario: 'kafka-stopped', env: { CDCV_REDIS_URL: redisUrl, CDCV_KAFKA_BROKERS: `127.0.0.1:${refusedPort}`, CDCV_OPENSEARCH_URL: search } },
      { scenario: 'kafka-hung', env: { CDCV_REDIS_URL: redisUrl, CDCV_KAFKA_BROKERS: `127.0.0.1:${hung.port}`, CDCV_OPENSEARCH_URL: search } },
    ];
    const redisHung = { scenario: 'redis-hung', env: { CDCV_REDIS_URL: `redis://:${CANARY}@127.0.0.1:${hung.port}`, CDCV_OPENSEARCH_URL: search } };
    // The password rotated: Redis runs and refuses the one given (which contains the canary, so a leak of it is caught too).
    const redisWrongPassword = { scenario: 'redis-wrong-password', env: { CDCV_REDIS_URL: `redis://:${CANARY}x@127.0.0.1:${redisPort}`, CDCV_OPENSEARCH_URL: search } };
    const job = (s: { scenario: string; env: Record<string, string> }, args: string[]) => () => runCli(s.scenario, args, s.env);

    // A registered version whose index promote and drop must reach: order-search under a name of this test.
    const prepared = await runCli('prepare', ['replay', topologyFile, '--version', 'v1', '--from', 'earliest', '--topics', `^${topologyName}\\.public\\.`, '--prepare-only'], { CDCV_REDIS_URL: redisUrl, CDCV_OPENSEARCH_URL: search });
    assert.equal(prepared.code, 0, `replay --prepare-only: ${prepared.stderr}`);
    assert.ok(!LEAK_FORMS.some((f) => prepared.stdout.includes(f) || prepared.stderr.includes(f)), 'replay --prepare-only prints no password');
    const searchCommands = [
      ['promote', topologyName, '--version', 'v1', '--force'],
      ['drop', topologyName, '--version', 'v1', '--yes'],
    ];
    const searchScenarios = [
      { scenario: 'search-hung', env: { CDCV_REDIS_URL: redisUrl, CDCV_OPENSEARCH_URL: search } },
      { scenario: 'search-401', env: { CDCV_REDIS_URL: redisUrl, CDCV_OPENSEARCH_URL: proxy.url } },
    ];

    // Phase 1: Redis up (Kafka down or hung), and Redis hung.
    const phase1 = await staggered(
      [
        ...searchScenarios.flatMap((s) => searchCommands.map((args) => job(s, args))),
        ...kafkaScenarios.flatMap((s) => COMMANDS.filter((c) => !c.redisOnly).map((c) => job(s, c.args))),
        ...COMMANDS.map((c) => job(redisHung, c.args)),
        ...COMMANDS.map((c) => job(redisWrongPassword, c.args)),
      ],
      STAGGER_MS,
    );
    const hungConnections = hung.connections();

    // Phase 2: the same redis-server shut down: Redis stopped.
    redis.kill('SIGTERM');
    await new Promise((r) => redis!.once('exit', r));
    redis = undefined;
    assert.equal(await accepts(redisPort), false, 'the stopped Redis refuses connections');
    const redisStopped = { scenario: 'redis-stopped', env: { CDCV_REDIS_URL: redisUrl, CDCV_OPENSEARCH_URL: search } };
    const phase2 = await staggered(COMMANDS.map((c) => job(redisStopped, c.args)), STAGGER_MS);

    const results = [...phase1, ...phase2];
    const problems: string[] = [];
    for (const r of results) {
      const what = `${r.scenario}: cdc-views ${r.args.slice(0, 2).join(' ')}`;
      // drop prints what it is about to delete before it starts (README): those lines come before the verdict.
      const all = r.stderr.trimEnd().split('\n');
      const plan = r.args[0] === 'drop' && all.length === 5 && all[0]!.startsWith('dropping ') && all.slice(1, 4).every((l) => l.startsWith('  ')) ? all.slice(0, 4) : [];
      const lines = all.slice(plan.length);
      if (r.code !== 3) problems.push(`${what}: exit ${r.code ?? r.signal}, expected 3`);
      if (r.ms > LIMIT_MS) problems.push(`${what}: took ${r.ms} ms, more than ${LIMIT_MS}`);
      if (lines.length !== 1) problems.push(`${what}: ${lines.length} lines on stderr${plan.length > 0 ? ' after the drop plan' : ''}, expected 1: ${r.stderr.slice(0, 400)}`);
      const fix = r.scenario.startsWith('search')
        ? /^cdc-views: the search engine at http:\/\/127\.0\.0\.1:\d+ failed.*; check it runs and CDCV_OPENSEARCH_URL$/
        : r.scenario === 'redis-wrong-password'
          ? /^cdc-views: Redis at redis:\/\/127\.0\.0\.1:\d+ refuses the credentials .*; check the user and password in CDCV_REDIS_URL/
          : /^cdc-views: (Redis|Kafka) (does not answer|cannot be reached) at .*(start|set CDCV_)/;
      if (!fix.test(lines[0] ?? '')) problems.push(`${what}: stderr does not name the dependency and the fix: ${lines[0]}`);
      if (/\n\s+at /.test(r.stderr)) problems.push(`${what}: a stack trace on stderr`);
      if (r.stdout !== '') problems.push(`${what}: stdout not empty: ${r.stdout.slice(0, 200)}`);
      for (const form of LEAK_FORMS) if (r.stdout.includes(form) || r.stderr.includes(form)) problems.push(`${what}: output contains the password (${form === CANARY ? 'as is' : 'encoded'})`);
      const dependency = r.scenario.startsWith('redis') ? 'Redis' : r.scenario.startsWith('kafka') ? 'Kafka' : 'search engine';
      if (!lines[0]?.includes(dependency)) problems.push(`${what}: does not name the ${dependency}: ${lines[0]}`);
    }
    const slowest = Math.max(...results.map((r) => r.ms));
    for (const s of ['search-hung', 'search-401', 'kafka-stopped', 'kafka-hung', 'redis-hung', 'redis-wrong-password', 'redis-stopped']) {
      const rs = results.filter((r) => r.scenario === s);
      t.diagnostic(`${s}: ${rs.length} commands, exit codes ${[...new Set(rs.map((r) => r.code))].join('/')}, ${Math.min(...rs.map((r) => r.ms))}–${Math.max(...rs.map((r) => r.ms))} ms`);
    }
    t.diagnostic(`${results.length} command runs, started ${STAGGER_MS} ms apart, slowest ${slowest} ms; the hung listener took ${hungConnections} connection(s), the 401 proxy refused ${proxy.counts.unauthorized} request(s); whole file ${Date.now() - started} ms; canary checked in ${LEAK_FORMS.length} forms`);
    assert.ok(hungConnections >= COMMANDS.length + COMMANDS.filter((c) => !c.redisOnly).length + searchCommands.length, 'the commands of the hung scenarios really connected to the hung listener');
    assert.ok(proxy.counts.unauthorized >= searchCommands.length, 'the search engine refused the commands of search-401 with 401');
    assert.equal(proxy.counts.forwarded, 0);
    assert.deepEqual(problems, []);
    assert.equal(results.length, 2 * searchCommands.length + 2 * COMMANDS.filter((c) => !c.redisOnly).length + 3 * COMMANDS.length);
  } finally {
    redis?.kill('SIGKILL');
    await hung.close();
    await proxy.close();
    await admin.deleteTopics({ topics: ownTopics }).catch(() => undefined);
    await admin.deleteGroups([`${topologyName}-v1`]).catch(() => undefined);
    await admin.disconnect();
    rmSync(topologyFile, { force: true });
  }
});
