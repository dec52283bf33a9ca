/**
 * The configuration of cdc-views, declared once ({@link SETTINGS}): every
 * setting has a key in a config file, an environment variable, optionally a
 * CLI flag, a zod type with its default, a doc string and the fix to suggest
 * when a value is invalid. The three sources go through the same schema, so
 * the CLI, docker-compose and the Helm chart configure the same settings.
 *
 * Precedence: CLI flag > environment variable > config file > default.
 * Validated at start-up: unknown keys (file) and unknown `CDCV_*` variables are
 * rejected so a typo does not silently fall back to a default; every error
 * names the setting, where it came from, its value and the fix.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { MASK } from './secrets.ts';

interface SettingSpec<E extends string, S extends z.ZodType> {
  /** The environment variable. */
  env: E;
  /**
   * The CLI flag, commander syntax: `run` and `config print` take every flag;
   * the other commands the connection flags (src/cli/options.ts).
   */
  flag?: string;
  schema: S;
  /** One line for `--help`, the README and `config print`. */
  doc: string;
  /** What a valid value looks like, appended to an error. */
  fix: string;
  /**
   * A credential: `config print` shows `*****` (or nothing with
   * `--reveal-none`), and code reads it through src/secrets.ts's `Secret`.
   * Each secret setting `x` has a sibling `xFile` (env `…_FILE`) naming a file
   * that holds it, re-read on rotation.
   */
  secret?: true;
}

const setting = <const E extends string, S extends z.ZodType>(s: SettingSpec<E, S>): SettingSpec<E, S> => s;

const port = z.coerce.number().int().min(0).max(65535);
const url = (scheme: RegExp, example: string) => z.string().trim().regex(scheme, `must start with ${example.split('//')[0]}//`).refine((v) => URL.canParse(v), 'not a valid URL');

/** Every setting, by its config-file key. */
export const SETTINGS = {
  kafkaBrokers: setting({
    env: 'CDCV_KAFKA_BROKERS',
    flag: '--kafka-brokers <list>',
    schema: z.string().trim().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port[,host:port…]').default('localhost:9092'),
    doc: 'Kafka bootstrap servers, comma-separated',
    fix: 'a comma-separated host:port list, e.g. localhost:9092',
  }),
  // --- Kafka security (#15) ---
  kafkaSsl: setting({
    env: 'CDCV_KAFKA_SSL',
    flag: '--kafka-ssl [bool]',
    schema: z.preprocess((v) => (typeof v === 'string' ? ({ true: true, false: false, 1: true, 0: false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v), z.boolean()).default(false),
    doc: 'connect to Kafka with TLS (SSL or SASL_SSL listeners); the broker chain is verified against kafkaSslCaFile, else the public CAs',
    fix: 'true or false',
  }),
  kafkaSslCaFile: setting({ env: 'CDCV_KAFKA_SSL_CA_FILE', flag: '--kafka-ssl-ca-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM bundle of the CAs that sign the brokers’ certificates (default: the public CAs); re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/ca.pem' }),
  kafkaSslCertFile: setting({ env: 'CDCV_KAFKA_SSL_CERT_FILE', flag: '--kafka-ssl-cert-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM client certificate (chain) for mutual TLS, with kafkaSslKeyFile; re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/tls.crt' }),
  kafkaSslKeyFile: setting({ env: 'CDCV_KAFKA_SSL_KEY_FILE', flag: '--kafka-ssl-key-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM private key (unencrypted) of kafkaSslCertFile, for mutual TLS; re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/tls.key' }),
  kafkaSslVerifyHostname: setting({
    env: 'CDCV_KAFKA_SSL_VERIFY_HOSTNAME',
    flag: '--kafka-ssl-verify-hostname <bool>',
    schema: z.preprocess((v) => (typeof v === 'string' ? ({ true: true, false: false, 1: true, 0: false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v), z.boolean()).default(true),
    doc: 'check that a broker’s certificate names the host connected to; false skips only that check, never the chain',
    fix: 'true or false',
  }),
  kafkaSaslMechanism: setting({
    env: 'CDCV_KAFKA_SASL_MECHANISM',
    flag: '--kafka-sasl-mechanism <mechanism>',
    schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'aws']).optional(),
    doc: 'SASL mechanism of the Kafka login (none: no SASL); aws is AWS MSK IAM',
    fix: 'one of plain, scram-sha-256, scram-sha-512, oauthbearer, aws',
  }),
  kafkaSaslUsername: setting({ env: 'CDCV_KAFKA_SASL_USERNAME', flag: '--kafka-sasl-username <name>', schema: z.string().min(1).optional(), doc: 'SASL user (plain, scram-sha-256, scram-sha-512)', fix: 'a user name' }),
  kafkaSaslPassword: setting({ env: 'CDCV_KAFKA_SASL_PASSWORD', schema: z.string().min(1).optional(), secret: true, doc: 'SASL password (plain, scram-*); prefer kafkaSaslPasswordFile', fix: 'the password, or use CDCV_KAFKA_SASL_PASSWORD_FILE' }),
  kafkaSaslPasswordFile: setting({ env: 'CDCV_KAFKA_SASL_PASSWORD_FILE', flag: '--kafka-sasl-password-file <path>', schema: z.string().trim().min(1).optional(), doc: 'file holding the SASL password, read at each login (a rotated file is used by new connections)', fix: 'the path of a file, e.g. /var/run/secrets/kafka/password' }),
  kafkaSaslOauthTokenCommand: setting({
    env: 'CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND',
    flag: '--kafka-sasl-oauth-token-command <command>',
    schema: z.string().trim().min(1).optional(),
    doc: 'oauthbearer: a shell command printing an access token on stdout, run at each (re)authentication',
    fix: 'a command, e.g. "cat /var/run/secrets/tokens/kafka"',
  }),
  kafkaSaslOauthTokenEndpoint: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT', flag: '--kafka-sasl-oauth-token-endpoint <url>', schema: url(/^https?:\/\//, 'https://').optional(), doc: 'oauthbearer: OAuth 2 token endpoint (client-credentials grant); the token is cached until it expires', fix: 'an http(s) URL, e.g. https://idp.example.com/oauth2/token' }),
  kafkaSaslOauthClientId: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_ID', flag: '--kafka-sasl-oauth-client-id <id>', schema: z.string().min(1).optional(), doc: 'oauthbearer: client id at the token endpoint', fix: 'the client id registered at the identity provider' }),
  kafkaSaslOauthClientSecret: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET', schema: z.string().min(1).optional(), secret: true, doc: 'oauthbearer: client secret at the token endpoint; prefer kafkaSaslOauthClientSecretFile', fix: 'the secret, or use CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE' }),
  kafkaSaslOauthClientSecretFile: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE', flag: '--kafka-sasl-oauth-client-secret-file <path>', schema: z.string().trim().min(1).optional(), doc: 'file holding the OAuth client secret, read at each token request', fix: 'the path of a file' }),
  kafkaSaslOauthScope: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_SCOPE', flag: '--kafka-sasl-oauth-scope <scope>', schema: z.string().trim().min(1).optional(), doc: 'oauthbearer: scope requested from the token endpoint (none: the provider’s default)', fix: 'space-separated scopes, e.g. kafka' }),
  kafkaSaslAwsRegion: setting({ env: 'CDCV_KAFKA_SASL_AWS_REGION', flag: '--kafka-sasl-aws-region <region>', schema: z.string().trim().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region').optional(), doc: 'aws (MSK IAM): region of the cluster; credentials come from the default AWS chain (env, profile, web identity, ECS, EC2)', fix: 'an AWS region, e.g. eu-west-1' }),
  connectUrl: setting({ env: 'CDCV_CONNECT_URL', flag: '--connect-url <url>', schema: url(/^https?:\/\//, 'http://').default('http://localhost:8083'), doc: 'Kafka Connect REST API', fix: 'an http(s) URL, e.g. http://localhost:8083' }),
  // --- Kafka Connect REST security (#15) ---
  connectUsername: setting({
    env: 'CDCV_CONNECT_USERNAME',
    flag: '--connect-username <user>',
    schema: z.string().trim().min(1).optional(),
    doc: 'Kafka Connect REST user for basic auth (with connectPassword)',
    fix: 'a user of the Connect REST API (rest.extension.classes BasicAuthSecurityRestExtension)',
  }),
  connectPassword: setting({
    env: 'CDCV_CONNECT_PASSWORD',
    flag: '--connect-password <password>',
    schema: z.string().min(1).optional(),
    doc: 'password of connectUsername (prefer connectPasswordFile)',
    fix: 'the password; or give connectPasswordFile',
    secret: true,
  }),
  connectPasswordFile: setting({
    env: 'CDCV_CONNECT_PASSWORD_FILE',
    flag: '--connect-password-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the Kafka Connect REST password, re-read when it changes',
    fix: 'a readable file path',
  }),
  redisUrl: setting({
    env: 'CDCV_REDIS_URL',
    flag: '--redis-url <url>',
    schema: url(/^rediss?:\/\//, 'redis://').default('redis://127.0.0.1:6379'),
    doc: 'Redis holding table state and the cache sink (a password in the URL is masked by `config print`)',
    fix: 'a redis:// or rediss:// URL, e.g. redis://:password@127.0.0.1:6379/0',
  }),
  redisSentinels: setting({
    env: 'CDCV_REDIS_SENTINELS',
    flag: '--redis-sentinels <list>',
    schema: z.string().trim().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port[,host:port…]').optional(),
    doc: 'Redis Sentinels (high availability): the state Redis is the primary they name; redisUrl then gives only the credentials and db',
    fix: 'a comma-separated host:port list, e.g. 10.0.0.1:26379,10.0.0.2:26379',
  }),
  redisSentinelName: setting({
    env: 'CDCV_REDIS_SENTINEL_NAME',
    flag: '--redis-sentinel-name <name>',
    schema: z.string().trim().min(1).optional(),
    doc: 'name of the primary the Redis Sentinels monitor (required with redisSentinels)',
    fix: 'the name given to `sentinel monitor`, e.g. mymaster',
  }),
  // --- Redis security (#15) ---
  redisUsername: setting({
    env: 'CDCV_REDIS_USERNAME',
    flag: '--redis-username <user>',
    schema: z.string().trim().min(1).optional(),
    doc: 'Redis ACL user of the state Redis and the cache sink (default: the user in redisUrl, else `default`)',
    fix: 'an ACL user name, e.g. cdc-views',
  }),
  redisPassword: setting({
    env: 'CDCV_REDIS_PASSWORD',
    flag: '--redis-password <password>',
    schema: z.string().min(1).optional(),
    doc: 'password of the Redis user (prefer redisPasswordFile; a password in redisUrl works too, but not both)',
    fix: 'the password, or use redisPasswordFile',
    secret: true,
  }),
  redisPasswordFile: setting({
    env: 'CDCV_REDIS_PASSWORD_FILE',
    flag: '--redis-password-file <path>',
    schema: z.string().trim().min(1).optional(),
    doc: 'file holding the Redis password (a mounted Secret); read again on every reconnect, so a rotated password is picked up without a restart',
    fix: 'a path, e.g. /var/run/secrets/redis/password',
  }),
  redisTlsCaFile: setting({
    env: 'CDCV_REDIS_TLS_CA_FILE',
    flag: '--redis-tls-ca-file <path>',
    schema: z.string().trim().min(1).optional(),
    doc: 'PEM CA bundle that signed the Redis server certificate (rediss:// URLs; default: the system CAs); the host name of redisUrl is verified',
    fix: 'a path to a PEM file, e.g. /etc/redis-tls/ca.crt',
  }),
  redisTlsCertFile: setting({
    env: 'CDCV_REDIS_TLS_CERT_FILE',
    flag: '--redis-tls-cert-file <path>',
    schema: z.string().trim().min(1).optional(),
    doc: 'PEM client certificate for Redis servers that require one (tls-auth-clients; rediss:// URLs, with redisTlsKeyFile)',
    fix: 'a path to a PEM file, e.g. /etc/redis-tls/client.crt',
  }),
  redisTlsKeyFile: setting({
    env: 'CDCV_REDIS_TLS_KEY_FILE',
    flag: '--redis-tls-key-file <path>',
    schema: z.string().trim().min(1).optional(),
    doc: 'PEM private key of redisTlsCertFile',
    fix: 'a path to a PEM file, e.g. /etc/redis-tls/client.key',
  }),
  redisSentinelUsername: setting({
    env: 'CDCV_REDIS_SENTINEL_USERNAME',
    flag: '--redis-sentinel-username <user>',
    schema: z.string().trim().min(1).optional(),
    doc: 'ACL user on the Redis Sentinels (with redisSentinels; the primary uses redisUsername)',
    fix: 'an ACL user name of the Sentinels',
  }),
  redisSentinelPassword: setting({
    env: 'CDCV_REDIS_SENTINEL_PASSWORD',
    flag: '--redis-sentinel-password <password>',
    schema: z.string().min(1).optional(),
    doc: "password of the Redis Sentinels (their requirepass or the Sentinel user's; prefer redisSentinelPasswordFile)",
    fix: 'the password, or use redisSentinelPasswordFile',
    secret: true,
  }),
  redisSentinelPasswordFile: setting({
    env: 'CDCV_REDIS_SENTINEL_PASSWORD_FILE',
    flag: '--redis-sentinel-password-file <path>',
    schema: z.string().trim().min(1).optional(),
    doc: 'file holding the Redis Sentinels password; read again on every connection to a Sentinel',
    fix: 'a path, e.g. /var/run/secrets/redis-sentinel/password',
  }),
  pgHost: setting({ env: 'CDCV_PG_HOST', flag: '--pg-host <host>', schema: z.string().trim().min(1).default('127.0.0.1'), doc: 'PostgreSQL host of the source database (demo, workload, comparisons)', fix: 'a host name or address' }),
  pgPort: setting({ env: 'CDCV_PG_PORT', flag: '--pg-port <port>', schema: port.min(1).default(5432), doc: 'PostgreSQL port', fix: 'a TCP port 1–65535' }),
  pgUser: setting({ env: 'CDCV_PG_USER', flag: '--pg-user <user>', schema: z.string().trim().min(1).default('postgres'), doc: 'PostgreSQL user', fix: 'a role name' }),
  opensearchUrl: setting({
    env: 'CDCV_OPENSEARCH_URL',
    flag: '--opensearch-url <url>',
    schema: url(/^https?:\/\//, 'http://').default('http://localhost:9200'),
    doc: 'OpenSearch (or Elasticsearch 7.10) URL of the search-index sink',
    fix: 'an http(s) URL, e.g. http://localhost:9200',
  }),
  // --- search engine security (#15) ---
  opensearchUsername: setting({
    env: 'CDCV_OPENSEARCH_USERNAME',
    flag: '--opensearch-username <user>',
    schema: z.string().trim().min(1).optional(),
    doc: 'search engine user for basic auth (with opensearchPassword); credentials in opensearchUrl work too but not both',
    fix: 'an internal user of the security plugin, e.g. cdcv',
  }),
  opensearchPassword: setting({
    env: 'CDCV_OPENSEARCH_PASSWORD',
    flag: '--opensearch-password <password>',
    schema: z.string().min(1).optional(),
    doc: 'password of opensearchUsername (prefer opensearchPasswordFile: re-read when it changes, a 401 retries with the new one)',
    fix: 'the password; or give opensearchPasswordFile',
    secret: true,
  }),
  opensearchPasswordFile: setting({
    env: 'CDCV_OPENSEARCH_PASSWORD_FILE',
    flag: '--opensearch-password-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the search engine password (a mounted Secret), re-read when it changes',
    fix: 'a readable file path, e.g. /var/run/secrets/cdcv/opensearch-password',
  }),
  opensearchCaFile: setting({
    env: 'CDCV_OPENSEARCH_CA_FILE',
    flag: '--opensearch-ca-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'PEM CA bundle trusted for an https opensearchUrl (default: the system CAs); certificates are always verified',
    fix: 'a readable PEM file, e.g. /etc/cdcv/opensearch-ca.pem',
  }),
  opensearchAwsRegion: setting({
    env: 'CDCV_OPENSEARCH_AWS_REGION',
    flag: '--opensearch-aws-region <region>',
    schema: z.string().trim().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'not an AWS region').optional(),
    doc: 'sign search requests with AWS SigV4 for this region (Amazon OpenSearch Service), credentials from the default AWS chain; not with basic auth',
    fix: 'an AWS region, e.g. eu-west-1',
  }),
  opensearchAwsService: setting({
    env: 'CDCV_OPENSEARCH_AWS_SERVICE',
    flag: '--opensearch-aws-service <service>',
    schema: z.enum(['es', 'aoss']).default('es'),
    doc: 'SigV4 service name with opensearchAwsRegion: es (OpenSearch Service domains) or aoss (OpenSearch Serverless)',
    fix: 'es or aoss',
  }),
  schemaRegistryUrl: setting({
    env: 'CDCV_SCHEMA_REGISTRY_URL',
    flag: '--schema-registry-url <url>',
    schema: url(/^https?:\/\//, 'http://').default('http://localhost:8081/apis/ccompat/v7'),
    doc: 'Confluent-compatible schema registry API (Avro)',
    fix: 'an http(s) URL, e.g. http://localhost:8081/apis/ccompat/v7',
  }),
  // --- schema registry security (#15) ---
  schemaRegistryUsername: setting({
    env: 'CDCV_SCHEMA_REGISTRY_USERNAME',
    flag: '--schema-registry-username <user>',
    schema: z.string().trim().min(1).optional(),
    doc: 'schema registry user for basic auth (with schemaRegistryPassword); not with schemaRegistryToken',
    fix: 'a user (Confluent Cloud: the API key)',
  }),
  schemaRegistryPassword: setting({
    env: 'CDCV_SCHEMA_REGISTRY_PASSWORD',
    flag: '--schema-registry-password <password>',
    schema: z.string().min(1).optional(),
    doc: 'password of schemaRegistryUsername (prefer schemaRegistryPasswordFile)',
    fix: 'the password (Confluent Cloud: the API secret); or give schemaRegistryPasswordFile',
    secret: true,
  }),
  schemaRegistryPasswordFile: setting({
    env: 'CDCV_SCHEMA_REGISTRY_PASSWORD_FILE',
    flag: '--schema-registry-password-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the schema registry password, re-read when it changes',
    fix: 'a readable file path',
  }),
  schemaRegistryToken: setting({
    env: 'CDCV_SCHEMA_REGISTRY_TOKEN',
    flag: '--schema-registry-token <token>',
    schema: z.string().min(1).optional(),
    doc: 'bearer token sent to the schema registry (e.g. an OAuth access token for Apicurio); not with basic auth',
    fix: 'the token; or give schemaRegistryTokenFile',
    secret: true,
  }),
  schemaRegistryTokenFile: setting({
    env: 'CDCV_SCHEMA_REGISTRY_TOKEN_FILE',
    flag: '--schema-registry-token-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the schema registry bearer token, re-read when it changes (a refreshed token is used at once)',
    fix: 'a readable file path',
  }),
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

type Settings = typeof SETTINGS;
export type SettingKey = keyof Settings;

/** The effective configuration, by config-file key. */
export type Config = { [K in SettingKey]: z.output<Settings[K]['schema']> };

/** The effective configuration by environment variable name (what {@link loadEnv} returns). */
export type EnvConfig = { [K in SettingKey as Settings[K]['env']]: Config[K] };

/**
 * The settings as a zod object keyed by environment variable name (what
 * deployment manifests set); `ENV_SCHEMA.shape` lists every variable.
 */
export const ENV_SCHEMA = z.object(Object.fromEntries((Object.keys(SETTINGS) as SettingKey[]).map((k) => [SETTINGS[k].env, SETTINGS[k].schema])) as { [K in SettingKey as Settings[K]['env']]: Settings[K]['schema'] });

/** Environment variable naming a config file, as `--config` does. */
export const CONFIG_FILE_ENV = 'CDCV_CONFIG';

/** Variables used by the stack scripts only (scripts/stack/env.sh; new ones are named CDCV_STACK_*); accepted, not read here. */
const STACK_ONLY =
  /^CDCV_(STACK_[A-Z0-9_]+|STACK_DIR|REGISTRY_PORT|KAFKA_PORT|KAFKA_CONTROLLER_PORT|CONNECT_PORT|REDIS_HOST|REDIS_PORT|KAFKA_HEAP|CONNECT_HEAP|OPENSEARCH_PORT|OPENSEARCH_HEAP|OPENSEARCH_USER|STACK_TIMEOUT_S|PG_VERSION|CONNECT_PLUGIN_DISCOVERY|REDIS_HA_PRIMARY_PORT|REDIS_HA_REPLICA_PORT|REDIS_SENTINEL_PORTS|REDIS_SENTINEL_DOWN_AFTER_MS|REDIS_SENTINEL_FAILOVER_TIMEOUT_MS|S3_PORT|S3_HEAP|S3_ENDPOINT|S3_ACCESS_KEY|S3_SECRET_KEY|S3_BUCKET|OPENSEARCH_SECURE_PORT|OPENSEARCH_SECURE_TRANSPORT_PORT|OPENSEARCH_SECURE_HEAP|OPENSEARCH_SECURE_ADMIN_PASSWORD|OPENSEARCH_SECURE_URL|OPENSEARCH_SECURE_CA|OPENSEARCH_SECURE_CREDENTIALS)$/;

/** Knobs of the tests (e.g. CDCV_TEST_OPS_STAGGER_MS); accepted, not read here. */
const TEST_ONLY = /^CDCV_TEST_[A-Z0-9_]+$/;

const KEYS = Object.keys(SETTINGS) as SettingKey[];
const BY_ENV = new Map<string, SettingKey>(KEYS.map((k) => [SETTINGS[k].env, k]));

/** Where a setting's effective value came from. */
export type Source = { kind: 'default' } | { kind: 'file'; file: string } | { kind: 'env'; name: string } | { kind: 'flag'; name: string };

/** A loaded configuration and the source of each value. */
export interface LoadedConfig {
  config: Config;
  sources: Record<SettingKey, Source>;
  /** The config file read, if any. */
  file?: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
  /** A YAML or JSON config file (`--config`); `CDCV_CONFIG` when absent. */
  file?: string;
  /** Values given as CLI flags (strings as commander parsed them); undefined = not given. */
  flags?: Partial<Record<SettingKey, unknown>>;
}

/** One invalid setting. */
export interface ConfigIssue {
  /** The setting as the user wrote it: `CDCV_HTTP_PORT`, `--http-port`, `httpPort (file x.yaml)`. */
  field: string;
  problem: string;
}

/** Invalid configuration: every problem found, each naming the field, its value and the fix. */
export class ConfigErrors extends ConfigError {
  constructor(readonly issues: readonly ConfigIssue[]) {
    const [first, ...rest] = issues;
    super(first!.field, [first!.problem, ...rest.map((i) => `${i.field}: ${i.problem}`)].join('\n'));
  }
}

function describeSource(key: SettingKey, s: Source): string {
  switch (s.kind) {
    case 'env':
      return s.name;
    case 'flag':
      return s.name;
    case 'file':
      return `${key} (config file ${s.file})`;
    default:
      return key;
  }
}

/** Edit distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

function suggest(unknown: string, candidates: readonly string[]): string {
  const lower = unknown.toLowerCase();
  const best = candidates.map((c) => [c, distance(lower, c.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(unknown.length / 4)) ? `did you mean ${best[0]}? ` : '';
}

/**
 * Reads a YAML or JSON config file: a mapping of setting keys (see {@link SETTINGS}).
 * @throws {ConfigErrors} when it cannot be read or parsed, is not a mapping, or has unknown keys.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigErrors([{ field: '--config', problem: `cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the path of a YAML or JSON file` }]);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigErrors([{ field: `config file ${file}`, problem: `is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}` }]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigErrors([{ field: `config file ${file}`, problem: `must be a mapping of settings (e.g. "kafkaBrokers: localhost:9092"), got ${Array.isArray(data) ? 'a list' : JSON.stringify(data)}` }]);
  }
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(data)) {
    if (key in SETTINGS) continue;
    const byEnv = BY_ENV.get(key);
    const hint = byEnv ? `in a config file write ${byEnv}, not the environment variable name; ` : suggest(key, KEYS);
    issues.push({ field: `${key} (config file ${file})`, problem: `unknown setting; ${hint}known settings: ${KEYS.join(', ')}` });
  }
  if (issues.length > 0) throw new ConfigErrors(issues);
  return data as Record<string, unknown>;
}

/**
 * Loads and validates the configuration from flags, environment and an
 * optional config file (in that precedence), with defaults.
 * @throws {ConfigErrors} listing every invalid or unknown setting, each with its value and the fix.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('CDCV_') && !BY_ENV.has(name) && name !== CONFIG_FILE_ENV && !STACK_ONLY.test(name) && !TEST_ONLY.test(name)) {
      issues.push({ field: name, problem: `unknown setting; ${suggest(name, [...BY_ENV.keys()])}known ones are ${[...BY_ENV.keys(), CONFIG_FILE_ENV].join(', ')}` });
    }
  }
  const fileName = options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  const fromFile = fileName === undefined ? {} : readConfigFile(fileName);

  const config: Record<string, unknown> = {};
  const sources = {} as Record<SettingKey, Source>;
  for (const key of KEYS) {
    const spec = SETTINGS[key];
    const flagValue = options.flags?.[key];
    const envValue = env[spec.env];
    let raw: unknown;
    let source: Source = { kind: 'default' };
    if (flagValue !== undefined) {
      raw = flagValue;
      source = { kind: 'flag', name: spec.flag?.split(' ')[0] ?? key };
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      source = { kind: 'env', name: spec.env };
    } else if (fromFile[key] !== undefined && fromFile[key] !== null) {
      raw = fromFile[key];
      source = { kind: 'file', file: fileName! };
    }
    sources[key] = source;
    const parsed = (spec.schema as z.ZodType).safeParse(raw);
    if (parsed.success) {
      config[key] = parsed.data;
      continue;
    }
    const message = parsed.error.issues.map((i) => i.message).join('; ');
    const how = source.kind === 'env' ? 'or unset it to use the default' : source.kind === 'file' ? 'or remove it to use the default' : '';
    issues.push({ field: describeSource(key, source), problem: `${JSON.stringify(raw)} is invalid (${message}); expected ${spec.fix}${how ? `, ${how}` : ''}` });
  }
  if (config.redisSentinels !== undefined && config.redisSentinelName === undefined) {
    issues.push({ field: SETTINGS.redisSentinelName.env, problem: `missing: ${describeSource('redisSentinels', sources.redisSentinels)} names Sentinels, so the name of the primary they monitor is needed; expected ${SETTINGS.redisSentinelName.fix}` });
  }
  if (issues.length > 0) throw new ConfigErrors(issues);
  return { config: config as Config, sources, ...(fileName === undefined ? {} : { file: fileName }) };
}

/**
 * Reads and validates the `CDCV_*` environment variables (and `CDCV_CONFIG`'s
 * file, when set), by variable name.
 * @throws {ConfigError} naming the variable, its value and the fix.
 */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const { config } = loadConfig({ env });
  return Object.fromEntries(KEYS.map((k) => [SETTINGS[k].env, config[k]])) as EnvConfig;
}

/** A URL with its password replaced by `*****`; anything else unchanged. */
export function maskSecret(value: unknown): unknown {
  if (typeof value !== 'string' || !URL.canParse(value)) return value;
  const u = new URL(value);
  if (u.password === '') return value;
  u.password = MASK;
  return u.toString();
}

/** Whether a setting is a credential (its value is never printed). */
export function isSecretSetting(key: SettingKey): boolean {
  return (SETTINGS[key] as SettingSpec<string, z.ZodType>).secret === true;
}

/** The effective configuration with secrets masked, and where each value came from (`config print`). */
export function describeConfig(loaded: LoadedConfig): { key: SettingKey; env: string; value: unknown; source: string }[] {
  return KEYS.map((key) => {
    const s = loaded.sources[key];
    const source = s.kind === 'default' ? 'default' : s.kind === 'file' ? `file ${s.file}` : s.kind === 'env' ? `env ${s.name}` : `flag ${s.name}`;
    const value = loaded.config[key];
    return { key, env: SETTINGS[key].env, value: isSecretSetting(key) && value !== undefined ? MASK : maskSecret(value), source };
  });
}

/** The state Redis a configuration names. */
export function redisTarget(cfg: Pick<Config, 'redisUrl' | 'redisSentinels' | 'redisSentinelName'>): { url: string; sentinels: string | undefined; sentinelName: string | undefined } {
  return { url: cfg.redisUrl, sentinels: cfg.redisSentinels, sentinelName: cfg.redisSentinelName };
}

/** libpq-style connection string for a database of the source PostgreSQL. */
export function pgConnectionString(cfg: EnvConfig, database: string): string {
  return `postgres://${encodeURIComponent(cfg.CDCV_PG_USER)}@${cfg.CDCV_PG_HOST}:${cfg.CDCV_PG_PORT}/${encodeURIComponent(database)}`;
}
