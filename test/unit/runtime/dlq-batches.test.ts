/**
 * The dead-letter queue's size handling (src/runtime/dlq.ts): records are
 * grouped into produce requests whose summed size (128 bytes of overhead +
 * key + value + header names and values, per record) stays within 90 % of the
 * topic's max.message.bytes; a record bigger than that alone is replaced by a
 * stub (its headers, its size, the first 1024 bytes of key and value in
 * base64). Also: sendRenderFailures, and the view header of send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'kafkajs';
import { CdcViewsError, DecodeError } from '../../../src/errors.ts';
import { DeadLetterQueue, DLQ_HEADERS } from '../../../src/runtime/dlq.ts';
import { kafkaMessage, RecordingProducer } from './helpers.ts';

/** max.message.bytes 1000: the records of one request may fill floor(1000 × 0.9) = 900 bytes. */
const MAX = 1000;
const dlq = (max = MAX): DeadLetterQueue => new DeadLetterQueue(new RecordingProducer().producer, 'app', max);

/** A record of exactly `bytes` bytes by the size rule: 128 + key (100) + value (bytes − 228). */
const sized = (bytes: number, tag: string): Message => ({ key: 'k'.repeat(100), value: tag + 'v'.repeat(bytes - 228 - tag.length) });
/**
 * A record of exactly `bytes` bytes with headers: 128 + key (50) + headers
 * ('h' + 49 bytes = 50, 'u' with an undefined value = 1) + value (bytes − 229).
 */
const withHeaders = (bytes: number, tag: string): Message => ({
  key: 'k'.repeat(50),
  value: tag + 'v'.repeat(bytes - 229 - tag.length),
  headers: { h: 'x'.repeat(49), u: undefined },
});
const tags = (batches: Message[][]): string[][] => batches.map((b) => b.map((m) => String(m.value).slice(0, 1)));

test('batches: records filling exactly 90 % of max.message.bytes share one request, the next record starts another', () => {
  const batches = dlq().batches([sized(450, 'a'), sized(450, 'b'), { key: null, value: null }]);
  assert.deepEqual(tags(batches).slice(0, 1), [['a', 'b']]);
  assert.equal(batches.length, 2);
  assert.equal(batches[1]!.length, 1);
  assert.equal(batches[1]![0]!.value, null, 'the empty record, intact');
});

test('batches: one byte over 90 % splits the request', () => {
  assert.deepEqual(tags(dlq().batches([sized(450, 'a'), sized(451, 'b')])), [['a'], ['b']]);
  assert.deepEqual(tags(dlq().batches([sized(451, 'a'), sized(450, 'b')])), [['a'], ['b']]);
});

test('batches: header names and values count; an undefined header value counts 0 bytes', () => {
  assert.deepEqual(tags(dlq().batches([withHeaders(450, 'a'), withHeaders(450, 'b')])), [['a', 'b']], '900 bytes: one request');
  assert.deepEqual(tags(dlq().batches([withHeaders(450, 'a'), withHeaders(451, 'b')])), [['a'], ['b']], '901 bytes: two');
});

test('batches: a record of exactly 90 % is kept intact; no records, no request', () => {
  const whole = sized(900, 'a');
  assert.deepEqual(dlq().batches([whole]), [[whole]]);
  assert.deepEqual(dlq().batches([]), []);
});

test('batches: a record over 90 % becomes a stub with its headers, its size and the first 1024 bytes of key and value', () => {
  const key = Buffer.from('order-7');
  const value = Buffer.alloc(5000, 0);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7) % 256;
  const original: Message = { key, value, headers: { [DLQ_HEADERS.topic]: 'demo.public.orders' } };
  const batches = dlq().batches([original]);
  assert.equal(batches.length, 1, 'one request, no empty request before it');
  assert.equal(batches[0]!.length, 1);
  const stub = batches[0]![0]!;
  assert.deepEqual(stub.key, key, 'a key within 1024 bytes is kept');
  assert.deepEqual(JSON.parse(String(stub.value)), {
    truncated: true,
    keyBytes: 7,
    valueBytes: 5000,
    keyHead: key.toString('base64'),
    valueHead: value.subarray(0, 1024).toString('base64'),
  });
  assert.deepEqual(stub.headers, { 'cdcv.origin.topic': 'demo.public.orders', 'cdcv.dlq.truncated': 'true', 'cdcv.dlq.original.size': '5007' });
});

test('stub: a key of 1024 bytes is kept, a key of 1025 bytes is only in keyHead', () => {
  const big = 'v'.repeat(3000);
  const [[kept]] = dlq().batches([{ key: 'a'.repeat(1024), value: big }]) as [[Message]];
  assert.deepEqual(kept.key, Buffer.from('a'.repeat(1024)));
  const [[dropped]] = dlq().batches([{ key: 'b'.repeat(1025), value: big }]) as [[Message]];
  assert.equal(dropped.key, null);
  const body = JSON.parse(String(dropped.value)) as Record<string, unknown>;
  assert.equal(body.keyBytes, 1025);
  assert.equal(body.keyHead, Buffer.from('b'.repeat(1024)).toString('base64'));
  assert.deepEqual(dropped.headers, { 'cdcv.dlq.truncated': 'true', 'cdcv.dlq.original.size': '4025' });
});

test('stub: a record without key (null or absent) keeps none; a value of null or absent counts 0 bytes', () => {
  const big = 'x'.repeat(2000);
  for (const original of [{ key: null, value: big }, { value: big }] as Message[]) {
    const [[stub]] = dlq().batches([original]) as [[Message]];
    assert.equal(stub.key, null);
    assert.deepEqual(JSON.parse(String(stub.value)), { truncated: true, keyBytes: 0, valueBytes: 2000, keyHead: '', valueHead: Buffer.from(big.slice(0, 1024)).toString('base64') });
    assert.equal(stub.headers?.[DLQ_HEADERS.size], '2000');
  }
  const bigKey = 'k'.repeat(1000);
  for (const original of [{ key: bigKey, value: null }, { key: bigKey }] as Message[]) {
    const [[stub]] = dlq(500).batches([original]) as [[Message]];
    assert.deepEqual(stub.key, Buffer.from(bigKey));
    assert.deepEqual(JSON.parse(String(stub.value)), { truncated: true, keyBytes: 1000, valueBytes: 0, keyHead: Buffer.from(bigKey).toString('base64'), valueHead: '' });
    assert.equal(stub.headers?.[DLQ_HEADERS.size], '1000');
  }
});

test('send: records are written in as many requests as batches() gives, each acks=-1', async () => {
  const recorder = new RecordingProducer();
  const q = new DeadLetterQueue(recorder.producer, 'app', MAX);
  const error = new DecodeError('DECODE_NOT_JSON', 'no');
  // Each letter: 128 + key 0 + value 300 + headers (≈ 150 bytes of names and values) > 450, so two never share a request.
  await q.send([0, 1, 2].map((i) => ({ topic: 't', partition: 0, message: kafkaMessage(i, null, 'v'.repeat(300)), error })));
  assert.equal(recorder.sent.length, 3);
  assert.ok(recorder.sent.every((r) => r.acks === -1 && r.topic === 'cdcv.app.dlq' && r.messages.length === 1));
});

test('send: a stream view that failed is named in cdcv.origin.view', async () => {
  const recorder = new RecordingProducer();
  await new DeadLetterQueue(recorder.producer, 'app').send([{ topic: 't', partition: 1, message: kafkaMessage(5, 'k', 'v'), error: new DecodeError('DECODE_NOT_JSON', 'bad'), view: 'order-events' }]);
  assert.equal(recorder.sent[0]!.messages[0]!.headers?.[DLQ_HEADERS.view], 'order-events');
});

test('a failed write is a retriable DLQ_UNAVAILABLE naming the record count, the topic and the cause', async () => {
  const recorder = new RecordingProducer();
  recorder.failure = new Error('broker down');
  const err = await new DeadLetterQueue(recorder.producer, 'app')
    .sendRenderFailures('v', [{ keyString: '{"id":1}', error: new CdcViewsError('RENDER_FAILED', 'x'), inputs: {} }])
    .then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof CdcViewsError);
  assert.equal(err.code, 'DLQ_UNAVAILABLE');
  assert.equal(err.retriable, true);
  assert.equal(err.message, 'cannot write 1 record(s) to the dead-letter topic cdcv.app.dlq: broker down');
});

test('sendRenderFailures: key = root key, value = { view, key, error, inputs }, headers name view, code, message, application', async () => {
  const recorder = new RecordingProducer();
  const inputs = { orders: { key: '{"id":3}', version: '12' } };
  await new DeadLetterQueue(recorder.producer, 'app-3').sendRenderFailures('order-search', [
    { keyString: '{"id":3}', error: new CdcViewsError('RENDER_FAILED', 'total is not a number'), inputs },
  ]);
  assert.equal(recorder.sent.length, 1);
  assert.equal(recorder.sent[0]!.topic, 'cdcv.app-3.dlq');
  assert.equal(recorder.sent[0]!.acks, -1);
  assert.deepEqual(recorder.sent[0]!.messages, [
    {
      key: '{"id":3}',
      value: JSON.stringify({ view: 'order-search', key: '{"id":3}', error: 'total is not a number', inputs }),
      headers: {
        'cdcv.origin.view': 'order-search',
        'cdcv.error.code': 'RENDER_FAILED',
        'cdcv.error.message': 'total is not a number',
        'cdcv.application.id': 'app-3',
      },
    },
  ]);
});
