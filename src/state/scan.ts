/**
 * Iteration over Redis keyspaces and hashes that always runs to the end
 * (cursor 0): one SCAN or HSCAN page is never taken for the whole answer.
 */
import type { Redis } from 'ioredis';

/** Pages of a hash's entries (HSCAN until the cursor returns to 0). */
export async function* hscanPages(redis: Redis, key: string, count = 1000): AsyncGenerator<[string, string][]> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count);
    cursor = next;
    const page: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) page.push([flat[i]!, flat[i + 1]!]);
    if (page.length > 0) yield page;
  } while (cursor !== '0');
}

/** Pages of key names matching a SCAN pattern (until the cursor returns to 0). */
export async function* scanKeys(redis: Redis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    if (batch.length > 0) yield batch;
  } while (cursor !== '0');
}

/** Unlinks every key matching a SCAN pattern; returns how many were removed. */
export async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  let removed = 0;
  for await (const page of scanKeys(redis, pattern)) removed += await redis.unlink(...page);
  return removed;
}
