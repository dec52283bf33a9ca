/**
 * The signals of `cdc-views backfill` (Debezium incremental snapshots) and the
 * checks made before one is sent.
 *
 * Upstream: Debezium 3.1, "Sending signals to a Debezium connector" —
 * `execute-snapshot` with `{"data-collections": [...], "type": "incremental",
 * "additional-conditions": [{"data-collection": t, "filter": "<SQL condition>"}]}`,
 * `stop-snapshot` (`data-collections` optional: all when absent),
 * `pause-snapshot`, `resume-snapshot`. Source channel: a row `(id, type, data)`
 * inserted into the signal table; Kafka channel: a record on partition 0 of
 * the signal topic, key = `topic.prefix`, value `{"id", "type", "data": {...}}`.
 * The incremental snapshot itself is Netflix's DBLog algorithm (Andreakis &
 * Papapanagiotou, 2020): primary-key chunks read between a low and a high
 * watermark written to the signal table, chunk rows whose key changed in the
 * window dropped.
 */
import type { Producer } from 'kafkajs';
import { ConfigError } from '../errors.ts';
import type { Signalling } from '../connect/signalling.ts';

/** What a backfill command asks Debezium to do. */
export type BackfillAction = 'start' | 'stop' | 'pause' | 'resume';

/** Where the signal goes: an INSERT into the signal table, or a record on the Kafka signal topic. */
export type SignalChannel = 'source' | 'kafka';

/** One Debezium signal: `data` is the JSON text of the signal's data, null when it has none. */
export interface Signal {
  id: string;
  type: 'execute-snapshot' | 'stop-snapshot' | 'pause-snapshot' | 'resume-snapshot' | 'log';
  data: string;
}

const SIGNAL_TYPE = { start: 'execute-snapshot', stop: 'stop-snapshot', pause: 'pause-snapshot', resume: 'resume-snapshot' } as const;

/**
 * The signal for an action.
 * @param tables `schema.table` names (Debezium's data collections); for `stop`, none stops every table
 * @param where an SQL condition applied to every table (Debezium's `additional-conditions` `filter`); start only
 */
export function signalFor(action: BackfillAction, id: string, tables: readonly string[], where?: string): Signal {
  const data: Record<string, unknown> = { type: 'incremental' };
  if ((action === 'start' || action === 'stop') && tables.length > 0) data['data-collections'] = [...tables];
  if (action === 'start' && where !== undefined) data['additional-conditions'] = tables.map((t) => ({ 'data-collection': t, filter: where }));
  return { id, type: SIGNAL_TYPE[action], data: JSON.stringify(data) };
}

/** The record of a signal on the Kafka channel: partition 0 (the only one Debezium reads), key = `topic.prefix`. */
export function kafkaSignalRecord(s: Signalling, signal: Signal): { partition: 0; key: string; value: string } {
  return { partition: 0, key: s.topicPrefix, value: JSON.stringify({ id: signal.id, type: signal.type, data: JSON.parse(signal.data) as unknown }) };
}

/** A `schema.table` name as Debezium's `table.include.list` and the commands take it (no regular expression). */
export const SCHEMA_TABLE = /^[^.\s]+\.[^.\s]+$/;

/** `schema.table` as a quoted SQL identifier (`"schema"."table"`). */
export function quoteTable(table: string): string {
  const [schema, name] = table.includes('.') ? [table.slice(0, table.indexOf('.')), table.slice(table.indexOf('.') + 1)] : ['public', table];
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/** A PostgreSQL session: what the signal and the row totals need. */
export interface SqlSession {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Sends a signal on a channel: an INSERT into the signal table (source), or a record on the signal topic (kafka). */
export async function sendSignal(channel: SignalChannel, s: Signalling, signal: Signal, to: { db?: SqlSession; producer?: Producer }): Promise<void> {
  if (channel === 'source') {
    if (!to.db || s.signalTable === null) throw new Error('source channel without a database session or signal table');
    await to.db.query(`INSERT INTO ${quoteTable(s.signalTable)} (id, type, data) VALUES ($1, $2, $3)`, [signal.id, signal.type, signal.data]);
    return;
  }
  if (!to.producer || s.kafkaTopic === null) throw new Error('kafka channel without a producer or signal topic');
  await to.producer.send({ topic: s.kafkaTopic, acks: -1, messages: [kafkaSignalRecord(s, signal)] });
}

/**
 * Checks that a connector can run and report an incremental snapshot of
 * `tables` through `channel`.
 * @param config the connector's configuration, null when it does not exist
 * @param follow the command waits for notifications (not `--detach`)
 * @throws {ConfigError} naming the option and the fix: no such connector, no signal table, channel not
 *   enabled, no notification topic, a table the connector does not capture
 */
export function checkSignalling(connector: string, config: Readonly<Record<string, string>> | null, s: Signalling | null, req: { action: BackfillAction; tables: readonly string[]; channel: SignalChannel; follow: boolean }): void {
  if (config === null || s === null) throw new ConfigError('--connector', `Kafka Connect has no connector ${connector}; list them with \`curl $CDCV_CONNECT_URL/connectors\` or register one with \`cdc-views connect register <file>\``);
  if (s.signalTable === null && !s.readOnly) {
    throw new ConfigError('--connector', `connector ${connector} has no signal table (signal.data.collection), which Debezium needs for the incremental-snapshot watermarks: create it (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)), add it to the publication and table.include.list, grant the connector's user INSERT on it, and set signal.data.collection (see docs/backfill.md)`);
  }
  if (req.channel === 'kafka' && s.kafkaTopic === null) {
    throw new ConfigError('--channel', `connector ${connector} does not read the Kafka signal channel (signal.enabled.channels=${s.channels.join(',')}): add kafka to signal.enabled.channels with signal.kafka.topic and signal.kafka.bootstrap.servers, or use --channel source`);
  }
  if (req.channel === 'source' && (!s.channels.includes('source') || s.signalTable === null)) {
    throw new ConfigError('--channel', `connector ${connector} does not read signals from its signal table (signal.enabled.channels=${s.channels.join(',')}${s.signalTable === null ? ', no signal.data.collection' : ''}): use --channel kafka`);
  }
  if (req.follow && s.notificationTopic === null) {
    throw new ConfigError('--connector', `connector ${connector} sends no notifications to Kafka, so the backfill cannot be followed: set notification.enabled.channels=sink and notification.sink.topic.name, or use --detach`);
  }
  for (const table of req.tables) {
    if (!s.includedTables.includes(table)) {
      throw new ConfigError('--table', `connector ${connector} does not capture ${table} (table.include.list=${s.includedTables.join(',')}): add it first with \`cdc-views connect add-table ${connector} ${table} --execute\``);
    }
  }
}

/** How many rows a table holds, and how that was found out. */
export interface TableTotal {
  table: string;
  rows: number;
  /** `estimate`: `pg_class.reltuples` (kept by ANALYZE/autovacuum); `count`: `count(*)` (with `--where`, or no statistics yet). */
  kind: 'estimate' | 'count';
}

/**
 * Rows to backfill per table: with `where`, an exact `count(*) … WHERE`;
 * otherwise the catalog's estimate, or an exact count when the table was never
 * analyzed (reltuples < 0).
 * @throws {ConfigError} `--table` when a table does not exist (or `--where` when the condition fails)
 */
export async function tableTotals(db: SqlSession, tables: readonly string[], where?: string): Promise<TableTotal[]> {
  const out: TableTotal[] = [];
  for (const table of tables) {
    const found = await db.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [quoteTable(table)]);
    if (found.rows[0]?.oid == null) throw new ConfigError('--table', `no table ${table} in the source database; give schema.table as in table.include.list`);
    if (where !== undefined) {
      let r: { rows: { n: string }[] };
      try {
        r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteTable(table)} WHERE ${where}`);
      } catch (err) {
        throw new ConfigError('--where', `the condition fails on ${table}: ${(err as Error).message}`);
      }
      out.push({ table, rows: Number(r.rows[0]?.n ?? 0), kind: 'count' });
      continue;
    }
    const est = await db.query<{ n: number }>('SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::oid', [found.rows[0].oid]);
    const n = est.rows[0]?.n ?? -1;
    if (n >= 0) {
      out.push({ table, rows: Math.round(n), kind: 'estimate' });
    } else {
      const r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteTable(table)}`);
      out.push({ table, rows: Number(r.rows[0]?.n ?? 0), kind: 'count' });
    }
  }
  return out;
}
