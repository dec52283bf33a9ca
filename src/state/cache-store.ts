/**
 * The Redis side of the cache sink and of its readers: sequence-guarded
 * document writes (lua/cache-write.lua) and reads of a promoted version
 * atomically with its namespace pointer (lua/read-cache.lua). Key names come
 * from {@link CacheKeys}.
 */
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';
import { CacheKeys } from './keys.ts';
import { unlinkMatching } from './scan.ts';
import { Scripts } from './scripts.ts';

/** One document write: its canonical key string, render sequence and JSON (null: delete). */
export interface CacheDocumentWrite {
  keyString: string;
  seq: number;
  doc: Record<string, unknown> | null;
}

/** One cache namespace (a sink's resolved prefix). */
export class CacheStore {
  readonly keys: CacheKeys;
  private readonly scripts: Scripts;

  constructor(readonly redis: Redis, prefix: string) {
    this.keys = new CacheKeys(prefix);
    this.scripts = new Scripts(redis);
  }

  /**
   * Writes documents in one atomic step, each only when its sequence is
   * higher than the one the cache holds for it.
   * @param ttlSeconds expiry of each written document, 0 for none
   * @returns how many were written and how many skipped as older
   */
  async write(docs: readonly CacheDocumentWrite[], ttlSeconds: number): Promise<{ written: number; skipped: number }> {
    if (docs.length === 0) return { written: 0, skipped: 0 };
    const keys = [this.keys.sequences, ...docs.map((d) => this.keys.document(d.keyString))];
    const args: (string | number)[] = [ttlSeconds];
    for (const d of docs) args.push(d.keyString, d.seq, d.doc === null ? '' : JSON.stringify(d.doc));
    const [written, skipped] = await this.scripts.cacheWrite(keys, args);
    return { written, skipped };
  }

  /** Reads one document of this namespace (not through a pointer). */
  async read(keyString: string): Promise<Record<string, unknown> | null> {
    const v = await this.redis.get(this.keys.document(keyString));
    return v === null ? null : (JSON.parse(v) as Record<string, unknown>);
  }

  /**
   * Deletes the namespace's documents and sequence hash; returns how many
   * keys. Only names this namespace writes are matched (a document name is
   * the prefix and a canonical key, which starts with `{`), never another
   * namespace whose prefix merely starts the same (`…-v1` vs `…-v10`).
   */
  async destroy(): Promise<number> {
    return (await unlinkMatching(this.redis, this.keys.documentPattern)) + (await this.redis.unlink(this.keys.sequences));
  }
}

/**
 * Reads documents of the version a cache pointer names, atomically with the
 * pointer: the prefix is read first, then the documents under it are read in
 * one script that checks the pointer still names that prefix (retrying when a
 * promotion switched it in between).
 * @returns the prefix the documents came from (null when nothing is promoted) and each document (null when absent)
 * @throws {CdcViewsError} CACHE_POINTER_UNSTABLE when the pointer changed on 10 consecutive attempts
 */
export async function readThroughPointer(redis: Redis, pointerKey: string, keyStrings: readonly string[]): Promise<{ prefix: string | null; docs: (Record<string, unknown> | null)[] }> {
  const scripts = new Scripts(redis);
  let prefix = await redis.get(pointerKey);
  for (let attempt = 0; attempt < 10; attempt++) {
    if (prefix === null) return { prefix: null, docs: keyStrings.map(() => null) };
    const keys = new CacheKeys(prefix);
    const reply = await scripts.readCache([pointerKey, ...keyStrings.map((k) => keys.document(k))], prefix);
    if (reply[0] === 1) {
      return { prefix, docs: reply.slice(1).map((d) => (typeof d === 'string' ? (JSON.parse(d) as Record<string, unknown>) : null)) };
    }
    prefix = reply[1];
  }
  throw new CdcViewsError('CACHE_POINTER_UNSTABLE', `the cache pointer ${pointerKey} changed on every read; is a promotion loop running?`);
}
