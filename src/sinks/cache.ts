/**
 * The cache sink: one Redis string per document holding its JSON, written with
 * compare-and-set on the render sequence (lua/cache-write.lua) so an older
 * render never overwrites a newer one, optional TTL, delete on delete.
 */
import type { Redis } from 'ioredis';
import { withScripts } from '../state/store.ts';
import type { CacheSinkSpec } from '../topology/topology.ts';

/** One rendered document. `doc` null means: remove the document. */
export interface RenderedDoc {
  keyString: string;
  /** Render sequence number: the highest one wins. */
  seq: number;
  doc: Record<string, unknown> | null;
}

export class CacheSink {
  private readonly redis;

  constructor(redis: Redis, readonly spec: CacheSinkSpec) {
    this.redis = withScripts(redis);
  }

  /** The hash holding the highest sequence written per document key. */
  get seqKey(): string {
    return `${this.spec.prefix}__seq`;
  }

  /** Redis key of the document for a canonical key string. */
  docKey(keyString: string): string {
    return `${this.spec.prefix}${keyString}`;
  }

  /** Writes documents; returns how many were written and how many were older than what the cache holds. */
  async write(docs: readonly RenderedDoc[]): Promise<{ written: number; skipped: number }> {
    if (docs.length === 0) return { written: 0, skipped: 0 };
    const args: (string | number)[] = [this.spec.prefix, this.spec.ttlSeconds ?? 0];
    for (const d of docs) args.push(d.keyString, d.seq, d.doc === null ? '' : JSON.stringify(d.doc));
    const [written, skipped] = await this.redis.cdcvCacheWrite(1, this.seqKey, ...args);
    return { written, skipped };
  }
}
