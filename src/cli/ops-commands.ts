/**
 * The operator's commands: rewind, replay, promote, versions, drop, status
 * (README "Operator's guide"). The work is in src/ops/; this file parses
 * flags, prints plans and progress, and asks for confirmation.
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Admin, Kafka } from 'kafkajs';
import { Redis } from 'ioredis';
import { autoDecoder } from '../cdc/avro.ts';
import { loadConfig, loadEnv, redisTarget } from '../config.ts';
import { connectRedis } from '../state/redis-client.ts';
import { COMMAND_TIMEOUT_MS, connectAdmin } from './connections.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { Application } from '../runtime/application.ts';
import { executeDrop, formatVersions, listVersions, planDrop, promote } from '../ops/lifecycle.ts';
import { prepareReplay, replaySummary, type ReplayFrom } from '../ops/replay.ts';
import { executeRewind, formatPlan, parseDatetime, parseTopicScope, planCsv, planJson, planRewind, readOffsetsCsv, type RewindTarget, type TopicScope } from '../ops/rewind.ts';
import { appStatus, formatStatus } from '../ops/status.ts';
import { applicationIdOf, findVersionOfApp, VersionRegistry } from '../ops/versions.ts';
import { StateStore } from '../state/store.ts';
import type { TopologyPlan } from '../topology/plan.ts';

type Ctx = { redis: Redis; admin: Admin; kafka: Kafka; searchUrl: string };

async function withOps<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
  const { config } = loadConfig();
  const cfg = loadEnv();
  const redis = await connectRedis(redisTarget(config), { commandTimeout: COMMAND_TIMEOUT_MS });
  let admin: Admin | undefined;
  try {
    const connected = await connectAdmin(cfg.CDCV_KAFKA_BROKERS.split(','), 'cdc-views-ops');
    admin = connected.admin;
    return await fn({ redis, admin, kafka: connected.kafka, searchUrl: cfg.CDCV_OPENSEARCH_URL });
  } finally {
    await admin?.disconnect();
    redis.disconnect();
  }
}

const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);
const json = (v: unknown): void => out(`${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`);

function bigintArg(flag: string, signed: boolean) {
  return (value: string): bigint => {
    if (!(signed ? /^[+-]?\d+$/ : /^\d+$/).test(value)) throw new InvalidArgumentError(`${flag} expects ${signed ? 'a signed integer, e.g. -1000 or +50' : 'a non-negative integer'}`);
    return BigInt(value);
  };
}

/** Loads a topology module (main.ts's loadTopology, passed in by registerOpsCommands). */
let loadTopologyFile: (file: string) => Promise<TopologyPlan>;

async function confirm(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim() === expected;
  } finally {
    rl.close();
  }
}

interface RewindOpts {
  app: string;
  toDatetime?: string;
  byDuration?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  shiftBy?: bigint;
  toOffset?: bigint;
  fromFile?: string;
  topic: TopicScope[];
  topology?: string;
  execute?: boolean;
  export?: string;
  json?: boolean;
}

function rewindTarget(o: RewindOpts): RewindTarget {
  const given = [o.toDatetime, o.byDuration, o.toEarliest, o.toLatest, o.shiftBy, o.toOffset, o.fromFile].filter((x) => x !== undefined);
  if (given.length !== 1) throw new ConfigError('rewind', 'give exactly one of --to-datetime, --by-duration, --to-earliest, --to-latest, --shift-by, --to-offset, --from-file');
  if (o.toDatetime !== undefined) return { kind: 'to-datetime', timestampMs: parseDatetime(o.toDatetime, '--to-datetime') };
  if (o.byDuration !== undefined) return { kind: 'by-duration', duration: o.byDuration };
  if (o.toEarliest) return { kind: 'to-earliest' };
  if (o.toLatest) return { kind: 'to-latest' };
  if (o.shiftBy !== undefined) return { kind: 'shift-by', by: o.shiftBy };
  if (o.toOffset !== undefined) return { kind: 'to-offset', offset: o.toOffset };
  return { kind: 'from-file', entries: readOffsetsCsv(o.fromFile!) };
}

function parseFrom(value: string): 'earliest' | 'clone' | number {
  if (value === 'earliest' || value === 'clone') return value;
  return parseDatetime(value, '--from');
}

/** Registers rewind, replay, promote, versions, drop and status on the program. */
export function registerOpsCommands(program: Command, loadTopology: (file: string) => Promise<TopologyPlan>): void {
  loadTopologyFile = loadTopology;
  program
    .command('rewind')
    .description('Move a stopped application\'s positions (state and Kafka group) back or forward; a dry run unless --execute')
    .requiredOption('--app <id>', 'applicationId')
    .option('--to-datetime <iso>', 'to the first record at or after this time, e.g. 2026-05-01T00:00:00Z')
    .option('--by-duration <iso-duration>', 'to now minus an ISO-8601 duration, e.g. P1D, PT2H')
    .option('--to-earliest', 'to the start of the log')
    .option('--to-latest', 'to the end of the log (skips everything not processed)')
    .option('--shift-by <n>', 'by n records from the current position (negative: back)', bigintArg('--shift-by', true))
    .option('--to-offset <n>', 'to an absolute offset', bigintArg('--to-offset', false))
    .option('--from-file <csv>', 'to the offsets of a CSV file topic,partition,offset (as --export writes)')
    .option('--topic <topic[:p,p]>', 'scope (repeatable); default: every partition the app has a stored position for', (v: string, prev: TopicScope[]) => [...prev, parseTopicScope(v)], [] as TopicScope[])
    .option('--topology <file>', 'the app\'s topology, to re-render its views touched since the target (default: the registered version\'s)')
    .option('--execute', 'apply the plan (default: print it only)')
    .option('--export <file>', 'write the plan as CSV topic,partition,offset')
    .option('--json', 'print the plan as JSON')
    .addHelpText('after', `
Same semantics as kafka-consumer-groups --reset-offsets. The application must be stopped
(it refuses and names the running members). Targets outside the log are clamped with a
warning; a time older than the oldest retained record is reported per partition with the
gap. On --execute it moves the Kafka group offsets, then the positions stored with the
state, and marks for re-rendering every row of the topology's tables changed since the
target, so the next run re-renders those views with its code.
Exit codes: 0 done/plan printed, 2 refused or invalid.`)
    .action(async (o: RewindOpts) => {
      const target = rewindTarget(o);
      await withOps(async (ctx) => {
        const plan = await planRewind(ctx, o.app, target, o.topic);
        if (o.json) json(planJson(plan));
        else out(formatPlan(plan));
        if (o.export) writeFileSync(o.export, `topic,partition,offset\n${planCsv(plan)}`);
        if (!o.execute) {
          if (!o.json) err('dry run: nothing changed; add --execute to apply\n');
          return;
        }
        let topology: TopologyPlan | undefined;
        if (o.topology) topology = await loadTopologyFile(o.topology);
        else {
          const found = await findVersionOfApp(ctx.redis, o.app);
          if (found?.entry.topologyFile) topology = await loadTopologyFile(found.entry.topologyFile);
        }
        if (!topology) {
          if (await new StateStore(ctx.redis, o.app).rendersViews()) err(`warning: ${o.app} renders views, but no topology was given: views are not marked for re-rendering (pass --topology <file>)\n`);
        }
        const r = await executeRewind(ctx, plan, topology);
        for (const [t, n] of Object.entries(r.marked)) err(`marked ${n} row(s) of ${t} for re-rendering\n`);
        for (const w of r.warnings) err(`warning: ${w}\n`);
        err(`rewound ${plan.rows.length} partition(s) of ${o.app}\n`);
      });
    });

  program
    .command('replay <topology-file>')
    .description('Build a topology version under applicationId <topology>-<version> into new stores, from a chosen point')
    .requiredOption('--as <version>', 'version name, e.g. v2 (letters, digits, . _)')
    .requiredOption('--from <point>', 'earliest | clone | an ISO-8601 datetime', parseFrom)
    .option('--topics <regex>', 'topics to consume, e.g. \'^demo\\.public\\.\' (for clone: default the cloned app\'s topics)')
    .option('--clone-from <version>', 'with --from clone: the version to clone (default: the promoted one)')
    .option('--clone-app <id>', 'with --from clone: clone any applicationId instead of a version')
    .option('--until-caught-up', 'exit 0 once caught up with the end offsets of the start (default: keep running until SIGINT/SIGTERM)')
    .option('--prepare-only', 'set the version up (registry, positions, clone) without running it; run it later with cdc-views run')
    .option('--json', 'print the replay summary as JSON')
    .addHelpText('after', `
Before it starts it says which case applies: COMPLETE store (earliest with nothing
deleted, or clone) or ONLY KEYS CHANGED since a time. Progress (lag) every 2 s on stderr.
The live stores are never written: every sink name must contain {app}.
Continue a stopped replay with: cdc-views run --app <topology>-<version> --topology <file> --topics '<topics>'`)
    .action(async (file: string, o: { as: string; from: 'earliest' | 'clone' | number; topics?: string; cloneFrom?: string; cloneApp?: string; untilCaughtUp?: boolean; prepareOnly?: boolean; json?: boolean }) => {
      const plan = await loadTopologyFile(file);
      const cfg = loadEnv();
      await withOps(async (ctx) => {
        let from: ReplayFrom;
        if (o.from === 'earliest') from = { kind: 'earliest' };
        else if (typeof o.from === 'number') from = { kind: 'datetime', timestampMs: o.from };
        else if (o.cloneApp) from = { kind: 'clone', applicationId: o.cloneApp };
        else {
          const registry = new VersionRegistry(ctx.redis, plan.name);
          const v = o.cloneFrom ?? (await registry.promoted());
          if (!v) throw new ConfigError('--clone-from', `topology ${plan.name} has no promoted version; name one with --clone-from <version> or an app with --clone-app <id>`);
          from = { kind: 'clone', applicationId: (await registry.require(v)).applicationId };
        }
        applicationIdOf(plan.name, o.as);
        const prepared = await prepareReplay(ctx, { plan, topologyFile: file, version: o.as, from, ...(o.topics ? { topics: new RegExp(o.topics) } : {}) });
        if (o.json) json({ applicationId: prepared.applicationId, complete: prepared.complete, description: prepared.description, warnings: prepared.warnings, topics: prepared.topics, starts: prepared.starts, sinks: prepared.entry.sinks });
        else err(replaySummary(prepared));
        if (o.prepareOnly) return;
        const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const processor = new Application({
          applicationId: prepared.applicationId,
          brokers: cfg.CDCV_KAFKA_BROKERS.split(','),
          redis: ctx.redis,
          topics: new RegExp(`^(${prepared.topics.map(esc).join('|')})$`),
          topology: plan,
          searchUrl: cfg.CDCV_OPENSEARCH_URL,
          // JSON or Confluent-framed Avro, detected per record (the topics' converter is not recorded anywhere).
          decoder: autoDecoder({ registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL }),
          logger,
        });
        const stopping = new AbortController();
        const onSignal = (): void => stopping.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        await processor.start();
        const started = Date.now();
        let last = 0;
        const report = (lag: bigint): void => err(`replay ${prepared.applicationId}: lag ${lag}  consumed ${processor.counts.consumed}  rendered ${processor.renderCounts.rendered}  ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
        try {
          await processor.waitUntilCaughtUp({
            signal: stopping.signal,
            onProgress: (lag) => {
              if (Date.now() - last >= 2000) {
                last = Date.now();
                report(lag);
              }
            },
          });
          report(0n);
          const failed = processor.counts.renderFailures;
          if (failed > 0) {
            throw new CdcViewsError('RENDER_FAILED', `caught up, but the topology's code threw for ${failed} view root(s) or stream event(s): they are in the DLQ (code RENDER_FAILED) and missing from version ${o.as}; fix the topology and replay again before promoting`);
          }
          await new VersionRegistry(ctx.redis, plan.name).update(o.as, { state: 'built' });
          err(`caught up; promote with: cdc-views promote ${plan.name} --to ${o.as}\n`);
          if (!o.untilCaughtUp) {
            const timer = setInterval(() => void processor.lag().then((l) => report(l.reduce((a, p) => a + p.lag, 0n))), 2000);
            await new Promise<void>((r) => stopping.signal.addEventListener('abort', () => r(), { once: true }));
            clearInterval(timer);
          }
        } catch (e) {
          if (!stopping.signal.aborted) throw e;
        } finally {
          await processor.stop();
        }
      });
    });

  program
    .command('promote <topology>')
    .description('Switch readers of a topology to a version: search aliases in one request, cache pointers in one transaction')
    .requiredOption('--to <version>', 'the version to promote')
    .option('--force', 'promote even when the version has not caught up or its store is incomplete')
    .option('--replace-index', "delete an index that carries the readers' alias name (written by an application that ran under the topology's own name) in the same atomic alias switch")
    .option('--json', 'print what was switched as JSON')
    .action(async (topology: string, o: { to: string; force?: boolean; replaceIndex?: boolean; json?: boolean }) => {
      await withOps(async (ctx) => {
        const r = await promote(ctx, topology, o.to, { force: o.force ?? false, replaceIndex: o.replaceIndex ?? false });
        if (o.json) return json(r);
        for (const a of r.aliases) out(`alias ${a.alias}: ${a.from.join(', ') || '(none)'} → ${a.to}${a.replacedIndex ? ` (index ${a.alias} deleted)` : ''}\n`);
        for (const p of r.pointers) out(`cache pointer ${p.key} → ${p.to}\n`);
        out(`promoted ${topology} ${r.previous ?? '(none)'} → ${r.version}\n`);
      });
    });

  program
    .command('versions <topology>')
    .description('List a topology\'s versions: running, lag, caught up, promoted')
    .option('--json', 'print as JSON')
    .action(async (topology: string, o: { json?: boolean }) => {
      await withOps(async (ctx) => {
        const list = await listVersions(ctx, topology);
        if (o.json) json(list);
        else out(formatVersions(topology, list));
      });
    });

  program
    .command('drop <topology>')
    .description('Delete a version\'s state, cache keys, search index, consumer group and DLQ topic (not the promoted one)')
    .requiredOption('--version <version>', 'the version to drop')
    .option('--yes', 'do not ask for confirmation (scripts)')
    .action(async (topology: string, o: { version: string; yes?: boolean }) => {
      await withOps(async (ctx) => {
        const plan = await planDrop(ctx, topology, o.version);
        err(`dropping ${topology} ${o.version} (${plan.entry.applicationId}):\n  Redis keys under ${plan.redisPrefixes.join(', ')}\n  indexes ${plan.indexes.join(', ') || '(none)'}\n  consumer group ${plan.consumerGroup}, topic ${plan.dlqTopic}\n`);
        if (!o.yes && !(await confirm(`type the version (${o.version}) to confirm: `, o.version))) {
          throw new CdcViewsError('OPS_NOT_CONFIRMED', 'not confirmed; nothing dropped (pass --yes in scripts)');
        }
        const r = await executeDrop(ctx, topology, plan);
        out(`dropped ${topology} ${o.version}: ${r.redisKeys} Redis key(s), ${r.indexes} index(es)\n`);
      });
    });

  program
    .command('status')
    .description('An application\'s members, per-partition position / end offset / lag, state entries, last event time, DLQ count')
    .addOption(new Option('--app <id>', 'applicationId (env CDCV_APPLICATION_ID)'))
    .option('--json', 'print as JSON')
    .action(async (o: { app?: string; json?: boolean }) => {
      const app = o.app ?? loadEnv().CDCV_APPLICATION_ID;
      if (!app) throw new ConfigError('--app', 'missing: give --app <id> or set CDCV_APPLICATION_ID');
      await withOps(async (ctx) => {
        const s = await appStatus(ctx.redis, ctx.admin, app);
        if (o.json) json(s);
        else out(formatStatus(s));
      });
    });
}
