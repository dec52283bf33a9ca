/**
 * `npm run bench`: cdc-views measured side by side with Kafka Streams and with
 * the client and Redis ceilings, on the same topic, partitions and machine.
 *
 *   npm run bench -- --scenario materialize|materialize-schemas|rebuild|join|freshness|group-size|scale|redis|all
 *                    [--records 1000000] [--keys 100000] [--partitions 3] [--runs 5] [--warmup 1]
 *                    [--durability durable,volatile] [--concurrency 3]
 *                    [--peers cdc-views,kafka-streams,kafkajs,platformatic] [--cpu-prof]
 *
 * Every measured process is a child: its time is spawn → its own "caught up"
 * line (start-up included, close and clean-up excluded: the same rule for
 * every system), its peak RSS the kernel's VmHWM. cdc-views runs from the
 * compiled build (`npm run build`, as the container image runs it). Each
 * scenario runs `--runs` times after `--warmup` unmeasured rounds, the
 * systems' order rotated run by run; it reports min / median / max. A
 * `--cpu-prof` run is an extra run, never counted. The materialize scenarios
 * run once per durability mode (bench/durability.ts).
 * Results: bench/results/<timestamp>.json (the ones bench/RESULTS.md quotes
 * are committed) and a printed table. Kafka Streams' jar is built with Maven
 * when missing or older than its source (bench/peers/kafka-streams).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { loadEnv } from '../src/config.ts';
import { StateStore } from '../src/state/store.ts';
import { rssWatcher, runChild, type ChildResult } from './child.ts';
import { produceItems, produceShop } from './produce.ts';
import { measureFreshness } from './freshness.ts';
import { measureGroupSize } from './group-size.ts';
import { measureScale } from './scale.ts';
import { summaryTable, type BenchResults } from './report.ts';
import { searchBulkCeiling } from './ceilings/search-bulk.ts';
import { counted, median, ratio, rotation, summarize, type Measured } from './stats.ts';
import { applyDurability, DURABILITY_MODES, persistenceSettings, type Durability } from './durability.ts';

const SCENARIOS = ['materialize', 'materialize-schemas', 'rebuild', 'join', 'freshness', 'group-size', 'scale', 'redis'] as const;
type Scenario = (typeof SCENARIOS)[number];

const opts = new Command('bench')
  .description('Benchmarks: cdc-views against Kafka Streams and the client / Redis ceilings (bench/RESULTS.md)')
  .option('--scenario <names>', `comma-separated: ${SCENARIOS.join(', ')}, all`, 'materialize')
  .option('--records <n>', 'records in the pre-filled topic (materialize, rebuild)', (v) => Number(v), 1_000_000)
  .option('--keys <n>', 'distinct primary keys', (v) => Number(v), 100_000)
  .option('--partitions <n>', 'partitions of every topic', (v) => Number(v), 3)
  .option('--runs <n>', 'measured runs per scenario (min / median / max reported)', (v) => Number(v), 5)
  .option('--warmup <n>', 'unmeasured rounds before the measured runs (reported, not counted)', (v) => Number(v), 1)
  .option('--durability <modes>', `materialize scenarios: comma-separated of ${DURABILITY_MODES.join(', ')}`, DURABILITY_MODES.join(','))
  .option('--ks-heap <size>', 'Kafka Streams peer: -Xms and -Xmx', '1g')
  .option('--ks-commit-interval-ms <ms>', 'Kafka Streams peer: commit.interval.ms (its at-least-once default)', (v) => Number(v), 30_000)
  .option('--ks-cache-bytes <bytes>', 'Kafka Streams peer: statestore.cache.max.bytes (its default)', (v) => Number(v), 10_485_760)
  .option('--no-build', 'do not run `npm run build` first (dist/ must be current)')
  .option('--from-source', 'run cdc-views from the TypeScript sources through tsx instead of the compiled build (for comparison only)')
  .option('--concurrency <n>', 'cdc-views partitionsConsumedConcurrently = Kafka Streams num.stream.threads = KafkaJS ceiling concurrency', (v) => Number(v))
  .option('--peers <list>', 'systems of the materialize scenarios', 'cdc-views,kafka-streams,kafkajs,platformatic')
  .option('--orders <n>', 'join: orders (customers = orders / 5, 1–4 lines per order)', (v) => Number(v), 50_000)
  .option('--rate <n>', 'freshness: row changes per second', (v) => Number(v), 2000)
  .option('--duration <s>', 'freshness: seconds per run', (v) => Number(v), 60)
  .option('--connector <settings>', "freshness: connector settings over schemas/connectors/shop.json, e.g. 'poll.interval.ms=500,max.batch.size=2048'", '')
  .option('--group-sizes <list>', 'group-size: members of the one group, comma-separated', '1000,100000,1000000')
  .option('--group-changes <n>', 'group-size: member updates per round', (v) => Number(v), 1000)
  .option('--group-rate <n>', 'group-size: member updates per second', (v) => Number(v), 1000)
  .option('--group-recompute-max <n>', 'group-size: largest group the recompute form is measured at', (v) => Number(v), 100_000)
  .option('--group-recompute-changes <n>', 'group-size: member updates per round of the recompute form (each reads the whole group)', (v) => Number(v), 50)
  .option('--scale-records <list>', 'scale: topic sizes, comma-separated (keys = records / 10)', '100000,1000000,5000000')
  .option('--verbose', "echo the measured processes' output, with the time since spawn")
  .option('--cpu-prof', 'one extra, uncounted cdc-views run per scenario with a .cpuprofile in bench/results/')
  .parse()
  .opts<{ scenario: string; records: number; keys: number; partitions: number; runs: number; warmup: number; durability: string; ksHeap: string; ksCommitIntervalMs: number; ksCacheBytes: number; build: boolean; fromSource?: boolean; concurrency?: number; peers: string; orders: number; rate: number; duration: number; connector: string; groupSizes: string; groupChanges: number; groupRate: number; groupRecomputeMax: number; groupRecomputeChanges: number; scaleRecords: string; cpuProf?: boolean; verbose?: boolean }>();

const cfg = loadEnv();
const concurrency = opts.concurrency ?? cfg.CDCV_PARTITIONS_CONCURRENTLY;
const scenarios: Scenario[] = opts.scenario === 'all' ? [...SCENARIOS] : (opts.scenario.split(',') as Scenario[]);
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}: one of ${SCENARIOS.join(', ')}, all`);
const peers = opts.peers.split(',');
const modes = opts.durability.split(',') as Durability[];
for (const m of modes) if (!DURABILITY_MODES.includes(m)) throw new Error(`unknown durability mode ${m}: one of ${DURABILITY_MODES.join(', ')}`);
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
const results: { date: string; command: string; machineAtStart: Record<string, unknown>; machineAtEnd?: Record<string, unknown>; java: string; concurrency: number; cdcViews: string; cdcViewsEnv: Record<string, string | undefined>; kafkaStreams: Record<string, unknown>; scenarios: Record<string, unknown> } = {
  date: new Date().toISOString(),
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
  machineAtStart: machine(),
  java: javaVersion(),
  concurrency,
  cdcViews: opts.fromSource ? 'from source (tsx)' : 'compiled build (dist/)',
  cdcViewsEnv: Object.fromEntries(Object.entries(process.env).filter(([k]) => /^CDCV_(MAX_|PARTITIONS_)/.test(k))), // the in-flight budget only: other settings may hold credentials
  kafkaStreams: { heap: `-Xms${opts.ksHeap} -Xmx${opts.ksHeap}`, 'commit.interval.ms': opts.ksCommitIntervalMs, 'statestore.cache.max.bytes': opts.ksCacheBytes, 'num.stream.threads': concurrency, store: 'RocksDB (default)', processingGuarantee: 'at_least_once (default)' },
  scenarios: {},
};
function save(): void {
  writeFileSync(`${resultsDir}/${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`);
}
function measured(system: string, run: number, records: number, r: ChildResult, redisPeak?: number, extra?: Record<string, unknown>, profiled = false): Measured {
  if (r.code !== 0) throw new Error(`${system} run ${run} exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  const m: Measured = { system, run, records, seconds: Number(r.seconds.toFixed(3)), recordsPerSecond: Math.round(records / r.seconds), peakRssMiB: Number(r.peakRssMiB.toFixed(1)), ...(redisPeak === undefined ? {} : { redisPeakRssMiB: Number(redisPeak.toFixed(1)) }), ...(extra ? { extra } : {}), ...(profiled ? { profiled } : {}), ...(run === 0 && !profiled ? { warmup: true } : {}) };
  say(`    ${system.padEnd(22)} ${profiled ? 'profiled run (not counted)' : run === 0 ? 'warm-up (not counted)' : `run ${run}`}: ${m.recordsPerSecond} records/s (${m.seconds} s, to exit ${r.secondsToExit.toFixed(1)} s), peak RSS ${m.peakRssMiB.toFixed(0)} MiB${redisPeak === undefined ? '' : `, redis-server ${redisPeak.toFixed(0)} MiB`}${extra ? ` ${JSON.stringify(extra)}` : ''}\n`);
  return m;
}

// ------------------------------------------------------------------ systems
const node = process.execPath;
const tsxArgs = ['--import', 'tsx'];
/** cdc-views as its container image runs it: the compiled CLI (tsx is registered only to load a .ts topology). */
const cdcViews = opts.fromSource ? ['--import', 'tsx', 'src/cli/main.ts'] : ['dist/src/cli/main.js'];
const profArgs = (scenario: string, profiled: boolean): string[] => (profiled ? ['--cpu-prof', '--cpu-prof-dir', `${resultsDir}/prof-${stamp}`, '--cpu-prof-name', `${scenario}.cpuprofile`] : []);
/** The runs of a scenario without a warm-up round: 1..runs, preceded by an uncounted profiled run 0 with --cpu-prof. */
const runNumbers = (): number[] => [...(opts.cpuProf ? [0] : []), ...Array.from({ length: opts.runs }, (_, i) => i + 1)];
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

async function runCdcViews(scenario: string, run: number, topicRegex: string, records: number, extraArgs: string[] = [], label = 'cdc-views', cachePrefixes: (app: string) => string[] = () => [], profiled = false): Promise<Measured> {
  const app = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_${label.replace(/[^a-z]/g, '')}${run}${profiled ? 'p' : ''}`;
  const watch = rssWatcher(redisPid);
  const r = await runChild(node, [...profArgs(`${scenario}-${label}`, profiled), ...cdcViews, 'run', '--app', app, '--topics', topicRegex, '--until-caught-up', '--http-port', '0', ...extraArgs], { env: cdcvEnv, echo: opts.verbose === true, done: /lag 0 /, cwd: root });
  try {
    return measured(label, run, records, r, watch.stop(), progress(r.stderr), profiled);
  } finally {
    await cleanupApp(app, cachePrefixes(app));
  }
}

function kafkaStreamsJar(): string {
  const dir = `${root}bench/peers/kafka-streams`;
  const jar = `${dir}/target/kafka-streams-peer.jar`;
  const source = `${dir}/src/main/java/cdcviews/bench/MaterializePeer.java`;
  if (!existsSync(jar) || statSync(jar).mtimeMs < statSync(source).mtimeMs) {
    say('  building the Kafka Streams peer (mvn -q -B package)…\n');
    execFileSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: dir, stdio: 'inherit' });
  }
  return jar;
}

async function runKafkaStreams(scenario: string, run: number, topic: string, records: number, mode: Durability): Promise<Measured> {
  const jar = kafkaStreamsJar();
  const app = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_${mode[0]}_ks${run}`;
  const stateDir = `${os.tmpdir()}/cdcv-bench-ks-${app}`;
  const heap = [`-Xms${opts.ksHeap}`, `-Xmx${opts.ksHeap}`];
  const args = [...heap, '-jar', jar, brokers, topic, app, String(concurrency), stateDir, mode === 'durable' ? 'logged' : 'unlogged', String(opts.ksCommitIntervalMs), String(opts.ksCacheBytes)];
  const r = await runChild('java', args, { done: /"caughtUp":true/, echo: opts.verbose === true });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const m = measured('kafka-streams', run, records, r, undefined, Object.assign({}, ...lines) as Record<string, unknown>);
  rmSync(stateDir, { recursive: true, force: true });
  const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${app}-`));
  if (internal.length > 0) await admin.deleteTopics({ topics: internal }).catch(() => undefined);
  await admin.deleteGroups([app]).catch(() => undefined);
  return m;
}

async function runCeiling(client: 'kafkajs' | 'platformatic', scenario: string, run: number, topic: string, records: number, mode: Durability): Promise<Measured> {
  const group = `bench_${id}_${scenario.replace(/[^a-z]/g, '')}_${mode[0]}_${client}${run}`;
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

/** The scale curve, Redis without persistence (bench/scale.ts). */
async function scale(): Promise<void> {
  const restore = await applyDurability(redis, 'volatile');
  try {
    const points = await measureScale({
      sizes: opts.scaleRecords.split(',').map(Number),
      runs: opts.runs,
      topic: async (records, keys) => {
        const prefix = `bench_${id}_${records}`;
        const topic = `${prefix}.public.items`;
        await createTopic(topic);
        createdTopics.push(topic);
        say(`  pre-filling ${topic}: ${records} records, ${keys} keys\n`);
        const p = await produceItems(kafka, { topic, prefix, records, keys, schemas: false }, say);
        return { topic, records: p.records };
      },
      cdcViews: (label, run, topic, records) => runCdcViews(label, run, `^${esc(topic)}$`, records),
      ceiling: (label, run, topic, records) => runCeiling('kafkajs', label, run, topic, records, 'volatile'),
      say,
    });
    results.scenarios.scale = { durability: 'volatile', points };
  } finally {
    await restore();
  }
}

async function materialize(scenario: 'materialize' | 'materialize-schemas'): Promise<void> {
  const t = await itemsTopic(scenario === 'materialize-schemas');
  for (const mode of modes) {
    const restore = await applyDurability(redis, mode);
    const runs: Measured[] = [];
    let redisPersistence: Record<string, string>;
    try {
      redisPersistence = await persistenceSettings(redis);
      say(`  ${scenario}, durability ${mode} (Redis ${JSON.stringify(redisPersistence)}; Kafka Streams changelog ${mode === 'durable' ? 'on' : 'off'})\n`);
      const one = async (system: string, run: number, order: number): Promise<void> => {
        let m: Measured;
        if (system === 'cdc-views') m = await runCdcViews(`${scenario}${mode[0]}`, run, `^${esc(t.topic)}$`, t.records);
        else if (system === 'kafka-streams') m = await runKafkaStreams(scenario, run, t.topic, t.records, mode);
        else if (system === 'kafkajs' || system === 'platformatic') m = await runCeiling(system, scenario, run, t.topic, t.records, mode);
        else throw new Error(`unknown peer ${system}`);
        runs.push({ ...m, order });
      };
      for (let w = 0; w < opts.warmup; w++) {
        say(`  ${scenario} (${mode}) warm-up round ${w + 1}/${opts.warmup}\n`);
        for (const [i, system] of rotation(peers, w + 1).entries()) await one(system, 0, i + 1);
      }
      for (let run = 1; run <= opts.runs; run++) {
        const order = rotation(peers, run);
        say(`  ${scenario} (${mode}) run ${run}/${opts.runs}: ${order.join(' → ')}\n`);
        for (const [i, system] of order.entries()) await one(system, run, i + 1);
      }
      if (opts.cpuProf && peers.includes('cdc-views')) runs.push(await runCdcViews(`${scenario}${mode[0]}`, 0, `^${esc(t.topic)}$`, t.records, [], 'cdc-views', () => [], true));
    } finally {
      await restore();
    }
    const med = summarize(runs);
    results.scenarios[`${scenario} (${mode})`] = {
      topic: t,
      partitions: opts.partitions,
      keys: opts.keys,
      durability: mode,
      redisPersistence,
      kafkaStreamsChangelog: mode === 'durable',
      summary: med,
      ratios: { 'cdc-views / kafka-streams': ratio(med, 'cdc-views', 'kafka-streams'), 'cdc-views / kafkajs ceiling': ratio(med, 'cdc-views', 'kafkajs ceiling'), 'cdc-views / platformatic ceiling': ratio(med, 'cdc-views', 'platformatic ceiling') },
      runs,
    };
    save();
  }
}

async function rebuild(): Promise<void> {
  const t = await itemsTopic(false);
  const topology = 'bench/topologies/items-cache.ts';
  const runs: Measured[] = [];
  for (const run of runNumbers()) {
    const profiled = run === 0;
    say(`  rebuild ${profiled ? 'profiled run (not counted)' : `run ${run}/${opts.runs}`}\n`);
    const runFirst = run % 2 === 1; // the order of run and replay alternates
    const viaRun = (): Promise<Measured> => runCdcViews('rebuild', run, `^${esc(t.topic)}$`, t.records, ['--topology', topology], 'materialize (run)', (app) => [`cache:${app}:`], profiled);
    if (runFirst) runs.push(await viaRun());
    const version = `r${id}${run}`;
    const watch = rssWatcher(redisPid);
    const r = await runChild(node, [...profArgs('rebuild-replay', profiled), ...cdcViews, 'replay', topology, '--version', version, '--from', 'earliest', '--topics', `^${esc(t.topic)}$`, '--until-caught-up'], { env: cdcvEnv, echo: opts.verbose === true, done: /^caught up/m, cwd: root });
    runs.push(measured('rebuild (replay)', run, t.records, r, watch.stop(), undefined, profiled));
    const drop = await runChild(node, [...cdcViews, 'drop', 'bench-items', '--version', version, '--yes'], { cwd: root });
    if (drop.code !== 0) say(`    warning: drop ${version}: ${drop.stderr.trim()}\n`);
    if (!runFirst) runs.push(await viaRun());
  }
  const med = summarize(runs);
  results.scenarios.rebuild = {
    topic: t,
    topology,
    summary: med,
    ratios: { 'rebuild / materialize': ratio(med, 'rebuild (replay)', 'materialize (run)') },
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
  const sinks = [
    ['search index', 'topologies/order-search.ts', (): string[] => []],
    ['cache', 'bench/topologies/order-cache.ts', (app: string): string[] => [`cache:${app}:`]],
  ] as const;
  for (const run of runNumbers()) {
    const profiled = run === 0;
    say(`  join ${profiled ? 'profiled run (not counted)' : `run ${run}/${opts.runs}`}\n`);
    for (const [label, topology, prefixes] of rotation(sinks, Math.max(run, 1))) {
      const app = `bench_${id}_join_${label === 'cache' ? 'cache' : 'search'}${run}`;
      const watch = rssWatcher(redisPid);
      const r = await runChild(node, [...profArgs(`join-${label.replace(' ', '-')}`, profiled), ...cdcViews, 'run', '--app', app, '--topics', `^${esc(prefix)}\\.public\\.`, '--topology', topology, '--until-caught-up', '--http-port', '0'], { env: cdcvEnv, echo: opts.verbose === true, done: /lag 0 /, cwd: root });
      const p = progress(r.stderr);
      let m: Measured;
      try {
        m = measured(`join → ${label}`, run, records, r, watch.stop(), { ...p, documents: sizes.orders, documentsPerSecond: Math.round(sizes.orders / r.seconds), rendersPerSecond: Math.round((p.rendered ?? 0) / r.seconds) }, profiled);
        if (label === 'search index' && !profiled) {
          // The engine's own ceiling for the same documents, measured right after the run that wrote them.
          const c = await searchBulkCeiling(cfg.CDCV_OPENSEARCH_URL, `${app}-order-search`, `${app}-bulk-ceiling`);
          say(`    search bulk ceiling    run ${run}: ${c.documentsPerSecond} documents/s (${c.documents} documents, ${c.seconds} s)\n`);
          runs.push({ system: 'search bulk ceiling', run, records: c.documents, seconds: c.seconds, recordsPerSecond: c.documentsPerSecond, peakRssMiB: 0, extra: { ...c } });
        }
      } finally {
        await cleanupApp(app, prefixes(app));
        if (label === 'search index') await deleteIndex(app);
      }
      runs.push(m);
    }
  }
  const med = summarize(runs);
  const docs = (label: string): number => Math.round(median(counted(runs).filter((r) => r.system === label).map((r) => r.extra!.documentsPerSecond as number)));
  results.scenarios.join = {
    topics: produced.map((p) => ({ topic: p.topic, records: p.records })),
    encoding: 'Debezium JSON, schemas.enable=false, NUMERIC as strings (decimal.handling.mode=string)',
    sizes,
    summary: med,
    documentsPerSecond: { 'search index': docs('join → search index'), cache: docs('join → cache'), 'search bulk ceiling': med['search bulk ceiling']?.recordsPerSecond.median ?? null },
    ratios: { 'search index / search bulk ceiling (documents/s)': med['search bulk ceiling'] ? Number((docs('join → search index') / med['search bulk ceiling'].recordsPerSecond.median).toFixed(2)) : null },
    runs,
  };
  save();
}

async function freshness(): Promise<void> {
  results.scenarios.freshness = await measureFreshness({
    id,
    redis,
    admin,
    brokers,
    connector: Object.fromEntries(opts.connector.split(',').filter((x) => x !== '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    rate: opts.rate,
    durationSeconds: opts.duration,
    runs: opts.runs,
    command: [node, ...profArgs('freshness', opts.cpuProf === true), ...cdcViews],
    env: cdcvEnv,
    cwd: root,
    say,
  });
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
if (opts.build) {
  say('building cdc-views (npm run build)…\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
try {
  say(`bench ${stamp}: scenarios ${scenarios.join(', ')}; concurrency ${concurrency}; machine ${JSON.stringify(results.machineAtStart)}\n`);
  for (const s of scenarios) {
    say(`scenario ${s}\n`);
    if (s === 'materialize' || s === 'materialize-schemas') await materialize(s);
    else if (s === 'rebuild') await rebuild();
    else if (s === 'join') await join();
    else if (s === 'freshness') await freshness();
    else if (s === 'scale') await scale();
    else if (s === 'group-size') {
      const o = { redis, sizes: opts.groupSizes.split(',').map(Number), forms: ['incremental', 'recompute'] as const, recomputeMax: opts.groupRecomputeMax, recomputeChanges: opts.groupRecomputeChanges, changes: opts.groupChanges, rate: opts.groupRate, runs: opts.runs };
      results.scenarios['group-size'] = { settings: { ...o, redis: undefined }, results: await measureGroupSize(o, say) };
    }
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
process.stdout.write(summaryTable(results as BenchResults & { machineAtEnd: Record<string, unknown> }, stamp));
