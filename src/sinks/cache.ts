/**
 * The cache sink: one Redis string per document holding its JSON, written with
 * compare-and-set on the render sequence (lua/cache-write.lua) so an older
 * render never overwrites a newer one, optional TTL, delete on delete.
 */
import type { Redis } from 'ioredis';
import { withScripts } from '../state/store.ts';
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

export class CacheSink implements Sink {
  private readonly redis;
  readonly name: string;

  constructor(redis: Redis, readonly spec: CacheSinkPlan) {
    this.redis = withScripts(redis);
    this.name = `cache:${spec.prefix}`;
  }

  /** Nothing to create: Redis keys appear on first write. */
  async init(): Promise<void> {}

  /** The Redis client belongs to the caller. */
  async close(): Promise<void> {}

  /** The hash holding the highest sequence written per document key. */
  get seqKey(): string {
    return `${this.spec.prefix}__seq`;
  }

  /** Redis key of the document for a canonical key string. */
  docKey(keyString: string): string {
    return `${this.spec.prefix}${keyString}`;
  }

  /** Writes documents; returns how many were written and how many were older than what the cache holds. */
  async write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    if (docs.length === 0) return { written: 0, skipped: 0 };
    const args: (string | number)[] = [this.spec.prefix, this.spec.ttlSeconds];
    for (const d of docs) args.push(d.keyString, d.seq, d.doc === null ? '' : JSON.stringify(d.doc));
    try {
      const [written, skipped] = await this.redis.cdcvCacheWrite(1, this.seqKey, ...args);
      return { written, skipped };
    } catch (err) {
      // One atomic script: on a connection error nothing (or everything) was written, and a retry is idempotent.
      if (isConnectionError(err)) throw new SinkUnavailableError(this.name, (err as Error).message, 1000, { cause: err });
      throw err;
    }
  }
}
