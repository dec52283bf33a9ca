/**
 * The stored encodings (src/state/encoding.ts): stored rows with their origin
 * and delete markers with the time of the delete, origins, partition fields
 * of topics with dots and dashes, and the Positions view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOrigin, encodePayload, encodeStored, parseOrigin, parsePartitionField, parseStored, partitionField, Positions, storedRow, storedVersion } from '../../../src/state/encoding.ts';

const V = 'P000000000000000000421000000000000000004201';

test('a stored row is "<version>\\n<origin>\\n<row JSON>", a delete marker "<version>\\n<origin>\\n~<ms deleted>"', () => {
  assert.equal(encodeStored(V, '0:2:17', { id: 1, name: 'Zoë' }), `${V}\n0:2:17\n{"id":1,"name":"Zoë"}`);
  assert.equal(encodeStored('K00000000000000000007', '1:0:7', null, 1767225600123), 'K00000000000000000007\n1:0:7\n~1767225600123');
  assert.equal(encodeStored('K00000000000000000007', '1:0:7', null), 'K00000000000000000007\n1:0:7\n~0', 'the time defaults to 0');
  assert.equal(encodePayload({ a: [1, 2] }), '{"a":[1,2]}');
  assert.equal(encodePayload(null), '');
});

test('parseStored reads back what encodeStored wrote: version, origin, row, the time of a delete', () => {
  assert.deepEqual(parseStored(`${V}\n0:0:5\n{"id":1,"nested":{"x":null}}`), { version: V, origin: '0:0:5', row: { id: 1, nested: { x: null } }, deletedAtMs: null });
  assert.deepEqual(parseStored('K00000000000000000009\n3:1:9007199254740993\n~1767225600123'), { version: 'K00000000000000000009', origin: '3:1:9007199254740993', row: null, deletedAtMs: 1767225600123 });
  const row = { id: 3, text: 'line\nbreak', tilde: '~x' };
  assert.deepEqual(parseStored(encodeStored(V, 'snapshot', row)), { version: V, origin: 'snapshot', row, deletedAtMs: null }, 'a newline inside the row JSON is escaped: the first two separate');
});

test('parseStored refuses values that are not stored rows', () => {
  // The layout before origins: "<version>\n<row JSON>".
  for (const bad of ['{"id":1}', '42\n{"id":1}', '']) {
    assert.throws(() => parseStored(bad), (e: unknown) => e instanceof SyntaxError && /version and origin lines expected/.test(e.message), JSON.stringify(bad));
  }
  assert.throws(() => parseStored(`${V}\n0:0:3\n{"id":`), SyntaxError, 'a cut row');
});

test('storedVersion and storedRow of a stored value, a delete marker and no value', () => {
  assert.equal(storedVersion(`${V}\n0:0:15\n{"id":1}`), V);
  assert.equal(storedVersion(`${V}\n0:0:15\n~0`), V);
  assert.equal(storedVersion(null), '');
  assert.equal(storedVersion(undefined), '');
  assert.equal(storedVersion('no newline'), '');
  assert.deepEqual(storedRow(`${V}\n0:0:15\n{"id":1}`), { id: 1 });
  assert.equal(storedRow(`${V}\n0:0:15\n~1767225600123`), null);
  assert.equal(storedRow(null), null);
  assert.equal(storedRow(undefined), null);
});

test('origins: "<incarnation>:<partition>:<offset>", offsets beyond 2^53 exact; anything else is no origin', () => {
  assert.equal(encodeOrigin(0, 3, 17n), '0:3:17');
  assert.equal(encodeOrigin(2, 0, '9007199254740993'), '2:0:9007199254740993');
  assert.deepEqual(parseOrigin('2:0:9007199254740993'), { incarnation: 2, partition: 0, offset: 9007199254740993n });
  assert.deepEqual(parseOrigin(encodeOrigin(1, 12, 0n)), { incarnation: 1, partition: 12, offset: 0n });
  for (const other of ['snapshot', '', '0:1', '0:1:2:3', 'a:1:2', '0:-1:2', '0:1:2 ']) assert.equal(parseOrigin(other), null, JSON.stringify(other));
});

test('partition fields: the last ":" separates the topic, which may hold dots and dashes', () => {
  assert.equal(partitionField('demo.public.order-lines', 3), 'demo.public.order-lines:3');
  assert.deepEqual(parsePartitionField('demo.public.order-lines:3'), { topic: 'demo.public.order-lines', partition: 3 });
  assert.deepEqual(parsePartitionField('my_app-v2.inventory.stock-items:0'), { topic: 'my_app-v2.inventory.stock-items', partition: 0 });
  assert.deepEqual(parsePartitionField('t:127'), { topic: 't', partition: 127 });
});

test('parsePartitionField refuses a field without a topic or a partition number', () => {
  // An empty partition (Number('') is 0), blanks, hex and exponents are not partition numbers either.
  for (const bad of ['demo.public.orders', ':3', 'orders:-1', 'orders:1.5', 'orders:x', 'orders:3a', 'orders:', 'demo.public.orders:', 'orders: 3', 'orders:0x1', 'orders:1e1', 'orders:99999999999999999999']) {
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
