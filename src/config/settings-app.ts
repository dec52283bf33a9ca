/**
 * Settings of an application: applicationId, topics, topology, the HTTP server, shutdown, logging and the fetch and chunk budgets.
 * Part of src/config.ts `SETTINGS`; the order here is the order of `--help` and docs/configuration.md.
 */
import { z } from 'zod';
import { port, setting } from './spec.ts';

export const APP_SETTINGS = {
  applicationId: setting({
    env: 'CDCV_APPLICATION_ID',
    flag: '--app <id>',
    schema: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only').optional(),
    doc: 'applicationId: the Kafka consumer group and Redis key prefix of the application `run` runs and `status`, `rewind`, `query`, `dump` act on',
    fix: 'letters, digits, . _ - only, e.g. orders-search',
  }),
  topics: setting({
    env: 'CDCV_TOPICS',
    flag: '--topics <regex>',
    schema: z
      .string()
      .min(1)
      .refine((v) => {
        try {
          new RegExp(v);
          return true;
        } catch {
          return false;
        }
      }, 'not a regular expression')
      .optional(),
    doc: 'topics of `cdc-views run`: a regex; every table whose topic matches is materialized',
    fix: "a JavaScript regular expression, e.g. '^shop\\.public\\.'",
  }),
  topology: setting({ env: 'CDCV_TOPOLOGY', flag: '--topology <file>', schema: z.string().min(1).optional(), doc: 'topology module whose views `cdc-views run` renders', fix: 'a path, e.g. topologies/order-search.ts' }),
  httpPort: setting({ env: 'CDCV_HTTP_PORT', flag: '--http-port <port>', schema: port.default(9464), doc: 'port of the HTTP server (/metrics, /healthz, /readyz, /stores); 0 picks a free one', fix: 'a TCP port 0–65535' }),
  // --- HTTP server security (#15) ---
  httpHost: setting({
    env: 'CDCV_HTTP_HOST',
    flag: '--http-host <address>',
    schema: z.string().trim().regex(/^[0-9A-Za-z.:_-]+$/, 'an IP address or host name').default('0.0.0.0'),
    doc: 'address the HTTP server binds: all interfaces by default (it serves only /metrics, /healthz, /readyz unless storesEnabled), 127.0.0.1 for the local machine only',
    fix: 'an IP address or host name, e.g. 0.0.0.0, 127.0.0.1 or ::',
  }),
  storesEnabled: setting({
    env: 'CDCV_STORES_ENABLED',
    flag: '--stores-enabled',
    schema: z
      .union([z.boolean(), z.enum(['true', 'false'])])
      .transform((v) => v === true || v === 'true')
      .default(false),
    doc: 'serve /stores/<table>/<key> (any row of any mirrored table) to clients with the bearer token storesToken; off: /stores answers 404',
    fix: 'true or false',
  }),
  storesToken: setting({
    env: 'CDCV_STORES_TOKEN',
    // No flag: a token on the command line is visible to every local user (ps).
    schema: z.string().min(16, 'at least 16 characters').optional(),
    doc: 'bearer token /stores requires (Authorization: Bearer <token>) when storesEnabled; prefer storesTokenFile',
    fix: 'a random string of at least 16 characters, e.g. from `openssl rand -hex 32`',
    secret: true,
  }),
  storesTokenFile: setting({
    env: 'CDCV_STORES_TOKEN_FILE',
    flag: '--stores-token-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the /stores bearer token (a mounted Secret); re-read when it changes, so a rotated token is accepted without a restart',
    fix: 'a path, e.g. /etc/cdc-views/secrets/stores-token',
  }),
  readyMaxLag: setting({ env: 'CDCV_READY_MAX_LAG', schema: z.coerce.number().int().min(0).default(10_000), doc: '/readyz answers 503 while the total lag of the assigned partitions exceeds this many records', fix: 'an integer ≥ 0' }),
  shutdownTimeoutMs: setting({
    env: 'CDCV_SHUTDOWN_TIMEOUT_MS',
    schema: z.coerce.number().int().min(1000).default(30_000),
    doc: 'longest time a graceful shutdown (SIGTERM) waits for in-flight batches, ms; then the process exits 3 (safe: positions are stored with the state)',
    fix: 'an integer ≥ 1000 (ms)',
  }),
  logLevel: setting({
    env: 'CDCV_LOG_LEVEL',
    flag: '--log-level <level>',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    doc: 'pino log level; nothing is logged per record at info',
    fix: 'one of fatal, error, warn, info, debug, trace, silent',
  }),
  partitionsConcurrently: setting({
    env: 'CDCV_PARTITIONS_CONCURRENTLY',
    schema: z.coerce.number().int().min(1).max(64).default(3),
    doc: 'partitions processed at the same time (KafkaJS partitionsConsumedConcurrently)',
    fix: 'an integer 1–64',
  }),
  maxBytesPerPartition: setting({
    env: 'CDCV_MAX_BYTES_PER_PARTITION',
    schema: z.coerce.number().int().min(1024).default(1_048_576),
    doc: 'bytes fetched per partition per request (KafkaJS maxBytesPerPartition): in-flight budget',
    fix: 'an integer ≥ 1024 (bytes); larger than the largest record',
  }),
  maxBytes: setting({
    env: 'CDCV_MAX_BYTES',
    schema: z.coerce.number().int().min(1024).default(10_485_760),
    doc: 'bytes of one fetch response over all partitions (KafkaJS maxBytes): in-flight budget',
    fix: 'an integer ≥ 1024 (bytes)',
  }),
  deleteMarkerRetentionMs: setting({
    env: 'CDCV_DELETE_MARKER_RETENTION_MS',
    schema: z.coerce.number().int().min(60_000).default(86_400_000),
    doc: "how long a deleted row's delete marker is kept, ms (like Kafka's delete.retention.ms): an event older than the delete that arrives later than this could bring the row back",
    fix: 'an integer ≥ 60000 (ms), e.g. 86400000 for a day',
  }),
  housekeepingIntervalMs: setting({
    env: 'CDCV_HOUSEKEEPING_INTERVAL_MS',
    schema: z.coerce.number().int().min(1000).default(10_000),
    doc: 'how often the housekeeping punctuator runs (snapshot reconciliation, delete-marker retention), ms',
    fix: 'an integer ≥ 1000 (ms)',
  }),
  metadataMaxAgeMs: setting({
    env: 'CDCV_METADATA_MAX_AGE_MS',
    schema: z.coerce.number().int().min(1000).default(300_000),
    doc: 'how often the consumer refreshes topic metadata, ms (KafkaJS metadataMaxAge): partitions added to a topic are consumed after at most this long',
    fix: 'an integer ≥ 1000 (ms)',
  }),
  maxChunkRecords: setting({
    env: 'CDCV_MAX_CHUNK_RECORDS',
    schema: z.coerce.number().int().min(1).default(2000),
    doc: 'records decoded, applied and rendered at a time per partition (then the position is stored and a heartbeat sent)',
    fix: 'an integer ≥ 1',
  }),
} as const;
