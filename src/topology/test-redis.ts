/**
 * A Redis for topology tests: a private `redis-server` (from the PATH) on a
 * Unix socket in a temporary folder, without persistence, started once per
 * process on first use and stopped when the process exits. Tests need no
 * Redis of their own and never touch one that holds data; set
 * `CDCV_TEST_REDIS_URL` to use a running server instead (every driver then
 * works under its own applicationId and removes its keys on `close()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';

/** Environment variable naming a Redis URL to use instead of starting a private server. */
export const TEST_REDIS_ENV = 'CDCV_TEST_REDIS_URL';

/** How long a private server may take to accept connections, ms. */
const START_TIMEOUT_MS = 10_000;

let server: Promise<{ socket: string; child: ChildProcess }> | undefined;

function startServer(): Promise<{ socket: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'cdcv-test-redis-'));
  const socket = join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  // The server must not keep the test process alive, and must not outlive it.
  child.unref();
  process.once('exit', () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return new Promise((resolve, reject) => {
    const started = Date.now();
    child.once('error', (err) => reject(new CdcViewsError('TEST_REDIS_UNAVAILABLE', `cannot start redis-server for the topology test driver (${err.message}); install Redis (apt-get install redis-server) or set ${TEST_REDIS_ENV}`, { cause: err })));
    const probe = (): void => {
      // Until the server creates its socket a connection can only fail. A probe that fails must not keep the process
      // alive: ioredis' disconnect() of a stream that never connected waits disconnectTimeout (2 s) before destroying it.
      if (!existsSync(socket) && Date.now() - started <= START_TIMEOUT_MS) {
        setTimeout(probe, 20);
        return;
      }
      const client = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 0 });
      client
        .connect()
        .then(() => {
          client.disconnect();
          resolve({ socket, child });
        })
        .catch(() => {
          client.disconnect();
          if (Date.now() - started > START_TIMEOUT_MS) reject(new CdcViewsError('TEST_REDIS_UNAVAILABLE', `redis-server did not accept connections on ${socket} within ${START_TIMEOUT_MS} ms`));
          else setTimeout(probe, 20);
        });
    };
    probe();
  });
}

/**
 * A new client of the test Redis: the server named by `CDCV_TEST_REDIS_URL`,
 * else the process' private server (started on first use).
 * @throws {CdcViewsError} TEST_REDIS_UNAVAILABLE when no redis-server can be started
 */
export async function connectTestRedis(): Promise<Redis> {
  const url = process.env[TEST_REDIS_ENV];
  if (url) return new Redis(url);
  server ??= startServer();
  const { socket } = await server;
  return new Redis({ path: socket });
}
