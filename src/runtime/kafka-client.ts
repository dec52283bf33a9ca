/**
 * The runtime's Kafka client and the rules for what KafkaJS may restart.
 */
import { logLevel, type Kafka } from 'kafkajs';
import { CdcViewsError, FencedError } from '../errors.ts';
import { createKafkaClient } from '../kafka/client.ts';
import { authorizationFailure } from '../kafka/errors.ts';
import type { KafkaSecurity } from '../kafka/security.ts';
import type { Logger } from '../log.ts';

/**
 * A KafkaJS client for an application (src/kafka/client.ts: TLS and SASL of
 * `security`, refusals naming the fix), logging KafkaJS warnings and errors through `log`.
 * @param security @defaultValue plaintext, no SASL
 */
export function createKafka(applicationId: string, brokers: readonly string[], log: Logger, security?: KafkaSecurity): Kafka {
  return createKafkaClient({
    clientId: `cdc-views-${applicationId}`,
    brokers,
    ...(security ? { security } : {}),
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (entry.level <= logLevel.WARN) log.warn({ kafkajs: entry.namespace }, entry.log.message);
    },
  });
}

/**
 * Makes KafkaJS rejoin the group: its runner rejoins on errors of these types
 * (`isRebalancing` in kafkajs/src/errors.js), as Kafka Streams rejoins on
 * TaskMigratedException. Thrown after this instance was fenced out of a partition.
 */
export class RejoinGroupError extends CdcViewsError {
  readonly type = 'REBALANCE_IN_PROGRESS';
  constructor(message: string, cause: unknown) {
    super('GROUP_REJOIN', message, { cause, retriable: true });
  }
}

/**
 * True for errors after which KafkaJS may restart the consumer (transient
 * ones: Kafka, a Redis that is down or restarting, a fenced write); a bug
 * stops it.
 */
export function restartable(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined && e.name === 'KafkaJSNumberOfRetriesExceeded') e = e.cause;
  if (e instanceof CdcViewsError) return e.retriable || e instanceof FencedError;
  if (!(e instanceof Error)) return false;
  // A missing ACL does not heal by restarting the consumer: stop with the error that names it.
  if (authorizationFailure(e)) return false;
  if (e.name.startsWith('KafkaJS')) return true;
  // ioredis while Redis is down or restarting; or refusing a rotated password until the secret file has the new one (#15).
  return e.name === 'MaxRetriesPerRequestError' || /ECONNREFUSED|ECONNRESET|Connection is closed|LOADING|READONLY|^WRONGPASS|^NOAUTH/.test(e.message);
}
