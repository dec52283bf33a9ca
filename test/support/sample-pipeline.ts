/**
 * A complete capture pipeline over a fresh copy of the sample database: the
 * database, its Debezium connector and its topics, all named after one id so
 * that the demo and each integration test have their own. Used by the demo,
 * the tests and the fixture capture script.
 */
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { loadEnv, pgConnectionString } from '../../src/config.ts';
import { ConnectClient, loadConnector, type ConnectorDefinition } from '../../src/connect/client.ts';
import { CdcViewsError } from '../../src/errors.ts';
import { ensureSignalTopic, signallingOf } from '../../src/connect/signalling.ts';
import { createSampleDatabase, dropSampleDatabase, SAMPLE_TABLES, SIGNAL_TABLE } from './sample/database.ts';
import { writeWatermark } from './sample/workload.ts';
import type { StateStore } from '../../src/state/store.ts';

/** The connector definition the sample pipelines start from. */
export const SHOP_CONNECTOR = fileURLToPath(new URL('../../schemas/connectors/shop.json', import.meta.url));
/** The same connector writing Avro (Confluent wire format) through the schema registry (README "Avro"). */
export const SHOP_AVRO_CONNECTOR = fileURLToPath(new URL('../../schemas/connectors/shop-avro.json', import.meta.url));

/**
 * The registry URL Apicurio's Kafka Connect converter uses (its own v2 API),
 * derived from CDCV_SCHEMA_REGISTRY_URL (the Confluent-compatible API cdc-views reads).
 */
export function converterRegistryUrl(schemaRegistryUrl: string): string {
  return schemaRegistryUrl.replace(/\/apis\/ccompat\/v\d+\/?$/, '/apis/registry/v2');
}

export interface SamplePipeline {
  /** Names everything: database `cdcv_<id>`, topic prefix `<id>`, connector `cdcv-<id>`, slot `cdcv_<id>`. */
  id: string;
  database: string;
  connectionString: string;
  topicPrefix: string;
  connectorName: string;
  slotName: string;
  /** Matches the pipeline's table topics. */
  topics: RegExp;
  tables: readonly string[];
  /** The Kafka Connect REST API its connector runs on. */
  connectUrl: string;
}

export interface SamplePipelineOptions {
  /** Lowercase letters, digits and `_`. */
  id: string;
  /** Extra connector settings, e.g. `{'value.converter.schemas.enable': 'false'}`. */
  connector?: Record<string, string>;
  /** Record encoding: JSON with schemas (shop.json) or Avro via the schema registry (shop-avro.json). @defaultValue 'json' */
  format?: 'json' | 'avro';
  /** Seed sizes passed to createSampleDatabase. */
  seedCustomers?: number;
  seedOrders?: number;
  seedProducts?: number;
  /** Kafka Connect to run the connector on (a test-owned worker). @defaultValue CDCV_CONNECT_URL */
  connectUrl?: string;
  /** SQL run in the new database before the connector starts (e.g. a table of a test's own, added to the publication). */
  setupSql?: string;
  /** More tables (`public.<table>`) the connector captures: made by `setupSql` and in the publication. */
  extraTables?: readonly string[];
}

function describe(id: string, opts: Pick<SamplePipelineOptions, 'connectUrl' | 'extraTables'> = {}): SamplePipeline {
  const cfg = loadEnv();
  const database = `cdcv_${id}`;
  return {
    id,
    database,
    connectionString: pgConnectionString(cfg, database),
    topicPrefix: id,
    connectorName: `cdcv-${id}`,
    slotName: `cdcv_${id}`,
    topics: new RegExp(`^${id}\\.public\\.`),
    tables: [...SAMPLE_TABLES, ...(opts.extraTables ?? [])],
    connectUrl: opts.connectUrl ?? cfg.CDCV_CONNECT_URL,
  };
}

/** The sample connector's definition for a pipeline, with overrides. */
export async function connectorDefinition(p: SamplePipeline, overrides: Record<string, string> = {}, format: 'json' | 'avro' = 'json'): Promise<ConnectorDefinition> {
  const cfg = loadEnv();
  const registry = converterRegistryUrl(cfg.CDCV_SCHEMA_REGISTRY_URL);
  const avro = { 'key.converter.apicurio.registry.url': registry, 'value.converter.apicurio.registry.url': registry };
  return loadConnector(format === 'avro' ? SHOP_AVRO_CONNECTOR : SHOP_CONNECTOR, {
    ...(format === 'avro' ? avro : {}),
    name: p.connectorName,
    'database.hostname': cfg.CDCV_PG_HOST,
    'database.port': String(cfg.CDCV_PG_PORT),
    'database.dbname': p.database,
    'topic.prefix': p.topicPrefix,
    'slot.name': p.slotName,
    'table.include.list': [...p.tables, SIGNAL_TABLE].join(','),
    'signal.kafka.topic': `${p.topicPrefix}.signals`,
    'signal.kafka.bootstrap.servers': cfg.CDCV_KAFKA_BROKERS,
    'signal.kafka.groupId': `${p.connectorName}-signals`,
    'notification.sink.topic.name': `${p.topicPrefix}.notifications`,
    ...overrides,
  });
}

/**
 * Deletes a pipeline's connector with its source offsets (so a connector of
 * the same name snapshots again) and drops its replication slot `slotName`
 * once the connector's task has let go of it.
 */
export async function removeConnector(p: SamplePipeline, slotName = p.slotName): Promise<void> {
  const cfg = loadEnv();
  const connect = new ConnectClient(p.connectUrl);
  // The placeholder (only created when the connector is gone but its offsets may remain) points at
  // the always-present `postgres` database: Connect validates the config even for a stopped connector.
  await connect.deleteWithOffsets(await connectorDefinition(p, { 'database.dbname': 'postgres' }));
  // The slot stays active until the connector's task has stopped.
  const admin = new pg.Client({ connectionString: pgConnectionString(cfg, 'postgres') });
  await admin.connect();
  try {
    for (let i = 0; i < 60; i++) {
      const r = await admin.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
      if (r.rows.length === 0) break;
      if (!r.rows[0]!.active) {
        await admin.query('SELECT pg_drop_replication_slot($1)', [slotName]);
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await admin.end();
  }
}

/** Deletes the pipeline's topics (all that its topic regex matches, and its signal and notification topics). */
export async function deletePipelineTopics(p: SamplePipeline): Promise<string[]> {
  const kafka = new Kafka({ brokers: loadEnv().CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const ka = kafka.admin();
  await ka.connect();
  try {
    const own = new Set([`${p.topicPrefix}.signals`, `${p.topicPrefix}.notifications`]);
    const topics = (await ka.listTopics()).filter((t) => p.topics.test(t) || own.has(t));
    if (topics.length > 0) await ka.deleteTopics({ topics, timeout: 30_000 });
    return topics;
  } finally {
    await ka.disconnect();
  }
}

/**
 * Removes everything a pipeline with this id created: connector, replication
 * slot, topics, database. Safe to call when nothing exists.
 * @param connectUrl the Kafka Connect its connector runs on. @defaultValue CDCV_CONNECT_URL
 */
export async function dropSamplePipeline(id: string, connectUrl?: string): Promise<void> {
  const p = describe(id, connectUrl === undefined ? {} : { connectUrl });
  await removeConnector(p);
  await deletePipelineTopics(p);
  await dropSampleDatabase({ database: p.database });
}

/**
 * The first half of {@link startSamplePipeline}: (re)creates the sample
 * database (whatever an earlier pipeline of the same id left behind is removed
 * first) and runs `setupSql` in it; no connector yet.
 */
export async function prepareSamplePipeline(opts: SamplePipelineOptions): Promise<SamplePipeline> {
  const p = describe(opts.id, opts);
  await dropSamplePipeline(opts.id, p.connectUrl);
  await createSampleDatabase({
    database: p.database,
    ...(opts.seedCustomers === undefined ? {} : { seedCustomers: opts.seedCustomers }),
    ...(opts.seedOrders === undefined ? {} : { seedOrders: opts.seedOrders }),
    ...(opts.seedProducts === undefined ? {} : { seedProducts: opts.seedProducts }),
  });
  if (opts.setupSql) {
    const c = new pg.Client({ connectionString: p.connectionString });
    await c.connect();
    try {
      await c.query(opts.setupSql);
    } finally {
      await c.end();
    }
  }
  await writeWatermark(p.connectionString, 'start');
  return p;
}

/**
 * Creates the sample database, registers its connector and waits until the
 * snapshot has created every table's topic. Whatever an earlier pipeline of
 * the same id left behind is removed first.
 * @throws {CdcViewsError} when the connector fails or the topics do not appear within 120 s.
 */
export async function startSamplePipeline(opts: SamplePipelineOptions): Promise<SamplePipeline> {
  const p = await prepareSamplePipeline(opts);
  await connectSamplePipeline(p, opts);
  return p;
}

/**
 * The second half of {@link startSamplePipeline}: registers the pipeline's
 * connector (with `connector` overrides, e.g. another slot) and waits until it
 * runs and every table's topic exists.
 * @throws {CdcViewsError} when the connector fails or the topics do not appear within 120 s.
 */
export async function connectSamplePipeline(p: SamplePipeline, opts: Pick<SamplePipelineOptions, 'connector' | 'format'> = {}): Promise<void> {
  const cfg = loadEnv();
  const connect = new ConnectClient(p.connectUrl);
  const def = await connectorDefinition(p, opts.connector, opts.format);
  const kafka = new Kafka({ brokers: cfg.CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const ka = kafka.admin();
  await ka.connect();
  try {
    const signalTopic = signallingOf(def.config).kafkaTopic;
    if (signalTopic !== null) await ensureSignalTopic(ka, signalTopic);
    await connect.register(def);
    await connect.waitRunning(p.connectorName);
    const wanted = p.tables.map((t) => `${p.topicPrefix}.${t}`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const have = new Set(await ka.listTopics());
      if (wanted.every((t) => have.has(t))) break;
      if (Date.now() > deadline) {
        throw new CdcViewsError('PIPELINE_TIMEOUT', `connector ${p.connectorName} did not create ${wanted.filter((t) => !have.has(t)).join(', ')} within 120 s; see .stack/logs/connect.log`);
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await ka.disconnect();
  }
}

/**
 * Writes a fresh watermark token to the source and waits until the table state
 * holds it: every change committed before it has then been captured and
 * applied (Debezium emits in commit order; applying is per partition, so the
 * caller still waits for the other partitions' lag to reach 0).
 * @param timeoutMs @defaultValue 120000
 */
export async function awaitWatermark(p: SamplePipeline, store: StateStore, timeoutMs = 120_000): Promise<void> {
  const token = `w-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  await writeWatermark(p.connectionString, token);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = await store.get(`${p.topicPrefix}.public.cdcv_watermark`, '{"id":1}');
    if (stored?.row?.token === token) return;
    if (Date.now() > deadline) throw new CdcViewsError('PIPELINE_TIMEOUT', `watermark ${token} not applied within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
