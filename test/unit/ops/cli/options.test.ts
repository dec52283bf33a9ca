/**
 * The shared options (src/cli/options.ts) and the program (src/cli/program.ts):
 * connection flags with the precedence of `run`, deprecated aliases, the
 * program's --version beside a command's --version <v>.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { CONNECTION_HELP_GROUP, CONNECTION_SETTINGS, deprecatedAlias, requireApp, setDeprecationSink, settingOptions, versionOption, type SettingsReader } from '../../../../src/cli/options.ts';
import { createProgram } from '../../../../src/cli/program.ts';
import { packageVersion } from '../../../../src/cli/version.ts';
import { SETTINGS } from '../../../../src/config.ts';

const file = join(tmpdir(), `cdcv-options-${process.pid}.yaml`);
writeFileSync(file, 'kafkaBrokers: file-host:9092\nopensearchUrl: http://file-host:9200\nconnectUrl: http://file-host:8083\n');
after(() => rmSync(file, { force: true }));

/** A program with one command `cmd` taking the connection options; what its action saw. */
function program(configure: (cmd: Command) => void = () => undefined): { prog: Command; out: string[]; seen: () => Record<string, unknown>; read: SettingsReader } {
  const out: string[] = [];
  const prog = createProgram().configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void out.push(s) });
  const cmd = prog.command('cmd').addOption(versionOption('the version'));
  configure(cmd);
  const read = settingOptions(cmd, ['applicationId']);
  let opts: Record<string, unknown> = {};
  cmd.action((o: Record<string, unknown>) => {
    opts = o;
  });
  return { prog, out, seen: () => opts, read };
}

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('every connection setting has a flag, listed under the connection heading of --help with its variable and file key', () => {
  const { prog } = program();
  const cmd = prog.commands.find((c) => c.name() === 'cmd')!;
  const help = cmd.helpInformation();
  const section = help.slice(help.indexOf(CONNECTION_HELP_GROUP));
  for (const key of CONNECTION_SETTINGS) {
    const flag = ((SETTINGS[key] as { flag?: string }).flag ?? '').split(' ')[0]!;
    assert.match(flag, /^--[a-z-]+$/, `${key} has a flag`);
    assert.match(section, new RegExp(`${flag} `), `${key}: ${flag} under the heading`);
    assert.ok(section.replace(/\s+/g, ' ').includes(`env ${SETTINGS[key].env}; file key ${key}`), key);
  }
  assert.match(section, /--config <file>/);
  assert.match(help, /--log-level <level>/);
  assert.match(help, /--app <id>/);
});

test('precedence: flag > environment > --config file > default', async () => {
  const { prog, seen, read } = program();
  await withEnv({ CDCV_OPENSEARCH_URL: 'http://env-host:9200' }, async () => {
    await prog.parseAsync(['cmd', '--version', 'v1', '--config', file, '--kafka-brokers', 'flag-host:9092', '--app', 'shop'], { from: 'user' });
    const loaded = read(seen());
    assert.equal(loaded.config.kafkaBrokers, 'flag-host:9092');
    assert.equal(loaded.config.opensearchUrl, 'http://env-host:9200');
    assert.equal(loaded.config.connectUrl, 'http://file-host:8083');
    assert.equal(loaded.config.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual([loaded.sources.kafkaBrokers.kind, loaded.sources.opensearchUrl.kind, loaded.sources.connectUrl.kind, loaded.sources.redisUrl.kind], ['flag', 'env', 'file', 'default']);
    assert.equal(requireApp(loaded), 'shop');
  });
});

test('an invalid flag value is a ConfigError naming the flag (exit 2)', async () => {
  const { prog, seen, read } = program();
  await prog.parseAsync(['cmd', '--version', 'v1', '--redis-url', 'http://nope'], { from: 'user' });
  assert.throws(() => read(seen()), { name: 'ConfigErrors', field: '--redis-url' });
});

test('requireApp: a missing --app is a ConfigError saying where to give it', async () => {
  const { prog, seen, read } = program();
  await withEnv({ CDCV_APPLICATION_ID: '' }, async () => {
    await prog.parseAsync(['cmd', '--version', 'v1'], { from: 'user' });
    assert.throws(() => requireApp(read(seen())), { field: '--app', message: /give --app <id>, set CDCV_APPLICATION_ID or applicationId in the config file/ });
  });
});

test('a deprecated alias sets the current option (mandatory or not), hidden from --help, one deprecation line per run', async () => {
  const lines: string[] = [];
  const restore = setDeprecationSink((l) => void lines.push(l));
  try {
    const { prog, seen } = program((cmd) => deprecatedAlias(cmd, '--as <version>', '--version'));
    await prog.parseAsync(['cmd', '--as', 'v7', '--as', 'v8'], { from: 'user' });
    assert.equal(seen().version, 'v8');
    assert.deepEqual(lines, ['cdc-views: --as is deprecated; use --version (the old spelling still works)\n']);
    assert.doesNotMatch(prog.commands[0]!.helpInformation(), /--as/);
  } finally {
    setDeprecationSink(restore);
  }
});

test('a deprecated alias with a value map and choices (config print --format json → --json)', async () => {
  const lines: string[] = [];
  const restore = setDeprecationSink((l) => void lines.push(l));
  try {
    const make = () =>
      program((cmd) => {
        cmd.option('--json', 'as JSON');
        deprecatedAlias(cmd, '--format <format>', '--json', (v) => v === 'json' || undefined, (o) => o.choices(['yaml', 'json']));
      });
    const a = make();
    await a.prog.parseAsync(['cmd', '--version', 'v1', '--format', 'json'], { from: 'user' });
    assert.equal(a.seen().json, true);
    const b = make();
    await b.prog.parseAsync(['cmd', '--version', 'v1', '--format', 'yaml'], { from: 'user' });
    assert.equal(b.seen().json, undefined);
    const c = make();
    await assert.rejects(c.prog.parseAsync(['cmd', '--version', 'v1', '--format', 'xml'], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.code === 'commander.invalidArgument');
    assert.equal(lines.length, 2);
  } finally {
    setDeprecationSink(restore);
  }
});

test('the program --version prints package.json\'s version; a command\'s --version <v> is its own', async () => {
  const a = program();
  await assert.rejects(a.prog.parseAsync(['--version'], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.code === 'commander.version' && e.exitCode === 0);
  assert.deepEqual(a.out, [`${packageVersion()}\n`]);
  assert.match(packageVersion(), /^\d+\.\d+\.\d+/);
  const b = program();
  await b.prog.parseAsync(['cmd', '--version', 'v3'], { from: 'user' });
  assert.equal(b.seen().version, 'v3');
  assert.deepEqual(b.out, []);
});

test('usage errors are CommanderErrors with a non-zero exit code (the program maps them to 2)', async () => {
  const a = program();
  await assert.rejects(a.prog.parseAsync(['cmd'], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.code === 'commander.missingMandatoryOptionValue');
  const b = program();
  await assert.rejects(b.prog.parseAsync(['cmd', '--version', 'v1', '--bogus'], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.code === 'commander.unknownOption');
});
