/**
 * The dead-letter queue (src/runtime/dlq.ts): topic, acks=all, the raw key
 * and value kept, and the headers naming origin and reason, for undecodable
 * records and for documents a sink refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.ts';
import { DeadLetterQueue, DLQ_HEADERS, dlqTopic } from '../../../src/runtime/dlq.ts';
import { DocumentsRejectedError } from '../../../src/sinks/sink.ts';
import { kafkaMessage, RecordingProducer } from './helpers.ts';

test('the DLQ topic is cdcv.<applicationId>.dlq', () => {
  assert.equal(dlqTopic('orders-v2'), 'cdcv.orders-v2.dlq');
  assert.equal(new DeadLetterQueue(new RecordingProducer().producer, 'orders-v2').topic, 'cdcv.orders-v2.dlq');
});

test('send: one request with acks=-1, raw key and value, origin and reason headers', async () => {
  const recorder = new RecordingProducer();
  const dlq = new DeadLetterQueue(recorder.producer, 'app-1');
  const bad = kafkaMessage(41, '{"id":1}', '{"op":', '1700000000041');
  const keyless = kafkaMessage(42, null, '\u0000\u0001binary', '1700000000042');
  await dlq.send([
    { topic: 'demo.public.orders', partition: 3, message: bad, error: new DecodeError('DECODE_NOT_JSON', 'record value is not JSON') },
    { topic: 'demo.public.orders', partition: 3, message: keyless, error: new DecodeError('DECODE_NO_KEY', 'no key') },
  ]);
  assert.equal(recorder.sent.length, 1);
  const [request] = recorder.sent;
  assert.equal(request!.topic, 'cdcv.app-1.dlq');
  assert.equal(request!.acks, -1);
  assert.equal(request!.messages.length, 2);
  assert.equal(request!.messages[0]!.key, bad.key, 'the raw key, as fetched');
  assert.equal(request!.messages[0]!.value, bad.value);
  assert.equal(request!.messages[1]!.key, null);
  assert.equal(request!.messages[1]!.value, keyless.value);
  assert.deepEqual(request!.messages[0]!.headers, {
    'cdcv.origin.topic': 'demo.public.orders',
    'cdcv.origin.partition': '3',
    'cdcv.origin.offset': '41',
    'cdcv.origin.timestamp': '1700000000041',
    'cdcv.error.code': 'DECODE_NOT_JSON',
    'cdcv.error.message': 'record value is not JSON',
    'cdcv.application.id': 'app-1',
  });
  assert.equal(request!.messages[1]!.headers?.[DLQ_HEADERS.code], 'DECODE_NO_KEY');
  assert.equal(request!.messages[1]!.headers?.[DLQ_HEADERS.offset], '42');
});

test('send without letters sends nothing; a failed send rejects', async () => {
  const recorder = new RecordingProducer();
  const dlq = new DeadLetterQueue(recorder.producer, 'app');
  await dlq.send([]);
  assert.equal(recorder.sent.length, 0);
  recorder.failure = new Error('broker down');
  await assert.rejects(dlq.send([{ topic: 't', partition: 0, message: kafkaMessage(1, null, 'x'), error: new DecodeError('DECODE_NOT_JSON', 'x') }]), /broker down/);
});

test('sendRejected: key = document key, value = rendered document, headers name view, sink, sequence and reason', async () => {
  const recorder = new RecordingProducer();
  const dlq = new DeadLetterQueue(recorder.producer, 'app-2');
  const err = new DocumentsRejectedError('search:orders', [{ keyString: '{"id":2}', seq: 17, reason: 'mapper_parsing_exception: total' }, { keyString: '{"id":9}', seq: 18, reason: 'gone' }], 1, 0, 'SINK_REJECTED', 'rejected');
  await dlq.sendRejected('order-search', err, [
    { keyString: '{"id":1}', seq: 16, doc: { id: 1 } },
    { keyString: '{"id":2}', seq: 17, doc: { id: 2, total: 'NaN' } },
  ]);
  assert.equal(recorder.sent.length, 1);
  const [request] = recorder.sent;
  assert.equal(request!.topic, 'cdcv.app-2.dlq');
  assert.equal(request!.acks, -1);
  assert.deepEqual(request!.messages, [
    {
      key: '{"id":2}',
      value: '{"id":2,"total":"NaN"}',
      headers: {
        'cdcv.origin.view': 'order-search',
        'cdcv.origin.sink': 'search:orders',
        'cdcv.origin.seq': '17',
        'cdcv.error.code': 'SINK_REJECTED',
        'cdcv.error.message': 'mapper_parsing_exception: total',
        'cdcv.application.id': 'app-2',
      },
    },
    {
      key: '{"id":9}',
      value: 'null',
      headers: {
        'cdcv.origin.view': 'order-search',
        'cdcv.origin.sink': 'search:orders',
        'cdcv.origin.seq': '18',
        'cdcv.error.code': 'SINK_REJECTED',
        'cdcv.error.message': 'gone',
        'cdcv.application.id': 'app-2',
      },
    },
  ]);
});
