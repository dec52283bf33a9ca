/**
 * `cdc-views connect register | status | delete | add-table`: Debezium
 * connectors in Kafka Connect (`--connect-url`, CDCV_CONNECT_URL). `status`
 * exits 1 when the connector does not exist; `add-table` is a dry run unless
 * `--execute` (src/ops/add-table.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Admin } from 'kafkajs';
import { ConnectClient, connectTarget, loadConnector, type ConnectorDefinition, type ConnectorStatus } from '../connect/client.ts';
import { ensureSignalTopic, signallingOf } from '../connect/signalling.ts';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { kafkaSecurity } from '../kafka/security.ts';
import { COMMAND_TIMEOUT_MS, connectAdmin } from './connections.ts';
import { SCHEMA_TABLE } from '../ops/backfill-signal.ts';
import { printJson } from './ops-context.ts';
import { connectSource } from './source-db.ts';
import { ExitCode } from './exit-codes.ts';
import { jsonOption, settingOptions } from './options.ts';

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Reads a connector file. @throws {ConfigError} when it cannot be read or is not JSON */
async function readConnector(file: string, set: Record<string, string>): Promise<ConnectorDefinition> {
  try {
    return await loadConnector(file, set);
  } catch (err) {
    throw new ConfigError('<file>', `cannot read connector ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; give a JSON file {"name": …, "config": {…}}`);
  }
}

/** A connector's status for people: `connector <name>: <state>; task <id> <state>…`. */
export function formatConnectorStatus(s: ConnectorStatus): string {
  const tasks = s.tasks.map((t) => `task ${t.id} ${t.state}${t.trace ? ` (${t.trace.split('\n')[0]})` : ''}`);
  return `connector ${s.name}: ${s.connector.state}${tasks.length > 0 ? `; ${tasks.join('; ')}` : '; no task'}\n`;
}

/** Runs `fn` with a Kafka admin client of the settings; disconnects after. */
async function withAdmin<T>(config: Config, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const { admin } = await connectAdmin(config.kafkaBrokers.split(','), 'cdc-views-connect', COMMAND_TIMEOUT_MS, kafkaSecurity(config));
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates the one-partition Kafka signal topic of a connector that reads the Kafka signal channel (see ensureSignalTopic). */
async function prepareSignalTopic(config: Config, def: ConnectorDefinition): Promise<void> {
  const topic = signallingOf(def.config).kafkaTopic;
  if (topic === null) return;
  const r = await withAdmin(config, (admin) => ensureSignalTopic(admin, topic));
  if (r.created) process.stderr.write(`created signal topic ${topic} (1 partition: Debezium reads partition 0 only)\n`);
  else if (r.partitions > 1) process.stderr.write(`warning: signal topic ${topic} has ${r.partitions} partitions; Debezium reads partition 0 only (cdc-views sends there)\n`);
}

/** Registers `connect register|status|delete|add-table` on the program. */
export function registerConnectCommands(program: Command): void {
  const connect = program.command('connect').description('Manage Debezium connectors in Kafka Connect (--connect-url, CDCV_CONNECT_URL)');
  const register = connect
    .command('register <file>')
    .description('Create or update the connector defined in a JSON file ({name, config}) and wait until it runs')
    .option('--set <key=value>', 'override a config setting (repeatable); name=… renames the connector', keyValue, {})
    .addOption(jsonOption('the connector status'));
  const readRegister = settingOptions(register);
  register.action(async (file: string, opts: { set: Record<string, string>; json?: boolean } & Record<string, unknown>) => {
    const client = new ConnectClient(connectTarget(readRegister(opts).config));
    const def = await readConnector(file, opts.set);
    await prepareSignalTopic(readRegister(opts).config, def);
    await client.register(def);
    const status = await client.waitRunning(def.name);
    process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : `connector ${def.name}: ${status.connector.state}, ${status.tasks.length} task(s) running\n`);
  });

  const status = connect
    .command('status <name>')
    .description("Print a connector's status (exit 1 when it does not exist)")
    .addOption(jsonOption('the status (null when the connector does not exist)'));
  const readStatus = settingOptions(status);
  status.action(async (name: string, opts: { json?: boolean } & Record<string, unknown>) => {
    const s = await new ConnectClient(connectTarget(readStatus(opts).config)).status(name);
    if (opts.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    else if (s) process.stdout.write(formatConnectorStatus(s));
    if (!s) {
      process.stderr.write(`no connector ${name}\n`);
      process.exitCode = ExitCode.NO;
    }
  });

  const del = connect.command('delete <name>').description('Delete a connector (its replication slot stays; drop it with pg_drop_replication_slot)');
  const readDelete = settingOptions(del);
  del.action(async (name: string, opts: Record<string, unknown>) => {
    await new ConnectClient(connectTarget(readDelete(opts).config)).delete(name);
  });

  const add = connect
    .command('add-table <connector> <tables...>')
    .description('Add tables (schema.table) to a running PostgreSQL connector: publication, topics, table.include.list (dry run unless --execute)')
    .option('--database-url <url>', "a role that owns the publication (default: DATABASE_URL, else the connector's host, port and database as --pg-user with PGPASSWORD)")
    .option('--execute', 'apply the plan (default: dry run, print it)')
    .addOption(jsonOption('the plan'))
    .addHelpText('after', `
Then read the tables' existing rows (and the changes committed before the connector
picked them up) with an incremental snapshot:
  cdc-views backfill start --connector <connector> --table <schema.table> --execute`);
  const readAdd = settingOptions(add, ['pgUser']);
  add.action(async (connector: string, tables: string[], opts: { databaseUrl?: string; execute?: boolean; json?: boolean } & Record<string, unknown>) => {
    const { config } = readAdd(opts);
    for (const t of tables) if (!SCHEMA_TABLE.test(t)) throw new ConfigError('<tables>', `${JSON.stringify(t)} is not schema.table, e.g. public.orders`);
    const client = new ConnectClient(connectTarget(config));
    const url = opts.databaseUrl ?? (process.env.DATABASE_URL || undefined);
    const db = await connectSource(client, connector, url === undefined ? { user: config.pgUser } : { url }, COMMAND_TIMEOUT_MS);
    try {
      const { executeAddTable, formatAddTable, planAddTable } = await import('../ops/add-table.ts');
      await withAdmin(config, async (admin) => {
        const plan = await planAddTable(client, admin, db, connector, tables);
        if (opts.json) printJson(plan);
        else process.stdout.write(formatAddTable(plan));
        if (!opts.execute) {
          process.stderr.write('dry run: nothing changed; add --execute to apply\n');
          return;
        }
        await executeAddTable(client, admin, db, plan);
        process.stderr.write(`connector ${connector} runs with ${tables.join(', ')}; backfill: cdc-views backfill start --connector ${connector} ${tables.map((t) => `--table ${t}`).join(' ')} --execute\n`);
      });
    } finally {
      await db.end();
    }
  });
}
