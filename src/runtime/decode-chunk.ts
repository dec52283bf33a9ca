/**
 * Decoding one partition's chunks, pipelined: the chunk processed next can be
 * decoded ({@link ChunkDecoder.prefetch}) while the current one's state, view
 * and sink steps wait on Redis and the sinks, which run in other processes,
 * so decoding (this process' CPU) overlaps them instead of following them.
 */
import type { KafkaMessage } from 'kafkajs';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { DecodedRecord } from '../cdc/types.ts';
import { CdcViewsError, DecodeError, DecodeErrorCode } from '../errors.ts';
import type { Backpressure } from './backpressure.ts';
import type { DeadLetter } from './dlq.ts';

/** Decoded records of a chunk (null: undecodable), and the undecodable ones with their index in it. */
interface Decoded {
  out: (DecodedRecord | null)[];
  failed: { index: number; letter: DeadLetter }[];
}

export class ChunkDecoder {
  /** The next chunk, being decoded while the current one commits. */
  private ahead: { chunk: readonly KafkaMessage[]; decoding: Promise<Decoded | null> } | undefined;

  constructor(
    private readonly decoder: RecordDecoder,
    private readonly backpressure: Backpressure,
    private readonly topic: string,
    private readonly partition: number,
    private readonly heartbeat: () => Promise<void>,
  ) {}

  /**
   * Starts decoding the chunk that will be decoded next. Only a first
   * attempt: a record that needs a retry (e.g. the schema registry is down)
   * makes {@link decode} decode the chunk again the usual way, paused with
   * backoff. A chunk decoded next that is not this one (after a seek) ignores it.
   */
  prefetch(chunk: readonly KafkaMessage[]): void {
    this.ahead = chunk.length === 0 ? undefined : { chunk, decoding: this.decodeOnce(chunk).catch(() => null) };
  }

  /**
   * Decodes `messages`, a suffix of `chunk` (the records from the stored
   * position on): from the decoding {@link prefetch} started when it is this
   * chunk's and succeeded, else now. Undecodable records are added to
   * `letters` (null in the result). A retriable error is not a bad record: the
   * whole chunk is retried with backoff while the partition waits, and nothing
   * goes to the DLQ.
   */
  async decode(chunk: readonly KafkaMessage[], messages: readonly KafkaMessage[], letters: DeadLetter[]): Promise<(DecodedRecord | null)[]> {
    const ahead = this.ahead?.chunk === chunk ? await this.ahead.decoding : null;
    this.ahead = undefined;
    if (ahead === null) {
      const { out, failed } = await this.backpressure.whilePaused('decode', this.topic, this.partition, this.heartbeat, () => this.decodeOnce(messages));
      letters.push(...failed.map((l) => l.letter));
      return out;
    }
    const skipped = chunk.length - messages.length;
    letters.push(...ahead.failed.filter((l) => l.index >= skipped).map((l) => l.letter));
    return ahead.out.slice(skipped);
  }

  /** One attempt at decoding records. @throws the first retriable error (the caller retries the whole chunk) */
  private async decodeOnce(messages: readonly KafkaMessage[]): Promise<Decoded> {
    const { topic, partition } = this;
    const out: (DecodedRecord | null)[] = [];
    const failed: Decoded['failed'] = [];
    for (const [index, message] of messages.entries()) {
      try {
        out.push(await this.decoder.decode({ topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value }));
      } catch (err) {
        if (err instanceof CdcViewsError && err.retriable) throw err;
        const error = err instanceof CdcViewsError ? err : new DecodeError(DecodeErrorCode.BadEnvelope, String(err), { cause: err });
        failed.push({ index, letter: { topic, partition, message, error } });
        out.push(null);
      }
    }
    return { out, failed };
  }
}
