/**
 * Chunk compaction (src/runtime/chunk.ts), a pure function: the newest event
 * per (table, key) — the topic's table and the stream views' own tables —,
 * segments split at truncates, tombstones, logical messages, keyless events,
 * versions from the events, origins from the records, latencies, unchanged
 * TOASTed columns filled from the key's previous event, and the snapshot
 * markers the partition task records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent, DecodedRecord } from '../../../src/cdc/types.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { compactChunk, type PendingWrite, type Segment, type StreamWrites } from '../../../src/runtime/chunk.ts';
import type { StateWrite } from '../../../src/state/store.ts';
import { K, pg } from '../state/helpers.ts';
import { changeEvent, kafkaMessage } from './helpers.ts';

const TOPIC = 'demo.public.orders';
const ORDERS = 'public.orders';

/** Messages at offsets `first`… for the decoded records (the compaction only reads their offsets). */
function chunkOf(first: number, decoded: (DecodedRecord | null)[]): { messages: ReturnType<typeof kafkaMessage>[]; decoded: (DecodedRecord | null)[] } {
  return { messages: decoded.map((_, i) => kafkaMessage(first + i, null, null)), decoded };
}

const writesOf = (segment: Segment): PendingWrite[] => [...segment.writes.values()];

/** An event whose TOASTed columns Debezium could not send (dropped from `after` by the decoder). */
const toasted = (event: ChangeEvent, ...unavailable: string[]): ChangeEvent => ({ ...event, unavailable });

test('the newest event per key wins; the writes go to the topic\'s table and follow each key\'s newest event', () => {
  const { messages, decoded } = chunkOf(100, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'a' }, 100, 11),
    changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 101, 12),
    changeEvent(ORDERS, { id: 3 }, 'c', { id: 3 }, 102, 13),
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 'b' }, 103, 14),
  ]);
  const out = compactChunk(TOPIC, 0, 0, messages, decoded);
  assert.equal(out.segments.length, 1);
  assert.deepEqual(writesOf(out.segments[0]!), [
    { write: { table: TOPIC, keyString: '{"id":2}', version: K(101), origin: '0:0:101', row: { id: 2 } }, tsMs: 12 },
    { write: { table: TOPIC, keyString: '{"id":3}', version: K(102), origin: '0:0:102', row: { id: 3 } }, tsMs: 13 },
    { write: { table: TOPIC, keyString: '{"id":1}', version: K(103), origin: '0:0:103', row: { id: 1, s: 'b' } }, tsMs: 14 },
  ]);
  assert.equal(out.segments[0]!.truncate, undefined);
  assert.equal(out.tombstones, 0);
  assert.deepEqual(out.letters, []);
  assert.equal(out.snapshotStart, undefined);
  assert.equal(out.snapshotCompleted, undefined);
});

test('a write keeps its event\'s version (not the offset) and its record\'s origin (incarnation, partition, offset)', () => {
  // Kafka order is not the source's order here: Connect re-sent an older image at a higher offset.
  const { messages, decoded } = chunkOf(40, [
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 'newer' }, 40, 1, pg.change(500, 510)),
    changeEvent(ORDERS, { id: 2 }, 'u', { id: 2 }, 41, 2, pg.change(500, 520)),
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 're-sent' }, 42, 3, pg.change(400, 410)),
  ]);
  assert.deepEqual(writesOf(compactChunk(TOPIC, 7, 2, messages, decoded).segments[0]!).map((p) => p.write), [
    { table: TOPIC, keyString: '{"id":2}', version: pg.change(500, 520), origin: '2:7:41', row: { id: 2 } },
    // Within a chunk the later record stands for its key; the apply step compares it with the stored version.
    { table: TOPIC, keyString: '{"id":1}', version: pg.change(400, 410), origin: '2:7:42', row: { id: 1, s: 're-sent' } },
  ]);
});

test('a delete carries row null; a snapshot read carries tsMs null', () => {
  const { messages, decoded } = chunkOf(7, [changeEvent(ORDERS, { id: 1 }, 'r', { id: 1 }, 7, 70), changeEvent(ORDERS, { id: 2 }, 'd', null, 8, 80), changeEvent(ORDERS, { id: 3 }, 'u', { id: 3 }, 9, 90)]);
  assert.deepEqual(writesOf(compactChunk(TOPIC, 0, 0, messages, decoded).segments[0]!), [
    { write: { table: TOPIC, keyString: '{"id":1}', version: K(7), origin: '0:0:7', row: { id: 1 } }, tsMs: null },
    { write: { table: TOPIC, keyString: '{"id":2}', version: K(8), origin: '0:0:8', row: null }, tsMs: 80 },
    { write: { table: TOPIC, keyString: '{"id":3}', version: K(9), origin: '0:0:9', row: { id: 3 } }, tsMs: 90 },
  ]);
});

test('a delete after an update of the same key leaves only the delete; an insert after a delete only the insert', () => {
  const { messages, decoded } = chunkOf(0, [changeEvent(ORDERS, { id: 1 }, 'u', { id: 1 }, 0), changeEvent(ORDERS, { id: 1 }, 'd', null, 1), changeEvent(ORDERS, { id: 2 }, 'd', null, 2), changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 3)]);
  const writes = writesOf(compactChunk(TOPIC, 0, 0, messages, decoded).segments[0]!).map((p) => p.write);
  assert.deepEqual(writes, [
    { table: TOPIC, keyString: '{"id":1}', version: K(1), origin: '0:0:1', row: null },
    { table: TOPIC, keyString: '{"id":2}', version: K(3), origin: '0:0:3', row: { id: 2 } },
  ]);
});

test('truncates split the chunk into segments, each truncate of the topic\'s table with its own offset, version and origin', () => {
  const { messages, decoded } = chunkOf(50, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'before' }, 50),
    changeEvent(ORDERS, null, 't', null, 51, 0, pg.change(300, 310)),
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, s: 'after' }, 52),
    changeEvent(ORDERS, null, 't', null, 53),
  ]);
  const out = compactChunk(TOPIC, 4, 1, messages, decoded);
  assert.equal(out.segments.length, 3);
  assert.deepEqual(out.segments[0]!.truncate, { table: TOPIC, offset: 51n, version: pg.change(300, 310), origin: '1:4:51' });
  assert.deepEqual(writesOf(out.segments[0]!).map((p) => p.write.row), [{ id: 1, s: 'before' }]);
  assert.deepEqual(out.segments[1]!.truncate, { table: TOPIC, offset: 53n, version: K(53), origin: '1:4:53' });
  assert.deepEqual(writesOf(out.segments[1]!).map((p) => [p.write.version, p.write.row]), [[K(52), { id: 1, s: 'after' }]], 'an event after a truncate is not merged into the one before');
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
  const out = compactChunk(TOPIC, 3, 0, messages, decoded);
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

test('stream-view writes are compacted like table writes, per (view table, key): the newest document per key, beside the row', () => {
  const calls: [string, string, string][] = [];
  // A stand-in for ViewEngine.streamWrites: one view that skips updates, keyed like the event.
  const streamWrites: StreamWrites = (event, version, origin) => {
    calls.push([event.position.offset, version, origin]);
    if (event.op === 'u') return { writes: [], failed: [] };
    const w: StateWrite = { table: 'view:events', keyString: event.keyString!, version, origin, row: event.op === 'd' ? null : { op: event.op } };
    return { writes: [w], failed: [] };
  };
  const { messages, decoded } = chunkOf(0, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1 }, 0),
    changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 'b' }, 1),
    changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 2),
    changeEvent(ORDERS, { id: 2 }, 'd', null, 3),
    changeEvent(ORDERS, null, 'm', null, 4),
  ]);
  const out = compactChunk(TOPIC, 0, 0, messages, decoded, streamWrites);
  assert.deepEqual(calls, [['0', K(0), '0:0:0'], ['1', K(1), '0:0:1'], ['2', K(2), '0:0:2'], ['3', K(3), '0:0:3']], 'every change event with a key, with its version and origin');
  assert.deepEqual(writesOf(out.segments[0]!).map((p) => [p.write.table, p.write.keyString, p.write.version, p.write.row, p.tsMs]), [
    ['view:events', '{"id":1}', K(0), { op: 'c' }, 5000],
    [TOPIC, '{"id":1}', K(1), { id: 1, s: 'b' }, 5001],
    [TOPIC, '{"id":2}', K(3), null, 5003],
    ['view:events', '{"id":2}', K(3), null, 5003],
  ]);
  assert.deepEqual(out.letters, []);
  assert.deepEqual(compactChunk(TOPIC, 0, 0, [], [], streamWrites), { segments: [{ writes: new Map() }], tombstones: 0, incrementalReads: 0, letters: [] });
});

test('an event a stream view\'s code threw on is a dead letter of that view; its row and the other views\' documents are written', () => {
  const error = new CdcViewsError('RENDER_FAILED', 'view fragile, key {"id":1}: the topology\'s code threw: boom');
  const streamWrites: StreamWrites = (event, version, origin) => ({
    writes: [{ table: 'view:sturdy', keyString: event.keyString!, version, origin, row: { op: event.op } }],
    failed: event.position.offset === '8' ? [{ view: 'fragile', error }] : [],
  });
  const { messages, decoded } = chunkOf(7, [changeEvent(ORDERS, { id: 2 }, 'c', { id: 2 }, 7), changeEvent(ORDERS, { id: 1 }, 'c', { id: 1 }, 8)]);
  const out = compactChunk(TOPIC, 5, 0, messages, decoded, streamWrites);
  assert.deepEqual(out.letters, [{ topic: TOPIC, partition: 5, message: messages[1], error, view: 'fragile' }]);
  assert.deepEqual(writesOf(out.segments[0]!).map((p) => `${p.write.table} ${p.write.keyString}`), [`${TOPIC} {"id":2}`, 'view:sturdy {"id":2}', `${TOPIC} {"id":1}`, 'view:sturdy {"id":1}']);
});

test('unchanged TOASTed columns are taken from the key\'s previous event in the chunk; what it lacks is left for the stored row', () => {
  const { messages, decoded } = chunkOf(0, [
    changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, doc: 'D1', notes: 'N1' }, 0),
    toasted(changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 2, notes: 'N1' }, 1), 'doc'),
    toasted(changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, s: 3 }, 2), 'doc', 'notes'),
    toasted(changeEvent(ORDERS, { id: 2 }, 'u', { id: 2 }, 3), 'doc'),
    toasted(changeEvent(ORDERS, { id: 3 }, 'u', { id: 3, doc: 'D3' }, 4), 'notes'),
    toasted(changeEvent(ORDERS, { id: 3 }, 'u', { id: 3, s: 5 }, 5), 'doc', 'notes'),
    changeEvent(ORDERS, { id: 4 }, 'd', null, 6),
    toasted(changeEvent(ORDERS, { id: 4 }, 'u', { id: 4 }, 7), 'doc'),
  ]);
  const byKey = new Map(writesOf(compactChunk(TOPIC, 0, 0, messages, decoded).segments[0]!).map((p) => [p.write.keyString, p]));
  // Filled twice over: offset 1 took doc from offset 0, offset 2 took doc and notes from offset 1's filled row.
  assert.deepEqual(byKey.get('{"id":1}'), { write: { table: TOPIC, keyString: '{"id":1}', version: K(2), origin: '0:0:2', row: { id: 1, s: 3, doc: 'D1', notes: 'N1' } }, tsMs: 5002 });
  assert.deepEqual(byKey.get('{"id":2}')!.unavailable, ['doc'], 'no earlier event of the key');
  assert.deepEqual(byKey.get('{"id":2}')!.write.row, { id: 2 });
  // Key 3: doc comes from offset 4; notes was unavailable there too, so it is still to fill.
  assert.deepEqual(byKey.get('{"id":3}')!.write.row, { id: 3, s: 5, doc: 'D3' });
  assert.deepEqual(byKey.get('{"id":3}')!.unavailable, ['notes']);
  assert.deepEqual(byKey.get('{"id":4}')!.unavailable, ['doc'], 'a delete holds no image to take from');
  assert.equal(Object.hasOwn(byKey.get('{"id":1}')!, 'unavailable'), false, 'nothing left to fill: no unavailable list');
});

test('snapshot markers: the first snapshot read of the chunk is where the snapshot starts; its last read completes it', () => {
  const read = (offset: number, id: number, snapshot: string, version = pg.read(1000)): ChangeEvent => {
    const event = changeEvent(ORDERS, { id }, 'r', { id }, offset, 0, version);
    return { ...event, source: { ...event.source, snapshot } };
  };
  const a = chunkOf(10, [changeEvent(ORDERS, { id: 9 }, 'u', { id: 9 }, 10), read(11, 1, 'first'), read(12, 2, 'true'), read(13, 3, 'last')]);
  const out = compactChunk(TOPIC, 0, 0, a.messages, a.decoded);
  assert.deepEqual(out.snapshotStart, { version: pg.read(1000), offset: 11n });
  assert.equal(out.snapshotCompleted, pg.read(1000));
  const b = chunkOf(20, [read(20, 4, 'true'), read(21, 5, 'last_in_data_collection')]);
  assert.equal(compactChunk(TOPIC, 0, 0, b.messages, b.decoded).snapshotCompleted, pg.read(1000), 'the last read of this table in a multi-table snapshot');
  const c = chunkOf(30, [read(30, 6, 'true'), read(31, 7, 'true')]);
  const middle = compactChunk(TOPIC, 0, 0, c.messages, c.decoded);
  assert.deepEqual([middle.snapshotStart, middle.snapshotCompleted], [{ version: pg.read(1000), offset: 30n }, undefined]);
  // Incremental snapshot reads are not a snapshot of the whole table: they never start or complete one.
  const d = chunkOf(40, [read(40, 8, 'incremental', `${pg.change(900, 910).slice(0, -1)}0`)]);
  const incremental = compactChunk(TOPIC, 0, 0, d.messages, d.decoded);
  assert.deepEqual([incremental.snapshotStart, incremental.snapshotCompleted], [undefined, undefined]);
  assert.equal(incremental.segments[0]!.writes.size, 1);
});
