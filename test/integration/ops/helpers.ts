/**
 * Helpers of the operator-command tests: Debezium-shaped JSON records with
 * explicit record timestamps, a small topology over them, and the CLI.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { brokers, cfg } from '../helpers.ts';

export const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });

export const DAY = 86_400_000;

/** One change of table public.items: an upsert (row) or a delete (null), at a record timestamp. */
export interface ItemChange {
  id: number;
  row: { id: number; name: string; qty: number } | null;
  ts: number;
}

/** Debezium JSON (schemas off) for a change, plus the tombstone after a delete. */
export function itemRecords(c: ItemChange): { key: string; value: string | null; timestamp: string }[] {
  const key = JSON.stringify({ id: c.id });
  const source = { connector: 'postgresql', name: 'test', ts_ms: c.ts, snapshot: 'false', db: 'test', schema: 'public', table: 'items' };
  const envelope = c.row === null ? { before: { id: c.id }, after: null, op: 'd', source, ts_ms: c.ts } : { before: null, after: c.row, op: 'u', source, ts_ms: c.ts };
  const out = [{ key, value: JSON.stringify(envelope), timestamp: String(c.ts) }];
  if (c.row === null) out.push({ key, value: null as unknown as string, timestamp: String(c.ts) });
  return out;
}

/** Items 1..n created (`item <i>`, qty i), one a millisecond from `startMs` on. */
export function itemCreates(n: number, startMs = Date.now() - 60_000): ItemChange[] {
  return Array.from({ length: n }, (_, k) => ({ id: k + 1, row: { id: k + 1, name: `item ${k + 1}`, qty: k + 1 }, ts: startMs + k + 1 }));
}

export async function produceChanges(producer: Producer, topic: string, changes: readonly ItemChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += 500) {
    await producer.send({ topic, messages: changes.slice(i, i + 500).flatMap(itemRecords) });
  }
}

export async function newProducer(): Promise<Producer> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

export async function newAdmin(): Promise<Admin> {
  const admin = kafka.admin();
  await admin.connect();
  return admin;
}

/**
 * A topology over public.items: one cache document per item. `rev` is
 * written into every document so that two versions' documents differ (a
 * reader can tell which version answered).
 */
export function itemsTopology(name: string, rev: string): TopologyPlan {
  const b = new StreamsBuilder(name);
  b.table('public.items')
    .view('item')
    .mapValues((row) => ({ id: row.id, name: row.name, qty: row.qty, rev }))
    .as('item')
    .toCache()
    .toSearchIndex({ mappings: { properties: { id: { type: 'long' }, rev: { type: 'keyword' } } } });
  return b.build();
}

/** Runs the CLI (log level warn unless `env` says otherwise); resolves with exit code, stdout and stderr. */
export function cli(args: string[], timeoutMs = 120_000, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, CDCV_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cdc-views ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    // 'close', not 'exit': the output streams are read to their end.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Deletes every Redis key matching a pattern. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (batch.length > 0) await redis.unlink(...batch);
  } while (cursor !== '0');
}

/** Writes {@link itemsTopology} as a module file for the CLI (in the temp directory); returns its path. */
export function itemsTopologyFile(name: string, rev: string): string {
  const dsl = new URL('../../../src/topology/dsl.ts', import.meta.url).pathname;
  const file = join(tmpdir(), `${name}-${rev}.topology.ts`);
  writeFileSync(
    file,
    `import { StreamsBuilder } from ${JSON.stringify(dsl)};
const b = new StreamsBuilder(${JSON.stringify(name)});
b.table('public.items').view('item').mapValues((row) => ({ id: row.id, name: row.name, qty: row.qty, rev: ${JSON.stringify(rev)} })).as('item').toCache().toSearchIndex({ mappings: { properties: { id: { type: 'long' }, rev: { type: 'keyword' } } } });
export default b.build();
`,
  );
  return file;
}

/**
 * Removes what an items topology `name` and its versions left behind: state,
 * cache keys and consumer groups of `<name>-<version>`, its registry and
 * cache pointers, its search indexes, its source topic and DLQ topics.
 */
export async function dropItemsTopology(redis: Redis, admin: Admin, name: string, versions: readonly string[], topic: string): Promise<void> {
  for (const v of versions) {
    await deleteKeys(redis, `cdcv:${name}-${v}:*`);
    await deleteKeys(redis, `cache:${name}-${v}:*`);
    await admin.deleteGroups([`${name}-${v}`]).catch(() => undefined);
  }
  await deleteKeys(redis, `cdcv:topology:${name}:*`);
  await deleteKeys(redis, `cache:${name}:*`);
  await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${name}-*`, { method: 'DELETE' }).catch(() => undefined);
  const existing = await admin.listTopics();
  await admin.deleteTopics({ topics: [topic, ...existing.filter((t) => t.startsWith(`cdcv.${name}-`))].filter((t) => existing.includes(t)) }).catch(() => undefined);
}
