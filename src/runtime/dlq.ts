/**
 * The dead-letter queue `cdcv.<applicationId>.dlq`: records that cannot be
 * decoded or applied, documents a sink refuses for good, and view roots whose
 * rendering threw, each with headers naming its origin and the reason. A
 * write is acknowledged (acks=all) before the partition's position moves past
 * what it holds.
 *
 * Writes never crash the application on size: they are split into produce
 * requests below the topic's `max.message.bytes`, and a record that cannot
 * fit at all is replaced by a stub — its origin (headers), its size and its
 * first bytes — with the header `cdcv.dlq.truncated: true`. A failed write is
 * a retriable `DLQ_UNAVAILABLE` (the partition pauses and retries, like an
 * unavailable sink).
 */
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import { CdcViewsError } from '../errors.ts';
import type { DocumentsRejectedError, SinkWrite } from '../sinks/sink.ts';

/** DLQ topic name of an application. */
export const dlqTopic = (applicationId: string): string => `cdcv.${applicationId}.dlq`;

/** Headers carried by DLQ records. */
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
  /** `true` when the record is a stub: the original did not fit in a DLQ record. */
  truncated: 'cdcv.dlq.truncated',
  /** The original's size in bytes (key + value), on a stub. */
  size: 'cdcv.dlq.original.size',
} as const;

/** A record that failed, with where it came from. */
export interface DeadLetter {
  topic: string;
  partition: number;
  message: KafkaMessage;
  error: CdcViewsError;
  /** The view whose code failed on it (stream views). */
  view?: string;
}

/** A view root whose rendering threw. */
export interface RenderFailure {
  /** The root's canonical key string. */
  keyString: string;
  error: CdcViewsError;
  /** What the render read: the keys and stored versions of its inputs (for whoever fixes the topology). */
  inputs: Record<string, unknown>;
}

/** Bytes a record takes in a produce request besides its key, value and headers (record and batch overhead, rounded up). */
const RECORD_OVERHEAD = 128;
/** How much of a request's limit the records may fill (the rest is batch framing). */
const FILL = 0.9;
/** Bytes of an original kept in a stub. */
const STUB_PREFIX_BYTES = 1024;
/** The broker's default `message.max.bytes` (Kafka 3.x), used until the topic's limit is read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

const size = (m: Message): number => {
  let n = RECORD_OVERHEAD + (m.key ? Buffer.byteLength(m.key) : 0) + (m.value ? Buffer.byteLength(m.value) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + (v === undefined ? 0 : Buffer.byteLength(String(v)));
  return n;
};

export class DeadLetterQueue {
  constructor(
    private readonly producer: Producer,
    readonly applicationId: string,
    /** The DLQ topic's `max.message.bytes`: records and produce requests stay below it. @defaultValue {@link DEFAULT_MAX_MESSAGE_BYTES} */
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  get topic(): string {
    return dlqTopic(this.applicationId);
  }

  /**
   * Writes dead letters (raw key and value, headers naming the origin and the
   * reason); resolves when the broker acknowledged all of them.
   * @throws {CdcViewsError} DLQ_UNAVAILABLE (retriable) when the broker does not acknowledge
   */
  async send(letters: readonly DeadLetter[]): Promise<void> {
    await this.write(
      letters.map(({ topic, partition, message, error, view }) => {
        const headers: IHeaders = {
          [DLQ_HEADERS.topic]: topic,
          [DLQ_HEADERS.partition]: String(partition),
          [DLQ_HEADERS.offset]: message.offset,
          [DLQ_HEADERS.timestamp]: message.timestamp,
          [DLQ_HEADERS.code]: error.code,
          [DLQ_HEADERS.message]: error.message,
          [DLQ_HEADERS.applicationId]: this.applicationId,
          ...(view ? { [DLQ_HEADERS.view]: view } : {}),
        };
        return { key: message.key, value: message.value, headers };
      }),
    );
  }

  /**
   * Writes documents a sink refused for good: key = the document key string,
   * value = the rendered document JSON, headers naming the view, the sink, the
   * render sequence and the reason. Resolves when acknowledged.
   * @throws {CdcViewsError} DLQ_UNAVAILABLE (retriable)
   */
  async sendRejected(view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]): Promise<void> {
    const byKey = new Map(docs.map((d) => [d.keyString, d]));
    await this.write(
      err.rejected.map((r) => ({
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
    );
  }

  /**
   * Writes view roots whose rendering threw: key = the root key string,
   * value = JSON `{ view, key, error, inputs }`, code `RENDER_FAILED`.
   * @throws {CdcViewsError} DLQ_UNAVAILABLE (retriable)
   */
  async sendRenderFailures(view: string, failures: readonly RenderFailure[]): Promise<void> {
    await this.write(
      failures.map((f) => ({
        key: f.keyString,
        value: JSON.stringify({ view, key: f.keyString, error: f.error.message, inputs: f.inputs }),
        headers: {
          [DLQ_HEADERS.view]: view,
          [DLQ_HEADERS.code]: f.error.code,
          [DLQ_HEADERS.message]: f.error.message,
          [DLQ_HEADERS.applicationId]: this.applicationId,
        },
      })),
    );
  }

  /** Produce requests below the limit; a record over it replaced by its stub. */
  batches(messages: readonly Message[]): Message[][] {
    const limit = Math.floor(this.maxMessageBytes * FILL);
    const out: Message[][] = [];
    let current: Message[] = [];
    let bytes = 0;
    for (const original of messages) {
      const m = size(original) > limit ? stub(original) : original;
      const n = size(m);
      if (current.length > 0 && bytes + n > limit) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(m);
      bytes += n;
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  private async write(messages: readonly Message[]): Promise<void> {
    for (const batch of this.batches(messages)) {
      try {
        await this.producer.send({ topic: this.topic, acks: -1, messages: batch });
      } catch (err) {
        throw new CdcViewsError('DLQ_UNAVAILABLE', `cannot write ${batch.length} record(s) to the dead-letter topic ${this.topic}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retriable: true });
      }
    }
  }
}

/** A record that cannot fit: its headers (the origin), its size and its first bytes instead of its key and value. */
function stub(m: Message): Message {
  const key = m.key === null || m.key === undefined ? Buffer.alloc(0) : Buffer.from(m.key);
  const value = m.value === null || m.value === undefined ? Buffer.alloc(0) : Buffer.from(m.value);
  const whole = Buffer.concat([key, value]);
  const head = (b: Buffer): string => b.subarray(0, STUB_PREFIX_BYTES).toString('base64');
  return {
    // A record without a key keeps none (as its intact dead letter would); a key over the prefix is in keyHead only.
    key: m.key === null || m.key === undefined || key.length > STUB_PREFIX_BYTES ? null : key,
    value: JSON.stringify({ truncated: true, keyBytes: key.length, valueBytes: value.length, keyHead: head(key), valueHead: head(value) }),
    headers: { ...m.headers, [DLQ_HEADERS.truncated]: 'true', [DLQ_HEADERS.size]: String(whole.length) },
  };
}
