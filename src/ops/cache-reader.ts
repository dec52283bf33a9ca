/**
 * How applications read a promoted cache (the reader contract).
 *
 * A topology's cache documents live under one prefix per version
 * (`cache:<topology>-<v>:<view>:`). `cdc-views promote` points the key
 * `cache:<topology>:<view>:__current` (for the default prefix template
 * `cache:{app}:<view>:`) at the promoted version's prefix. A reader GETs the
 * pointer, then GETs `<prefix><canonical key>`; {@link readCacheDocuments}
 * does both in one Lua step (lua/read-cache.lua), so a multi-key read never
 * mixes versions. Readers in other languages can EVAL the same script, or GET
 * the pointer and then the document: the old version's keys stay until it is
 * dropped, so the two-step read is safe except across a `drop`.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { cachePointerKey } from './versions.ts';

const LUA = readFileSync(new URL('./lua/read-cache.lua', import.meta.url), 'utf8');

interface ReaderRedis extends Redis {
  cdcvReadCache(numKeys: number, ...args: string[]): Promise<(string | null)[]>;
}

/** Result of a read: the prefix (version) the documents came from, and each document (null when absent). */
export interface CacheRead {
  prefix: string | null;
  docs: (Record<string, unknown> | null)[];
}

/**
 * Reads documents of a promoted cache view atomically with its pointer.
 * @param prefixTemplate the view's cache prefix template. @defaultValue `cache:{app}:<view>:`
 */
export async function readCacheDocuments(redis: Redis, topology: string, view: string, keyStrings: readonly string[], prefixTemplate = `cache:{app}:${view}:`): Promise<CacheRead> {
  const r = redis as ReaderRedis;
  if (typeof r.cdcvReadCache !== 'function') redis.defineCommand('cdcvReadCache', { lua: LUA });
  const reply = await (redis as ReaderRedis).cdcvReadCache(1, cachePointerKey(prefixTemplate, topology), ...keyStrings);
  if (reply.length === 0) return { prefix: null, docs: keyStrings.map(() => null) };
  return { prefix: reply[0] ?? null, docs: reply.slice(1).map((d) => (typeof d === 'string' ? (JSON.parse(d) as Record<string, unknown>) : null)) };
}

/** One document of a promoted cache view; null when absent or nothing is promoted. */
export async function readCacheDocument(redis: Redis, topology: string, view: string, keyString: string, prefixTemplate?: string): Promise<Record<string, unknown> | null> {
  return (await readCacheDocuments(redis, topology, view, [keyString], prefixTemplate)).docs[0] ?? null;
}
