/**
 * `npm run bench`: cdc-views measured side by side with Kafka Streams and with
 * the client and Redis ceilings, on the same topic, partitions and machine.
 *
 *   npm run bench -- --scenario materialize|materialize-schemas|rebuild|join|freshness|redis|all
 *                    [--records 1000000] [--keys 100000] [--partitions 3] [--runs 3]
 *                    [--concurrency 3] [--peers cdc-views,kafka-streams,kafkajs,platformatic] [--cpu-prof]
 *
 * Every measured process is a child: its time is spawn → its own "caught up"
 * line (start-up included, the same rule for every system), its peak RSS the
 * kernel's VmHWM. Each scenario runs `--runs` times (systems interleaved
 * within a run, so a noisy neighbour hits all of them) and reports medians.
 * Results: bench/results/<timestamp>.json (git-ignored) and a printed table.
 * Kafka Streams' jar is built with Maven on first use (bench/peers/kafka-streams).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { loadEnv } from '../src/config.ts';
import { awaitWatermark, dropSamplePipeline, startSamplePipeline } from '../test/support/sample-pipeline.ts';
import { StateStore } from '../src/state/store.ts';
import { procKb, rssWatcher, runChild, type ChildResult } from './child.ts';
import { produceItems, produceShop } from './produce.ts';

const SCENARIOS = ['materialize', 'materialize-schemas', 'rebuild', 'join', 'freshness', 'redis'] as const;
type Scenario = (typeof SCENARIOS)[number];

const opts = new Command('bench')
  .description('Benchmarks: cdc-views against Kafka Streams and the client / Redis ceilings (bench/RESULTS.md)')
  .option('--scenario <names>', `comma-separated: ${SCENARIOS.join(', ')}, all`, 'materialize')
  .option('--records <n>', 'records in the pre-filled topic (materialize, rebuild)', (v) => Number(v), 1_000_000)
  .option('--keys <n>', 'distinct primary keys', (v) => Number(v), 100_000)
  .option('--partitions <n>', 'partitions of every topic', (v) => Number(v), 3)
  .option('--runs <n>', 'runs per scenario (median reported)', (v) => Number(v), 3)
  .option('--concurrency <n>', 'cdc-views partitionsConsumedConcurrently = Kafka Streams num.stream.threads = KafkaJS ceiling concurrency', (v) => Number(v))
  .option('--peers <list>', 'systems of the materialize scenarios', 'cdc-views,kafka-streams,kafkajs,platformatic')
  .option('--orders <n>', 'join: orders (customers = orders / 5, 1–4 lines per order)', (v) => Number(v), 50_000)
  .option('--rate <n>', 'freshness: row changes per second', (v) => Number(v), 2000)
  .option('--duration <s>', 'freshness: seconds per run', (v) => Number(v), 60)
  .option('--verbose', "echo the measured processes' output, with the time since spawn")
  .option('--cpu-prof', 'write a .cpuprofile of the first cdc-views run of each scenario to bench/results/')
  .parse()
  .opts<{ scenario: string; records: number; keys: number; partitions: number; runs: number; concurrency?: number; peers: string; orders: number; rate: number; duration: number; cpuProf?: boolean; verbose?: boolean }>();

const cfg = loadEnv();
const concurrency = opts.concurrency ?? cfg.CDCV_PARTITIONS_CONCURRENTLY;
const scenarios: Scenario[] = opts.scenario === 'all' ? [...SCENARIOS] : (opts.scenario.split(',') as Scenario[]);
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}: one of ${SCENARIOS.join(', ')}, all`);
const peers = opts.peers.split(',');
const say = (s: string): void => void process.stderr.write(s);
const root = new URL('..', import.meta.url).pathname;
const resultsDir = `${root}bench/results`;
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const brokers = cfg.CDCV_KAFKA_BROKERS;
const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin: Admin = kafka.admin();
await admin.connect();
const redis = new Redis(cfg.CDCV_REDIS_URL);
const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? NaN);
const id = Math.random().toString(36).slice(2, 8);
const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ------------------------------------------------------------------ machine
function machine(): Record<string, unknown> {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return { nproc: os.cpus().length, memoryMiB: Math.round(os.totalmem() / 2 ** 20), cpu, loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))), node: process.version };
}
const javaVersion = (): string => {
  const r = execFileSync('bash', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' });
  return r.trim();
};

// ------------------------------------------------------------------ results
interface Measured {
  system: string;
  run: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  peakRssMiB: number;
  redisPeakRssMiB?: number;
  /** Ran with --cpu-prof. */
  profiled?: boolean;
  extra?: Record<string, unknown>;
}
const results: { date: string; command: string; machineAtStart: Record<string, unknown>; machineAtEnd?: Record<string, unknown>; java: string; concurrency: number; scenarios: Record<string, unknown> } = {
  date: new Date().toISOString(),
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
  machineAtStart: machine(),
  java: javaVersion(),
  concurrency,
  scenarios: {},
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
function summarize(runs: Measured[]): Record<string, { recordsPerSecond: number; seconds: number; peakRssMiB: number; redisPeakRssMiB?: number; runs: number }> {
  const out: Record<string, { recordsPerSecond: number; seconds: number; peakRssMiB: number; redisPeakRssMiB?: number; runs: number }> = {};
  for (const system of [...new Set(runs.map((r) => r.system))]) {
    const mine = runs.filter((r) => r.system === system);
    const redisPeaks = mine.map((r) => r.redisPeakRssMiB).filter((x): x is number => x !== undefined);
    out[system] = {
      recordsPerSecond: Math.round(median(mine.map((r) => r.recordsPerSecond))),
      seconds: Number(median(mine.map((r) => r.seconds)).toFixed(2)),
      // A --cpu-prof run holds its profile in memory: its RSS is not the process's.
      peakRssMiB: Math.round(Math.max(...(mine.some((r) => !r.profiled) ? mine.filter((r) => !r.profiled) : mine).map((r) => r.peakRssMiB))),
      ...(redisPeaks.length ? { redisPeakRssMiB: Math.round(Math.max(...redisPeaks)) } : {}),
      runs: mine.length,
    };
  }
  return out;
}
function save(): void {
  writeFileSync(`${resultsDir}/${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`);
}
function measured(system: string, run: number, records: number, r: ChildResult, redisPeak?: number, extra?: Record<string, unknown>, profiled = false): Measured {
  if (r.code !== 0) throw new Error(`${system} run ${run} exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  const m: Measured = { system, run, records, seconds: Number(r.seconds.toFixed(3)), recordsPerSecond: Math.round(records / r.seconds), peakRssMiB: Number(r.peakRssMiB.toFixed(1)), ...(redisPeak === undefined ? {} : { redisPeakRssMiB: Number(redisPeak.toFixed(1)) }), ...(extra ? { extra } : {}), ...(profiled ? { profiled } : {}) };
  say(`    ${system.padEnd(22)} run ${run}: ${m.recordsPerSecond} records/s (${m.seconds} s, to exit ${r.secondsToExit.toFixed(1)} s), peak RSS ${m.peakRssMiB.toFixed(0)} MiB${redisPeak === undefined ? '' : `, redis-server ${redisPeak.toFixed(0)} MiB`}${extra ? ` ${JSON.stringify(extra)}` : ''}\n`);
  return m;
}

// ------------------------------------------------------------------ systems
const node = process.execPath;
const tsxArgs = ['--import', 'tsx'];
const profArgs = (scenario: string, run: number): string[] => (opts.cpuProf && run === 1 ? ['--cpu-prof', '--cpu-prof-dir', `${resultsDir}/prof-${stamp}`, '--cpu-prof-name', `${scenario}.cpuprofile`] : []);
const cdcvEnv = { CDCV_LOG_LEVEL: 'warn', CDCV_PARTITIONS_CONCURRENTLY: String(concurrency) };
/** The final progress line of `run --until-caught-up`: `consumed N applied N stale N dlq N rendered N lag 0 …`. */
const progress = (stderr: string): Record<string, number> => {
  const lines = stderr.split('\n').filter((l) => l.startsWith('consumed '));
  const last = lines[lines.length - 1] ?? '';
  return Object.fromEntries([...last.matchAll(/(consumed|applied|stale|dlq|rendered) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
};

async function cleanupApp(app: string, cachePrefixes: string[] = []): Promise<void> {
  await new StateStore(redis, app).destroy();
  for (const prefix of cachePrefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  await admin.deleteGroups([app]).catch(() => undefined);
  await admin.deleteTopics({ topics: [`cdcv.${app}.dlq`] }).catch(() => undefined);
}

async function runCdcViews(scenario: string, run: number, topicRegex: string, records: number, extraArgs: string[] = [], label = 'cdc-views', cachePrefixes: (app: string) => string[] = () => []): Promise<Measured> {
  const app = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_${label.replace(/[^a-z]/g, '')}${run}`;
  const watch = rssWatcher(redisPid);
  const r = await runChild(node, [...profArgs(`${scenario}-${label}`, run), ...tsxArgs, 'src/cli/main.ts', 'run', '--app', app, '--topics', topicRegex, '--until-caught-up', '--http-port', '0', ...extraArgs], { env: cdcvEnv, echo: opts.verbose === true, done: /lag 0 /, cwd: root });
  try {
    return measured(label, run, records, r, watch.stop(), progress(r.stderr), profArgs('', run).length > 0);
  } finally {
    await cleanupApp(app, cachePrefixes(app));
  }
}

function kafkaStreamsJar(): string {
  const dir = `${root}bench/peers/kafka-streams`;
  const jar = `${dir}/target/kafka-streams-peer.jar`;
  if (!existsSync(jar)) {
    say('  building the Kafka Streams peer (mvn -q -B package)…\n');
    execFileSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: dir, stdio: 'inherit' });
  }
  return jar;
}

async function runKafkaStreams(scenario: string, run: number, topic: string, records: number): Promise<Measured> {
  const jar = kafkaStreamsJar();
  const app = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_ks${run}`;
  const stateDir = `${os.tmpdir()}/cdcv-bench-ks-${app}`;
  const r = await runChild('java', ['-jar', jar, brokers, topic, app, String(concurrency), stateDir], { done: /"recordsPerSecond"/, echo: opts.verbose === true });
  const line = r.stdout.split('\n').find((l) => l.includes('recordsPerSecond'));
  const m = measured('kafka-streams', run, records, r, undefined, line ? (JSON.parse(line) as Record<string, unknown>) : undefined);
  rmSync(stateDir, { recursive: true, force: true });
  const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${app}-`));
  if (internal.length > 0) await admin.deleteTopics({ topics: internal }).catch(() => undefined);
  await admin.deleteGroups([app]).catch(() => undefined);
  return m;
}

async function runCeiling(client: 'kafkajs' | 'platformatic', scenario: string, run: number, topic: string, records: number): Promise<Measured> {
  const group = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_${client}${run}`;
  const args = [...tsxArgs, `bench/ceilings/${client}.ts`, brokers, topic, group, ...(client === 'kafkajs' ? [String(concurrency)] : [])];
  const r = await runChild(node, args, { done: /"done":true/, cwd: root });
  const m = measured(`${client} ceiling`, run, records, r);
  await admin.deleteGroups([group]).catch(() => undefined);
  return m;
}

async function createTopic(topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });
}
const createdTopics: string[] = [];

// ------------------------------------------------------------------ scenarios
const itemsTopics = new Map<boolean, { topic: string; records: number; ops: Record<string, number>; meanBytes: number }>();
async function itemsTopic(schemas: boolean): Promise<{ topic: string; records: number; ops: Record<string, number>; meanBytes: number }> {
  const have = itemsTopics.get(schemas);
  if (have) return have;
  const prefix = `bench_${id}${schemas ? 's' : ''}`;
  const topic = `${prefix}.public.items`;
  await createTopic(topic);
  createdTopics.push(topic);
  say(`  pre-filling ${topic}: ${opts.records} records, ${opts.keys} keys, ${opts.partitions} partitions, schemas.enable=${schemas}\n`);
  const p = await produceItems(kafka, { topic, prefix, records: opts.records, keys: opts.keys, schemas }, say);
  const t = { topic, records: p.records, ops: p.ops, meanBytes: Math.round(p.meanBytes) };
  itemsTopics.set(schemas, t);
  return t;
}

async function materialize(scenario: 'materialize' | 'materialize-schemas'): Promise<void> {
  const t = await itemsTopic(scenario === 'materialize-schemas');
  const runs: Measured[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    say(`  ${scenario} run ${run}/${opts.runs}\n`);
    for (const system of peers) {
      if (system === 'cdc-views') runs.push(await runCdcViews(scenario, run, `^${esc(t.topic)}$`, t.records));
      else if (system === 'kafka-streams') runs.push(await runKafkaStreams(scenario, run, t.topic, t.records));
      else if (system === 'kafkajs' || system === 'platformatic') runs.push(await runCeiling(system, scenario, run, t.topic, t.records));
      else throw new Error(`unknown peer ${system}`);
    }
  }
  const med = summarize(runs);
  const cv = med['cdc-views']?.recordsPerSecond;
  const ratio = (other: string): number | null => (cv && med[other] ? Number((cv / med[other].recordsPerSecond).toFixed(2)) : null);
  results.scenarios[scenario] = {
    topic: t,
    partitions: opts.partitions,
    keys: opts.keys,
    median: med,
    ratios: { 'cdc-views / kafka-streams': ratio('kafka-streams'), 'cdc-views / kafkajs ceiling': ratio('kafkajs ceiling'), 'cdc-views / platformatic ceiling': ratio('platformatic ceiling') },
    runs,
  };
  save();
}

async function rebuild(): Promise<void> {
  const t = await itemsTopic(false);
  const topology = 'bench/topologies/items-cache.ts';
  const runs: Measured[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    say(`  rebuild run ${run}/${opts.runs}\n`);
    runs.push(await runCdcViews('rebuild', run, `^${esc(t.topic)}$`, t.records, ['--topology', topology], 'materialize (run)', (app) => [`cache:${app}:`]));
    const version = `r${id}${run}`;
    const watch = rssWatcher(redisPid);
    const r = await runChild(node, [...profArgs('rebuild-replay', run), ...tsxArgs, 'src/cli/main.ts', 'replay', topology, '--version', version, '--from', 'earliest', '--topics', `^${esc(t.topic)}$`, '--until-caught-up'], { env: cdcvEnv, echo: opts.verbose === true, done: /^caught up/m, cwd: root });
    runs.push(measured('rebuild (replay)', run, t.records, r, watch.stop(), undefined, profArgs('', run).length > 0));
    const drop = await runChild(node, [...tsxArgs, 'src/cli/main.ts', 'drop', 'bench-items', '--version', version, '--yes'], { cwd: root });
    if (drop.code !== 0) say(`    warning: drop ${version}: ${drop.stderr.trim()}\n`);
  }
  const med = summarize(runs);
  results.scenarios.rebuild = {
    topic: t,
    topology,
    median: med,
    ratios: { 'rebuild / materialize': Number((med['rebuild (replay)']!.recordsPerSecond / med['materialize (run)']!.recordsPerSecond).toFixed(2)) },
    runs,
  };
  save();
}

async function join(): Promise<void> {
  const prefix = `bench_${id}j`;
  const sizes = { customers: Math.max(1, Math.round(opts.orders / 5)), orders: opts.orders, linesPerOrder: 4 };
  for (const table of ['customers', 'orders', 'order_lines']) {
    await createTopic(`${prefix}.public.${table}`);
    createdTopics.push(`${prefix}.public.${table}`);
  }
  say(`  pre-filling ${prefix}.public.{customers,orders,order_lines} (JSON without schemas, decimals as strings)\n`);
  const produced = await produceShop(kafka, prefix, sizes, say);
  const records = produced.reduce((a, p) => a + p.records, 0);
  const runs: Measured[] = [];
  const deleteIndex = async (app: string): Promise<void> => {
    await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${app}-order-search`, { method: 'DELETE' }).catch(() => undefined);
  };
  for (let run = 1; run <= opts.runs; run++) {
    say(`  join run ${run}/${opts.runs}\n`);
    for (const [label, topology, prefixes] of [
      ['search index', 'topologies/order-search.ts', (): string[] => []],
      ['cache', 'bench/topologies/order-cache.ts', (app: string): string[] => [`cache:${app}:`]],
    ] as const) {
      const app = `bench_${id}_join_${label === 'cache' ? 'cache' : 'search'}${run}`;
      const watch = rssWatcher(redisPid);
      const r = await runChild(node, [...profArgs(`join-${label.replace(' ', '-')}`, run), ...tsxArgs, 'src/cli/main.ts', 'run', '--app', app, '--topics', `^${esc(prefix)}\\.public\\.`, '--topology', topology, '--until-caught-up', '--http-port', '0'], { env: cdcvEnv, echo: opts.verbose === true, done: /lag 0 /, cwd: root });
      const p = progress(r.stderr);
      let m: Measured;
      try {
        m = measured(`join → ${label}`, run, records, r, watch.stop(), { ...p, documents: sizes.orders, documentsPerSecond: Math.round(sizes.orders / r.seconds), rendersPerSecond: Math.round((p.rendered ?? 0) / r.seconds) }, profArgs('', run).length > 0);
      } finally {
        await cleanupApp(app, prefixes(app));
        if (label === 'search index') await deleteIndex(app);
      }
      runs.push(m);
    }
  }
  const med = summarize(runs);
  const docs = (label: string): number => Math.round(median(runs.filter((r) => r.system === label).map((r) => r.extra!.documentsPerSecond as number)));
  results.scenarios.join = {
    topics: produced.map((p) => ({ topic: p.topic, records: p.records })),
    encoding: 'Debezium JSON, schemas.enable=false, NUMERIC as strings (decimal.handling.mode=string)',
    sizes,
    median: med,
    documentsPerSecond: { 'search index': docs('join → search index'), cache: docs('join → cache') },
    runs,
  };
  save();
}

async function freshness(): Promise<void> {
  const pid = `bfresh${id}`;
  const customers = Math.max(5000, opts.rate * 2);
  say(`  freshness: sample pipeline ${pid} (${customers} customers), real Debezium, customer-cache view; ${opts.rate} changes/s for ${opts.duration} s per run\n`);
  const p = await startSamplePipeline({ id: pid, seedCustomers: customers, seedOrders: 10 });
  const app = `bench_${id}_fresh`;
  const { spawn } = await import('node:child_process');
  const child = spawn(node, [...profArgs('freshness', 1), ...tsxArgs, 'src/cli/main.ts', 'run', '--app', app, '--topics', p.topics.source, '--topology', 'topologies/customer-cache.ts', '--http-port', '0'], { cwd: root, env: { ...process.env, ...cdcvEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
  let childPeak = 0;
  const childTimer = setInterval(() => (childPeak = Math.max(childPeak, child.pid ? (procKb(child.pid, 'VmHWM') ?? 0) : 0)), 500);
  const store = new StateStore(redis, app);
  const runs: Record<string, unknown>[] = [];
  const pool = new pg.Pool({ connectionString: p.connectionString, max: 16 });
  try {
    await awaitWatermark(p, store, 300_000);
    const cachePrefix = `cache:${app}:customer-cache:`;
    for (let run = 1; run <= opts.runs; run++) {
      const pending = new Map<number, { seq: number; at: number }[]>();
      const latencies: number[] = [];
      let seq = run * 10_000_000;
      let issued = 0;
      let failed = 0;
      const t0 = performance.now();
      let writing = true;
      const inflight = new Set<Promise<void>>();
      // Reader: every 5 ms, GET the cache document of each key with a change not yet seen.
      const reader = (async () => {
        while (writing || pending.size > 0) {
          const ids = [...pending.keys()];
          if (ids.length > 0) {
            const docs = await redis.mget(...ids.map((k) => `${cachePrefix}{"id":${k}}`));
            const now = performance.now();
            ids.forEach((k, i) => {
              const doc = docs[i];
              if (!doc) return;
              const m = /"name":"fresh-(\d+)"/.exec(doc);
              if (!m) return;
              const seen = Number(m[1]);
              const list = pending.get(k)!;
              const rest = list.filter((c) => {
                if (c.seq > seen) return true;
                latencies.push(now - c.at);
                return false;
              });
              if (rest.length === 0) pending.delete(k);
              else pending.set(k, rest);
            });
          }
          if (!writing && performance.now() - t0 > (opts.duration + 30) * 1000) break;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      // Writer: paced to `rate` single-row autocommit UPDATEs per second; the clock starts when COMMIT is acknowledged.
      while (performance.now() - t0 < opts.duration * 1000) {
        const due = Math.floor(((performance.now() - t0) / 1000) * opts.rate);
        while (issued < due) {
          issued += 1;
          seq += 1;
          const s = seq;
          const key = 1 + (issued % customers);
          const q = pool.query('UPDATE public.customers SET name = $1 WHERE id = $2', [`fresh-${s}`, key]).then(
            () => {
              const list = pending.get(key) ?? [];
              list.push({ seq: s, at: performance.now() });
              pending.set(key, list);
            },
            () => void (failed += 1),
          );
          inflight.add(q);
          void q.finally(() => inflight.delete(q));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(inflight);
      const writeSecs = (performance.now() - t0) / 1000;
      writing = false;
      await reader;
      const s = [...latencies].sort((a, b) => a - b);
      const q = (f: number): number => Number((s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? NaN).toFixed(1));
      const r = { run, changes: issued, failed, achievedRate: Math.round(issued / writeSecs), observed: s.length, neverSeen: issued - failed - s.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: Number((s[s.length - 1] ?? NaN).toFixed(1)) };
      say(`    freshness run ${run}: ${JSON.stringify(r)}\n`);
      runs.push(r);
    }
  } finally {
    await pool.end();
    clearInterval(childTimer);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await store.destroy();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `cache:${app}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    await admin.deleteGroups([app]).catch(() => undefined);
    await admin.deleteTopics({ topics: [`cdcv.${app}.dlq`] }).catch(() => undefined);
    await dropSamplePipeline(pid).catch((e: unknown) => say(`    warning: dropSamplePipeline: ${String(e)}\n`));
  }
  const m = (k: string): number => median(runs.map((r) => r[k] as number));
  results.scenarios.freshness = {
    rate: opts.rate,
    durationSeconds: opts.duration,
    pipeline: 'PostgreSQL → Debezium 3.1.3 (Kafka Connect, JSON with schemas) → cdc-views customer-cache view → Redis cache',
    clock: 'from the UPDATE’s COMMIT acknowledgement (autocommit) to the first GET of the cache key that shows it; GET every 5 ms',
    median: { p50Ms: m('p50Ms'), p99Ms: m('p99Ms'), maxMs: m('maxMs'), achievedRate: m('achievedRate') },
    cdcViewsPeakRssMiB: Math.round(childPeak / 1024),
    runs,
  };
  save();
}

async function redisCeiling(): Promise<void> {
  const url = new URL(cfg.CDCV_REDIS_URL);
  const runs: { run: number; setsPerSecond: number }[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    const watch = rssWatcher(redisPid);
    const out = execFileSync('redis-benchmark', ['-h', url.hostname, '-p', url.port || '6379', '-t', 'set', '-P', '64', '-n', '1000000', '-d', '400', '-q'], { encoding: 'utf8' });
    const rps = Number(/SET:\s*([\d.]+) requests per second/.exec(out.replace(/\r/g, '\n'))?.[1] ?? NaN);
    const peak = watch.stop();
    say(`    redis-benchmark run ${run}: ${rps} SET/s (pipelined 64, 400-byte values), redis-server peak RSS ${peak.toFixed(0)} MiB\n`);
    runs.push({ run, setsPerSecond: rps });
  }
  // redis-benchmark writes key:__rand_int__; remove it so the shared Redis keeps only what it had.
  await redis.del('key:__rand_int__');
  results.scenarios.redis = { command: 'redis-benchmark -t set -P 64 -n 1000000 -d 400 -q', median: { setsPerSecond: median(runs.map((r) => r.setsPerSecond)) }, runs };
  save();
}

// ------------------------------------------------------------------ main
try {
  say(`bench ${stamp}: scenarios ${scenarios.join(', ')}; concurrency ${concurrency}; machine ${JSON.stringify(results.machineAtStart)}\n`);
  for (const s of scenarios) {
    say(`scenario ${s}\n`);
    if (s === 'materialize' || s === 'materialize-schemas') await materialize(s);
    else if (s === 'rebuild') await rebuild();
    else if (s === 'join') await join();
    else if (s === 'freshness') await freshness();
    else await redisCeiling();
  }
} finally {
  results.machineAtEnd = machine();
  save();
  if (createdTopics.length > 0) await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
  await admin.disconnect();
  redis.disconnect();
}

// ------------------------------------------------------------------ table
const lines: string[] = [];
const m0 = results.machineAtStart;
lines.push(`\n${results.date}  ${results.command}`);
lines.push(`machine: ${String(m0.nproc)} CPUs (${String(m0.cpu)}), ${String(m0.memoryMiB)} MiB, load average at start ${(m0.loadAverage as number[]).join(' ')}, at end ${(results.machineAtEnd.loadAverage as number[]).join(' ')}; node ${String(m0.node)}; ${results.java}; concurrency ${concurrency}`);
lines.push(`| scenario | system | median records/s | median s | peak RSS MiB | redis-server peak RSS MiB |`);
lines.push('| --- | --- | ---: | ---: | ---: | ---: |');
for (const [name, s] of Object.entries(results.scenarios) as [string, { median: Record<string, Record<string, number>> }][]) {
  if (name === 'freshness' || name === 'redis') continue;
  for (const [system, v] of Object.entries(s.median)) lines.push(`| ${name} | ${system} | ${v.recordsPerSecond} | ${v.seconds} | ${v.peakRssMiB} | ${v.redisPeakRssMiB ?? ''} |`);
}
for (const [name, s] of Object.entries(results.scenarios) as [string, Record<string, unknown>][]) {
  if (s.ratios) lines.push(`${name} ratios: ${JSON.stringify(s.ratios)}`);
  if (s.documentsPerSecond) lines.push(`${name} documents/s: ${JSON.stringify(s.documentsPerSecond)}`);
  if (name === 'freshness') lines.push(`freshness (median of runs): ${JSON.stringify(s.median)}; cdc-views peak RSS ${String(s.cdcViewsPeakRssMiB)} MiB`);
  if (name === 'redis') lines.push(`redis ceiling: ${JSON.stringify(s.median)} (${String(s.command)})`);
}
lines.push(`results: bench/results/${stamp}.json`);
process.stdout.write(`${lines.join('\n')}\n`);
