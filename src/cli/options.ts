/**
 * The options shared by the commands, declared once so that every command
 * spells a concept the same way and reads settings the same way:
 * - {@link settingOptions}: `--config <file>`, `--log-level` and one flag per
 *   connection setting (src/config.ts, {@link SETTINGS}), read with the
 *   precedence of `run`: flag > environment > config file > default;
 * - {@link deprecatedAlias}: an old spelling kept working, hidden from
 *   `--help`, printing one deprecation line on stderr (docs/cli.md, "Renamed options");
 * - the options many commands take: {@link versionOption}, {@link jsonOption},
 *   {@link progressOption}.
 */
import { Option, type Command } from 'commander';
import { CONFIG_FILE_ENV, SETTINGS, loadConfig, type LoadedConfig, type SettingKey } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { KAFKA_SECURITY_SETTINGS } from '../kafka/security.ts';
import { logger } from '../log.ts';

/** The settings of the connections to the dependencies: every command that talks to one takes all of them. */
export const CONNECTION_SETTINGS = ['kafkaBrokers', ...KAFKA_SECURITY_SETTINGS, 'redisUrl', 'redisSentinels', 'redisSentinelName', 'redisUsername', 'redisPassword', 'redisPasswordFile', 'redisTlsCaFile', 'redisTlsCertFile', 'redisTlsKeyFile', 'redisSentinelUsername', 'redisSentinelPassword', 'redisSentinelPasswordFile', 'connectUrl', 'opensearchUrl', 'schemaRegistryUrl', 'connectUsername', 'connectPassword', 'connectPasswordFile', 'opensearchUsername', 'opensearchPassword', 'opensearchPasswordFile', 'opensearchCaFile', 'opensearchAwsRegion', 'opensearchAwsService', 'schemaRegistryUsername', 'schemaRegistryPassword', 'schemaRegistryPasswordFile', 'schemaRegistryToken', 'schemaRegistryTokenFile'] as const satisfies readonly SettingKey[];

/** The source PostgreSQL's settings, for commands that read its catalog (e.g. `types generate`). */
export const POSTGRES_SETTINGS = ['pgHost', 'pgPort', 'pgUser'] as const satisfies readonly SettingKey[];

/** The `--help` heading of the connection options. */
export const CONNECTION_HELP_GROUP = 'Connection options (flag > environment > --config file > default):';

/** Reads the settings of a command back from its parsed options. */
export type SettingsReader = (opts: Record<string, unknown>) => LoadedConfig;

/** The flag of a setting (commander syntax), e.g. `--kafka-brokers <list>`. @throws {Error} when the setting has none (a programming error). */
function flagOf(key: SettingKey): string {
  const flag = (SETTINGS[key] as { flag?: string }).flag;
  if (!flag) throw new Error(`setting ${key} has no CLI flag`);
  return flag;
}

/** Every setting that has a CLI flag (what `run` and `config print` take). */
export const FLAGGED_SETTINGS: readonly SettingKey[] = (Object.keys(SETTINGS) as SettingKey[]).filter((k) => (SETTINGS[k] as { flag?: string }).flag !== undefined);

/**
 * Adds to a command the flags of the connection settings
 * ({@link CONNECTION_SETTINGS}, under {@link CONNECTION_HELP_GROUP}),
 * `--config <file>`, `--log-level <level>`, and the flags of `extra`
 * settings (e.g. `applicationId` for `--app`), each with the help of its
 * setting (environment variable, config-file key). The reader it returns
 * loads the configuration ({@link loadConfig}: flag > environment > config
 * file > default) and sets the log level.
 * @throws {Error} when an extra setting has no flag in {@link SETTINGS} (a programming error)
 */
export function settingOptions(cmd: Command, extra: readonly SettingKey[] = []): SettingsReader {
  const byAttribute = new Map<string, SettingKey>();
  const add = (key: SettingKey, group?: string): void => {
    const spec = SETTINGS[key];
    const option = new Option(flagOf(key), `${spec.doc} (env ${spec.env}; file key ${key})`);
    if (group) option.helpGroup(group);
    cmd.addOption(option);
    byAttribute.set(option.attributeName(), key);
  };
  const connection = new Set<SettingKey>(CONNECTION_SETTINGS);
  const postgres = new Set<SettingKey>(POSTGRES_SETTINGS);
  const own = [...new Set([...extra, 'logLevel' as const])].filter((k) => !connection.has(k));
  for (const key of own.filter((k) => !postgres.has(k))) add(key);
  for (const key of [...CONNECTION_SETTINGS, ...own.filter((k) => postgres.has(k))]) add(key, CONNECTION_HELP_GROUP);
  cmd.addOption(new Option('--config <file>', `YAML or JSON file of settings (env ${CONFIG_FILE_ENV}); see \`cdc-views config print\``).helpGroup(CONNECTION_HELP_GROUP));
  return (opts) => {
    const flags: Partial<Record<SettingKey, unknown>> = {};
    for (const [attr, key] of byAttribute) if (opts[attr] !== undefined) flags[key] = opts[attr];
    const loaded = loadConfig({ flags, ...(typeof opts.config === 'string' ? { file: opts.config } : {}) });
    logger.level = loaded.config.logLevel;
    return loaded;
  };
}

/**
 * The applicationId of a command that acts on one application (`--app`,
 * `CDCV_APPLICATION_ID`, `applicationId` in the config file).
 * @throws {ConfigError} when none is given
 */
export function requireApp(loaded: LoadedConfig): string {
  const app = loaded.config.applicationId;
  if (!app) throw new ConfigError('--app', 'missing: give --app <id>, set CDCV_APPLICATION_ID or applicationId in the config file');
  return app;
}

/** Where deprecation lines go; tests replace it. @defaultValue stderr */
let deprecationSink = (line: string): void => void process.stderr.write(line);

/** Replaces the deprecation sink (tests); returns the previous one. */
export function setDeprecationSink(sink: (line: string) => void): (line: string) => void {
  const previous = deprecationSink;
  deprecationSink = sink;
  return previous;
}

/**
 * Keeps an old spelling of an option working: `old` (commander syntax, e.g.
 * `--as <version>`) is hidden from `--help`; when given, it prints one line
 * `cdc-views: --as is deprecated; use --version` on stderr (once per command
 * run) and sets the current option (`current`, its long flag) to its value,
 * or to `map(value)`. The current option may be mandatory: the alias sets it
 * before commander checks.
 * @param configure adjusts the hidden option (e.g. `.choices()`)
 * @throws {Error} when `current` is not an option of `cmd` (a programming error)
 */
export function deprecatedAlias(cmd: Command, old: string, current: string, map?: (value: unknown) => unknown, configure?: (o: Option) => Option): void {
  const target = cmd.options.find((o) => o.long === current);
  if (!target) throw new Error(`${cmd.name()}: no option ${current} to alias`);
  const base = new Option(old).hideHelp();
  const option = configure ? configure(base) : base;
  cmd.addOption(option);
  let warned = false;
  cmd.on(`option:${option.name()}`, (value: unknown) => {
    if (!warned) deprecationSink(`cdc-views: ${option.long} is deprecated; use ${current} (the old spelling still works)\n`);
    warned = true;
    cmd.setOptionValueWithSource(target.attributeName(), map ? map(value) : value, 'cli');
  });
}

/** `--version <version>`: the topology version a command acts on (replay, promote, drop). */
export function versionOption(description: string): Option {
  return new Option('--version <version>', `${description}, e.g. v2 (letters, digits, . _)`).makeOptionMandatory();
}

/** `--json`: the result as one JSON document on stdout (logs and progress stay on stderr). */
export function jsonOption(what = 'the result'): Option {
  return new Option('--json', `print ${what} as JSON on stdout (nothing else goes to stdout)`);
}

/** `--no-progress`: no progress bar or progress lines on stderr. */
export function progressOption(): Option {
  return new Option('--no-progress', 'print no progress on stderr (default: a bar on a terminal, a line every 5 s otherwise)');
}
