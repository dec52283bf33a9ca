/**
 * The HTTP server of a real `cdc-views run` process (issue #15, item 4):
 * - /stores enabled with a token file: 401 without the token or with a wrong
 *   one, the row with it; the token file rotated → the old token refused,
 *   the new one served, no restart;
 * - /stores enabled without a token: `run` refuses to start (exit 2);
 * - /stores not enabled (the default): 404 naming CDCV_STORES_ENABLED, even
 *   with the token;
 * - CDCV_HTTP_HOST=127.0.0.1: listening on 127.0.0.1 only (the log says so,
 *   and when this machine has another interface address the port is refused
 *   there, while the default 0.0.0.0 answers there).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Admin, Producer } from 'kafkajs';
import { STORES_DISABLED } from '../../src/metrics/server.ts';
import { exited, newRedis, sleep, uniqueId } from './helpers.ts';
import { deleteKeys, newAdmin, newProducer, produceChanges } from './ops/helpers.ts';
import { freePort } from '../support/net.ts';

const redis = newRedis();
const id = uniqueId('httpsec').replace('_', '');
const topic = `${id}.public.items`;
const topics = `^${topic.replaceAll('.', '\\.')}$`;
const dir = mkdtempSync(join(tmpdir(), 'cdcv-httpsec-'));
const tokenFile = join(dir, 'stores-token');
const TOKEN = 'first-token-0123456789abcdef';
const ROW = `/stores/public.items/${encodeURIComponent('{"id":1}')}`;
/** An IPv4 address of this machine other than loopback, if it has one. */
const otherAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

let admin: Admin;
let producer: Producer;
const children: ChildProcess[] = [];
const apps: string[] = [];

interface Started {
  child: ChildProcess;
  port: number;
  stderr: () => string;
}

/** Starts `cdc-views run` on a free port with these settings; resolves once /healthz answers 200 on 127.0.0.1. */
async function startRun(env: Record<string, string>): Promise<Started> {
  const app = `${id}-${apps.length}`;
  apps.push(app);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', app, '--topics', topics, '--http-port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CDCV_LOG_LEVEL: 'info', ...env },
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`run exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { child, port, stderr: () => stderr };
    await sleep(250);
  }
  throw new Error(`run did not become healthy: ${stderr}`);
}

const get = (port: number, path: string, token?: string, host = '127.0.0.1'): Promise<Response> => fetch(`http://${host}:${port}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

before(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`);
  admin = await newAdmin();
  producer = await newProducer();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await produceChanges(producer, topic, [{ id: 1, row: { id: 1, name: 'ada@example.com', qty: 3 }, ts: Date.now() }]);
});

after(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await exited(c);
    }
  }
  await producer?.disconnect();
  for (const app of apps) {
    await deleteKeys(redis, `cdcv:${app}:*`);
    await admin?.deleteGroups([app]).catch(() => undefined);
  }
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

test('/stores enabled refuses a request without the token or with a wrong one, serves the row with it, and accepts a rotated token file', async () => {
  const run = await startRun({ CDCV_STORES_ENABLED: 'true', CDCV_STORES_TOKEN_FILE: tokenFile, CDCV_HTTP_HOST: '127.0.0.1' });
  let res: Response | undefined;
  for (let i = 0; i < 120; i++) {
    res = await get(run.port, ROW, TOKEN);
    if (res.status === 200) break;
    await res.text();
    await sleep(250);
  }
  assert.equal(res?.status, 200, 'the row is served with the token');
  assert.deepEqual(((await res.json()) as { row: unknown }).row, { id: 1, name: 'ada@example.com', qty: 3 });

  for (const token of [undefined, `${TOKEN}x`, 'wrong-token-0123456789abcdef']) {
    const denied = await get(run.port, ROW, token);
    assert.equal(denied.status, 401, `token ${String(token)}`);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="cdc-views /stores"');
    assert.doesNotMatch(await denied.text(), /ada@example\.com/);
  }

  const rotated = 'rotated-token-0123456789abcdef-0123';
  writeFileSync(tokenFile, rotated);
  assert.equal((await get(run.port, ROW, TOKEN)).status, 401, 'the old token is refused after rotation');
  assert.equal((await get(run.port, ROW, rotated)).status, 200, 'the new token is served without a restart');
  writeFileSync(tokenFile, `${TOKEN}\n`);

  // Bound to 127.0.0.1 only: the log says so, and another address of this machine is refused.
  assert.match(run.stderr(), new RegExp(`"host":"127\\.0\\.0\\.1".*operations HTTP server on 127\\.0\\.0\\.1:${run.port}`));
  if (otherAddress !== undefined) {
    await assert.rejects(get(run.port, '/healthz', undefined, otherAddress), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED', `${otherAddress}:${run.port} is refused`);
  }
  run.child.kill('SIGTERM');
  assert.equal(await exited(run.child), 0);
});

test('/stores not enabled (the default): 404 naming CDCV_STORES_ENABLED, even with the token; the default bind address answers on every interface', async () => {
  const run = await startRun({});
  for (const token of [undefined, TOKEN]) {
    const res = await get(run.port, ROW, token);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, STORES_DISABLED);
  }
  assert.match(STORES_DISABLED, /CDCV_STORES_ENABLED/);
  assert.equal((await get(run.port, '/metrics')).status, 200);
  assert.match(run.stderr(), /"host":"0\.0\.0\.0"/);
  if (otherAddress !== undefined) assert.equal((await get(run.port, '/healthz', undefined, otherAddress)).status, 200, `0.0.0.0 answers on ${otherAddress}`);
  run.child.kill('SIGTERM');
  assert.equal(await exited(run.child), 0);
});

test('/stores enabled without a token: run refuses to start, naming the settings', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', `${id}-refused`, '--topics', topics, '--http-port', '0', '--stores-enabled'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CDCV_STORES_TOKEN' && k !== 'CDCV_STORES_TOKEN_FILE')),
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  assert.equal(await exited(child), 2, stderr);
  assert.match(stderr, /CDCV_STORES_ENABLED: \/stores serves any row of any table, so it needs a bearer token: set CDCV_STORES_TOKEN_FILE/);
});
