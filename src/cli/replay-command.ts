/**
 * `cdc-views replay`: build a topology version under applicationId
 * `<topology>-<version>` into new stores (src/ops/replay.ts). The summary goes
 * to stderr (to stdout as JSON with `--json`); the catch-up shows a progress
 * bar with rate and ETA on a terminal, plain lines otherwise (src/cli/progress.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { autoDecoder } from '../cdc/avro.ts';
import { registryConnection } from '../cdc/registry-auth.ts';
import type { Config } from '../config.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { prepareReplay, replaySummary, type PreparedReplay, type ReplayFrom } from '../ops/replay.ts';
import { parseDatetime } from '../ops/rewind.ts';
import { applicationIdOf, VersionRegistry } from '../ops/versions.ts';
import { kafkaSecurity } from '../kafka/security.ts';
import { Application } from '../runtime/application.ts';
import { createKafka } from '../runtime/kafka-client.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { loadTopology } from '../topology/load.ts';
import { InterruptedError } from './exit-codes.ts';
import { printJson, withOps, type OpsContext } from './ops-context.ts';
import { deprecatedAlias, jsonOption, progressOption, settingOptions, versionOption } from './options.ts';
import { ProgressReporter } from './progress.ts';

const err = (s: string): void => void process.stderr.write(s);

interface ReplayOpts {
  version: string;
  from: 'earliest' | 'clone' | number;
  topics?: string;
  cloneFrom?: string;
  cloneApp?: string;
  untilCaughtUp?: boolean;
  prepareOnly?: boolean;
  json?: boolean;
  progress: boolean;
}

/** Parses `--from`: earliest, clone or an ISO-8601 datetime (ms). @throws {ConfigError} */
export function parseFrom(value: string): 'earliest' | 'clone' | number {
  if (value === 'earliest' || value === 'clone') return value;
  return parseDatetime(value, '--from');
}

/** Checks `--topics` is a regular expression. @throws {InvalidArgumentError} */
export function regexArg(value: string): string {
  try {
    new RegExp(value);
  } catch {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a regular expression, e.g. '^demo\\.public\\.'`);
  }
  return value;
}

/** Where the replay starts, from the options. @throws {ConfigError} when clone has nothing to clone */
async function replayFrom(ctx: OpsContext, plan: TopologyPlan, o: ReplayOpts): Promise<ReplayFrom> {
  if (o.from === 'earliest') return { kind: 'earliest' };
  if (typeof o.from === 'number') return { kind: 'datetime', timestampMs: o.from };
  if (o.cloneApp) return { kind: 'clone', applicationId: o.cloneApp };
  const registry = new VersionRegistry(ctx.redis, plan.name);
  const v = o.cloneFrom ?? (await registry.promoted());
  if (!v) throw new ConfigError('--clone-from', `topology ${plan.name} has no promoted version; name one with --clone-from <version> or an app with --clone-app <id>`);
  return { kind: 'clone', applicationId: (await registry.require(v)).applicationId };
}

/**
 * Runs a prepared version until caught up (progress on stderr), then, without
 * `untilCaughtUp`, until a signal.
 * @throws {InterruptedError} on a signal before caught up with `untilCaughtUp`; {CdcViewsError} RENDER_FAILED
 */
async function runReplay(ctx: OpsContext, config: Config, plan: TopologyPlan, prepared: PreparedReplay, o: ReplayOpts): Promise<void> {
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const processor = new Application({
    applicationId: prepared.applicationId,
    brokers: config.kafkaBrokers.split(','),
    kafka: createKafka(prepared.applicationId, config.kafkaBrokers.split(','), logger.child({ applicationId: prepared.applicationId }), kafkaSecurity(config)),
    redis: ctx.redis,
    topics: new RegExp(`^(${prepared.topics.map(esc).join('|')})$`),
    topology: plan,
    searchUrl: ctx.searchUrl,
    // JSON or Confluent-framed Avro, detected per record (the topics' converter is not recorded anywhere).
    decoder: autoDecoder(registryConnection(config)),
    logger,
  });
  const stopping = new AbortController();
  const onSignal = (): void => stopping.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new ProgressReporter({ label: `replay ${prepared.applicationId}`, mode: o.progress ? undefined : 'off' });
  try {
    await processor.start();
    await processor.waitUntilCaughtUp({
      signal: stopping.signal,
      onProgress: (lag, total) => {
        progress.update(Number(total - lag), Number(total));
      },
    });
    progress.stop();
    const failed = processor.counts.renderFailures;
    if (failed > 0) {
      throw new CdcViewsError('RENDER_FAILED', `caught up, but the topology's code threw for ${failed} view root(s) or stream event(s): they are in the DLQ (code RENDER_FAILED) and missing from version ${o.version}; fix the topology and replay again before promoting`);
    }
    await new VersionRegistry(ctx.redis, plan.name).update(o.version, { state: 'built' });
    err(`caught up; promote with: cdc-views promote ${plan.name} --version ${o.version}\n`);
    if (!o.untilCaughtUp) await followUntilSignal(processor, prepared.applicationId, stopping.signal);
  } catch (e) {
    if (!stopping.signal.aborted) throw e;
    if (o.untilCaughtUp) throw new InterruptedError(`interrupted before ${prepared.applicationId} caught up; run the same command again to continue from its stored positions`);
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await processor.stop();
  }
}

/** After catching up: keeps the version running, a lag line on stderr every 5 s, until a signal. */
async function followUntilSignal(processor: Application, app: string, signal: AbortSignal): Promise<void> {
  const timer = setInterval(
    () =>
      void processor.lag().then(
        (l) => err(`replay ${app}: following, lag ${l.reduce((a, p) => a + p.lag, 0n)}  consumed ${processor.counts.consumed}  rendered ${processor.renderCounts.rendered}\n`),
        () => undefined,
      ),
    5000,
  );
  await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
  clearInterval(timer);
}

/** Registers `replay` on the program. */
export function registerReplayCommand(program: Command): void {
  const replay = program
    .command('replay <topology-file>')
    .description('Build a topology version under applicationId <topology>-<version> into new stores, from a chosen point')
    .addOption(versionOption('the version to build'))
    .requiredOption('--from <point>', 'earliest | clone | an ISO-8601 datetime', parseFrom)
    .option('--topics <regex>', "topics to consume, e.g. '^demo\\.public\\.' (for clone: default the cloned app's topics)", regexArg)
    .option('--clone-from <version>', 'with --from clone: the version to clone (default: the promoted one)')
    .option('--clone-app <id>', 'with --from clone: clone any applicationId instead of a version')
    .option('--until-caught-up', 'exit 0 once caught up with the end offsets of the start (default: keep running until SIGINT/SIGTERM)')
    .option('--prepare-only', 'set the version up (registry, positions, clone) without running it; run it later with cdc-views run')
    .addOption(jsonOption('the replay summary'))
    .addOption(progressOption())
    .addHelpText(
      'after',
      `
Before it starts it says which case applies: COMPLETE store (earliest with nothing
deleted, or clone) or ONLY KEYS CHANGED since a time. Progress of the catch-up on stderr:
a bar with rate and ETA on a terminal, a line every 5 s otherwise. The live stores are
never written: every sink name must contain {app}. Interrupted with --until-caught-up it
exits 130; run the same command again to continue, or:
  cdc-views run --app <topology>-<version> --topology <file> --topics '<topics>'`,
    );
  deprecatedAlias(replay, '--as <version>', '--version');
  const read = settingOptions(replay);
  replay.action(async (file: string, o: ReplayOpts & Record<string, unknown>) => {
    const { config } = read(o);
    const plan = await loadTopology(file);
    applicationIdOf(plan.name, o.version);
    await withOps(config, async (ctx) => {
      const from = await replayFrom(ctx, plan, o);
      const prepared = await prepareReplay(ctx, { plan, topologyFile: file, version: o.version, from, ...(o.topics ? { topics: new RegExp(o.topics) } : {}) });
      if (o.json) printJson({ applicationId: prepared.applicationId, complete: prepared.complete, description: prepared.description, warnings: prepared.warnings, topics: prepared.topics, starts: prepared.starts, sinks: prepared.entry.sinks });
      else err(replaySummary(prepared));
      if (!o.prepareOnly) await runReplay(ctx, config, plan, prepared, o);
    }, { writes: true });
  });
}
