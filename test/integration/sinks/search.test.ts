/**
 * SearchIndexSink on the real OpenSearch of the local stack: the shared sink
 * conformance suite, plus what is specific to the search index (documents
 * refused for a non-retriable reason are reported by key, never dropped).
 * Outages: the node frozen with SIGSTOP (unresponsive: requests time out) and
 * stopped/started with scripts/stack/opensearch.sh (connection refused).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@opensearch-project/opensearch';
import { loadEnv } from '../../../src/config.ts';
import { SearchDocumentRejectedError, SearchIndexSink, type SearchIndexSinkOptions } from '../../../src/sinks/search.ts';
import { sinkConformance, type OutageHandle, type SinkHandle } from './conformance.ts';

const url = loadEnv().CDCV_OPENSEARCH_URL;
const repoRoot = path.resolve(import.meta.dirname, '../../..');
const stackDir = process.env.CDCV_STACK_DIR ?? path.join(repoRoot, '.stack');
const pidFile = path.join(stackDir, 'run', 'opensearch.pid');
const run = promisify(execFile);

const admin = new Client({ node: url });
after(() => admin.close());

const MAPPINGS = { properties: { id: { type: 'long' }, seq: { type: 'long' }, name: { type: 'text' } } };

function handle(options: Partial<SearchIndexSinkOptions> = {}): SinkHandle & { sink: SearchIndexSink; index: string } {
  const index = `cdcv-test-${randomUUID().slice(0, 8)}`;
  const sink = new SearchIndexSink({ node: url, index, mappings: MAPPINGS, settings: { number_of_shards: 2, number_of_replicas: 0 }, ...options });
  return {
    sink,
    index,
    // GET by id is real-time (reads the translog): no refresh needed.
    read: async (keyString) => {
      const r = await admin.get({ index, id: keyString }, { ignore: [404] });
      return r.body.found ? (r.body._source as Record<string, unknown>) : null;
    },
    cleanup: async () => {
      await sink.close();
      await admin.indices.delete({ index }, { ignore: [404] });
    },
  };
}

async function waitHealthy(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await admin.cluster.health({ wait_for_status: 'yellow', timeout: '2s' }, { requestTimeout: 5000 });
      if (!r.body.timed_out) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`OpenSearch at ${url} not healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const localPid = (): number => Number(readFileSync(pidFile, 'utf8').trim());
const local = existsSync(pidFile);

sinkConformance('search index (OpenSearch)', {
  create: () => Promise.resolve(handle()),
  unavailableWithinMs: 15_000,
  atomicWrites: false,
  outages: local
    ? [
        {
          name: 'node frozen (SIGSTOP)',
          create: (): Promise<OutageHandle> => {
            const h = handle();
            const pid = localPid();
            return Promise.resolve({
              ...h,
              interrupt: () => Promise.resolve(void process.kill(pid, 'SIGSTOP')),
              resume: async () => {
                process.kill(pid, 'SIGCONT');
                await waitHealthy(60_000);
              },
            });
          },
        },
        {
          name: 'node stopped (opensearch.sh stop/start)',
          create: (): Promise<OutageHandle> => {
            const h = handle();
            return Promise.resolve({
              ...h,
              interrupt: async () => void (await run('bash', [path.join(repoRoot, 'scripts/stack/opensearch.sh'), 'stop'])),
              resume: async () => {
                await run('bash', [path.join(repoRoot, 'scripts/stack/opensearch.sh'), 'start']);
                await waitHealthy(60_000);
              },
            });
          },
        },
      ]
    : [],
});

describe('search index specifics', () => {
  it('reports documents refused by the mapping by key and reason, and writes the others', async (t) => {
    const h = handle();
    t.after(() => h.cleanup());
    await h.sink.init();
    const bad = { keyString: '{"id":2}', seq: 1, doc: { id: 'not a number', seq: 1 } };
    const err = await h.sink.write([{ keyString: '{"id":1}', seq: 1, doc: { id: 1, seq: 1 } }, bad]).then(
      () => assert.fail('expected SearchDocumentRejectedError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SearchDocumentRejectedError, String(err));
    assert.equal(err.retriable, false);
    assert.equal(err.code, 'SINK_DOCUMENT_REJECTED');
    assert.deepEqual(err.documents.map((r) => [r.keyString, r.status, r.type]), [['{"id":2}', 400, 'mapper_parsing_exception']]);
    assert.match(err.message, /\{"id":2\}.*mapper_parsing_exception/);
    assert.equal(err.written, 1);
    assert.deepEqual(await h.read('{"id":1}'), { id: 1, seq: 1 });
    assert.equal(await h.read('{"id":2}'), null);
  });

  it('init creates the index with its mappings; racing inits are fine', async (t) => {
    const h = handle();
    t.after(() => h.cleanup());
    const other = new SearchIndexSink({ node: url, index: h.index, mappings: MAPPINGS });
    t.after(() => other.close());
    await Promise.all([h.sink.init(), other.init(), h.sink.init()]);
    const m = await admin.indices.getMapping({ index: h.index });
    assert.deepEqual((m.body[h.index]?.mappings as { properties?: unknown }).properties, MAPPINGS.properties);
  });

  it('splits large batches by document count and bytes', async (t) => {
    const h = handle({ maxBulkDocs: 7, maxBulkBytes: 2000 });
    t.after(() => h.cleanup());
    await h.sink.init();
    const docs = Array.from({ length: 100 }, (_, i) => ({ keyString: JSON.stringify({ id: i }), seq: 1, doc: { id: i, seq: 1, name: 'x'.repeat(i * 10) } }));
    assert.deepEqual(await h.sink.write(docs), { written: 100, skipped: 0 });
    await h.sink.refresh();
    const c = await admin.count({ index: h.index });
    assert.equal(c.body.count, 100);
  });
});
