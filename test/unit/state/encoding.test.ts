/**
 * The stored encodings (src/state/encoding.ts): stored rows and delete
 * markers, partition fields of topics with dots and dashes, and the Positions view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePayload, encodeStored, parsePartitionField, parseStored, partitionField, Positions, storedRow, storedVersion } from '../../../src/state/encoding.ts';

test('a stored row is "<version>\\n<row JSON>", a delete marker "<version>\\n"', () => {
  assert.equal(encodeStored(42n, { id: 1, name: 'Zoë' }), '42\n{"id":1,"name":"Zoë"}');
  assert.equal(encodeStored('7', null), '7\n');
  assert.equal(encodePayload({ a: [1, 2] }), '{"a":[1,2]}');
  assert.equal(encodePayload(null), '');
});

test('parseStored reads back what encodeStored wrote, versions beyond 2^53 included', () => {
  assert.deepEqual(parseStored('42\n{"id":1,"nested":{"x":null}}'), { version: 42n, row: { id: 1, nested: { x: null } } });
  assert.deepEqual(parseStored('9007199254740993\n'), { version: 9007199254740993n, row: null });
  const row = { id: 3, text: 'line\nbreak' };
  assert.deepEqual(parseStored(encodeStored(12n, row)), { version: 12n, row }, 'a newline inside the row JSON is escaped, the first one separates');
});

test('parseStored refuses values that are not stored rows', () => {
  assert.throws(() => parseStored('{"id":1}'), (e: unknown) => e instanceof SyntaxError && /no version line/.test(e.message));
  assert.throws(() => parseStored('v1\n{}'), SyntaxError);
  assert.throws(() => parseStored('3\n{"id":'), SyntaxError);
});

test('storedVersion and storedRow of a stored value, a delete marker and no value', () => {
  assert.equal(storedVersion('15\n{"id":1}'), '15');
  assert.equal(storedVersion('15\n'), '15');
  assert.equal(storedVersion(null), '');
  assert.equal(storedVersion(undefined), '');
  assert.equal(storedVersion('no newline'), '');
  assert.deepEqual(storedRow('15\n{"id":1}'), { id: 1 });
  assert.equal(storedRow('15\n'), null);
  assert.equal(storedRow(null), null);
  assert.equal(storedRow(undefined), null);
});

test('partition fields: the last ":" separates the topic, which may hold dots and dashes', () => {
  assert.equal(partitionField('demo.public.order-lines', 3), 'demo.public.order-lines:3');
  assert.deepEqual(parsePartitionField('demo.public.order-lines:3'), { topic: 'demo.public.order-lines', partition: 3 });
  assert.deepEqual(parsePartitionField('my_app-v2.inventory.stock-items:0'), { topic: 'my_app-v2.inventory.stock-items', partition: 0 });
  assert.deepEqual(parsePartitionField('t:127'), { topic: 't', partition: 127 });
});

test('parsePartitionField refuses a field without a topic or a partition number', () => {
  for (const bad of ['demo.public.orders', ':3', 'orders:-1', 'orders:1.5', 'orders:x', 'orders:3a']) {
    assert.throws(() => parsePartitionField(bad), (e: unknown) => e instanceof SyntaxError && e.message.includes(bad), bad);
  }
});

test('Positions: from the hash, from offsets, lookups, topics and back to the hash', () => {
  const p = Positions.fromHash({ 'demo.public.orders:1': '17', 'demo.public.orders:0': '5', 'demo.public.customers:0': '9007199254740993' });
  assert.equal(p.size, 3);
  assert.equal(p.get('demo.public.orders', 1), 17n);
  assert.equal(p.get('demo.public.customers', 0), 9007199254740993n);
  assert.equal(p.get('demo.public.orders', 2), null);
  assert.equal(p.has('demo.public.orders', 0), true);
  assert.equal(p.has('demo.public.orders', 2), false);
  assert.equal(p.has('demo.public.customers', 1), false);
  assert.deepEqual(p.topics(), ['demo.public.customers', 'demo.public.orders']);
  assert.deepEqual(
    [...p.entries()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    [
      { topic: 'demo.public.customers', partition: 0, offset: 9007199254740993n },
      { topic: 'demo.public.orders', partition: 0, offset: 5n },
      { topic: 'demo.public.orders', partition: 1, offset: 17n },
    ],
  );
  assert.deepEqual(p.toHash(), { 'demo.public.orders:1': '17', 'demo.public.orders:0': '5', 'demo.public.customers:0': '9007199254740993' });
  const q = Positions.of([{ topic: 'a.b-c.d', partition: 2, offset: 0n }]);
  assert.deepEqual(q.toHash(), { 'a.b-c.d:2': '0' });
  assert.equal(q.get('a.b-c.d', 2), 0n, 'offset 0 is a position, not "none"');
  assert.equal(new Positions([]).size, 0);
});
