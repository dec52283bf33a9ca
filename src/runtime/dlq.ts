/**
 * The dead-letter queue: records that cannot be decoded or applied are written
 * to `cdcv.<applicationId>.dlq` with their raw key and value, and headers
 * naming their origin and the reason. The write is acknowledged (acks=all)
 * before the partition's position moves past the record.
 */
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { CdcViewsError } from '../errors.ts';
import type { DocumentsRejectedError, SinkWrite } from '../sinks/sink.ts';

/** DLQ topic name of an application. */
export const dlqTopic = (applicationId: string): string => `cdcv.${applicationId}.dlq`;

/** Headers carried by every DLQ record. */
export const DLQ_HEADERS = {
  topic: 'cdcv.origin.topic',
  partition: 'cdcv.origin.partition',
  offset: 'cdcv.origin.offset',
  timestamp: 'cdcv.origin.timestamp',
  code: 'cdcv.error.code',
  message: 'cdcv.error.message',
  applicationId: 'cdcv.application.id',
  view: 'cdcv.origin.view',
  sink: 'cdcv.origin.sink',
  seq: 'cdcv.origin.seq',
} as const;

/** A record that failed, with where it came from. */
export interface DeadLetter {
  topic: string;
  partition: number;
  message: KafkaMessage;
  error: CdcViewsError;
}

export class DeadLetterQueue {
  constructor(
    private readonly producer: Producer,
    readonly applicationId: string,
  ) {}

  get topic(): string {
    return dlqTopic(this.applicationId);
  }

  /** Writes dead letters; resolves when the broker acknowledged all of them. */
  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map(({ topic, partition, message, error }) => {
        const headers: IHeaders = {
          [DLQ_HEADERS.topic]: topic,
          [DLQ_HEADERS.partition]: String(partition),
          [DLQ_HEADERS.offset]: message.offset,
          [DLQ_HEADERS.timestamp]: message.timestamp,
          [DLQ_HEADERS.code]: error.code,
          [DLQ_HEADERS.message]: error.message,
          [DLQ_HEADERS.applicationId]: this.applicationId,
        };
        return { key: message.key, value: message.value, headers };
      }),
    });
  }

  /**
   * Writes documents a sink refused for good: key = the document key string,
   * value = the rendered document JSON, headers naming the view, the sink, the
   * render sequence and the reason. Resolves when acknowledged.
   */
  async sendRejected(view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]): Promise<void> {
    const byKey = new Map(docs.map((d) => [d.keyString, d]));
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: err.rejected.map((r) => ({
        key: r.keyString,
        value: JSON.stringify(byKey.get(r.keyString)?.doc ?? null),
        headers: {
          [DLQ_HEADERS.view]: view,
          [DLQ_HEADERS.sink]: err.sink,
          [DLQ_HEADERS.seq]: String(r.seq),
          [DLQ_HEADERS.code]: err.code,
          [DLQ_HEADERS.message]: r.reason,
          [DLQ_HEADERS.applicationId]: this.applicationId,
        },
      })),
    });
  }
}
