/**
 * The connections of operator commands, each bounded in time: a command
 * whose dependency does not answer exits 2 with one line naming it and the
 * fix, and never prints a credential.
 */
import { logLevel, type Admin, type Kafka } from 'kafkajs';
import { CdcViewsError } from '../errors.ts';
import { createKafkaClient } from '../kafka/client.ts';
import type { KafkaSecurity } from '../kafka/security.ts';

import { COMMAND_TIMEOUT_MS } from '../ops/timeouts.ts';

export { COMMAND_TIMEOUT_MS };

/** Rejects with `error()` when `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A Kafka admin client of an operator command, connected (TLS and SASL of
 * `security`, src/kafka/client.ts).
 * @throws {CdcViewsError} KAFKA_UNREACHABLE naming the brokers and the fix when no broker answers within `timeoutMs`;
 *   KAFKA_SASL_AUTH_FAILED, KAFKA_TLS_UNAVAILABLE, KAFKA_ACL_AUTH_FAILED naming the setting or ACL to fix
 */
export async function connectAdmin(brokers: readonly string[], clientId: string, timeoutMs = COMMAND_TIMEOUT_MS, security?: KafkaSecurity): Promise<{ kafka: Kafka; admin: Admin }> {
  const kafka = createKafkaClient({ clientId, brokers, ...(security ? { security } : {}), logLevel: logLevel.NOTHING, connectionTimeout: Math.min(3_000, timeoutMs), retry: { retries: 2, maxRetryTime: timeoutMs / 2 } });
  const admin = kafka.admin();
  // Without a cause the wait timed out; with one the connection failed (refused, unknown host) before that.
  const unreachable = (cause?: unknown): CdcViewsError =>
    new CdcViewsError(
      'KAFKA_UNREACHABLE',
      `Kafka ${cause === undefined ? `does not answer at ${brokers.join(',')} within ${timeoutMs} ms` : `cannot be reached at ${brokers.join(',')} (${cause instanceof Error ? cause.message : 'no connection'})`}; start the local stack with \`npm run stack:up\` or set CDCV_KAFKA_BROKERS`,
      { cause },
    );
  try {
    await within(admin.connect(), timeoutMs, () => unreachable());
    // connect() can succeed on a bootstrap socket alone: a metadata request proves a broker answers.
    await within(admin.listTopics(), timeoutMs, () => unreachable());
  } catch (err) {
    void admin.disconnect().catch(() => undefined);
    throw err instanceof CdcViewsError ? err : unreachable(err);
  }
  return { kafka, admin };
}
