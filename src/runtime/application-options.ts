/**
 * The options of an application (src/runtime/application.ts), with their
 * units and defaults.
 */
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { HttpCredentials } from '../http-auth.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/catalogue.ts';
import type { SearchConnection } from '../sinks/search-client.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import type { HousekeepingOptions } from './housekeeping.ts';
import type { RenderPunctuatorOptions } from './render-punctuator.ts';

/** Options of an {@link Application}. */
export interface ApplicationOptions {
  /** Names the application: Kafka group id and Redis key prefix. */
  applicationId: string;
  /** Kafka bootstrap servers. */
  brokers: string[];
  /** The Kafka client. @defaultValue a client of `brokers` (./kafka-client.ts `createKafka`); unit tests pass a stand-in */
  kafka?: Kafka;
  redis: Redis;
  /** Topics to consume: a regex matched against the broker's topic list at start. */
  topics: RegExp;
  /** The topology whose views are rendered from the tables. @defaultValue none: tables only (mirror) */
  topology?: TopologyPlan;
  /** Confluent-compatible schema registry for Avro records. @defaultValue `http://localhost:8081/apis/ccompat/v7` */
  registryUrl?: string;
  /** Credentials of the schema registry (basic auth or a bearer token; src/http-auth.ts). @defaultValue none, or the URL's user info */
  registryCredentials?: HttpCredentials;
  /** Search engine of search-index sinks: its URL, or the connection with credentials, CA and signing (src/sinks/search-client.ts). @defaultValue `http://localhost:9200` */
  searchUrl?: string | SearchConnection;
  logger: Logger;
  /**
   * Record decoder. @defaultValue per record: Confluent-framed Avro (magic byte 0) through the schema
   * registry at `registryUrl`, anything else as Debezium JSON (with or without schemas)
   */
  decoder?: RecordDecoder;
  /**
   * Metric handles (src/metrics/catalogue.ts), on the registry that `/metrics` serves.
   * @defaultValue a private registry without the process metrics
   */
  metrics?: Metrics;
  /** Partitions processed at the same time. @defaultValue 3 */
  partitionsConsumedConcurrently?: number;
  /** Upper bound of bytes fetched per partition per request. @defaultValue 1048576 (1 MiB) */
  maxBytesPerPartition?: number;
  /** Upper bound of bytes of one fetch response over all partitions. @defaultValue 10485760 (10 MiB) */
  maxBytes?: number;
  /**
   * How often topic metadata is refreshed, ms: partitions added to a topic
   * are assigned after at most this long. @defaultValue 300000
   */
  metadataMaxAgeMs?: number;
  /** Housekeeping: how often it runs and the delete markers' retention. @defaultValue see {@link HousekeepingOptions} */
  housekeeping?: HousekeepingOptions;
  /** How often, and how long at most, view marks left behind are drained. @defaultValue see {@link RenderPunctuatorOptions} */
  renderPunctuator?: RenderPunctuatorOptions;
  /**
   * Records decoded, applied and rendered at a time: a fetched batch is split
   * into chunks of this size, each stored with its position and followed by a
   * heartbeat. Bounds the decoded objects held per partition. @defaultValue 2000
   */
  maxChunkRecords?: number;
}
