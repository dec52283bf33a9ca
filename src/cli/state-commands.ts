/**
 * `cdc-views query` and `dump`: an application's table state in Redis, as
 * JSON (one row, or JSON lines). Exit 1 when `query` finds no live row.
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { canonicalKeyString } from '../cdc/keys.ts';
import type { Row } from '../cdc/types.ts';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { connectStateRedis } from '../state/redis-target.ts';
import { StateStore } from '../state/store.ts';
import { COMMAND_TIMEOUT_MS } from './connections.ts';
import { ExitCode } from './exit-codes.ts';
import { requireApp, settingOptions } from './options.ts';

async function withRedis<T>(config: Config, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectStateRedis(config, { extra: { commandTimeout: COMMAND_TIMEOUT_MS } });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** Parses `--key`. @throws {ConfigError} when it is not a JSON object */
export function parseKey(value: string): Row {
  let key: unknown;
  try {
    key = JSON.parse(value);
  } catch {
    key = undefined;
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new ConfigError('--key', `${value} is not a JSON object; write the primary-key columns as an object, e.g. '{"id":42}'`);
  return key as Row;
}

/** Registers `query` and `dump` on the program. */
export function registerStateCommands(program: Command): void {
  const query = program
    .command('query')
    .description("Interactive query: print one row of an application's table state as JSON (exit 1 when there is none)")
    .requiredOption('--table <schema.table>', 'table, e.g. public.customers')
    .requiredOption('--key <json>', 'primary key as JSON, e.g. \'{"id":42}\' or \'{"order_id":7,"line_no":1}\'');
  const readQuery = settingOptions(query, ['applicationId']);
  query.action(async (opts: { table: string; key: string } & Record<string, unknown>) => {
    const loaded = readQuery(opts);
    const app = requireApp(loaded);
    const key = parseKey(opts.key);
    await withRedis(loaded.config, async (redis) => {
      const store = new StateStore(redis, app);
      const found = await store.get(await store.resolveTable(opts.table), canonicalKeyString(key));
      if (!found || found.row === null) {
        process.stderr.write(`no live row for key ${canonicalKeyString(key)} in ${opts.table} of app ${app}\n`);
        process.exitCode = ExitCode.NO;
        return;
      }
      process.stdout.write(`${JSON.stringify(found.row)}\n`);
    });
  });

  const dump = program
    .command('dump')
    .description("Print every live row of a table's state as JSON lines (canonical values, see README)")
    .requiredOption('--table <schema.table>', 'table, e.g. public.customers');
  const readDump = settingOptions(dump, ['applicationId']);
  dump.action(async (opts: { table: string } & Record<string, unknown>) => {
    const loaded = readDump(opts);
    const app = requireApp(loaded);
    await withRedis(loaded.config, async (redis) => {
      const store = new StateStore(redis, app);
      for await (const [, stored] of store.scan(await store.resolveTable(opts.table))) {
        if (stored.row !== null) process.stdout.write(`${JSON.stringify(stored.row)}\n`);
      }
    });
  });
}
