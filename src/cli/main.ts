/**
 * The `cdc-views` command line. `cdc-views --help` lists the commands;
 * `cdc-views <command> --help` describes one.
 */
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { canonicalKeyString } from '../cdc/keys.ts';
import type { Row } from '../cdc/types.ts';
import { loadEnv, type EnvConfig } from '../config.ts';
import { ConnectClient, loadConnector } from '../connect/client.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { Processor } from '../runtime/processor.ts';
import { StateStore } from '../state/store.ts';
import { describeTopology } from '../topology/describe.ts';
import { loadTopology } from '../topology/load.ts';

const program = new Command('cdc-views')
  .description('Materialize Debezium CDC topics into Redis table state and derived views')
  .showHelpAfterError();

function env(): EnvConfig {
  return loadEnv();
}

function regex(value: string): RegExp {
  try {
    return new RegExp(value);
  } catch (err) {
    throw new InvalidArgumentError(`not a regular expression: ${(err as Error).message}`);
  }
}

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(env().CDCV_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  try {
    await redis.connect();
  } catch (err) {
    throw new CdcViewsError('REDIS_UNREACHABLE', `Redis does not answer at ${env().CDCV_REDIS_URL}; start it (npm run stack:up) or set CDCV_REDIS_URL`, { cause: err });
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

program
  .command('run')
  .description('Run an application: materialize the matching CDC topics into table state, render the topology\'s views')
  .option('--app <id>', 'applicationId: Kafka consumer group and Redis key prefix (env CDCV_APPLICATION_ID)')
  .option('--mirror <regex>', 'materialize every table whose topic matches, e.g. \'^shop\\.public\\.\' (env CDCV_TOPICS)', regex)
  .option('--topology <file>', 'topology module whose views to render, e.g. topologies/order-search.ts (env CDCV_TOPOLOGY)')
  .option('--until-caught-up', 'exit 0 once every partition\'s position reaches the end offset it had at start')
  .addHelpText('after', '\nWithout --until-caught-up it runs until SIGINT/SIGTERM, then stops gracefully (in-flight batches finish).')
  .action(async (opts: { app?: string; mirror?: RegExp; topology?: string; untilCaughtUp?: boolean }) => {
    const cfg = env();
    const app = opts.app ?? cfg.CDCV_APPLICATION_ID;
    if (!app) throw new ConfigError('--app', 'missing: give --app <id> or set CDCV_APPLICATION_ID');
    const topics = opts.mirror ?? (cfg.CDCV_TOPICS ? regex(cfg.CDCV_TOPICS) : undefined);
    if (!topics) throw new ConfigError('--mirror', 'missing: give --mirror <topic regex> or set CDCV_TOPICS');
    const topologyFile = opts.topology ?? cfg.CDCV_TOPOLOGY;
    const topology = topologyFile ? await loadTopology(topologyFile) : undefined;
    await withRedis(async (redis) => {
      const processor = new Processor({
        applicationId: app,
        brokers: cfg.CDCV_KAFKA_BROKERS.split(','),
        redis,
        topics,
        ...(topology ? { topology } : {}),
        searchUrl: cfg.CDCV_OPENSEARCH_URL,
        logger,
      });
      const stopping = new AbortController();
      const onSignal = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        stopping.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      await processor.start();
      const started = Date.now();
      const report = (lag: bigint): void => {
        const c = processor.counts;
        const secs = (Date.now() - started) / 1000;
        process.stderr.write(`consumed ${c.consumed}  applied ${c.applied}  stale ${c.stale}  dlq ${c.dlq}  rendered ${processor.renderCounts.rendered}  lag ${lag}  ${(c.consumed / Math.max(secs, 0.001)).toFixed(0)} rec/s\n`);
      };
      try {
        if (opts.untilCaughtUp) {
          let lastReport = 0;
          await processor.waitUntilCaughtUp({
            signal: stopping.signal,
            onProgress: (lag) => {
              if (Date.now() - lastReport > 2000) {
                lastReport = Date.now();
                report(lag);
              }
            },
          });
          report(0n);
        } else {
          const timer = setInterval(() => {
            void processor.lag().then((l) => report(l.reduce((a, p) => a + p.lag, 0n)));
          }, 5000);
          await new Promise<void>((r) => stopping.signal.addEventListener('abort', () => r(), { once: true }));
          clearInterval(timer);
        }
      } finally {
        await processor.stop();
      }
    });
  });

const topologyCmd = program.command('topology').description('Inspect topologies');
topologyCmd
  .command('describe <file>')
  .description('Validate a topology module and print its graph: sources → tables → views → sinks')
  .action(async (file: string) => {
    process.stdout.write(describeTopology(await loadTopology(file)));
  });

program
  .command('query')
  .description('Interactive query: print one row of an application\'s table state as JSON')
  .requiredOption('--app <id>', 'applicationId')
  .requiredOption('--table <schema.table>', 'table, e.g. public.customers')
  .requiredOption('--key <json>', 'primary key as JSON, e.g. \'{"id":42}\' or \'{"order_id":7,"line_no":1}\'')
  .action(async (opts: { app: string; table: string; key: string }) => {
    let key: Row;
    try {
      key = JSON.parse(opts.key) as Row;
    } catch {
      throw new ConfigError('--key', `${opts.key} is not JSON; write the primary-key columns as an object, e.g. '{"id":42}'`);
    }
    await withRedis(async (redis) => {
      const found = await new StateStore(redis, opts.app).get(opts.table, canonicalKeyString(key));
      if (!found || found.row === null) {
        process.stderr.write(`no live row for key ${canonicalKeyString(key)} in ${opts.table} of app ${opts.app}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${JSON.stringify(found.row)}\n`);
    });
  });

program
  .command('dump')
  .description('Print every live row of a table\'s state as JSON lines (canonical values, see README)')
  .requiredOption('--app <id>', 'applicationId')
  .requiredOption('--table <schema.table>', 'table, e.g. public.customers')
  .action(async (opts: { app: string; table: string }) => {
    await withRedis(async (redis) => {
      for await (const [, stored] of new StateStore(redis, opts.app).scan(opts.table)) {
        if (stored.row !== null) process.stdout.write(`${JSON.stringify(stored.row)}\n`);
      }
    });
  });

const connect = program.command('connect').description('Manage Debezium connectors in Kafka Connect (CDCV_CONNECT_URL)');
connect
  .command('register <file>')
  .description('Create or update the connector defined in a JSON file ({name, config}) and wait until it runs')
  .option('--set <key=value>', 'override a config setting (repeatable); name=… renames the connector', keyValue, {})
  .action(async (file: string, opts: { set: Record<string, string> }) => {
    const client = new ConnectClient(env().CDCV_CONNECT_URL);
    const def = await loadConnector(file, opts.set);
    await client.register(def);
    const status = await client.waitRunning(def.name);
    process.stdout.write(`connector ${def.name}: ${status.connector.state}, ${status.tasks.length} task(s) running\n`);
  });
connect
  .command('status <name>')
  .description('Print a connector\'s status')
  .action(async (name: string) => {
    const status = await new ConnectClient(env().CDCV_CONNECT_URL).status(name);
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    if (!status) process.exitCode = 1;
  });
connect
  .command('delete <name>')
  .description('Delete a connector (its replication slot stays; drop it with pg_drop_replication_slot)')
  .action(async (name: string) => {
    await new ConnectClient(env().CDCV_CONNECT_URL).delete(name);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CdcViewsError) {
    process.stderr.write(`cdc-views: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
