/**
 * How applications read a promoted cache (the reader contract).
 *
 * A topology's cache documents live under one prefix per version
 * (`cache:<topology>-<v>:<view>:`). `cdc-views promote` points the key
 * `cache:<topology>:<view>:__current` (for the default prefix template
 * `cache:{app}:<view>:`) at the promoted version's prefix. A reader GETs the
 * pointer, then GETs `<prefix><canonical key>`. {@link readCacheDocuments}
 * reads the documents in one Lua step that re-checks the pointer
 * (src/state/lua/read-cache.lua), so a multi-key read never mixes versions.
 * Readers in other languages can EVAL the same script, or GET the pointer and
 * then the document: the old version's keys stay until it is dropped, so the
 * two-step read is safe except across a `drop`.
 */
import type { Redis } from 'ioredis';
import { readThroughPointer } from '../state/cache-store.ts';
import { cachePointerKey } from './versions.ts';

/** Result of a read: the prefix (version) the documents came from, and each document (null when absent). */
export interface CacheRead {
  prefix: string | null;
  docs: (Record<string, unknown> | null)[];
}

/**
 * Reads documents of a promoted cache view atomically with its pointer.
 * @param prefixTemplate the view's cache prefix template. @defaultValue `cache:{app}:<view>:`
 * @throws {CdcViewsError} CACHE_POINTER_UNSTABLE when promotions switch the pointer on every attempt
 */
export async function readCacheDocuments(redis: Redis, topology: string, view: string, keyStrings: readonly string[], prefixTemplate = `cache:{app}:${view}:`): Promise<CacheRead> {
  return readThroughPointer(redis, cachePointerKey(prefixTemplate, topology), keyStrings);
}

/** One document of a promoted cache view; null when absent or nothing is promoted. */
export async function readCacheDocument(redis: Redis, topology: string, view: string, keyString: string, prefixTemplate?: string): Promise<Record<string, unknown> | null> {
  return (await readCacheDocuments(redis, topology, view, [keyString], prefixTemplate)).docs[0] ?? null;
}
