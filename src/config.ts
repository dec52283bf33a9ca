/**
 * Connection settings of the local stack and their environment variables,
 * declared once and validated at start-up (zod). Unknown `CDCV_*` variables are
 * rejected so a typo does not silently fall back to a default.
 */
import { z } from 'zod';
import { ConfigError } from './errors.ts';

/** Every environment variable cdc-views reads, with its default (the local stack's). */
export const ENV_SCHEMA = z.object({
  /** Kafka bootstrap servers, comma-separated. @defaultValue `localhost:9092` */
  CDCV_KAFKA_BROKERS: z.string().min(1).default('localhost:9092'),
  /** Kafka Connect REST API. @defaultValue `http://localhost:8083` */
  CDCV_CONNECT_URL: z.url().default('http://localhost:8083'),
  /** Redis holding state stores and the cache sink. @defaultValue `redis://127.0.0.1:6379` */
  CDCV_REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
  /** PostgreSQL host of the source database (demo, workload, comparisons). @defaultValue `127.0.0.1` */
  CDCV_PG_HOST: z.string().default('127.0.0.1'),
  /** @defaultValue `5432` */
  CDCV_PG_PORT: z.coerce.number().int().min(1).max(65535).default(5432),
  /** @defaultValue `postgres` */
  CDCV_PG_USER: z.string().default('postgres'),
  /** OpenSearch (or Elasticsearch 7.10) URL of the search-index sink. @defaultValue `http://localhost:9200` */
  CDCV_OPENSEARCH_URL: z.url().default('http://localhost:9200'),
  /** Confluent-compatible schema registry API (Avro). @defaultValue `http://localhost:8081/apis/ccompat/v7` */
  CDCV_SCHEMA_REGISTRY_URL: z.url().default('http://localhost:8081/apis/ccompat/v7'),
  /** applicationId of `cdc-views run` when --app is not given (deployments). */
  CDCV_APPLICATION_ID: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only').optional(),
  /** Topic regex of `cdc-views run` when --mirror is not given (deployments). */
  CDCV_TOPICS: z.string().optional(),
  /** Topology module of `cdc-views run` when --topology is not given (deployments). */
  CDCV_TOPOLOGY: z.string().optional(),
  /** Port of the HTTP server (/metrics, /healthz, /readyz, /stores). @defaultValue `9464` */
  CDCV_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** /readyz answers 503 while the total lag exceeds this many records. @defaultValue `10000` */
  CDCV_READY_MAX_LAG: z.coerce.number().int().min(0).default(10_000),
  /** Longest time a graceful shutdown waits for in-flight batches and sink flushes, ms. @defaultValue `30000` */
  CDCV_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Log level: fatal, error, warn, info, debug, trace. @defaultValue `info` */
  CDCV_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type EnvConfig = z.infer<typeof ENV_SCHEMA>;

/** Variables used by the stack scripts only (scripts/stack/env.sh); accepted, not read here. */
const STACK_ONLY = /^CDCV_(STACK_DIR|REGISTRY_PORT|KAFKA_PORT|KAFKA_CONTROLLER_PORT|CONNECT_PORT|REDIS_HOST|REDIS_PORT|KAFKA_HEAP|CONNECT_HEAP|OPENSEARCH_PORT|OPENSEARCH_HEAP|OPENSEARCH_USER|STACK_TIMEOUT_S|PG_VERSION)$/;

/**
 * Reads and validates the `CDCV_*` environment variables.
 * @throws {ConfigError} naming the variable, its value and the fix.
 */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const known = new Set(Object.keys(ENV_SCHEMA.shape));
  for (const name of Object.keys(env)) {
    if (name.startsWith('CDCV_') && !known.has(name) && !STACK_ONLY.test(name)) {
      throw new ConfigError(name, `unknown setting; known ones are ${[...known].join(', ')}`);
    }
  }
  const picked = Object.fromEntries([...known].filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const parsed = ENV_SCHEMA.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(field, `${JSON.stringify(env[field])} is invalid: ${issue?.message ?? 'invalid'}; fix the variable or unset it to use the default`);
  }
  return parsed.data;
}

/** libpq-style connection string for a database of the source PostgreSQL. */
export function pgConnectionString(cfg: EnvConfig, database: string): string {
  return `postgres://${encodeURIComponent(cfg.CDCV_PG_USER)}@${cfg.CDCV_PG_HOST}:${cfg.CDCV_PG_PORT}/${encodeURIComponent(database)}`;
}
