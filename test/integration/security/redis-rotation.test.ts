/**
 * A rotated Redis password is picked up without restarting the process (#15):
 * `cdc-views run` works through the TLS Redis (scripts/stack/redis-tls.sh) as
 * an ACL user of its own (the stack user's minimal ACL) whose password it reads
 * from a file (CDCV_REDIS_PASSWORD_FILE). Twice the password is changed on the
 * server (ACL SETUSER … resetpass >new) and its connections killed (CLIENT KILL USER):
 *
 * 1. the new value written to the file first: the reconnection authenticates
 *    with it at once (the server logs no refused AUTH), and the old password is
 *    refused from then on;
 * 2. the file updated only after the kill (a Secret volume updates within a
 *    minute): the server refuses the reconnections (its ACL LOG says so) until
 *    the file changes, then the process goes on, still the same process.
 *
 * After each, new records reach the cache, and the process never exited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { readCacheDocs } from '../../support/verify/compare.ts';
import { exited, sleep, uniqueId } from '../helpers.ts';
import { deleteKeys, newAdmin, newProducer, produceChanges, type ItemChange } from '../ops/helpers.ts';
import { aclLog, adminClient, copyCdcvUser, startRedisTls, tlsEnv } from './redis-tls-stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-redis-rot-'));
const id = uniqueId('rrot').replace('_', '');
const topic = `${id}.public.items`;
const app = `rrot_${id}`;
const user = `cdcv_rot_${id}`;
const prefix = `cache:${app}:item:`;
const passwordFile = join(dir, 'redis-password');
const logFile = join(dir, 'run.log');
let admin: Redis;
let kafkaAdmin: Admin;
let producer: Producer;
let child: ChildProcess | undefined;

const newPassword = (): string => randomBytes(12).toString('hex');

before(async () => {
  startRedisTls();
  admin = adminClient();
  kafkaAdmin = await newAdmin();
  producer = await newProducer();
  await kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited(child);
  }
  await producer?.disconnect();
  await kafkaAdmin?.deleteGroups([app]).catch(() => undefined);
  await kafkaAdmin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await kafkaAdmin?.disconnect();
  if (admin) {
    await admin.call('ACL', 'DELUSER', user).catch(() => undefined);
    await deleteKeys(admin, `cdcv:${app}:*`);
    await deleteKeys(admin, `cache:${app}:*`);
    admin.disconnect();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Items `from`..`to` as changes of public.items. */
const items = (from: number, to: number): ItemChange[] => Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, row: { id: from + i, name: `item ${from + i}`, qty: from + i }, ts: Date.now() }));

/** Waits until the cache holds `n` item documents; fails naming the log of the process. */
async function cacheHolds(n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const docs = await readCacheDocs(admin, prefix);
    if (docs.size >= n) return;
    assert.ok(child?.exitCode === null && child.signalCode === null, `cdc-views run exited (${child?.exitCode ?? child?.signalCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    assert.ok(Date.now() < deadline, `the cache holds ${docs.size} of ${n} items after ${timeoutMs} ms; log: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await sleep(200);
  }
}

/** The user's connections: `CLIENT LIST` lines with their age, s. */
async function connectionsOf(name: string): Promise<{ id: string; age: number }[]> {
  return String(await admin.call('CLIENT', 'LIST'))
    .split('\n')
    .filter((l) => l.includes(` user=${name} `))
    .map((l) => ({ id: /(?:^|\s)id=(\d+)/.exec(l)![1]!, age: Number(/ age=(\d+)/.exec(l)![1]) }));
}

/** Changes the user's password on the server and kills its connections; returns how many were killed. */
async function rotateOnServer(password: string): Promise<number> {
  await admin.call('ACL', 'SETUSER', user, 'resetpass', `>${password}`);
  return Number(await admin.call('CLIENT', 'KILL', 'USER', user));
}

/** Whether a fresh connection may log in as the user with a password. */
async function logsIn(password: string): Promise<boolean> {
  const probe = adminClient();
  try {
    await probe.call('AUTH', user, password);
    return true;
  } catch (err) {
    assert.match(String(err), /WRONGPASS/);
    return false;
  } finally {
    probe.disconnect();
  }
}

test('a password rotated on the server and in the secret file is picked up by the running process, without a restart', async (t) => {
  const started = Date.now();
  const first = newPassword();
  writeFileSync(passwordFile, `${first}\n`);
  await copyCdcvUser(admin, user, first);
  await produceChanges(producer, topic, items(1, 50));
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', app, '--topics', `^${topic.replaceAll('.', '\\.')}$`, '--topology', writeTopology(), '--http-port', '0'], {
    stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
    env: { ...process.env, CDCV_LOG_LEVEL: 'info', ...tlsEnv(user, passwordFile) },
  });
  const pid = child.pid;
  await cacheHolds(50);
  assert.ok((await connectionsOf(user)).length > 0, 'the process is connected as its own ACL user');
  t.diagnostic(`running, 50 items cached, ${Date.now() - started} ms`);

  // 1. The file first, then the server: the reconnection uses the new password at once.
  await admin.call('ACL', 'LOG', 'RESET');
  const second = newPassword();
  writeFileSync(passwordFile, `${second}\n`);
  const killed = await rotateOnServer(second);
  assert.ok(killed > 0, 'CLIENT KILL cut the connections of the process');
  const rotatedAt = Date.now();
  await produceChanges(producer, topic, items(51, 100));
  await cacheHolds(100);
  const fresh = await connectionsOf(user);
  assert.ok(fresh.length > 0 && fresh.every((c) => c.age <= Math.ceil((Date.now() - rotatedAt) / 1000)), `the process reconnected after the kill: ${JSON.stringify(fresh)}`);
  assert.deepEqual((await aclLog(admin, user)).filter((e) => e.reason === 'auth'), [], 'the reconnection was not refused: it used the new password');
  assert.equal(await logsIn(first), false, 'the old password is refused by the server');
  assert.equal(await logsIn(second), true);
  t.diagnostic(`rotation 1 (file, then server): picked up, ${Date.now() - started} ms`);

  // 2. The server first, the file later: refused meanwhile, then picked up.
  await admin.call('ACL', 'LOG', 'RESET');
  const third = newPassword();
  assert.ok((await rotateOnServer(third)) > 0, 'CLIENT KILL cut the connections again');
  const deadline = Date.now() + 20_000;
  while (!(await aclLog(admin, user)).some((e) => e.reason === 'auth')) {
    assert.ok(Date.now() < deadline, 'the process tried to reconnect with the old password and the server refused it');
    await sleep(100);
  }
  await produceChanges(producer, topic, items(101, 150));
  await sleep(3000); // a while of refused reconnections, as while a Secret volume catches up
  writeFileSync(passwordFile, `${third}\n`);
  await cacheHolds(150, 90_000);
  assert.equal(child.pid, pid);
  assert.ok(child.exitCode === null && child.signalCode === null, 'still the same process');
  t.diagnostic(`rotation 2 (server, then file 3 s later): picked up, ${Date.now() - started} ms`);
  const messages = new Map<string, number>();
  for (const m of readFileSync(logFile, 'utf8').matchAll(/"msg":"([^"]*)"/g)) messages.set(m[1]!, (messages.get(m[1]!) ?? 0) + 1);
  t.diagnostic(`log of the process: ${[...messages].map(([m, n]) => `${n}× ${m}`).join('; ')}`);

  child.kill('SIGTERM');
  assert.equal(await exited(child), 0, `a graceful stop after the rotations: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
  assert.ok(!readFileSync(logFile, 'utf8').includes(first) && !readFileSync(logFile, 'utf8').includes(second) && !readFileSync(logFile, 'utf8').includes(third), 'no password in the log');
});

/** A cache-only topology over public.items (in the temporary directory). */
function writeTopology(): string {
  const dsl = new URL('../../../src/topology/dsl.ts', import.meta.url).pathname;
  const file = join(dir, 'items.topology.ts');
  writeFileSync(
    file,
    `import { StreamsBuilder } from ${JSON.stringify(dsl)};
const b = new StreamsBuilder('rrot');
b.table('public.items').view('item').mapValues((row) => ({ id: row.id, name: row.name, qty: row.qty })).as('item').toCache();
export default b.build();
`,
  );
  return file;
}
