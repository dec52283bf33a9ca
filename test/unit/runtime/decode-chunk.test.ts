/**
 * Pipelined decoding (src/runtime/decode-chunk.ts) with the production
 * Debezium JSON decoder: a chunk prefetched is decoded once, its records
 * before the stored position are left out (dead letters too), a prefetch of
 * another chunk is ignored, and a prefetch that met a retriable error is
 * decoded again the usual way, paused with backoff — never dead-lettered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { jsonDecoder, type RecordDecoder } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { createMetrics } from '../../../src/metrics/catalogue.ts';
import { Backpressure } from '../../../src/runtime/backpressure.ts';
import { ChunkDecoder } from '../../../src/runtime/decode-chunk.ts';
import type { DeadLetter } from '../../../src/runtime/dlq.ts';
import { debeziumMessage, kafkaMessage, silentLog } from './helpers.ts';

const TABLE = 'public.customers';
const chunk = (from: number, n: number): KafkaMessage[] => Array.from({ length: n }, (_, i) => debeziumMessage(from + i, TABLE, from + i, 'c', { id: from + i, name: `c${from + i}` }));

/** The production decoder, counting its calls per offset; `fail` makes the first decode of an offset a retriable error. */
function counting(fail = new Set<string>()): RecordDecoder & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    decode: (r) => {
      calls.set(r.offset, (calls.get(r.offset) ?? 0) + 1);
      if (fail.delete(r.offset)) return Promise.reject(new CdcViewsError('REGISTRY_UNAVAILABLE', 'schema registry down', { retriable: true }));
      return jsonDecoder.decode(r);
    },
  };
}

function decoderWith(d: RecordDecoder): ChunkDecoder {
  const backpressure = new Backpressure('app', createMetrics(new Registry(), { defaultMetrics: false }), silentLog, new AbortController().signal);
  return new ChunkDecoder(d, backpressure, 'demo.public.customers', 0, () => Promise.resolve());
}

const ids = (out: readonly unknown[]): unknown[] => out.map((r) => (r && typeof r === 'object' && 'key' in r ? r.key : r));

test('a prefetched chunk is decoded once; records before the stored position and their dead letters are left out', async () => {
  const d = counting();
  const decoder = decoderWith(d);
  const next = [...chunk(10, 3), kafkaMessage(13, 'k', '{not json'), ...chunk(14, 1)];
  decoder.prefetch(next);
  const letters: DeadLetter[] = [];
  const out = await decoder.decode(next, next, letters);
  assert.deepEqual(ids(out), [{ id: 10 }, { id: 11 }, { id: 12 }, null, { id: 14 }]);
  assert.deepEqual(letters.map((l) => l.message.offset), ['13']);
  assert.ok([...d.calls.values()].every((n) => n === 1), 'each record decoded once');

  // The stored position is 14: the suffix from it; the bad record at 13 is before it.
  const again = [...next];
  decoder.prefetch(again);
  const suffixLetters: DeadLetter[] = [];
  assert.deepEqual(ids(await decoder.decode(again, again.slice(4), suffixLetters)), [{ id: 14 }]);
  assert.deepEqual(suffixLetters, []);
});

test('a prefetch of another chunk is ignored (a seek came between): the chunk given is decoded', async () => {
  const d = counting();
  const decoder = decoderWith(d);
  decoder.prefetch(chunk(0, 2));
  const other = chunk(50, 2);
  assert.deepEqual(ids(await decoder.decode(other, other, [])), [{ id: 50 }, { id: 51 }]);
  // Nothing is left behind for a later chunk.
  const later = chunk(0, 2);
  assert.deepEqual(ids(await decoder.decode(later, later, [])), [{ id: 0 }, { id: 1 }]);
  assert.equal(d.calls.get('0'), 2, 'the ignored prefetch decoded it once, the later chunk again');
});

test('a prefetch that met a retriable error is decoded again the usual way; nothing is dead-lettered', async () => {
  const d = counting(new Set(['1']));
  const decoder = decoderWith(d);
  const next = chunk(0, 3);
  decoder.prefetch(next);
  const letters: DeadLetter[] = [];
  assert.deepEqual(ids(await decoder.decode(next, next, letters)), [{ id: 0 }, { id: 1 }, { id: 2 }]);
  assert.deepEqual(letters, []);
  assert.equal(d.calls.get('1'), 2, 'the record that failed in the prefetch was decoded again');
});
