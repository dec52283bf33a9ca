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
import { APP_SETTINGS } from './config/settings-app.ts';
import { KAFKA_SETTINGS } from './config/settings-kafka.ts';
import { LAKE_SETTINGS } from './config/settings-lake.ts';
import { SERVICE_SETTINGS } from './config/settings-services.ts';
import type { SettingSpec } from './config/spec.ts';

/** Every setting, by its config-file key (declared in src/config/settings-*.ts with src/config/spec.ts). */
export const SETTINGS = { ...KAFKA_SETTINGS, ...SERVICE_SETTINGS, ...APP_SETTINGS, ...LAKE_SETTINGS } as const;

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

/** libpq-style connection string for a database of the source PostgreSQL. */
export function pgConnectionString(cfg: EnvConfig, database: string): string {
  return `postgres://${encodeURIComponent(cfg.CDCV_PG_USER)}@${cfg.CDCV_PG_HOST}:${cfg.CDCV_PG_PORT}/${encodeURIComponent(database)}`;
}
