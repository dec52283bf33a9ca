/**
 * Chunk compaction (src/runtime/chunk.ts), a pure function: the newest event
 * per key, segments split at truncates, tombstones, logical messages, keyless
 * events, stream events, versions and latencies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecodedRecord } from '../../../src/cdc/types.ts';
import { compactChunk, type PendingWrite, type Segment } from '../../../src/runtime/chunk.ts';
import { changeEvent, kafkaMessage } from './helpers.ts';

const TOPIC = 'demo.public.orders';
const ORDERS = 'public.orders';
const LINES = 'public.order_lines';

/** Messages at offsets `first`… for the decoded records (the compaction only reads their offsets). */
function chunkOf(first: number, decoded: (DecodedRecord | null)[]): { messages: ReturnType<typeof kafkaMessage>[]; decoded: (DecodedRecord | null)[] } {
  return { messages: decoded.map((_, i) => kafkaMessage(first + i, null, null)), decoded };
}

const writesOf = (segment: Segment): PendingWrite[] => [...segment.writes.values()];

test('the newest event per (table, key) wins, and the order follows each key\'s newest event', () => {
  const { messages, decoded } = chunkOf(100, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'a' }, 100, 11),
    changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 101, 12),
    changeEvent(LINES, { id: 1 }, 'c', { line: 1 }, 102, 13),
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 'b' }, 103, 14),
  ]);
  const out = compactChunk(TOPIC, 0, messages, decoded, new Set());
  assert.equal(out.segments.length, 1);
  assert.deepEqual(writesOf(out.segments[0]!), [
    { write: { table: ORDERS, keyString: '{"id":2}', version: 101n, row: { id: 2 } }, tsMs: 12 },
    { write: { table: LINES, keyString: '{"id":1}', version: 102n, row: { line: 1 } }, tsMs: 13 },
    { write: { table: ORDERS, keyString: '{"id":1}', version: 103n, row: { id: 1, s: 'b' } }, tsMs: 14 },
  ]);
  assert.equal(out.segments[0]!.truncate, undefined);
  assert.equal(out.tombstones, 0);
  assert.deepEqual(out.letters, []);
  assert.deepEqual(out.streamEvents, []);
});

test('a delete carries row null; a snapshot read carries tsMs null; the version is the record offset', () => {
  const { messages, decoded } = chunkOf(7, [changeEvent(ORDERS, { id: 1 }, 'r', { id: 1 }, 7, 70), changeEvent(ORDERS, { id: 2 }, 'd', null, 8, 80), changeEvent(ORDERS, { id: 3 }, 'u', { id: 3 }, 9, 90)]);
  assert.deepEqual(writesOf(compactChunk(TOPIC, 0, messages, decoded, new Set()).segments[0]!), [
    { write: { table: ORDERS, keyString: '{"id":1}', version: 7n, row: { id: 1 } }, tsMs: null },
    { write: { table: ORDERS, keyString: '{"id":2}', version: 8n, row: null }, tsMs: 80 },
    { write: { table: ORDERS, keyString: '{"id":3}', version: 9n, row: { id: 3 } }, tsMs: 90 },
  ]);
});

test('a delete after an update of the same key leaves only the delete; an insert after a delete only the insert', () => {
  const { messages, decoded } = chunkOf(0, [changeEvent(ORDERS, { id: 1 }, 'u', { id: 1 }, 0), changeEvent(ORDERS, { id: 1 }, 'd', null, 1), changeEvent(ORDERS, { id: 2 }, 'd', null, 2), changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 3)]);
  const writes = writesOf(compactChunk(TOPIC, 0, messages, decoded, new Set()).segments[0]!).map((p) => p.write);
  assert.deepEqual(writes, [
    { table: ORDERS, keyString: '{"id":1}', version: 1n, row: null },
    { table: ORDERS, keyString: '{"id":2}', version: 3n, row: { id: 2 } },
  ]);
});

test('truncates split the chunk into segments, each truncate with its table and its own offset', () => {
  const { messages, decoded } = chunkOf(50, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'before' }, 50),
    changeEvent(ORDERS, null, 't', null, 51),
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'after' }, 52),
    changeEvent(LINES, null, 't', null, 53),
  ]);
  const out = compactChunk(TOPIC, 0, messages, decoded, new Set());
  assert.equal(out.segments.length, 3);
  assert.deepEqual(out.segments[0]!.truncate, { table: ORDERS, offset: 51n });
  assert.deepEqual(writesOf(out.segments[0]!).map((p) => p.write.row), [{ id: 1, s: 'before' }]);
  assert.deepEqual(out.segments[1]!.truncate, { table: LINES, offset: 53n });
  assert.deepEqual(writesOf(out.segments[1]!).map((p) => [p.write.version, p.write.row]), [[52n, { id: 1, s: 'after' }]], 'an event after a truncate is not merged into the one before');
  assert.deepEqual(out.segments[2], { writes: new Map() });
});

test('tombstones are counted, logical messages and undecodable records skipped, keyless events dead-lettered', () => {
  const tombstone: DecodedRecord = { kind: 'tombstone', table: ORDERS, key: { id: 1 }, keyString: '{"id":1}', position: { topic: TOPIC, partition: 3, offset: '1', timestamp: 0 } };
  const { messages, decoded } = chunkOf(0, [
    changeEvent(ORDERS, { id: 1 }, 'd', null, 0),
    tombstone,
    changeEvent(ORDERS, null, 'm', null, 2),
    null,
    changeEvent('public.audit', null, 'c', { what: 'x' }, 4),
    tombstone,
  ]);
  const out = compactChunk(TOPIC, 3, messages, decoded, new Set());
  assert.equal(out.tombstones, 2);
  assert.deepEqual(writesOf(out.segments[0]!).map((p) => p.write.keyString), ['{"id":1}']);
  assert.equal(out.letters.length, 1);
  const [letter] = out.letters;
  assert.equal(letter!.topic, TOPIC);
  assert.equal(letter!.partition, 3);
  assert.equal(letter!.message, messages[4]);
  assert.equal(letter!.error.code, 'DECODE_NO_KEY');
  assert.equal(letter!.error.retriable, false);
  assert.match(letter!.error.message, /public\.audit has no primary key/);
});

test('change events of stream tables are collected in offset order, as well as compacted', () => {
  const events = [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'a' }, 0),
    changeEvent(LINES, { id: 9 }, 'c', { id: 9 }, 1),
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 'b' }, 2),
    changeEvent(ORDERS, { id: 2 }, 'd', null, 3),
  ];
  const { messages, decoded } = chunkOf(0, events);
  const out = compactChunk(TOPIC, 0, messages, decoded, new Set([ORDERS]));
  assert.deepEqual(out.streamEvents, [events[0], events[2], events[3]]);
  assert.equal(out.segments[0]!.writes.size, 3);
  assert.deepEqual(compactChunk(TOPIC, 0, [], [], new Set([ORDERS])), { segments: [{ writes: new Map() }], tombstones: 0, letters: [], streamEvents: [] });
});
