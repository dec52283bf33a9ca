/**
 * What KafkaJS may restart (src/runtime/kafka-client.ts `restartable`), the
 * rejoin error, and the Kafka client's log routing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CdcViewsError, DecodeError, FencedError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { createKafka, RejoinGroupError, restartable } from '../../../src/runtime/kafka-client.ts';
import { SinkUnavailableError } from '../../../src/sinks/sink.ts';

const named = (name: string, message = 'x', cause?: unknown): Error => Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { name });

test('restartable: transient errors yes, bugs and bad records no', () => {
  const table: [string, unknown, boolean][] = [
    ['a fenced write', new FencedError('t', 0, 1, 2), true],
    ['a retriable CdcViewsError', new SinkUnavailableError('cache:x', 'down', 1), true],
    ['the rejoin error', new RejoinGroupError('fenced', null), true],
    ['a non-retriable CdcViewsError', new CdcViewsError('CONFIG_INVALID', 'bad'), false],
    ['a decode error', new DecodeError('DECODE_NOT_JSON', 'bad'), false],
    ['a KafkaJS error', named('KafkaJSConnectionError'), true],
    ['a KafkaJS error without "Error" in its name', named('KafkaJSProtocolError'), true],
    ['retries exhausted on a Kafka error', named('KafkaJSNumberOfRetriesExceeded', 'x', named('KafkaJSConnectionError')), true],
    ['retries exhausted on a decode error', named('KafkaJSNumberOfRetriesExceeded', 'x', new DecodeError('DECODE_BAD_KEY', 'k')), false],
    ['retries exhausted on a bug', named('KafkaJSNumberOfRetriesExceeded', 'x', new TypeError('undefined is not a function')), false],
    ['retries exhausted twice on a fence', named('KafkaJSNumberOfRetriesExceeded', 'x', named('KafkaJSNumberOfRetriesExceeded', 'y', new FencedError('t', 0, 1, 2))), true],
    ['retries exhausted without a cause', named('KafkaJSNumberOfRetriesExceeded'), true],
    ['an error caused by a bug but not a retry wrapper', named('Error', 'outer', new FencedError('t', 0, 1, 2)), false],
    ['ioredis MaxRetriesPerRequestError', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit'), true],
    ['Redis refusing connections', new Error('connect ECONNREFUSED 127.0.0.1:6379'), true],
    ['Redis resetting the connection', new Error('read ECONNRESET'), true],
    ['a closed Redis connection', new Error('Connection is closed.'), true],
    ['Redis loading its data set', new Error('LOADING Redis is loading the dataset in memory'), true],
    ['a read-only replica', new Error("READONLY You can't write against a read only replica."), true],
    ['Redis refusing a rotated password until the secret file has the new one', new Error('WRONGPASS invalid username-password pair or user is disabled.'), true],
    ['Redis asking for a password', new Error('NOAUTH Authentication required.'), true],
    ['a Redis ACL without a needed command', new Error("NOPERM this user has no permissions to run the 'hset' command"), false],
    ['a plain bug', new Error('boom'), false],
    ['a TypeError', new TypeError('x is not a function'), false],
    ['a thrown string', 'ECONNREFUSED', false],
    ['undefined', undefined, false],
  ];
  for (const [what, err, expected] of table) assert.equal(restartable(err), expected, what);
});

test('RejoinGroupError is retriable and carries the type KafkaJS rejoins on', () => {
  const cause = new FencedError('t', 1, 2, 3);
  const err = new RejoinGroupError('fenced out of t[1]', cause);
  assert.equal(err.type, 'REBALANCE_IN_PROGRESS');
  assert.equal(err.code, 'GROUP_REJOIN');
  assert.equal(err.retriable, true);
  assert.equal(err.cause, cause);
  assert.equal(err.message, 'fenced out of t[1]');
  assert.ok(err instanceof CdcViewsError);
});

test('createKafka routes KafkaJS warnings and errors to the logger, with their namespace', () => {
  const lines: [unknown, string][] = [];
  const log = { warn: (obj: unknown, msg: string) => void lines.push([obj, msg]) } as unknown as Logger;
  const kafka = createKafka('app', ['localhost:1'], log);
  const logger = kafka.logger().namespace('Consumer');
  logger.info('joined');
  logger.debug('fetching');
  logger.warn('slow');
  logger.error('crashed');
  assert.deepEqual(lines, [
    [{ kafkajs: 'Consumer' }, 'slow'],
    [{ kafkajs: 'Consumer' }, 'crashed'],
  ]);
});
