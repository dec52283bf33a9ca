/**
 * What a Debezium connector's configuration says about its signalling and
 * notification channels, which `cdc-views backfill` needs to start and follow
 * incremental snapshots, and the one-partition signal topic the Kafka channel
 * needs.
 *
 * Upstream: Debezium's "Sending signals to a Debezium connector" and
 * "Debezium notifications" (3.1) — settings `signal.data.collection`,
 * `signal.enabled.channels` (default `source`), `signal.kafka.topic` (default
 * `<topic.prefix>-signal`), `notification.enabled.channels`,
 * `notification.sink.topic.name`, `incremental.snapshot.chunk.size` (default
 * 1024), `read.only`.
 */
import type { Admin } from 'kafkajs';

/** A connector's signalling set-up, read from its configuration. */
export interface Signalling {
  /** `topic.prefix`: the key of Kafka-channel signals and the first part of every topic name. */
  topicPrefix: string;
  /** `signal.data.collection` (`schema.table`), or null when the connector has no signal table. */
  signalTable: string | null;
  /** `signal.enabled.channels`, e.g. `['source', 'kafka']`. */
  channels: string[];
  /** The Kafka signal topic (`signal.kafka.topic`), or null when the Kafka channel is off. */
  kafkaTopic: string | null;
  /** `notification.sink.topic.name`, or null when the sink notification channel is off. */
  notificationTopic: string | null;
  /** `incremental.snapshot.chunk.size`, rows. @defaultValue 1024 (Debezium's default) */
  chunkSize: number;
  /** `read.only=true`: watermarks from `pg_current_snapshot()`, no writes to the signal table (PostgreSQL 13+). */
  readOnly: boolean;
  /** `table.include.list`, as given (regular expressions in Debezium; plain names here). */
  includedTables: string[];
  /** `publication.name`. @defaultValue 'dbz_publication' (Debezium's default) */
  publication: string;
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

/** Reads the signalling settings of a connector's configuration (Debezium's defaults where a key is missing). */
export function signallingOf(config: Readonly<Record<string, string>>): Signalling {
  const topicPrefix = config['topic.prefix'] ?? '';
  const channels = list(config['signal.enabled.channels'] ?? 'source');
  const notifications = list(config['notification.enabled.channels']);
  return {
    topicPrefix,
    signalTable: config['signal.data.collection'] ?? null,
    channels,
    kafkaTopic: channels.includes('kafka') ? (config['signal.kafka.topic'] ?? `${topicPrefix}-signal`) : null,
    notificationTopic: notifications.includes('sink') ? (config['notification.sink.topic.name'] ?? null) : null,
    chunkSize: Number(config['incremental.snapshot.chunk.size'] ?? 1024),
    readOnly: config['read.only'] === 'true',
    includedTables: list(config['table.include.list']),
    publication: config['publication.name'] ?? 'dbz_publication',
  };
}

/**
 * Creates the Kafka signal topic with exactly one partition when it does not
 * exist. Debezium's Kafka channel reads partition 0 only, so an auto-created
 * topic (the broker's default partition count) would silently drop signals
 * that other senders put on its other partitions (cdc-views always sends to
 * partition 0).
 * @returns whether it created the topic, and the topic's partition count
 */
export async function ensureSignalTopic(admin: Admin, topic: string): Promise<{ created: boolean; partitions: number }> {
  if (!(await admin.listTopics()).includes(topic)) {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    return { created: true, partitions: 1 };
  }
  const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
  return { created: false, partitions: meta?.partitions.length ?? 0 };
}
