/**
 * The `cdc-views` command line. `cdc-views --help` lists the commands;
 * `cdc-views <command> --help` describes one.
 */
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { canonicalKeyString } from '../cdc/keys.ts';
import type { Row } from '../cdc/types.ts';
import { loadConfig, loadEnv, redisTarget, type EnvConfig } from '../config.ts';
import { connectRedis } from '../state/redis-client.ts';
import { COMMAND_TIMEOUT_MS } from './connections.ts';
import { ConnectClient, loadConnector } from '../connect/client.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { StateStore } from '../state/store.ts';
import { registerRunCommands } from './run.ts';
import { describeTopology } from '../topology/describe.ts';
import { loadTopology } from '../topology/load.ts';

const program = new Command('cdc-views')
  .description('Materialize Debezium CDC topics into Redis table state and derived views')
  .showHelpAfterError();

function env(): EnvConfig {
  return loadEnv();
}

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectRedis(redisTarget(loadConfig().config), { commandTimeout: COMMAND_TIMEOUT_MS });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

registerRunCommands(program);

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
      const store = new StateStore(redis, opts.app);
      const found = await store.get(await store.resolveTable(opts.table), canonicalKeyString(key));
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
      const store = new StateStore(redis, opts.app);
      for await (const [, stored] of store.scan(await store.resolveTable(opts.table))) {
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

(await import('./ops-commands.ts')).registerOpsCommands(program, loadTopology);
(await import('./types-command.ts')).registerTypesCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CdcViewsError) {
    // Exit now: a client of a dependency that never answered (a hung socket) would keep the process alive.
    process.stderr.write(`cdc-views: ${err.message}\n`, () => process.exit(2));
  } else {
    throw err;
  }
}
