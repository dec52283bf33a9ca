/**
 * Backpressure for one partition: a step that waits for a dependency (a
 * schema registry, a sink) is retried with backoff while the partition is
 * paused, heartbeating between attempts so the instance stays in the group.
 * Partitions led by other brokers go on; those led by the same broker wait
 * too, as KafkaJS' fetcher fetches again only when every batch of its last
 * fetch is done (kafkajs/src/consumer/fetcher.js). Only errors marked
 * retriable are retried (src/errors.ts); shutdown aborts the wait.
 */
import type { Logger } from '../log.ts';
import { errorCode, type Metrics } from '../metrics/catalogue.ts';
import { retry } from '../retry.ts';
import { RegistryAuthError } from '../cdc/registry-auth.ts';
import { SinkUnavailableError } from '../sinks/sink.ts';

/** Pauses partitions while a step of theirs waits for a dependency. */
export class Backpressure {
  constructor(
    private readonly applicationId: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Aborted at shutdown: a waiting step stops waiting and rejects. */
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Runs `fn`, retrying retriable failures until it succeeds or shutdown;
   * counts `cdc_views_retries_total` per retry and keeps
   * `cdc_views_partitions_paused` raised while retrying.
   * @param operation names the step in logs and the `operation` label, e.g. `render`
   * @param heartbeat called between attempts; throws when a rebalance revoked the partition (which ends the wait)
   * @throws the first non-retriable error, or the shutdown reason
   */
  async whilePaused<T>(operation: string, topic: string, partition: number, heartbeat: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    const app = { application_id: this.applicationId };
    let paused = false;
    try {
      const result = await retry(fn, {
        attempts: Infinity,
        operation,
        signal: this.signal,
        onRetry: async ({ error, attempt }) => {
          const code = errorCode(error);
          this.metrics.retries.inc({ ...app, operation, code });
          if (!paused) {
            paused = true;
            this.metrics.partitionsPaused.inc({ ...app, topic });
          }
          const fields = { topic, partition, operation, attempt, code, reason: error instanceof Error ? error.message : String(error) };
          if (error instanceof SinkUnavailableError && error.needsOperator) this.log.error(fields, 'partition paused: a sink refuses this application until an operator fixes it; retrying');
          else if (error instanceof RegistryAuthError) this.log.error(fields, 'partition paused: the schema registry refuses this application until an operator fixes its credentials; retrying');
          else this.log.warn(fields, 'partition paused: a dependency is unavailable, retrying');
          await heartbeat();
        },
      });
      if (paused) this.log.info({ topic, partition, operation }, 'partition resumed');
      return result;
    } finally {
      if (paused) this.metrics.partitionsPaused.dec({ ...app, topic });
    }
  }
}
