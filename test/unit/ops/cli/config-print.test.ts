/**
 * `cdc-views config print --reveal-none` (src/cli/config-print.ts), run as
 * the real CLI: with credentials in every secret setting and in URLs, its
 * output (YAML, and JSON with --json) holds none of them, not even masked,
 * and given back as --config (with no environment) it reproduces every
 * non-secret setting.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { SETTINGS, isSecretSetting, loadConfig, type SettingKey } from '../../../../src/config.ts';
import { withoutPassword } from '../../../../src/cli/config-print.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../../../bin/cdc-views.js');
const dir = mkdtempSync(join(tmpdir(), 'cdcv-config-print-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CANARY = 'Canary-Pw-7f3c9e21d4b8';
/** The environment without any CDCV_* variable of the test runner. */
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CDCV_')));
/** Non-default values, credentials in URLs, and the canary in every secret setting. */
const ENV: Record<string, string> = {
  CDCV_KAFKA_BROKERS: 'k1:9093,k2:9093',
  CDCV_REDIS_URL: `rediss://app:${CANARY}@redis.internal:6380/2`,
  CDCV_OPENSEARCH_URL: `https://admin:${CANARY}@search.internal:9200`,
  CDCV_APPLICATION_ID: 'orders-v3',
  CDCV_TOPICS: '^shop\\.public\\.',
  CDCV_HTTP_HOST: '127.0.0.1',
  CDCV_STORES_ENABLED: 'true',
  CDCV_STORES_TOKEN_FILE: '/etc/cdc-views/secrets/stores-token',
  CDCV_LOG_LEVEL: 'warn',
};
const secretKeys = (Object.keys(SETTINGS) as SettingKey[]).filter(isSecretSetting);
// A secret and its file are exclusive at use, not in config print: set the value of every secret setting.
for (const k of secretKeys) ENV[SETTINGS[k].env] = `${CANARY}-${k}`;

async function cli(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, timeout: 60_000 });
  return stdout;
}

test('there is at least one secret setting to leave out (storesToken)', () => {
  assert.ok(secretKeys.includes('storesToken'));
});

for (const format of ['yaml', 'json'] as const) {
  test(`config print --reveal-none (${format}) holds no credential, and given back as --config reproduces every non-secret setting`, async () => {
    const args = ['config', 'print', '--reveal-none', ...(format === 'json' ? ['--json'] : [])];
    const out = await cli(args, ENV);
    assert.ok(!out.includes(CANARY), `a credential was printed:\n${out}`);
    assert.ok(!out.includes('*****'), 'credentials are left out, not masked');
    const file = join(dir, `printed.${format}`);
    writeFileSync(file, out);

    const expected = loadConfig({ env: ENV }).config;
    const back = JSON.parse(await cli(['config', 'print', '--json', '--config', file], {})) as Record<string, { value: unknown; source: string }>;
    for (const key of Object.keys(SETTINGS) as SettingKey[]) {
      if (isSecretSetting(key)) {
        assert.equal(back[key]?.value, null, `${key} is left out`);
        continue;
      }
      assert.deepEqual(back[key]?.value ?? undefined, withoutPassword(expected[key]), key);
    }
    assert.equal(back.redisUrl?.value, 'rediss://app@redis.internal:6380/2', 'the URL keeps its user, not its password');
    assert.equal(back.httpHost?.source, `file ${file}`);
    assert.equal(back.storesTokenFile?.value, '/etc/cdc-views/secrets/stores-token', 'the token file (a path) is kept');
  });
}

test('config print without --reveal-none masks (the YAML says where each secret came from)', async () => {
  const out = await cli(['config', 'print'], ENV);
  assert.ok(!out.includes(CANARY));
  assert.match(out, /^storesToken: "\*\*\*\*\*" {2}# env CDCV_STORES_TOKEN/m);
});
