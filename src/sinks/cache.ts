/**
 * The cache sink: one Redis string per document holding its JSON, written with
 * compare-and-set on the render sequence (lua/cache-write.lua) so an older
 * render never overwrites a newer one, optional TTL, delete on delete.
 */
import type { Redis } from 'ioredis';
import { CacheStore } from '../state/cache-store.ts';
import type { CacheSinkPlan } from '../topology/plan.ts';
import { SinkUnavailableError, type Sink, type SinkWrite, type SinkWriteResult } from './sink.ts';

/** ioredis connection-level failures (as opposed to script errors). */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' ||
    err.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable/.test(err.message)
  );
}

/** Options of {@link CacheSink}. */
export interface CacheSinkOptions {
  /**
   * Longest wait for Redis to answer one `write`, ms; then `write` throws
   * {@link SinkUnavailableError}. Without it a frozen or unreachable Redis
   * (ioredis queues commands while reconnecting and has no command timeout by
   * default) would stall the write indefinitely. @defaultValue 5000
   */
  writeTimeoutMs?: number;
}

export class CacheSink implements Sink {
  readonly store: CacheStore;
  readonly name: string;
  private readonly writeTimeoutMs: number;

  constructor(redis: Redis, readonly spec: CacheSinkPlan, options: CacheSinkOptions = {}) {
    this.store = new CacheStore(redis, spec.prefix);
    this.name = `cache:${spec.prefix}`;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 5000;
  }

  /** Nothing to create: Redis keys appear on first write. */
  async init(): Promise<void> {}

  /** The Redis client belongs to the caller. */
  async close(): Promise<void> {}

  /** Writes documents; returns how many were written and how many were older than what the cache holds. */
  async write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    if (docs.length === 0) return { written: 0, skipped: 0 };
    // One atomic script: on a connection error or a timeout nothing (or everything) was written, and a retry is
    // idempotent. A timed-out script may still run once Redis answers again (it stays queued in the client); being
    // atomic and sequence-guarded, that is harmless.
    const call = this.store.write(docs, this.spec.ttlSeconds);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SinkUnavailableError(this.name, `no reply from Redis within ${this.writeTimeoutMs} ms`, 1000)), this.writeTimeoutMs);
    });
    try {
      return await Promise.race([call, timeout]);
    } catch (err) {
      if (err instanceof SinkUnavailableError) throw err;
      if (isConnectionError(err)) throw new SinkUnavailableError(this.name, (err as Error).message, 1000, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      call.catch(() => {}); // a late failure of the abandoned call is not this write's result any more
    }
  }
}
