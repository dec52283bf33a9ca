/**
 * `cdc-views connect register | status | delete`: Debezium connectors in Kafka
 * Connect (`--connect-url`, CDCV_CONNECT_URL). `status` exits 1 when the
 * connector does not exist.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ConnectClient, connectTarget, loadConnector, type ConnectorDefinition, type ConnectorStatus } from '../connect/client.ts';
import { ConfigError } from '../errors.ts';
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

/** Registers `connect register|status|delete` on the program. */
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
}
