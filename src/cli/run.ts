/**
 * `cdc-views run` (an application with its operations HTTP server and graceful
 * shutdown) and `cdc-views config print`. Both read the configuration through
 * one schema (src/config.ts): flags > environment > `--config` file > defaults.
 */
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { describeConfig } from '../config.ts';
import type { Redis } from 'ioredis';
import { connectStateRedis } from '../state/redis-target.ts';
import { registryConnection } from '../cdc/registry-auth.ts';
import { searchConnection } from '../sinks/search-client.ts';
import type { Logger } from '../log.ts';
import { registerRunningVersion } from '../ops/register-run.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { configJson, configYaml } from './config-print.ts';
import { connectAdmin } from './connections.ts';
import { kafkaSecurity, type KafkaSecurity } from '../kafka/security.ts';
import { createKafka } from '../runtime/kafka-client.ts';
import { ExitCode, InterruptedError } from './exit-codes.ts';
import { FLAGGED_SETTINGS, POSTGRES_SETTINGS, deprecatedAlias, jsonOption, settingOptions } from './options.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { createMetrics } from '../metrics/catalogue.ts';
import { startHttpServer, type HttpServer } from '../metrics/server.ts';
import { storesToken } from '../metrics/stores-auth.ts';
import { Application } from '../runtime/application.ts';
import { loadTopology } from '../topology/load.ts';

/** Registers `run` and `config print` on the program. */
export function registerRunCommands(program: Command): void {
  const run = program
    .command('run')
    .description("Run an application: materialize the matching CDC topics into table state, render the topology's views, serve /metrics /healthz /readyz /stores")
    .option('--until-caught-up', "exit 0 once every partition's position reaches the end offset it had at start")
    .addHelpText('after', '\nWithout --until-caught-up it runs until SIGINT/SIGTERM, then stops gracefully (in-flight batches finish; exit 0) within CDCV_SHUTDOWN_TIMEOUT_MS (else exit 3); a second signal exits 130 at once. With --until-caught-up a signal before caught up exits 130.');
  // Every setting with a flag but the source database's (run does not read it).
  const readSettings = settingOptions(run, FLAGGED_SETTINGS.filter((k) => !(POSTGRES_SETTINGS as readonly string[]).includes(k)));
  run.action(async (opts: Record<string, unknown>) => {
    const cfg = readSettings(opts).config;
    const app = cfg.applicationId;
    if (!app) throw new ConfigError('--app', 'missing: give --app <id>, set CDCV_APPLICATION_ID or applicationId in the config file');
    if (!cfg.topics) throw new ConfigError('--topics', 'missing: give --topics <topic regex>, set CDCV_TOPICS or topics in the config file');
    const topics = new RegExp(cfg.topics);
    // Credential settings checked before connecting to anything; /stores on without a token refuses to start.
    const security = kafkaSecurity(cfg);
    const search = searchConnection(cfg);
    const schemaRegistry = registryConnection(cfg);
    const token = storesToken(cfg);
    const topology = cfg.topology ? await loadTopology(cfg.topology) : undefined;
    const log = logger.child({ applicationId: app });
    const redis = await connectStateRedis(cfg, { writes: true, onUnknownPolicy: () => log.warn('the state Redis does not report maxmemory_policy in INFO memory: make sure it is noeviction') });
    if (topology && cfg.topology) await registerVersion(cfg.kafkaBrokers.split(','), security, redis, topology, cfg.topology, app, topics, log);
    const registry = new Registry();
    const processor = new Application({
      applicationId: app,
      brokers: cfg.kafkaBrokers.split(','),
      kafka: createKafka(app, cfg.kafkaBrokers.split(','), log, security),
      redis,
      topics,
      ...(topology ? { topology } : {}),
      searchUrl: search,
      registryUrl: schemaRegistry.registryUrl,
      ...(schemaRegistry.credentials ? { registryCredentials: schemaRegistry.credentials } : {}),
      logger,
      metrics: createMetrics(registry),
      partitionsConsumedConcurrently: cfg.partitionsConcurrently,
      maxBytesPerPartition: cfg.maxBytesPerPartition,
      maxBytes: cfg.maxBytes,
      maxChunkRecords: cfg.maxChunkRecords,
      metadataMaxAgeMs: cfg.metadataMaxAgeMs,
      housekeeping: { intervalMs: cfg.housekeepingIntervalMs, deleteMarkerRetentionMs: cfg.deleteMarkerRetentionMs },
    });
    const stopping = new AbortController();
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      // A second signal more than a second later (an operator's second Ctrl-C, not a wrapper
      // such as npm forwarding the same one) exits at once.
      if (stopping.signal.aborted && Date.now() - firstSignalAt > 1000) {
        log.warn({ signal }, 'second signal: exiting at once (positions are stored with the state)');
        process.exit(ExitCode.INTERRUPTED);
      }
      if (stopping.signal.aborted) return;
      firstSignalAt = Date.now();
      log.info({ signal, timeoutMs: cfg.shutdownTimeoutMs }, 'stopping gracefully');
      stopping.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let server: HttpServer | undefined;
    try {
      server = await startHttpServer({ registry, health: processor, ...(token ? { stores: { rows: processor.store, token } } : {}), host: cfg.httpHost, port: cfg.httpPort, readyMaxLag: cfg.readyMaxLag, logger: log });
      log.info({ url: server.url, host: cfg.httpHost, stores: token !== undefined }, `operations HTTP server on ${cfg.httpHost}:${server.port}: /metrics /healthz /readyz${token ? ' /stores/<table>/<key> (bearer token)' : ' (/stores disabled)'}`);
      await processor.start();
      await waitForEnd(processor, stopping.signal, opts.untilCaughtUp === true);
    } finally {
      // Bounded graceful shutdown: a stop that hangs (a broker gone) must not keep a pod
      // terminating forever; exiting then is safe, as positions are stored with the state.
      const timer = setTimeout(() => {
        log.error({ timeoutMs: cfg.shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
        process.exit(ExitCode.UNAVAILABLE);
      }, cfg.shutdownTimeoutMs);
      try {
        await processor.stop();
        await server?.close();
      } finally {
        clearTimeout(timer);
        redis.disconnect();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }
    if (processor.failure) throw new CdcViewsError('CONSUMER_CRASHED', `the consumer stopped: ${processor.failure.message}`, { cause: processor.failure });
  });

  const configCmd = program.command('config').description('Inspect the configuration');
  const print = configCmd
    .command('print')
    .description('Print the effective configuration (flags > environment > config file > defaults) with the source of each value; secrets masked (left out with --reveal-none)')
    .addOption(jsonOption('the configuration (default: YAML, itself a valid --config file)'))
    .option('--reveal-none', 'leave out every credential (secret settings, URL passwords) instead of masking it: the output, YAML or JSON, is a --config file as it is');
  deprecatedAlias(print, '--format <format>', '--json', (v) => v === 'json' || undefined, (o) => o.choices(['yaml', 'json']));
  const readPrintSettings = settingOptions(print, FLAGGED_SETTINGS);
  print.action((opts: Record<string, unknown>) => {
    const rows = describeConfig(readPrintSettings(opts));
    const revealNone = opts.revealNone === true;
    process.stdout.write(opts.json === true ? configJson(rows, revealNone) : configYaml(rows, revealNone));
  });
}

/**
 * Registers the application as a version of its topology when its
 * applicationId is `<topology>-<version>` (src/ops/register-run.ts), and logs what it did.
 * @throws {CdcViewsError} KAFKA_UNREACHABLE, OPS_VERSION_EXISTS (the version belongs to another application)
 */
async function registerVersion(brokers: string[], security: KafkaSecurity, redis: Redis, plan: TopologyPlan, file: string, app: string, topics: RegExp, log: Logger): Promise<void> {
  const { kafka, admin } = await connectAdmin(brokers, `${app}-register`, undefined, security);
  try {
    const r = await registerRunningVersion({ redis, admin, kafka }, plan, app, topics, file);
    if (r.kind === 'registered') log.info({ version: r.version }, `registered as version ${r.version} of ${plan.name}: ${r.description}`);
    else if (r.kind === 'not-a-version') log.info(`not a version of ${plan.name} (replay and promote do not know it): ${r.reason}`);
  } finally {
    await admin.disconnect();
  }
}

/** Resolves on a signal, when caught up (with `untilCaughtUp`), or when the consumer crashed for good. */
async function waitForEnd(processor: Application, signal: AbortSignal, untilCaughtUp: boolean): Promise<void> {
  const started = Date.now();
  const report = (lag: bigint): void => {
    const c = processor.counts;
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`consumed ${c.consumed}  applied ${c.applied}  stale ${c.stale}  dlq ${c.dlq}  rendered ${processor.renderCounts.rendered}  lag ${lag}  ${(c.consumed / Math.max(secs, 0.001)).toFixed(0)} rec/s\n`);
  };
  if (untilCaughtUp) {
    let lastReport = 0;
    try {
      await processor.waitUntilCaughtUp({
        signal,
        onProgress: (lag) => {
          if (Date.now() - lastReport > 2000) {
            lastReport = Date.now();
            report(lag);
          }
        },
      });
    } catch (err) {
      if (signal.aborted) throw new InterruptedError('interrupted before caught up; run it again to continue from the stored positions');
      throw err;
    }
    report(0n);
    const failed = processor.counts.renderFailures;
    if (failed > 0) {
      throw new CdcViewsError('RENDER_FAILED', `caught up, but the topology's code threw for ${failed} view root(s) or stream event(s): they are in the DLQ (cdcv.${processor.store.applicationId}.dlq, code RENDER_FAILED) and missing from the views; fix the topology, then rewind or replay`);
    }
    return;
  }
  const timer = setInterval(() => {
    void processor.lag().then(
      (l) => report(l.reduce((a, p) => a + p.lag, 0n)),
      () => undefined,
    );
  }, 5000);
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      const watch = setInterval(() => {
        if (processor.failure) {
          clearInterval(watch);
          resolve();
        }
      }, 1000);
      signal.addEventListener('abort', () => clearInterval(watch), { once: true });
    });
  } finally {
    clearInterval(timer);
  }
}
