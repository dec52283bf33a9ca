/**
 * `cdc-views connect add-table`: adds tables to a running Debezium
 * PostgreSQL connector — the publication first (`ALTER PUBLICATION … ADD
 * TABLE`, for connectors with `publication.autocreate.mode=disabled`), then
 * the table topics (created with the connector's partition count, so
 * consumers can subscribe before the first event), then
 * `table.include.list`. Changes committed between the two steps are dropped by
 * the connector's filter: backfill the tables afterwards
 * (`cdc-views backfill start`), which also reads their existing rows.
 */
import type { Admin } from 'kafkajs';
import type { ConnectClient } from '../connect/client.ts';
import { signallingOf } from '../connect/signalling.ts';
import { ConfigError } from '../errors.ts';
import { quoteTable, type SqlSession } from './backfill-signal.ts';

/** What {@link planAddTable} found to do. */
export interface AddTablePlan {
  connector: string;
  publication: string;
  /** Tables to add to the publication (`ALTER PUBLICATION … ADD TABLE`); empty when Debezium manages it. */
  publish: string[];
  /** Table topics to create, with their partition count. */
  topics: { topic: string; partitions: number; replicationFactor: number }[];
  /** The new `table.include.list`; null when every table is in it already. */
  includeList: string | null;
}

const split = (t: string): [string, string] => [t.slice(0, t.indexOf('.')), t.slice(t.indexOf('.') + 1)];

/**
 * Plans adding `tables` to `connector`.
 * @throws {ConfigError} `--connector` when it does not exist; `<table>` when a table does not exist or has no primary key
 *   (an incremental snapshot reads by primary key)
 */
export async function planAddTable(connect: ConnectClient, admin: Admin, db: SqlSession, connector: string, tables: readonly string[]): Promise<AddTablePlan> {
  const config = await connect.config(connector);
  if (config === null) throw new ConfigError('<connector>', `Kafka Connect has no connector ${connector}; register it with \`cdc-views connect register <file>\``);
  const s = signallingOf(config);
  for (const table of tables) {
    const pk = await db.query<{ pk: boolean | null }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk FROM pg_class c WHERE c.oid = to_regclass($1)`,
      [quoteTable(table)],
    );
    if (pk.rows.length === 0) throw new ConfigError('<table>', `no table ${table} in database ${config['database.dbname'] ?? '?'}; give schema.table`);
    if (pk.rows[0]!.pk !== true) throw new ConfigError('<table>', `${table} has no primary key: Debezium's incremental snapshot reads by primary key (or set message.key.columns for it)`);
  }
  const managed = (config['publication.autocreate.mode'] ?? 'all_tables') !== 'disabled';
  const publish: string[] = [];
  if (!managed) {
    for (const table of tables) {
      const [schema, name] = split(table);
      const r = await db.query('SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3', [s.publication, schema, name]);
      if (r.rows.length === 0) publish.push(table);
    }
  }
  const partitions = Number(config['topic.creation.default.partitions'] ?? -1);
  const replicationFactor = Number(config['topic.creation.default.replication.factor'] ?? -1);
  const existing = new Set(await admin.listTopics());
  const topics = partitions > 0 ? tables.map((t) => `${s.topicPrefix}.${t}`).filter((t) => !existing.has(t)).map((topic) => ({ topic, partitions, replicationFactor })) : [];
  const missing = tables.filter((t) => !s.includedTables.includes(t));
  return { connector, publication: s.publication, publish, topics, includeList: missing.length === 0 ? null : [...s.includedTables, ...missing].join(',') };
}

/** Applies a plan: publication, topics, then the connector's include list; waits until the connector runs again. */
export async function executeAddTable(connect: ConnectClient, admin: Admin, db: SqlSession, plan: AddTablePlan): Promise<void> {
  for (const table of plan.publish) await db.query(`ALTER PUBLICATION "${plan.publication.replace(/"/g, '""')}" ADD TABLE ${quoteTable(table)}`);
  if (plan.topics.length > 0) await admin.createTopics({ topics: plan.topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: t.replicationFactor })), waitForLeaders: true });
  if (plan.includeList !== null) {
    const config = await connect.config(plan.connector);
    await connect.register({ name: plan.connector, config: { ...config!, 'table.include.list': plan.includeList } });
  }
  await connect.waitRunning(plan.connector);
}

/** The plan for people. */
export function formatAddTable(p: AddTablePlan): string {
  const lines = [`add tables to connector ${p.connector}:`];
  lines.push(p.publish.length > 0 ? `  ALTER PUBLICATION ${p.publication} ADD TABLE ${p.publish.join(', ')}` : `  publication ${p.publication}: nothing to add`);
  for (const t of p.topics) lines.push(`  create topic ${t.topic} (${t.partitions} partitions)`);
  lines.push(p.includeList === null ? '  table.include.list: nothing to add' : `  table.include.list=${p.includeList} (the connector's task restarts)`);
  return `${lines.join('\n')}\n`;
}
