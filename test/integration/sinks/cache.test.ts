/**
 * CacheSink on real Redis: the shared sink conformance suite. Ordinary cases
 * use the stack's Redis under a unique key prefix; the outage cases start a
 * separate redis-server on a free port (the main one holds everyone's state)
 * with an fsync-always append-only file, and kill it (SIGKILL, then restart on
 * the same files) or freeze it (SIGSTOP/SIGCONT).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { loadEnv } from '../../../src/config.ts';
import { CacheSink } from '../../../src/sinks/cache.ts';
import { sinkConformance, type OutageHandle, type SinkHandle } from './conformance.ts';

const redisUrl = loadEnv().CDCV_REDIS_URL;

function handle(redis: Redis, closeRedis: boolean): SinkHandle & { sink: CacheSink } {
  const prefix = `cache:conformance_${randomUUID().slice(0, 8)}:`;
  const sink = new CacheSink(redis, { kind: 'cache', prefix, ttlSeconds: 0 });
  return {
    sink,
    read: async (keyString) => {
      const json = await redis.get(sink.store.keys.document(keyString));
      return json === null ? null : (JSON.parse(json) as Record<string, unknown>);
    },
    cleanup: async () => {
      await sink.close();
      for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
        if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
      }
      if (closeRedis) redis.disconnect();
      else await redis.quit();
    },
  };
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** A private redis-server (its own port and files) that a test may kill, restart and freeze. */
async function privateRedis(): Promise<{ url: string; kill(): Promise<void>; start(): Promise<void>; proc(): ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cdcv-redis-'));
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens; connect() reports it
    try {
      for (let i = 0; ; i++) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      probe.disconnect();
    }
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    kill,
    proc: () => child,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function outageHandle(mode: 'kill' | 'freeze'): Promise<OutageHandle> {
  const server = await privateRedis();
  // The client as the application creates it: ioredis defaults (reconnects, 20 retries per request).
  const redis = new Redis(server.url);
  redis.on('error', () => {}); // connection errors while the server is down are expected; writes report them
  const h = handle(redis, true);
  return {
    ...h,
    interrupt: async () => {
      if (mode === 'kill') await server.kill();
      else server.proc().kill('SIGSTOP');
    },
    resume: async () => {
      if (mode === 'kill') await server.start();
      else server.proc().kill('SIGCONT');
    },
    cleanup: async () => {
      await h.cleanup();
      await server.stop();
    },
  };
}

sinkConformance('cache (Redis)', {
  create: () => Promise.resolve(handle(new Redis(redisUrl), false)),
  unavailableWithinMs: 15_000,
  atomicWrites: true,
  outages: [
    { name: 'redis-server killed and restarted', create: () => outageHandle('kill') },
    { name: 'redis-server frozen (SIGSTOP)', create: () => outageHandle('freeze') },
  ],
});
