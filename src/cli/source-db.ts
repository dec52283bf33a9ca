/**
 * A session on a connector's source PostgreSQL for the operator commands that
 * write to it (`backfill`: the signal table; `connect add-table`: the
 * publication).
 */
import type pg from 'pg';
import type { ConnectClient } from '../connect/client.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';

/** Where to connect: a URL, or the connector's `database.*` settings with an optional other user. */
export interface SourceTarget {
  /** `--database-url` or DATABASE_URL; wins over the connector's settings. */
  url?: string;
  /** With the connector's settings: connect as this role (its password from PGPASSWORD) instead of `database.user`. */
  user?: string;
}

/**
 * Connects to the source database of `connector`: `target.url`, else the
 * connector's `database.hostname`, `database.port`, `database.dbname` and
 * `database.user`/`database.password` (or `target.user` with PGPASSWORD). A
 * password externalized by a config provider (`${file:…}`) is not readable
 * here: give a URL then.
 * @param timeoutMs connection and statement timeout, ms
 * @throws {ConfigError} `--connector` when the connector does not exist and no URL is given
 * @throws {CdcViewsError} PG_UNREACHABLE naming host, port, database and user (never the password)
 */
export async function connectSource(connect: ConnectClient, connector: string, target: SourceTarget, timeoutMs: number): Promise<pg.Client> {
  let options: pg.ClientConfig;
  if (target.url !== undefined) {
    options = { connectionString: target.url };
  } else {
    const c = await connect.config(connector);
    if (c === null) throw new ConfigError('--connector', `Kafka Connect has no connector ${connector}; register it with \`cdc-views connect register <file>\``);
    const password = c['database.password'];
    const usable = password !== undefined && !password.startsWith('${') && !/^\*+$/.test(password);
    options = {
      host: c['database.hostname'], port: Number(c['database.port'] ?? 5432), database: c['database.dbname'],
      user: target.user ?? c['database.user'],
      ...(target.user === undefined && usable ? { password } : {}),
    };
  }
  return connectPg(options, timeoutMs);
}

/**
 * A connected `pg` client (imported when needed), both its connection and its
 * statements bounded by `timeoutMs`. With no `connectionString`, host, user and
 * database come from the PG* variables.
 * @throws {CdcViewsError} PG_UNREACHABLE naming host, port, database and user (never the password)
 */
export async function connectPg(options: pg.ClientConfig, timeoutMs: number): Promise<pg.Client> {
  const { default: Pg } = await import('pg');
  const client = new Pg.Client({ ...options, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs });
  try {
    await client.connect();
  } catch (err) {
    const where = `${client.user ?? '?'}@${client.host}:${client.port}/${client.database ?? '?'}`;
    throw new CdcViewsError('PG_UNREACHABLE', `PostgreSQL ${where} cannot be reached (${(err as Error).message}); give --database-url postgres://user@host:port/db or DATABASE_URL`, { cause: err });
  }
  return client;
}
